// Package httpmod is the Lua module `http`: calls from scripts to the business
// systems the operator allows (--http-allow), within a timeout and within the
// event's deadline.
//
//	local res, err = http.get("https://crm.example.com/customers", { query = { phone = session.source } })
//	if not res then
//	  log.warn("crm is down", { err = err })
//	  return ivr.say("Welcome.")
//	end
//	if res.status == 200 then return ivr.say("Welcome back, " .. res.json.name) end
//
//	http.post("https://crm.example.com/calls", { caller = session.source }, { headers = { ["X-Api-Key"] = key } })
//
// http.get(url [, opts]) and http.post(url, body [, opts]) return a response
// { status =, body =, headers = { ["content-type"] = … }, json = } — json is the
// decoded body when the response says it is JSON — or nil and a message. A
// business system that is down, slow or refusing is a value the script handles
// (a 404 or 500 is a response like any other), never an error that ends the
// call; only a wrong argument, a mistake in the script, is raised.
//
// body is a string, or a table sent as JSON. opts: headers = { name = value },
// query = { name = value } (set in the URL's query), timeout = seconds
// (shortens the operator's). What a script sends is bounded before it is
// built (a body of 1 MiB, a URL of 8 KiB, headers and query of 64 KiB each),
// and so is what it gets back (1 MiB of body, 64 KiB of headers). A request never outlives the event: it keeps back
// a tenth of what is left of the deadline (at most 100 ms), so the script still
// has time to answer the caller when the request fails.
//
// Each request's method, URL (without credentials) and body, and what came
// back — status, headers and body, or the message — are recorded with the
// event, bounded (package inputs). `luaivr replay` answers a request from
// that record and makes none: one the call did not make is an error.
package httpmod

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/luaivr/luaivr/stdlib/inputs"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	"github.com/luaivr/luaivr/store"
	lua "github.com/yuin/gopher-lua"
)

// Options configure the module for every state it opens into.
type Options struct {
	// Allow lists the hosts scripts may call (the operator's --http-allow):
	// "api.example.com", "api.example.com:8443", "*.example.com",
	// "127.0.0.1:8081". Empty: nothing is reachable. See CheckAllow.
	Allow []string
	// Client makes the requests; nil is a client with no proxy whose dialer
	// refuses link-local and metadata addresses. A Client passed here is used
	// as it is (tests pass one to reach a TLS server or a fake name): its
	// transport makes its own connections. The allow-list still applies to
	// every URL and redirect.
	Client *http.Client
	// Timeout bounds one request (default 2 s); a script may ask for less. It
	// is always cut to what is left of the event's deadline.
	Timeout time.Duration
	// MaxBody bounds the response bytes read (default 1 MiB).
	MaxBody int64
	// UserAgent is sent unless a script sets its own (default "luaivr").
	UserAgent string
}

// maxRedirects is as many as net/http follows by default.
const maxRedirects = 10

// Bounds on what a script sends, checked before anything is built from it:
// a body as large as the largest string a script may make (and as the
// default response body), a URL as long as common servers accept, headers and
// query as large as the response headers we read back.
const (
	maxRequestBody = 1 << 20
	maxURLBytes    = 8 << 10
	maxOptionBytes = 64 << 10 // headers, and query, each
)

// bodyLimits bound a table sent as JSON as it leaves Lua.
var bodyLimits = luaconv.Limits{Depth: luaconv.Default.Depth, Items: luaconv.Default.Items, Bytes: maxRequestBody}

// module is what every state's `http` table shares: settings and a client,
// whose connections are reused across events.
type module struct {
	allow     allowList
	client    *http.Client
	timeout   time.Duration
	maxBody   int64
	userAgent string
}

// Open returns the opener of the module configured by opts.
func Open(opts Options) func(L *lua.LState) lua.LValue {
	m := &module{
		allow:     parseAllow(opts.Allow),
		timeout:   opts.Timeout,
		maxBody:   opts.MaxBody,
		userAgent: opts.UserAgent,
	}
	if m.timeout <= 0 {
		m.timeout = 2 * time.Second
	}
	if m.maxBody <= 0 {
		m.maxBody = 1 << 20
	}
	if m.userAgent == "" {
		m.userAgent = "luaivr"
	}
	client := http.Client{Transport: m.allow.transport()}
	if opts.Client != nil {
		client = *opts.Client
	}
	client.CheckRedirect = m.checkRedirect
	m.client = &client
	return func(L *lua.LState) lua.LValue {
		return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
			"get":  func(L *lua.LState) int { return m.call(L, "http.get", http.MethodGet) },
			"post": func(L *lua.LState) int { return m.call(L, "http.post", http.MethodPost) },
		})
	}
}

// request is what a script asked for, its arguments checked.
type request struct {
	method      string
	url         string
	body        []byte
	contentType string
	headers     map[string]string
	query       map[string]string
	timeout     time.Duration // 0: the module's
}

