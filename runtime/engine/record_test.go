package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
	httpmod "github.com/luaivr/luaivr/stdlib/http"
	"github.com/luaivr/luaivr/stdlib/inputs"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/memstore"
)

// counting is a listener that counts the connections made to it.
type counting struct {
	net.Listener
	accepted atomic.Int64
}

func (l *counting) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// crm is a business system on 127.0.0.1 that counts its connections.
func crm(t *testing.T) (*httptest.Server, *counting) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &counting{Listener: l}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Tier-Source", "crm")
		fmt.Fprintf(w, `{"tier":"gold","phone":%q}`, r.URL.Query().Get("phone"))
	}))
	srv.Listener.Close()
	srv.Listener = cl
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, cl
}

// caller is an app that reads the clock, kv, the CRM at path and
// math.random, and says all of it.
func caller(base, path string) string {
	return fmt.Sprintf(`
ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_call(session)
  local name = kv.get("name:" .. session.source) or "stranger"
  local visits = kv.incr("visits:" .. session.source)
  local res, err = http.get(%q, { query = { phone = session.source } })
  local tier = res and res.json.tier .. "/" .. res.headers["x-tier-source"] or err
  local open = time.is_open({ weekdays = "09:00-18:00" }, { zone = "Asia/Singapore" })
  return ivr.say(string.format("Hello %%s, visit %%d, %%s, %%s at %%s, ticket %%d", name, visits, tier,
    open and "open" or "closed", time.format(time.now(), "%%A %%H:%%M", "Asia/Singapore"), math.random(1e9)))
end
`, base+path)
}

// recordedAt is the recording's clock: a Monday 10:00 in Singapore, open.
var recordedAt = time.Date(2026, 1, 5, 2, 0, 0, 0, time.UTC)

