package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/store"
)

const voice = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
`

// The sandbox offers no way out: each of these globals is absent, and require
// reaches only the script folder.
func TestSandbox(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{
		"probe.lua": voice + `
function on_dtmf(session, digits)
  local probes = {
    os = function() return os end, io = function() return io end, debug = function() return debug end,
    load = function() return load end, loadstring = function() return loadstring end,
    dofile = function() return dofile end, loadfile = function() return loadfile end,
    package = function() return package end, setfenv = function() return setfenv end,
    dump = function() return string.dump end, collectgarbage = function() return collectgarbage end,
    coroutine = function() return coroutine end,
    helper = function() return require("lib.helper").answer end,
    stdlib = function() return require("ivr") == ivr end,
    escape = function() return pcall(require, "../secret") end,
    missing = function() return pcall(require, "lib.nothing") end,
  }
  local v = probes[session.vars.probe]()
  return ivr.say(tostring(v) .. (select(2, probes[session.vars.probe]()) and (" " .. tostring(select(2, probes[session.vars.probe]()))) or ""))
end
function on_call(session) return ivr.hangup() end`,
		"lib/helper.lua": `return { answer = 42 }`,
	})
	h := newHarness(t, dir, engine.Options{})
	tests := []struct{ probe, want string }{
		{"os", "nil"}, {"io", "nil"}, {"debug", "nil"}, {"load", "nil"}, {"loadstring", "nil"},
		{"dofile", "nil"}, {"loadfile", "nil"}, {"package", "nil"}, {"setfenv", "nil"},
		{"dump", "nil"}, {"collectgarbage", "nil"}, {"coroutine", "nil"},
		{"helper", "42"}, {"stdlib", "true"},
		{"escape", "false"}, {"missing", "false"},
	}
	for _, tt := range tests {
		t.Run(tt.probe, func(t *testing.T) {
			t.Parallel()
			c := newCall(shapeEventDataDTMF, true)
			// Seed the session's vars through the store, as an earlier event would have.
			seed(t, h, c.session, "probe", map[string]any{"probe": tt.probe})
			got := replyText(t, h.post(c.keys("1"), "probe"))
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("%s: caller heard %q, want it to start with %q", tt.probe, got, tt.want)
			}
		})
	}
	t.Run("escape message", func(t *testing.T) {
		c := newCall(shapeEventDataDTMF, true)
		seed(t, h, c.session, "probe", map[string]any{"probe": "escape"})
		if got := replyText(t, h.post(c.keys("1"), "probe")); !strings.Contains(got, "use dotted Lua names") {
			t.Fatalf("require of a path outside the folder said %q", got)
		}
	})
}

// seed stores a session as if earlier events had set these vars.
func seed(t *testing.T, h *harness, session, app string, vars map[string]any) {
	t.Helper()
	b, _ := json.Marshal(vars)
	s := store.Session{ID: session, App: app, Vars: b, Updated: time.Now()}
	if _, err := h.st.Register(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// Globals written during one event are gone at the next; session.vars persist.
func TestNoLeaksBetweenEvents(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"leak.lua": voice + `
function on_call(session) return ivr.say_and_capture("go", { maxDigits = 1 }) end
function on_dtmf(session, digits)
  counter = (counter or 0) + 1                 -- a global
  string.leak = (string.leak or 0) + 1         -- a library table
  session.vars.n = (session.vars.n or 0) + 1   -- the session's own memory
  return ivr.say_and_capture(string.format("global %d lib %d vars %d", counter, string.leak, session.vars.n), { maxDigits = 1 })
end`})
	h := newHarness(t, dir, engine.Options{})
	c := newCall(shapeDTMF, true)
	h.post(c.start(), "leak")
	for i := 1; i <= 3; i++ {
		want := fmt.Sprintf("global 1 lib 1 vars %d", i)
		if got := replyText(t, h.post(c.keys("1"), "leak")); got != want {
			t.Fatalf("event %d: %q, want %q", i, got, want)
		}
	}
	// Another call starts with empty vars.
	d := newCall(shapeDTMF, true)
	if got := replyText(t, h.post(d.keys("1"), "leak")); got != "global 1 lib 1 vars 1" {
		t.Fatalf("a second call saw %q", got)
	}
}

// A redelivered event gets the same reply and the script does not run again.
func TestRedelivery(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"count.lua": voice + `
function on_dtmf(session, digits)
  session.vars.n = (session.vars.n or 0) + 1
  return ivr.say_and_capture("run " .. session.vars.n, { maxDigits = 1 })