// call is http.get and http.post: check the arguments (raising on a mistake),
// then fetch (returning failures as values).
func (m *module) call(L *lua.LState, fname, method string) int {
	r := request{method: method}
	raw, ok := L.Get(1).(lua.LString)
	if !ok {
		argError(L, fname, 1, "a URL string expected, got "+L.Get(1).Type().String())
	}
	if len(raw) > maxURLBytes {
		argError(L, fname, 1, fmt.Sprintf("the URL is %d bytes, over the limit of %d", len(raw), maxURLBytes))
	}
	r.url = string(raw)
	optsArg := 2
	if method == http.MethodPost {
		r.body, r.contentType = body(L, fname, 2)
		optsArg = 3
	}
	m.options(L, fname, optsArg, &r)
	res, err := m.fetch(L, fname, r)
	if err != "" {
		L.Push(lua.LNil)
		L.Push(lua.LString(err))
		return 2
	}
	L.Push(res)
	return 1
}

func argError(L *lua.LState, fname string, n int, msg string) {
	L.RaiseError("bad argument #%d to %s (%s)", n, fname, msg)
}

// body reads a POST body: a string as it is, a table as JSON.
func body(L *lua.LState, fname string, n int) ([]byte, string) {
	tooLarge := func(size int) {
		argError(L, fname, n, fmt.Sprintf("the body is %d bytes, over the limit of %d", size, maxRequestBody))
	}
	switch v := L.Get(n).(type) {
	case lua.LString:
		if len(v) > maxRequestBody {
			tooLarge(len(v))
		}
		return []byte(v), ""
	case *lua.LTable:
		value, err := bodyLimits.FromLua(v, "body")
		if err != nil {
			argError(L, fname, n, err.Error())
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(value); err != nil {
			argError(L, fname, n, err.Error())
		}
		b := bytes.TrimRight(buf.Bytes(), "\n")
		if len(b) > maxRequestBody {
			tooLarge(len(b))
		}
		return b, "application/json"
	}
	argError(L, fname, n, "a body (a string, or a table sent as JSON) expected, got "+L.Get(n).Type().String())
	return nil, ""
}

func (m *module) options(L *lua.LState, fname string, n int, r *request) {
	if L.Get(n) == lua.LNil {
		return
	}
	t, ok := L.Get(n).(*lua.LTable)
	if !ok {
		argError(L, fname, n, "a table of options expected, got "+L.Get(n).Type().String())
	}
	t.ForEach(func(k, v lua.LValue) {
		switch name, _ := k.(lua.LString); name {
		case "headers":
			r.headers = stringTable(L, fname, n, "headers", v)
		case "query":
			r.query = stringTable(L, fname, n, "query", v)
		case "timeout":
			secs, ok := v.(lua.LNumber)
			if !ok || !(secs > 0) {
				argError(L, fname, n, "timeout: a number of seconds above 0 expected, got "+lua.LVAsString(v))
			}
			if float64(secs) < m.timeout.Seconds() {
				r.timeout = time.Duration(float64(secs) * float64(time.Second))
			}
		default:
			argError(L, fname, n, fmt.Sprintf("unknown option %s; options are headers, query and timeout", luaconv.Quote(lua.LVAsString(k))))
		}
	})
}

// stringTable reads headers or query: names to strings (or numbers), at most
// maxOptionBytes of them.
func stringTable(L *lua.LState, fname string, n int, what string, v lua.LValue) map[string]string {
	t, ok := v.(*lua.LTable)
	if !ok {
		argError(L, fname, n, fmt.Sprintf("%s: a table expected, got %s", what, v.Type()))
	}
	out := map[string]string{}
	size := 0
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		name, ok := k.(lua.LString)
		if !ok {
			argError(L, fname, n, fmt.Sprintf("%s: names are strings, got a %s", what, k.Type()))
		}
		switch v := v.(type) {
		case lua.LString, lua.LNumber:
			out[string(name)] = v.String()
		default:
			argError(L, fname, n, fmt.Sprintf("%s[%s]: a string expected, got %s", what, luaconv.Quote(string(name)), v.Type()))
		}
		if size += len(name) + len(out[string(name)]); size > maxOptionBytes {
			argError(L, fname, n, fmt.Sprintf("%s: more than %d bytes of names and values", what, maxOptionBytes))
		}
	}
	return out
}

