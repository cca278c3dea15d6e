package flowtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/phone"
	httpmod "github.com/luaivr/luaivr/stdlib/http"
	kvmod "github.com/luaivr/luaivr/stdlib/kv"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	clock "github.com/luaivr/luaivr/stdlib/time"
	"github.com/luaivr/luaivr/stdlib/vcc"
	"github.com/luaivr/luaivr/store"
	lua "github.com/yuin/gopher-lua"
)

// tester is the t a test function receives.
type tester struct {
	opts    Options
	scripts *engine.Scripts
	store   store.Store
	ctx     context.Context
	web     *web        // the stubs and the requests made
	line    *phone.Line // made at the first t:call, so stubs declared before it are allowed
	allowed []string    // the http module's allow-list on line
	vccHost string      // the vcc module's host on line
	clock   time.Time   // t:at's time for the line's clock; zero: the line's own start
	calls   []*phone.Call
	logs    []string
	broken  map[string]bool // apps that did not load: reported once, not by every test that calls them
	skip    string          // why the test cannot run: it calls a broken app
}

// In flow tests the vcc module is configured with these unless the run sets
// its own (--vcc-url, …), so a test can stub the hand-off without flags.
const (
	testVCCURL    = "https://vcc.example.test/SC/externalIvrAction.php"
	testVCCTenant = "test-tenant"
	testVCCToken  = "test-token"
)

func (tt *tester) table(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	for name, fn := range map[string]lua.LGFunction{
		"call":     tt.call,
		"stub":     tt.stub,
		"requests": func(L *lua.LState) int { L.Push(tt.web.requestsTable(L)); return 1 },
		"at":       tt.setClock,
		"set_kv":   tt.setKV,
		"eq": func(L *lua.LState) int {
			checkEq(L, L.Get(2), L.Get(3), L.OptString(4, "value"))
			return 0
		},
		"fail": func(L *lua.LState) int {
			L.RaiseError("%s", L.CheckString(2))
			return 0
		},
		"log": func(L *lua.LState) int {
			parts := []string{}
			for i := 2; i <= L.GetTop(); i++ {
				parts = append(parts, L.ToStringMeta(L.Get(i)).String())
			}
			tt.logs = append(tt.logs, strings.TrimSuffix(L.Where(1), ":")+": "+strings.Join(parts, " "))
			return 0
		},
	} {
		t.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			if L.Get(1) != t {
				L.RaiseError("t.%s: use t:%s(…) with a colon", name, name)
			}
			return fn(L)
		}))
	}
	return t
}