end`})
	h := newHarness(t, dir, engine.Options{})
	c := newCall(shapeEventDataDTMF, true)
	first := c.keys("1")
	a := h.post(first, "count")
	b := h.post(first, "count")
	if string(a) != string(b) {
		t.Fatalf("redelivery answered %s, first answer was %s", b, a)
	}
	if got := replyText(t, h.post(c.keys("1"), "count")); got != "run 2" {
		t.Fatalf("next event: %q; the redelivery must not have run the script", got)
	}
	if n := h.eng.Stats().Duplicates.Load(); n != 1 {
		t.Fatalf("duplicates = %d", n)
	}
}

// Each way a handler can fail gives the caller a fallback, logged with the
// script's file and line and the reason.
func TestFallbacks(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{
		"broken.lua": voice + `
function on_dtmf(session, digits)
  if digits == "1" then error("boom") end
  if digits == "2" then while true do end end
  if digits == "3" then return ivr.say_and_capture("x", { maxDigits = 1, digitTimeout = 500, overallTimeout = 100 }) end
  if digits == "4" then return nil end
  if digits == "5" then return "no_such_menu" end
  if digits == "6" then local function f() return f() + 1 end return f() end
  if digits == "7" then session.vars.f = function() end return ivr.hangup() end
  if digits == "8" then error({ code = 42 }) end
  if digits == "9" then return { ivr.hangup(), ivr.say("too late") } end
  if digits == "0" then session.vars.big = string.rep("x", 1024 * 1024) return ivr.hangup() end
  return ivr.hangup()
end`,
		"polite.lua": voice + `
fallback = { ivr.say("Sorry, our line has a problem. Goodbye."), ivr.hangup() }
function on_dtmf(session, digits) error("always") end`,
	})
	h := newHarness(t, dir, engine.Options{Deadline: 300 * time.Millisecond})
	server := "We are sorry, we cannot take your call right now. Please call again later."
	tests := []struct{ app, keys, heard, log string }{
		{"broken", "1", server, `broken.lua:4: boom`},
		{"broken", "2", server, `reason=timeout`},
		{"broken", "3", server, `-1006`},
		{"broken", "4", server, `reason=empty_callflow`},
		{"broken", "5", server, `no menu has that id`},
		{"broken", "6", server, `stack overflow`},
		{"broken", "7", server, `session.vars.f: a function cannot be converted`},
		{"broken", "8", server, `error value {\"code\":42}`},
		{"broken", "9", server, `-1012`},
		{"broken", "0", server, `session.vars is 1048586 bytes as JSON, over the limit`},
		{"polite", "1", "Sorry, our line has a problem. Goodbye.", `polite.lua:4: always`},
	}
	for _, tt := range tests {
		t.Run(tt.app+"/"+tt.keys, func(t *testing.T) {
			t.Parallel()
			c := newCall(shapeEventDataDTMF, true)
			reply := h.post(c.keys(tt.keys), tt.app)
			if got := replyText(t, reply); got != tt.heard {
				t.Fatalf("caller heard %q, want %q", got, tt.heard)
			}
			if !strings.Contains(string(reply), `"hangup"`) {
				t.Fatalf("fallback does not end the call: %s", reply)
			}
			logs := h.logs.String()
			line := ""
			for _, l := range strings.Split(logs, "\n") {
				if strings.Contains(l, c.session) && strings.Contains(l, "fallback") {
					line = l
				}
			}
			if !strings.Contains(line, tt.log) || !strings.Contains(line, "app="+tt.app) {
				t.Fatalf("log line %q, want it to mention %q and the app", line, tt.log)
			}
		})
	}
}