// fetch makes the request and turns the response into a table, or returns what
// went wrong as the message a script gets. What came back is recorded with
// the event, and in a replay it is the record's answer instead, by method,
// URL and body (package inputs); a request a replay has no answer for is
// raised.
func (m *module) fetch(L *lua.LState, fname string, r request) (*lua.LTable, string) {
	u, err := url.Parse(r.url)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Sprintf("http: bad URL %s: %s", luaconv.Quote(r.url), err)
	}
	if r.query != nil {
		q := u.Query()
		for k, v := range r.query {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	withoutUser := *u
	withoutUser.User = nil
	req := store.Exchange{Module: "http", Method: r.method, URL: withoutUser.String(), Body: string(r.body)}
	ex, err := inputs.From(L.Context()).Exchange(fname+" "+shown(u), req, func() store.Exchange { return m.do(L, u, r) })
	if err != nil {
		L.RaiseError("%s", err)
	}
	if ex.Err != "" {
		return nil, ex.Err
	}
	return response(L, ex), ""
}

// do makes the request: the response, or what went wrong as the message a
// script gets.
func (m *module) do(L *lua.LState, u *url.URL, r request) store.Exchange {
	if err := m.allow.checkURL(u); err != nil {
		return store.Exchange{Err: "http: " + err.Error()}
	}
	what := r.method + " " + shown(u)

	limit := m.timeout
	if r.timeout > 0 {
		limit = r.timeout
	}
	ctx, cancel, limit, byDeadline, ok := Budget(L, limit)
	if !ok {
		return store.Exchange{Err: "http: no time left in this event's deadline"}
	}
	defer cancel()

	var reqBody io.Reader
	if r.body != nil {
		reqBody = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), reqBody)
	if err != nil {
		return store.Exchange{Err: fmt.Sprintf("http: bad URL %s: %s", luaconv.Quote(r.url), err)}
	}
	req.Header.Set("User-Agent", m.userAgent)
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}

	failed := func(err error) store.Exchange {
		if d, ok := errDenied(err); ok {
			return store.Exchange{Err: "http: " + d.Error()}
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			msg := fmt.Sprintf("http: %s timed out after %gs", what, limit.Round(time.Millisecond).Seconds())
			if byDeadline {
				msg += " (the event's deadline)"
			}
			return store.Exchange{Err: msg}
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return store.Exchange{Err: fmt.Sprintf("http: %s failed: %s", what, err)}
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return failed(err)
	}
	defer resp.Body.Close()
	tooLarge := fmt.Sprintf("http: %s: the response body is over the limit of %d bytes", what, m.maxBody)
	if resp.ContentLength > m.maxBody {
		return store.Exchange{Err: tooLarge}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, m.maxBody+1))
	if err != nil {
		return failed(err)
	}
	if int64(len(data)) > m.maxBody {
		return store.Exchange{Err: tooLarge}
	}
	headers := make(map[string]string, len(resp.Header))
	for k, vs := range resp.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	return store.Exchange{Status: resp.StatusCode, Headers: headers, Reply: string(data)}
}

// response is the table a script gets. Header names are in lower case, a
// repeated header's values joined with ", ".
func response(L *lua.LState, ex store.Exchange) *lua.LTable {
	t := L.CreateTable(0, 4)
	t.RawSetString("status", lua.LNumber(ex.Status))
	t.RawSetString("body", lua.LString(ex.Reply))
	headers := L.CreateTable(0, len(ex.Headers))
	for k, v := range ex.Headers {
		headers.RawSetString(k, lua.LString(v))
	}
	t.RawSetString("headers", headers)
	if mt, _, err := mime.ParseMediaType(ex.Headers["content-type"]); err == nil &&
		(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		var v any
		if json.Unmarshal([]byte(ex.Reply), &v) == nil {
			t.RawSetString("json", luaconv.ToLua(L, v))
		}
	}
	return t
}

// checkRedirect holds every redirect to the allow-list.
func (m *module) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if err := m.allow.checkURL(req.URL); err != nil {
		return &deniedError{fmt.Sprintf("%s %s redirected to %s: %s", via[0].Method, shown(via[0].URL), shown(req.URL), err)}
	}
	return nil
}

// shown is a URL as messages show it: without credentials or query, which may
// carry keys or the caller's number into logs.
func shown(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

// Budget is the context for a request made from a script: limit, cut to what
// is left of the event's deadline less a tenth of it (at most 100 ms), kept
// so the script can still answer the caller after a failure. It returns the
// time given and whether the deadline, not limit, set it; ok is false when
// no time is left.
func Budget(L *lua.LState, limit time.Duration) (ctx context.Context, cancel context.CancelFunc, given time.Duration, cut, ok bool) {
	parent := L.Context()
	if parent == nil {
		parent = context.Background()
	}
	if deadline, has := parent.Deadline(); has {
		left := time.Until(deadline)
		left -= min(left/10, 100*time.Millisecond)
		if left <= 0 || parent.Err() != nil {
			return nil, nil, 0, false, false
		}
		if left < limit {
			limit, cut = left, true
		}
	}
	ctx, cancel = context.WithTimeout(parent, limit)
	return ctx, cancel, limit, cut, true
}
