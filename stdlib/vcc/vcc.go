// Package vcc is the Lua module `vcc`: hand a call over to an 8x8 Contact
// Center queue with the External IVR API.
//
// The contact center's own IVR forwards a caller to us; we ask it, with one
// request to the tenant's externalIvrAction URL, to route the call to a queue
// once our IVR hangs up; then we hang up. The request carries the call's SIP
// Call-ID (sip_id), which is how the contact center knows which call we mean,
// and optional extIvrData that the agent sees in the transaction panel.
//
// vcc.data(fields) → the extIvrData string, "[name|value]…". fields is a table
// name = value (sent in sorted order) or a list of {name, value} pairs (sent in
// that order); values are strings, numbers or booleans. '[', ']' and '|' cannot
// appear in a name or value, and the result is at most 500 characters: either
// is an error raised in the script.
//
//	vcc.data { ["First Name"] = "John", ["Account ID"] = 12345678 }
//	  --> "[Account ID|12345678][First Name|John]"
//	vcc.data { { "First Name", "John" }, { "Last Name", "Smith" } }
//	  --> "[First Name|John][Last Name|Smith]"
//
// vcc.forward{ queue = "102", sip_id = …, data = … } → true, or nil and a
// message. It sends tenant, token, sip_id, action=wForwardACD, param=queue and
// extIvrData (data is a table as vcc.data takes, or its string) as an HTTPS
// POST. It waits at most 3 seconds, and never past nine tenths of what is left
// of the event's deadline (keeping at most 100 ms), so that a failure is
// returned in time for the script to offer something else:
//
//	local ok, err = vcc.forward { queue = "102", sip_id = sip_id, data = { Reason = "billing" } }
//	if not ok then
//	  log.warn("hand-off failed", { err = err })
//	  return { ivr.say("Please hold while we connect you."), ivr.make_call { destination = "+6531589338" } }
//	end
//	return { ivr.say("Transferring you to an agent."), ivr.hangup() }
//
// vcc.handoff{ … } → the same request; on success it returns the action that
// completes the hand-off, a hangup ({ action = "hangup" }, as ivr.hangup()),
// or nil and the message:
//
//	local bye, err = vcc.handoff { queue = "102", sip_id = sip_id }
//	if bye then return { ivr.say("Transferring you now."), bye } end
//
// A table that is not a request (not a table, or a field other than queue,
// sip_id and data) is a mistake in the script and raised; everything that
// depends on values (a missing sip_id, data too long, the contact center
// failing or luaivr started without --vcc-*) is returned.
package vcc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	httpmod "github.com/luaivr/luaivr/stdlib/http"
	"github.com/luaivr/luaivr/stdlib/inputs"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	"github.com/luaivr/luaivr/store"
	lua "github.com/yuin/gopher-lua"
)

// Options configure the module; they come from luaivr's --vcc-* flags.
type Options struct {
	// URL is the tenant's externalIvrAction URL, e.g.
	// https://vcc-na4.8x8.com/SC/externalIvrAction.php. It must be https.
	URL string
	// Tenant and Token authenticate the request: the tenant name from the
	// Configuration Manager's profile, and its Action Request Token.
	Tenant, Token string
	// HTTP sends the request; nil means http.DefaultClient.
	HTTP *http.Client
	// AllowHTTP lets an http:// URL on a loopback address through, for tests
	// against a local fake. 8x8 accepts HTTPS only.
	AllowHTTP bool
}

const (
	// Timeout bounds one request; the event's deadline may end it sooner.
	Timeout = 3 * time.Second
	// MaxData is the External IVR API's "limit of 500 characters". The
	// document states it for the query parameters and again for extIvrData;
	// we enforce it on extIvrData, in characters before form encoding, which
	// is the part a script controls. tenant, token and sip_id are fixed by
	// the configuration and the call.
	MaxData = 500
	// actionForwardACD routes to a queue; wForwardAgent is "not yet available".
	actionForwardACD = "wForwardACD"
	// maxBodyInError bounds how much of a failed answer a message quotes.
	maxBodyInError = 200
)