// An endless loop is stopped at the deadline, and other calls go on.
func TestDeadlineStopsLoop(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"loop.lua": voice + `
function on_dtmf(session, digits)
  if digits == "1" then while true do end end
  return ivr.hangup()
end`})
	h := newHarness(t, dir, engine.Options{Deadline: 100 * time.Millisecond})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newCall(shapeDTMF, true)
			h.post(c.keys("1"), "loop")
		}()
	}
	c := newCall(shapeDTMF, true)
	if got := replyText(t, h.post(c.keys("2"), "loop")); got != "hangup" {
		t.Fatalf("a healthy call got %q", got)
	}
	wg.Wait()
	// Stopped by the deadline in the VM, or (on a slow machine) by the watchdog.
	if logs := h.logs.String(); !strings.Contains(logs, "ran past its deadline") && !strings.Contains(logs, "did not return within twice") {
		t.Fatal("no log line says the handler was stopped at its deadline")
	}
}

// Events of one session are applied one at a time, in whatever order they
// arrive; none is lost.
func TestSessionEventsSerialised(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"n.lua": voice + `
function on_dtmf(session, digits)
  session.vars.n = (session.vars.n or 0) + 1
  return ivr.hangup()
end`})
	h := newHarness(t, dir, engine.Options{})
	const sessions, events = 8, 10
	var wg sync.WaitGroup
	calls := make([]*call, sessions)
	for s := range calls {
		calls[s] = newCall(shapeDTMF, true)
		for e := 0; e < events; e++ {
			body := calls[s].keys("1")
			wg.Add(1)
			go func() { defer wg.Done(); h.post(body, "n") }()
		}
	}
	wg.Wait()
	for _, c := range calls {
		s, ok, err := h.st.Session(context.Background(), c.session)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if string(s.Vars) != fmt.Sprintf(`{"n":%d}`, events) || s.Events != events {
			t.Fatalf("session %s: vars %s after %d events (recorded %d)", c.session, s.Vars, events, s.Events)
		}
	}
}

// The transcript records each event, its reply and the handler's time.
func TestTranscript(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "../../scripts", engine.Options{})
	c := newCall(shapeEventDataDTMF, true)
	c.remember(h.post(c.start(), "restaurant"))
	c.remember(h.post(c.keys("1"), ""))
	status := c.payload("CALL_CONNECTED")
	h.post(envelope("CALL_STATUS", status), "")
	entries, err := h.st.Transcript(context.Background(), c.session)
	if err != nil || len(entries) != 3 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	if entries[0].Handler != "on_call" || entries[1].Handler != "menu" || *entries[1].Digits != "1" ||
		entries[1].ActionID != "main_menu" || !strings.Contains(string(entries[1].Reply), "reservations") {
		t.Fatalf("entries: %+v", entries[:2])
	}
	if entries[2].EventType != "CALL_STATUS" || entries[2].Reply != nil {
		t.Fatalf("status entry: %+v", entries[2])
	}
	s, _, _ := h.st.Session(context.Background(), c.session)
	if s.App != "restaurant" || s.ActionID != "reservations" || s.Status != "CALL_CONNECTED" || s.Events != 3 {
		t.Fatalf("session: %+v", s)
	}
}

// on_status and on_end see their events; the summary ends the session.
func TestStatusAndEnd(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"track.lua": voice + `
function on_call(session) return ivr.hangup() end
function on_status(session, status) session.vars.status = status end
function on_end(session, summary)
  session.vars.outcome = summary.sessionStatus
  session.vars.leg = summary.details.callA.callStatus
end`})
	h := newHarness(t, dir, engine.Options{})
	c := newCall(shapeDTMF, true)
	h.post(c.start(), "track")
	if got := h.post(envelope("CALL_STATUS", c.payload("CALL_CONNECTED")), ""); string(got) != "{}" {
		t.Fatalf("CALL_STATUS answered %s", got)
	}
	summary := map[string]any{"sessionId": c.session, "sessionStatus": "COMPLETED",
		"details": map[string]any{"CallA": map[string]any{"callStatus": "COMPLETED"}}}
	h.post(envelope("SESSION_SUMMARY", summary), "")
	s, _, _ := h.st.Session(context.Background(), c.session)
	if string(s.Vars) != `{"leg":"COMPLETED","outcome":"COMPLETED","status":"CALL_CONNECTED"}` || !s.Ended || s.Status != "COMPLETED" {
		t.Fatalf("session %+v vars %s", s, s.Vars)
	}
}