// recordCall serves one call's first event with the greeter and returns its
// reply and the transcript entry it stored.
func recordCall(t *testing.T, base string) (*harness, *call, []byte, store.Entry) {
	t.Helper()
	dir := scriptDir(t, map[string]string{"greeter.lua": caller(base, "/customers")})
	h := newHarness(t, dir, engine.Options{
		Now:  func() time.Time { return recordedAt },
		HTTP: httpmod.Options{Allow: []string{strings.TrimPrefix(base, "http://")}},
	})
	ctx := context.Background()
	if err := h.st.KVSet(ctx, "greeter", "name:+6591178965", []byte(`"Ann"`), 0, store.KVQuota{Keys: 10, Bytes: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.KVIncr(ctx, "greeter", "visits:+6591178965", 41, 0, store.KVQuota{Keys: 10, Bytes: 1000}); err != nil {
		t.Fatal(err)
	}
	c := newCall(shapeEventDataDTMF, true)
	reply := h.post(c.start(), "greeter")
	entries, err := h.st.Transcript(ctx, c.session)
	if err != nil || len(entries) != 1 {
		t.Fatalf("transcript %v, %v", entries, err)
	}
	return h, c, reply, entries[0]
}

// The handler's reads are recorded with the event, in the order it read.
func TestRecordsWhatTheHandlerRead(t *testing.T) {
	t.Parallel()
	srv, _ := crm(t)
	h, c, reply, entry := recordCall(t, srv.URL)
	want := "Hello Ann, visit 42, gold/crm, open at Monday 10:00, ticket "
	if got := replyText(t, reply); !strings.HasPrefix(got, want) {
		t.Fatalf("reply %q, want %q…", got, want)
	}
	in := entry.Inputs
	if in == nil {
		t.Fatal("nothing recorded")
	}
	if len(in.Clock) != 2 || !in.Clock[0].Equal(recordedAt) || !in.Clock[1].Equal(recordedAt) {
		t.Errorf("clock reads %v, want is_open's and time.now's, both %v", in.Clock, recordedAt)
	}
	wantKV := []store.KVRead{
		{Op: "get", Key: "name:+6591178965", Value: json.RawMessage(`"Ann"`), Found: true},
		{Op: "incr", Key: "visits:+6591178965", Value: json.RawMessage(`42`), Found: true},
	}
	if got, _ := json.Marshal(in.KV); string(got) != mustJSON(t, wantKV) {
		t.Errorf("kv reads %s, want %s", got, mustJSON(t, wantKV))
	}
	if len(in.HTTP) != 1 {
		t.Fatalf("http exchanges %+v", in.HTTP)
	}
	ex := in.HTTP[0]
	if ex.Module != "http" || ex.Method != "GET" || ex.URL != srv.URL+"/customers?phone=%2B6591178965" ||
		ex.Status != 200 || ex.Headers["content-type"] != "application/json" || ex.Headers["x-tier-source"] != "crm" ||
		ex.Reply != `{"tier":"gold","phone":"+6591178965"}` {
		t.Errorf("exchange %+v", ex)
	}
	if len(in.Random) != 1 || !strings.HasSuffix(replyText(t, reply), fmt.Sprintf(" %d", 1+int(in.Random[0]*1e9))) {
		t.Errorf("math.random's draws %v for the reply %q", in.Random, replyText(t, reply))
	}
	if in.Clipped {
		t.Error("a small record says clipped")
	}
	sess, _, err := h.st.Session(context.Background(), c.session)
	if err != nil || sess.Recorded != in.Size() {
		t.Errorf("the session counts %d bytes recorded, want %d (%v)", sess.Recorded, in.Size(), err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// replayer is an engine as a replay runs one: the scripts in dir, a store of
// its own, its clock elsewhere, the network allowed, the handled event kept.
func replayer(t *testing.T, dir, allow string) *engine.Engine {
	t.Helper()
	scripts, errs := engine.Load(dir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	eng, err := engine.New(scripts, engine.Options{
		Store:    memstore.New(store.Options{}),
		Deadline: 2 * time.Second,
		Now:      func() time.Time { return recordedAt.Add(9 * time.Hour) }, // 19:00: closed
		HTTP:     httpmod.Options{Allow: []string{allow}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// recorded rebuilds the webhook from what the transcript kept of it.
func recorded(t *testing.T, entry store.Entry) *webhook.Event {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"eventType": entry.EventType, "payload": entry.Event})
	ev, err := webhook.Parse(body)
	if err != nil {
		t.Fatalf("the recorded payload is not a webhook: %v", err)
	}
	return ev
}

// Replaying an event with its recorded inputs gives the same reply with the
// CRM stopped, an empty kv and another clock: nothing is read live.
func TestReplayServesTheRecord(t *testing.T) {
	t.Parallel()
	srv, cl := crm(t)
	_, _, reply, entry := recordCall(t, srv.URL)
	allow := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	before := cl.accepted.Load()

	dir := scriptDir(t, map[string]string{"greeter.lua": caller(srv.URL, "/customers")})
	eng := replayer(t, dir, allow)
	ctx := inputs.Replay(context.Background(), entry.Inputs)
	handled := eng.Handle(ctx, recorded(t, entry), "greeter")
	got := handled.Body
	if handled.Err != nil {
		t.Fatalf("replay failed: %v", handled.Err)
	}
	if string(got) != string(reply) {
		t.Errorf("replayed reply\n%s\nwant the recorded\n%s", got, reply)
	}
	if u := inputs.From(ctx).Unrecorded(); len(u) > 0 {
		t.Errorf("a replay of the same script read what was not recorded: %q", u)
	}
	if n := cl.accepted.Load() - before; n != 0 {
		t.Errorf("replay connected to the CRM %d times", n)
	}
}

// A request the recorded call did not make is an error that says so, and no
// connection is attempted, though the server is up and allowed.
func TestReplayRefusesAnUnrecordedRequest(t *testing.T) {
	t.Parallel()
	srv, cl := crm(t)
	_, _, _, entry := recordCall(t, srv.URL)
	before := cl.accepted.Load()

	dir := scriptDir(t, map[string]string{"greeter.lua": caller(srv.URL, "/accounts")})
	eng := replayer(t, dir, strings.TrimPrefix(srv.URL, "http://"))
	handled := eng.Handle(inputs.Replay(context.Background(), entry.Inputs), recorded(t, entry), "greeter")
	want := "http.get " + srv.URL + "/accounts was not made when this call was recorded: replay serves only recorded responses; stub it in a flow test instead"
	if handled.Err == nil || !strings.Contains(handled.Err.Error(), want) || handled.Reason != engine.ReasonScriptError {
		t.Errorf("replay of a new request: %v (%s), want the error %q", handled.Err, handled.Reason, want)
	}
	if !strings.Contains(handled.Err.Error(), "greeter.lua:") {
		t.Errorf("the error does not name the script line: %v", handled.Err)
	}
	if n := cl.accepted.Load() - before; n != 0 {
		t.Errorf("replay connected to the server %d times", n)
	}
}

// What is recorded is bounded per event (a handler reading kv in a loop) and
// per call; past a bound the entry says Clipped. The payload is kept whole.
func TestRecordIsBounded(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"loop.lua": `
ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_call(session)
  for i = 1, 10000 do kv.get("k") end
  return ivr.say_and_capture { promptMessage = "Press a key.", maxDigits = 1 }
end
function on_dtmf(session, digits)
  local v = kv.get("big") kv.get("big") -- 40 KiB each: the second does not fit the event's bound
  return ivr.say_and_capture { promptMessage = "Again.", maxDigits = 1 }
end
`})
	h := newHarness(t, dir, engine.Options{})
	ctx := context.Background()
	if err := h.st.KVSet(ctx, "loop", "k", []byte(`"some value"`), 0, store.KVQuota{Keys: 10, Bytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := h.st.KVSet(ctx, "loop", "big", []byte(`"`+strings.Repeat("x", 40<<10)+`"`), 0, store.KVQuota{Keys: 10, Bytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	c := newCall(shapeEventDataDTMF, true)
	start := c.start()
	var p map[string]any
	_ = json.Unmarshal(start, &p)
	payload := p["payload"].(map[string]any)
	payload["note"] = strings.Repeat("n", 100<<10) // over the 64 KiB transcripts clipped at before
	start, _ = json.Marshal(p)
	c.remember(h.post(start, "loop"))
	events := 1 + inputs.MaxSession/(40<<10) + 2 // past the session's bound
	for i := 1; i < events; i++ {
		c.remember(h.post(c.keys("1"), "loop"))
	}
	entries, err := h.st.Transcript(ctx, c.session)
	if err != nil || len(entries) != events {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	first := entries[0]
	if first.Inputs == nil {
		t.Fatal("nothing recorded of 10,000 kv reads")
	}
	if !first.Inputs.Clipped || len(first.Inputs.KV) == 0 || first.Inputs.Size() > inputs.MaxEvent {
		t.Errorf("10,000 kv reads recorded as %d reads, %d bytes, clipped %v; want at most %d bytes, clipped",
			len(first.Inputs.KV), first.Inputs.Size(), first.Inputs.Clipped, inputs.MaxEvent)
	}
	var sent map[string]any
	if err := json.Unmarshal(first.Event, &sent); err != nil || sent["note"] != payload["note"] {
		t.Errorf("the payload of %d KiB was not kept whole: %.80s", len(start)>>10, first.Event)
	}
	total, reads := 0, 0
	for _, e := range entries {
		total += e.Inputs.Size()
		if len(e.Inputs.KV) > 0 {
			reads += e.Inputs.Size()
		}
	}
	last := entries[len(entries)-1].Inputs
	if reads > inputs.MaxSession || last == nil || !last.Clipped || len(last.KV) != 0 {
		t.Errorf("the call recorded %d bytes of reads in all (bound %d); its last event recorded %+v, want nothing and clipped", reads, inputs.MaxSession, last)
	}
	sess, _, err := h.st.Session(ctx, c.session)
	if err != nil || sess.Recorded != total {
		t.Errorf("the session counts %d bytes recorded, its entries hold %d (%v)", sess.Recorded, total, err)
	}
}

// A warm state serves event after event: each event's reads go to its own
// record, read from the event at call time, not to the event that opened
// the modules.
func TestRecordsEachEventOfAWarmState(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"warm.lua": `
ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
local floor = math.floor -- math is open in the warm state from its top level on
function on_call(session)
  return ivr.say("It is " .. time.now() .. ", " .. (kv.get("k") or "nothing") .. ", " .. math.random(1e9))
end
`})
	var tick atomic.Int64
	h := newHarness(t, dir, engine.Options{Now: func() time.Time { return recordedAt.Add(time.Duration(tick.Add(1)) * time.Second) }})
	var sessions []string
	for range 4 { // one after another: the same warm state
		c := newCall(shapeEventDataDTMF, true)
		h.post(c.start(), "warm")
		sessions = append(sessions, c.session)
	}
	seen := map[time.Time]bool{}
	for _, id := range sessions {
		entries, err := h.st.Transcript(context.Background(), id)
		if err != nil || len(entries) != 1 {
			t.Fatalf("transcript %v, %v", entries, err)
		}
		in := entries[0].Inputs
		if in == nil || len(in.Clock) != 1 || len(in.KV) != 1 || len(in.Random) != 1 || seen[in.Clock[0]] {
			t.Fatalf("session %s recorded %+v, want its own clock read, kv read and draw", id, in)
		}
		seen[in.Clock[0]] = true
		if want := fmt.Sprintf("It is %d, nothing, %d", in.Clock[0].Unix(), 1+int(in.Random[0]*1e9)); replyText(t, entries[0].Reply) != want {
			t.Errorf("reply %q, want %q from what was recorded", replyText(t, entries[0].Reply), want)
		}
	}
}