const notConfigured = "vcc is not configured: start luaivr with --vcc-url, --vcc-tenant and --vcc-token (LUAIVR_VCC_*)"

// Open returns an opener for the module configured by opts.
func Open(opts Options) func(L *lua.LState) lua.LValue {
	client := http.DefaultClient
	if opts.HTTP != nil {
		client = opts.HTTP
	}
	// A copy, so the caller's client keeps its own redirect policy.
	c := *client
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := allowed(req.URL, opts.AllowHTTP); err != nil {
			return fmt.Errorf("refusing a redirect: %w", err)
		}
		if client.CheckRedirect != nil {
			return client.CheckRedirect(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	m := &module{opts: opts, client: &c}
	return func(L *lua.LState) lua.LValue {
		return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
			"data":    data,
			"forward": m.forward,
			"handoff": m.handoff,
		})
	}
}

type module struct {
	opts   Options
	client *http.Client
}

func data(L *lua.LState) int {
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		L.RaiseError("bad argument #1 to vcc.data (table of fields expected, got %s)", L.Get(1).Type())
	}
	s, err := encodeData(t)
	if err != nil {
		L.RaiseError("bad argument #1 to vcc.data (%s)", err)
	}
	L.Push(lua.LString(s))
	return 1
}

func (m *module) forward(L *lua.LState) int {
	if err := m.send(L, "vcc.forward"); err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(lua.LTrue)
	return 1
}

func (m *module) handoff(L *lua.LState) int {
	if err := m.send(L, "vcc.handoff"); err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	hangup := L.CreateTable(0, 1)
	hangup.RawSetString("action", lua.LString("hangup"))
	L.Push(hangup)
	return 1
}

// request is what a script asks for: vcc.forward's table.
type request struct {
	queue, sipID, data string
}

// send reads the request in argument 1 and makes it. Mistakes in the shape of
// the table are raised; everything else is returned.
//
// The request the script made (its form without tenant and token, which are
// the operator's, the token a secret) and the answer are recorded with the
// event; in a replay the answer is the record's and nothing is sent, and a
// request the call did not make is raised (package inputs).
func (m *module) send(L *lua.LState, fn string) error {
	req, err := readRequest(L, fn)
	if err != nil {
		return fmt.Errorf("%s: %w", fn, err)
	}
	form := url.Values{
		"sip_id": {req.sipID},
		"action": {actionForwardACD},
		"param":  {req.queue},
	}
	if req.data != "" {
		form.Set("extIvrData", req.data)
	}
	asked := store.Exchange{Module: "vcc", Method: http.MethodPost, Body: form.Encode()}
	ex, err := inputs.From(L.Context()).Exchange(fmt.Sprintf("%s to queue %s", fn, luaconv.Quote(req.queue)), asked, func() store.Exchange {
		if err := m.post(L, fn, form); err != nil {
			return store.Exchange{Err: err.Error()}
		}
		return store.Exchange{Status: http.StatusOK}
	})
	if err != nil {
		L.RaiseError("%s", err)
	}
	if ex.Err != "" {
		return errors.New(ex.Err)
	}
	return nil
}