// A position the script does not know (edited since, or forged) starts the
// caller again at the root menu.
func TestUnknownPosition(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "../../scripts", engine.Options{})
	c := newCall(shapeEventDataDTMF, true)
	c.lastID = "no_such_menu"
	if got := h.post(c.keys("1"), "restaurant"); !sameJSON(t, got, golden(t, "restaurant_main_menu")) {
		t.Fatalf("reply %s", got)
	}
	if !strings.Contains(h.logs.String(), `no menu or ivr.on position \"no_such_menu\"`) {
		t.Fatal("unknown position not logged")
	}
}

// Unknown event types and calls no app claims are still answered.
func TestNoAppAndUnknownEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "../../scripts", engine.Options{})
	c := newCall(shapeDTMF, true)
	p := c.payload("DTMF_RECEIVED")
	p["destination"], p["dtmf"] = "+6500000000", "1" // a number no script claims
	reply := h.post(envelope("CALL_ACTION", p), "")
	if got := replyText(t, reply); !strings.Contains(got, "We are sorry") {
		t.Fatalf("no-app call heard %q", got)
	}
	if !strings.Contains(h.logs.String(), "no app for this call") {
		t.Fatal("no-app not logged")
	}
	if got := h.post(envelope("SOMETHING_NEW", c.payload("X")), ""); string(got) != "{}" {
		t.Fatalf("unknown event answered %s", got)
	}
}

// Nothing one app's script does to a shared-looking value reaches another
// app's calls: json.null is a value of each state.
func TestNoLeakThroughStdlibValues(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{
		"a.lua": voice + `
function on_dtmf(session, digits)
  local mt = getmetatable(json.null) or {}
  mt.__index = { secret = session.source }
  setmetatable(json.null, mt)
  return ivr.hangup()
end`,
		"b.lua": voice + `
function on_dtmf(session, digits)
  local mt = getmetatable(json.null)
  return { ivr.say("b sees " .. tostring(mt and mt.__index.secret)), ivr.hangup() }
end`,
	})
	h := newHarness(t, dir, engine.Options{})
	h.post(newCall(shapeDTMF, true).keys("1"), "a")
	if got := replyText(t, h.post(newCall(shapeDTMF, true).keys("1"), "b")); got != "b sees nil" {
		t.Fatalf("app b heard %q", got)
	}
}

// Go code that ignores the deadline (here a store whose kv.get never
// returns) still gets the caller an answer: the watchdog answers with the
// fallback at twice the deadline.
func TestWatchdog(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"stuck.lua": voice + `
function on_dtmf(session, digits)
  kv.get("never")
  return ivr.say("finished")
end`})
	h := newHarness(t, dir, engine.Options{})
	release := make(chan struct{})
	defer close(release)
	scripts, _ := engine.Load(dir)
	// The deadline is long next to the few instructions before kv.get, so
	// that on a busy machine too it is the watchdog that answers.
	eng, err := engine.New(scripts, engine.Options{Store: blockingKV{h.st, release, nil}, Deadline: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(h.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := webhook.Parse(newCall(shapeDTMF, true).keys("1"))
	if got := replyText(t, eng.Handle(context.Background(), ev, "stuck").Body); !strings.Contains(got, "We are sorry") {
		t.Fatalf("heard %q", got)
	}
	if !strings.Contains(h.logs.String(), "did not return within twice its 200ms deadline") {
		t.Fatalf("no watchdog line in the log:\n%s", h.logs.String())
	}
}

// A pattern match stops at the deadline like any Lua code, so its goroutine
// ends with its event and gives its place back: with a single place, the
// next call is answered by its own script, not told the server is busy.
func TestStuckPatternGivesBackItsPlace(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"parse.lua": voice + `
local body = string.rep("a", 100000)
function on_dtmf(session, digits)
  if digits == "1" then body:find(".-.-.-.-x") end
  if digits == "2" then body:match("(.-)(.-)(.-)(.-)x") end
  if digits == "3" then for w in body:gmatch(".-.-.-x") do end end
  if digits == "4" then body:gsub(".-.-.-x", "") end
  if digits == "5" then (string.rep("(", 5000) .. body):find("%b()") end
  return ivr.say("answered " .. digits)
end`})
	h := newHarness(t, dir, engine.Options{Deadline: 300 * time.Millisecond, Concurrency: 1})
	for _, keys := range []string{"1", "2", "3", "4", "5"} {
		if got := replyText(t, h.post(newCall(shapeDTMF, true).keys(keys), "parse")); !strings.Contains(got, "We are sorry") {
			t.Fatalf("keys %s: the stuck match was answered %q", keys, got)
		}
		if got := replyText(t, h.post(newCall(shapeDTMF, true).keys("9"), "parse")); got != "answered 9" {
			t.Fatalf("after keys %s the next call heard %q: the stuck match kept its place\n%s", keys, got, h.logs.String())
		}
	}
	if strings.Contains(h.logs.String(), "did not return within twice") {
		t.Fatalf("the watchdog had to answer: a match did not stop at its deadline\n%s", h.logs.String())
	}
}