// lineFor returns the test's line, making it at the first t:call: its http
// module may call the hosts of the stubs declared so far (and the run's
// --http-allow), and both the http and the vcc module send through the stubs.
func (tt *tester) lineFor(L *lua.LState) *phone.Line {
	if tt.line != nil {
		return tt.line
	}
	o := tt.opts.Engine
	o.Deadline, o.Logger = tt.opts.Deadline, tt.opts.Logger
	client := &http.Client{Transport: tt.web}
	tt.allowed = append(tt.web.hosts(), o.HTTP.Allow...)
	o.HTTP.Allow, o.HTTP.Client = tt.allowed, client
	o.VCC = vcc.Options{URL: or(o.VCC.URL, testVCCURL), Tenant: or(o.VCC.Tenant, testVCCTenant),
		Token: or(o.VCC.Token, testVCCToken), HTTP: client, AllowHTTP: o.VCC.AllowHTTP}
	if u, err := url.Parse(o.VCC.URL); err == nil {
		tt.vccHost = strings.ToLower(u.Host)
	}
	line, err := phone.NewLine(tt.scripts, tt.store, o)
	if err != nil {
		L.RaiseError("t:call: %v", err)
	}
	if !tt.clock.IsZero() {
		line.SetNow(tt.clock)
	}
	tt.line = line
	return line
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// stub declares what a URL answers: t:stub("GET https://…", { status =,
// json = | body =, headers = }) or { error = "…" } for a failed connection.
func (tt *tester) stub(L *lua.LState) int {
	s := parseStub(L, L.CheckString(2), L.Get(3))
	host := strings.ToLower(s.url.Host)
	if err := httpmod.CheckAllow([]string{host}); err != nil {
		L.RaiseError("t:stub: the host of %q: %v", s.decl, err)
	}
	if tt.line != nil && host != tt.vccHost && !tt.allows(host) {
		L.RaiseError("t:stub(%q): the app may not call %s in this test: the first t:call fixed the hosts it may call "+
			"(those of the stubs declared before it); declare this stub before t:call", s.decl, host)
	}
	tt.web.add(s)
	return 0
}

// allows reports whether the line's allow-list has host (host or host:port).
func (tt *tester) allows(host string) bool {
	for _, a := range tt.allowed {
		a = strings.ToLower(a)
		if rest, ok := strings.CutPrefix(a, "*."); (ok && strings.HasSuffix(host, "."+rest)) || a == host {
			return true
		}
	}
	return false
}

// setClock is t:at(time [, zone]): the time at which the next call starts,
// "2026-01-05 10:00" (or with seconds, or a date alone) in zone (default
// UTC) or RFC 3339, as clock.ParseTime reads them, or seconds since the
// epoch as time.now() gives. The clock goes on from there as calls advance
// it.
func (tt *tester) setClock(L *lua.LState) int {
	loc, err := clock.LoadZone(L.OptString(3, "UTC"))
	if err != nil {
		L.RaiseError("t:at: %s", err)
	}
	var at time.Time
	switch v := L.Get(2).(type) {
	case lua.LString:
		if at, err = clock.ParseTime(string(v), loc); err != nil {
			L.RaiseError("t:at: %s", err)
		}
	case lua.LNumber:
		at = time.UnixMilli(int64(math.Round(float64(v) * 1000)))
	default:
		L.RaiseError("t:at: a time \"YYYY-MM-DD HH:MM\" (and a zone) or seconds since the epoch expected, got %s", v.Type())
	}
	tt.clock = at
	if tt.line != nil {
		tt.line.SetNow(at)
	}
	return 0
}

// setKV is t:set_kv(app, key, value [, ttl]): what the app's kv holds at
// key before the test's calls, as kv.set would store it (a recorded call
// turned into a test starts from the values it read).
func (tt *tester) setKV(L *lua.LState) int {
	app, key := L.CheckString(2), L.CheckString(3)
	if tt.scripts.Apps[app] == nil {
		L.RaiseError("t:set_kv: no app %q in the script folder (apps: %s)", app, strings.Join(tt.scripts.Names(), ", "))
	}
	v, err := luaconv.FromLua(L.Get(4), "value")
	if err != nil || v == nil {
		L.RaiseError("t:set_kv: the value is what kv.set takes (a string, number, boolean or table), got %s", L.Get(4).Type())
	}
	b, _ := json.Marshal(v)
	ttl := time.Duration(float64(L.OptNumber(5, 0)) * float64(time.Second))
	if err := tt.store.KVSet(tt.ctx, app, key, b, ttl, tt.opts.Engine.KVQuota); err != nil {
		L.RaiseError("t:set_kv: %v", err)
	}
	return 0
}

// call places a call: t:call("app") or t:call{ app = "app", from = "+65…",
// to = "+65…", outbound = true, vars = { … } }.
func (tt *tester) call(L *lua.LState) int {
	opts := phone.CallOptions{}
	switch v := L.Get(2).(type) {
	case lua.LString:
		opts.App = string(v)
	case *lua.LTable:
		opts.App = lua.LVAsString(v.RawGetString("app"))
		opts.Caller = lua.LVAsString(v.RawGetString("from"))
		opts.Number = lua.LVAsString(v.RawGetString("to"))
		opts.Outbound = lua.LVAsBool(v.RawGetString("outbound"))
		if vars := v.RawGetString("vars"); vars != lua.LNil {
			g, err := luaconv.FromLua(vars, "vars")
			m, ok := g.(map[string]any)
			if err != nil || !ok {
				L.RaiseError("t:call: vars must be a table of named values")
			}
			opts.Vars = m
		}
	default:
		L.RaiseError("t:call: expected an app name or a table { app = …, from = …, vars = … }; did you write t.call instead of t:call?")
	}
	if opts.App == "" {
		L.RaiseError("t:call: which app? t:call(\"restaurant\")")
	}
	if tt.scripts.Apps[opts.App] == nil {
		if tt.broken[opts.App] {
			tt.skip = opts.App + ".lua did not load (see its failure above)"
			L.RaiseError("t:call: %s", tt.skip)
		}
		L.RaiseError("t:call: no app %q in the script folder (apps: %s)", opts.App, strings.Join(tt.scripts.Names(), ", "))
	}
	c, err := tt.lineFor(L).Start(tt.ctx, opts)
	if err != nil {
		L.RaiseError("t:call: %v", err)
	}
	tt.calls = append(tt.calls, c)
	L.Push(newCall(L, tt, c, opts.App))
	return 1
}

// callObj is a call as a test sees it. mark is where "since the last input"
// begins in the call's Heard.
type callObj struct {
	tt   *tester
	call *phone.Call
	app  string
	mark int
}

func newCall(L *lua.LState, tt *tester, c *phone.Call, app string) *lua.LTable {
	co := &callObj{tt: tt, call: c, app: app}
	co.after(L, 0)
	t := L.NewTable()
	method := func(name string, fn func(L *lua.LState) int) lua.LGFunction {
		return func(L *lua.LState) int {
			if L.Get(1) != t {
				L.RaiseError("call.%s: use call:%s(…) with a colon", name, name)
			}
			return fn(L)
		}
	}
	for name, fn := range map[string]func(*lua.LState) int{
		"press":      co.press,
		"timeout":    co.timeout,
		"hangup":     co.hangup,
		"hears":      co.hears,
		"not_hears":  co.notHears,
		"at":         co.at,
		"ended":      co.ended,
		"bridged":    co.bridgedTo,
		"reply":      co.reply,
		"vars":       co.vars,
		"heard":      co.heard,
		"transcript": co.transcript,
		"kv":         co.kv,
	} {
		t.RawSetString(name, L.NewFunction(method(name, fn)))
	}
	t.RawSetString("session", lua.LString(c.Session()))
	return t
}

func (co *callObj) input(L *lua.LState, err error) int {
	if err != nil {
		L.RaiseError("%v\n%s", err, co.since(0))
	}
	co.after(L, co.mark)
	return 0
}

// after looks at what the call did from Heard[from] on: the app's log lines
// go to the test's log, in order with t:log's; a handler that failed with no
// reply to give (on_status, on_end) fails the test here, at the input that
// made it run, since the caller hears nothing that a test could assert on.
func (co *callObj) after(L *lua.LState, from int) {
	for _, h := range co.call.Heard[from:] {
		switch h.Kind {
		case phone.Log:
			co.tt.logs = append(co.tt.logs, co.app+" log: "+h.Text)
		case phone.Failed:
			L.RaiseError("%s\n%s", h.Text, co.since(from))
		}
	}
}

func (co *callObj) press(L *lua.LState) int {
	keys := L.CheckString(2)
	co.mark = len(co.call.Heard)
	return co.input(L, co.call.Press(co.tt.ctx, keys))
}

func (co *callObj) timeout(L *lua.LState) int {
	co.mark = len(co.call.Heard)
	return co.input(L, co.call.Timeout(co.tt.ctx))
}

func (co *callObj) hangup(L *lua.LState) int {
	co.mark = len(co.call.Heard)
	co.call.Hangup(co.tt.ctx)
	return co.input(L, nil)
}

// spoken is what the caller heard since the last input, as text.
func (co *callObj) spoken() []string {
	var out []string
	for _, h := range co.call.Heard[co.mark:] {
		switch h.Kind {
		case phone.Say, phone.Prompt, phone.Play, phone.Bridge:
			out = append(out, h.Text)
		}
	}
	return out
}

// since renders the call from Heard[from] for failure messages.
func (co *callObj) since(from int) string {
	var b strings.Builder
	b.WriteString("      the call so far:\n")
	for _, h := range co.call.Heard[from:] {
		b.WriteString("      " + h.String() + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// hears asserts the caller heard text (a plain substring) since the last input.
func (co *callObj) hears(L *lua.LState) int {
	want := L.CheckString(2)
	for _, s := range co.spoken() {
		if strings.Contains(s, want) {
			return 0
		}
	}
	L.RaiseError("the caller did not hear %q since the last input\n%s", want, co.since(co.mark))
	return 0
}

func (co *callObj) notHears(L *lua.LState) int {
	want := L.CheckString(2)
	for _, s := range co.spoken() {
		if strings.Contains(s, want) {
			L.RaiseError("the caller heard %q since the last input\n%s", want, co.since(co.mark))
		}
	}
	return 0
}

// at asserts the caller is at a menu position (the last clientActionId).
func (co *callObj) at(L *lua.LState) int {
	want := L.CheckString(2)
	if got := co.call.Position(); got != want {
		L.RaiseError("the caller is at %q, want %q\n%s", got, want, co.since(co.mark))
	}
	return 0
}

func (co *callObj) ended(L *lua.LState) int {
	if !co.call.Ended() {
		L.RaiseError("the call has not ended (it waits at %q)\n%s", co.call.Position(), co.since(co.mark))
	}
	return 0
}

func (co *callObj) bridgedTo(L *lua.LState) int {
	want := L.OptString(2, "")
	for _, h := range co.call.Heard[co.mark:] {
		if h.Kind == phone.Bridge && (want == "" || h.Text == want) {
			return 0
		}
	}
	L.RaiseError("the caller was not connected to %q since the last input\n%s", want, co.since(co.mark))
	return 0
}

// reply returns the last callflow the call received, as a table:
// { clientActionId = …, callflow = { { action = …, params = {…} }, … } }.
func (co *callObj) reply(L *lua.LState) int {
	if len(co.call.Replies) == 0 {
		L.RaiseError("the call has received no callflow yet")
	}
	b, _ := co.call.Replies[len(co.call.Replies)-1].MarshalJSON()
	var v any
	_ = json.Unmarshal(b, &v)
	L.Push(luaconv.ToLua(L, v))
	return 1
}

// vars returns the session's vars as stored after the last event.
func (co *callObj) vars(L *lua.LState) int {
	s, ok, err := co.tt.line.Store.Session(co.tt.ctx, co.call.Session())
	if err != nil || !ok {
		L.RaiseError("session %s not found: %v", co.call.Session(), err)
	}
	var v map[string]any
	_ = json.Unmarshal(s.Vars, &v)
	if v == nil {
		v = map[string]any{}
	}
	L.Push(luaconv.ToLua(L, v))
	return 1
}

// kv returns the value the app's kv store holds at key (nil when none).
func (co *callObj) kv(L *lua.LState) int {
	key := L.CheckString(2)
	b, ok, err := co.tt.line.Store.KVGet(co.tt.ctx, co.app, key)
	if err != nil {
		L.RaiseError("kv: %v", err)
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(kvmod.Decode(L, b))
	return 1
}

// heard returns every moment of the call: { { kind = "prompt", text = …, menu = … }, … }.
func (co *callObj) heard(L *lua.LState) int {
	t := L.NewTable()
	for _, h := range co.call.Heard {
		e := L.NewTable()
		e.RawSetString("kind", lua.LString(h.Kind))
		e.RawSetString("text", lua.LString(h.Text))
		if h.Menu != "" {
			e.RawSetString("menu", lua.LString(h.Menu))
		}
		t.Append(e)
	}
	L.Push(t)
	return 1
}

// transcript returns the call as the text simulate prints.
func (co *callObj) transcript(L *lua.LState) int {
	var b strings.Builder
	for _, h := range co.call.Heard {
		b.WriteString(h.String() + "\n")
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// checkEq compares two values as JSON would.
func checkEq(L *lua.LState, got, want lua.LValue, what string) {
	g, err1 := luaconv.FromLua(got, what)
	w, err2 := luaconv.FromLua(want, what)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if err1 != nil || err2 != nil || string(gb) != string(wb) {
		L.RaiseError("%s: got %s, want %s", what, show(gb, got), show(wb, want))
	}
}

func show(b []byte, v lua.LValue) string {
	if b == nil || string(b) == "null" && v != lua.LNil {
		return fmt.Sprint(v)
	}
	return string(b)
}