// post sends form, with the tenant and token added, to the contact center.
func (m *module) post(L *lua.LState, fn string, form url.Values) error {
	if m.opts.URL == "" || m.opts.Tenant == "" || m.opts.Token == "" {
		return errors.New(notConfigured)
	}
	u, err := url.Parse(m.opts.URL)
	if err != nil {
		return fmt.Errorf("%s: the vcc URL is not a URL: check --vcc-url", fn)
	}
	if err := allowed(u, m.opts.AllowHTTP); err != nil {
		return fmt.Errorf("%s: %w", fn, err)
	}
	form.Set("tenant", m.opts.Tenant)
	form.Set("token", m.opts.Token)
	ctx, cancel, limit, byDeadline, ok := httpmod.Budget(L, Timeout)
	if !ok {
		return fmt.Errorf("%s: no time left in this event's deadline", fn)
	}
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("%s: %w", fn, err)
	}
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := m.client.Do(hreq)
	if err != nil {
		var ue *url.Error
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded) && byDeadline:
			return fmt.Errorf("%s: no answer from %s within %s, what was left of the event's deadline", fn, u.Host, limit.Round(time.Millisecond))
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return fmt.Errorf("%s: no answer from %s within %s", fn, u.Host, limit)
		case errors.As(err, &ue) && ue.Timeout(): // the HTTP client's own timeout
			return fmt.Errorf("%s: no answer from %s in time", fn, u.Host)
		}
		return fmt.Errorf("%s: %w", fn, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyInError+1))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: the contact center answered %s: %s", fn, resp.Status, quote(body))
	}
	return nil
}

func readRequest(L *lua.LState, fn string) (request, error) {
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		L.RaiseError("bad argument #1 to %s (table { queue = …, sip_id = …, data = … } expected, got %s)", fn, L.Get(1).Type())
	}
	t.ForEach(func(k, _ lua.LValue) {
		switch k.String() {
		case "queue", "sip_id", "data":
		default:
			L.RaiseError("bad argument #1 to %s (unknown field %s; fields are queue, sip_id and data)", fn, luaconv.Quote(k.String()))
		}
	})
	var req request
	switch q := t.RawGetString("queue").(type) {
	case lua.LString, lua.LNumber:
		req.queue = q.String()
	case *lua.LNilType:
	default:
		return req, fmt.Errorf("queue: a queue id (string or number) expected, got %s", q.Type())
	}
	if req.queue == "" {
		return req, errors.New("queue is missing: the id of a queue in the Configuration Manager")
	}
	switch s := t.RawGetString("sip_id").(type) {
	case lua.LString:
		req.sipID = string(s)
	case *lua.LNilType:
	default:
		return req, fmt.Errorf("sip_id: a string expected, got %s", s.Type())
	}
	if req.sipID == "" {
		return req, errors.New("sip_id is missing: the SIP Call-ID of the call the contact center forwarded")
	}
	for _, f := range []struct{ name, value string }{{"queue", req.queue}, {"sip_id", req.sipID}} {
		if len(f.value) > MaxData && utf8.RuneCountInString(f.value) > MaxData {
			return req, fmt.Errorf("%s is %d characters, over the External IVR API's limit of %d", f.name, utf8.RuneCountInString(f.value), MaxData)
		}
	}
	switch d := t.RawGetString("data").(type) {
	case *lua.LTable:
		s, err := encodeData(d)
		if err != nil {
			return req, err
		}
		req.data = s
	case lua.LString:
		if err := checkData(string(d)); err != nil {
			return req, err
		}
		req.data = string(d)
	case *lua.LNilType:
	default:
		return req, fmt.Errorf("data: a table of fields or a vcc.data string expected, got %s", d.Type())
	}
	return req, nil
}

// Past these, data cannot be within MaxData characters, whatever it holds:
// a character is at most 4 bytes, a field at least "[a|]". encodeData stops
// there rather than build what a script's huge table would make.
const (
	maxDataBytes  = 4 * MaxData
	maxDataFields = MaxData / len("[a|]")
)

var errDataTooLong = fmt.Errorf("data is over %d characters as extIvrData, the External IVR API's limit", MaxData)