// Scripts that grab memory faster than the deadline can stop them are
// stopped by the memory guard, several at once; other calls go on.
func TestMemoryGuard(t *testing.T) {
	// Not parallel: it measures the whole process's heap.
	dir := scriptDir(t, map[string]string{"hog.lua": voice + `
function on_dtmf(session, digits)
  local t, i = {}, 0
  if digits == "1" then local s = string.rep("x", 1000000) while true do i = i + 1 t[i] = s .. i end end
  if digits == "2" then while true do i = i + 1 t[i] = { i } end end
  if digits == "3" then while true do i = i + 1 t["key" .. i] = i end end
  return ivr.hangup()
end`})
	h := newHarness(t, dir, engine.Options{Deadline: 20 * time.Second, MemoryLimit: 128 << 20})
	var wg sync.WaitGroup
	for _, keys := range []string{"1", "2", "3", "1", "2", "3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newCall(shapeDTMF, true)
			if got := replyText(t, h.post(c.keys(keys), "hog")); !strings.Contains(got, "We are sorry") {
				t.Errorf("keys %s: heard %q", keys, got)
			}
		}()
	}
	wg.Wait()
	// With a 20 s deadline, only the guard can have stopped them.
	if n := strings.Count(h.logs.String(), "reason=memory"); n != 6 {
		t.Fatalf("%d memory stops logged, want 6:\n%s", n, h.logs.String())
	}
	// The guard collects after stopping scripts; collect here too so that the
	// check does not depend on how busy the machine is.
	runtime.GC()
	if got := replyText(t, h.post(newCall(shapeDTMF, true).keys("4"), "hog")); got != "hangup" {
		t.Fatalf("a healthy call after them heard %q\n%s", got, h.logs.String())
	}
}

// Memory the rest of the process holds (the store compacting, say) does not
// condemn scripts that did not grow it.
func TestMemoryGuardSparesOthers(t *testing.T) {
	// Not parallel: it holds the process's heap over the limit.
	dir := scriptDir(t, map[string]string{"busy.lua": voice + `
function on_call(session)
  local x = 0
  for i = 1, 50000 do x = x + i end -- some work, no allocation
  return ivr.hangup()
end`})
	h := newHarness(t, dir, engine.Options{MemoryLimit: 200 << 20, Deadline: 5 * time.Second}) // the ballast puts the heap between the limit and twice it
	ballast := make([]byte, 210<<20)
	for i := range ballast {
		ballast[i] = byte(i)
	}
	runtime.GC() // the live heap as the guard sees it includes the ballast, not an earlier test's garbage
	stop := make(chan struct{})
	var sink atomic.Pointer[[]byte]
	go func() { // someone else making garbage all the while
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond): // 1 GB/s of garbage: far above what luaivr makes
				b := make([]byte, 1<<20)
				sink.Store(&b)
			}
		}
	}()
	defer close(stop)
	for i := 0; i < 30; i++ {
		if got := replyText(t, h.post(newCall(shapeDTMF, true).start(), "busy")); got != "hangup" {
			t.Fatalf("call %d heard %q with the heap held high and garbage made by someone else\n%s", i, got, h.logs.String())
		}
	}
	runtime.KeepAlive(ballast)
}