// encodeData writes a table of fields as extIvrData.
func encodeData(t *lua.LTable) (string, error) {
	n, size, names := t.Len(), 0, []string{}
	var other lua.LValue // a key that is not a name
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		if size++; size > maxDataFields {
			return "", errDataTooLong
		}
		if s, ok := k.(lua.LString); ok {
			names = append(names, string(s))
		} else {
			other = k
		}
	}
	var b strings.Builder
	field := func(path string, name, value lua.LValue) error {
		if b.Len()+len(lua.LVAsString(name))+len(lua.LVAsString(value))+len("[|]") > maxDataBytes {
			return errDataTooLong // before either is looked through
		}
		ns, err := dataText(path+" (name)", name)
		if err != nil {
			return err
		}
		if ns == "" {
			return fmt.Errorf("%s: a name cannot be empty", path)
		}
		vs, err := dataText(path, value)
		if err != nil {
			return err
		}
		b.WriteString("[" + ns + "|" + vs + "]")
		return nil
	}
	switch {
	case len(names) == size: // name = value, in sorted order so the same table makes the same string
		sort.Strings(names)
		for _, name := range names {
			if err := field("data["+luaconv.Quote(name)+"]", lua.LString(name), t.RawGetString(name)); err != nil {
				return "", err
			}
		}
	case n == size: // a list of {name, value} pairs, kept in order
		for i := 1; i <= n; i++ {
			path := fmt.Sprintf("data[%d]", i)
			pair, ok := t.RawGetInt(i).(*lua.LTable)
			if !ok || pair.Len() != 2 {
				return "", fmt.Errorf("%s: a pair { name, value } expected", path)
			}
			if err := field(path, pair.RawGetInt(1), pair.RawGetInt(2)); err != nil {
				return "", err
			}
		}
	case len(names) > 0:
		return "", errors.New("data: either name = value fields or a list of { name, value } pairs, not both")
	default:
		return "", fmt.Errorf("data: names are strings and a list of pairs is numbered from 1, got the key %s", other)
	}
	s := b.String()
	if n := utf8.RuneCountInString(s); n > MaxData {
		return "", fmt.Errorf("data is %d characters as extIvrData, over the External IVR API's limit of %d", n, MaxData)
	}
	return s, nil
}

// dataText is a name or value as extIvrData carries it: Lua's tostring of a
// string, number or boolean, without the format's own characters.
func dataText(path string, v lua.LValue) (string, error) {
	switch v.(type) {
	case lua.LString, lua.LNumber, lua.LBool:
	default:
		return "", fmt.Errorf("%s: a string, number or boolean expected, got %s", path, v.Type())
	}
	s := v.String()
	if i := strings.IndexAny(s, "[]|"); i >= 0 {
		return "", fmt.Errorf("%s: %s contains %q, which extIvrData cannot carry ([name|value] pairs)", path, luaconv.Quote(s), s[i])
	}
	return s, nil
}

// checkData accepts a data string only if it is what vcc.data makes.
func checkData(s string) error {
	if len(s) > maxDataBytes {
		return errDataTooLong
	}
	if n := utf8.RuneCountInString(s); n > MaxData {
		return fmt.Errorf("data is %d characters, over the External IVR API's limit of %d", n, MaxData)
	}
	for rest := s; rest != ""; {
		end := strings.IndexByte(rest, ']')
		pair := rest
		if end >= 0 {
			pair = rest[:end+1]
		}
		name, value, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(pair, "["), "]"), "|")
		if end < 0 || pair[0] != '[' || !ok || name == "" || strings.ContainsAny(name+value, "[]|") {
			return fmt.Errorf("data %s is not [name|value] pairs (make it with vcc.data)", luaconv.Quote(s))
		}
		rest = rest[end+1:]
	}
	return nil
}

// allowed refuses a URL that is not https: the External IVR API accepts only
// HTTPS, and the request carries the tenant's token. With allowHTTP, a
// loopback http:// URL passes too (a local fake in tests).
func allowed(u *url.URL, allowHTTP bool) error {
	switch {
	case u.Host == "":
		return fmt.Errorf("the vcc URL %q has no host", u.Redacted())
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && allowHTTP && loopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("refusing %s: the External IVR API accepts only HTTPS", u.Redacted())
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func quote(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > maxBodyInError {
		s = s[:maxBodyInError] + "…"
	}
	if s == "" {
		return "(no body)"
	}
	return fmt.Sprintf("%q", s)
}