// blockingKV is a store whose kv.get waits until released: a script stuck in
// Go code the deadline cannot interrupt, without burning a core.
type blockingKV struct {
	store.Store
	release chan struct{}
	entered chan struct{} // told when a kv.get starts waiting, if set
}

func (b blockingKV) KVGet(context.Context, string, string) ([]byte, bool, error) {
	if b.entered != nil {
		b.entered <- struct{}{}
	}
	<-b.release
	return nil, false, nil
}

// An app whose scripts are stuck holds at most its share of the places to
// run scripts: another app's calls still get their own answer.
func TestStuckAppLeavesRoomForOthers(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{
		"stuck.lua": voice + `function on_dtmf(session, digits) kv.get("wait") return ivr.hangup() end`,
		"good.lua":  voice + `function on_dtmf(session, digits) return ivr.say("good answer") end`,
	})
	h := newHarness(t, dir, engine.Options{})
	release, entered := make(chan struct{}), make(chan struct{}, 16)
	scripts, _ := engine.Load(dir)
	eng, err := engine.New(scripts, engine.Options{Store: blockingKV{h.st, release, entered}, Deadline: 200 * time.Millisecond, // long enough for the good app under -race on a busy machine
		Concurrency: 4, Logger: slog.New(slog.NewTextHandler(h.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	post := func(body []byte, app string) string {
		ev, _ := webhook.Parse(body)
		return replyText(t, eng.Handle(context.Background(), ev, app).Body)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(release)
	for range 8 { // a flood of stuck calls: more than every place
		wg.Go(func() { post(newCall(shapeDTMF, true).keys("1"), "stuck") })
	}
	for range 3 { // its share of four places
		<-entered
	}
	for i := range 5 {
		if got := post(newCall(shapeDTMF, true).keys("1"), "good"); got != "good answer" {
			t.Fatalf("call %d to the other app heard %q while the stuck app flooded the server\n%s", i, got, h.logs.String())
		}
	}
}

// When every place to run a script is held by stuck scripts, callers still
// get an answer, not silence.
func TestBusyStillAnswers(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"stuck.lua": voice + `
function on_dtmf(session, digits)
  if digits == "1" then kv.get("wait") end
  return ivr.hangup()
end`})
	h := newHarness(t, dir, engine.Options{})
	release := make(chan struct{})
	defer close(release)
	scripts, _ := engine.Load(dir)
	eng, err := engine.New(scripts, engine.Options{Store: blockingKV{h.st, release, nil}, Deadline: 10 * time.Millisecond,
		Concurrency: 1, Logger: slog.New(slog.NewTextHandler(h.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	post := func(body []byte) string {
		ev, _ := webhook.Parse(body)
		return replyText(t, eng.Handle(context.Background(), ev, "stuck").Body)
	}
	if got := post(newCall(shapeDTMF, true).keys("1")); !strings.Contains(got, "We are sorry") { // the watchdog answers
		t.Fatalf("the stuck call heard %q", got)
	}
	if got := post(newCall(shapeDTMF, true).keys("2")); !strings.Contains(got, "We are sorry") {
		t.Fatalf("a call while the only place is held heard %q", got)
	}
	if !strings.Contains(h.logs.String(), "reason=busy") {
		t.Fatalf("no busy answer logged:\n%s", h.logs.String())
	}
}

// Recording a placed call keeps the events 8x8 posted before it.
func TestRegisterKeepsEarlierEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "../../scripts", engine.Options{})
	c := newCall(shapeDTMF, true)
	h.post(envelope("CALL_STATUS", c.payload("CALL_INITIATED")), "restaurant")
	if err := h.eng.Register(context.Background(), store.Session{ID: c.session, App: "restaurant", ActionID: "main_menu"}); err != nil {
		t.Fatal(err)
	}
	entries, _ := h.st.Transcript(context.Background(), c.session)
	s, _, _ := h.st.Session(context.Background(), c.session)
	if len(entries) != 2 || entries[0].EventType != "CALL_STATUS" || entries[1].EventType != "REGISTERED" || s.Status != "CALL_INITIATED" || s.ActionID != "main_menu" {
		t.Fatalf("entries %+v, session %+v", entries, s)
	}
}
