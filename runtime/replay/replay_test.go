package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/flowtest"
	"github.com/luaivr/luaivr/runtime/phone"
	httpmod "github.com/luaivr/luaivr/stdlib/http"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/badgerstore"
)

// folder copies the shipped apps into a temporary script folder, with edits
// (old → new) applied to the named files.
func folder(t *testing.T, edits map[string][][2]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"restaurant.lua", "simple_ivr.lua"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "scripts", name))
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		for _, e := range edits[name] {
			if !strings.Contains(src, e[0]) {
				t.Fatalf("%s has no %q to change", name, e[0])
			}
			src = strings.Replace(src, e[0], e[1], 1)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func load(t *testing.T, dir string) *engine.Scripts {
	t.Helper()
	s, errs := engine.Load(dir)
	if len(errs) > 0 {
		t.Fatalf("load %s: %v", dir, errs)
	}
	return s
}

// step is one input of a recorded call: keys, "timeout", or "hangup".
type recording struct {
	app  string
	keys []string
}

// record plays calls against the scripts in dir on a real Badger store, as
// serve records them, and returns them as the store gives them back.
func record(t *testing.T, dir string, calls []recording) []Call {
	t.Helper()
	return recordWith(t, dir, engine.Options{}, calls)
}

// recordWith is record with the apps served with opts.
func recordWith(t *testing.T, dir string, opts engine.Options, calls []recording) []Call {
	t.Helper()
	ctx := context.Background()
	st, err := badgerstore.Open(badgerstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	line, err := phone.NewLine(load(t, dir), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, rc := range calls {
		c, err := line.Start(ctx, phone.CallOptions{App: rc.app})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range rc.keys {
			switch k {
			case "timeout":
				err = c.Timeout(ctx)
			case "hangup":
				c.Hangup(ctx)
			default:
				err = c.Press(ctx, k)
			}
			if err != nil {
				t.Fatalf("%s %v: %v", rc.app, rc.keys, err)
			}
		}
		ids = append(ids, c.Session())
	}
	var out []Call
	for _, id := range ids {
		s, ok, err := st.Session(ctx, id)
		if err != nil || !ok {
			t.Fatalf("session %s: %v %v", id, ok, err)
		}
		tr, err := st.Transcript(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Call{Session: s, Transcript: tr})
	}
	return out
}

var calls = []recording{
	{"restaurant", []string{"1", "1", "1"}},       // book a table today: passes the reservations prompt
	{"restaurant", []string{"2", "1", "timeout"}}, // the representative, who hangs up
	{"restaurant", []string{"3"}},                 // the opening hours
	{"restaurant", []string{"1", "hangup"}},       // hangs up at the reservations prompt
	{"simple_ivr", []string{"9", "1"}},            // a wrong key, then resolved
}

func TestReplayUnchangedScriptsAreSame(t *testing.T) {
	dir := folder(t, nil)
	rec := record(t, dir, calls)
	rep := Run(context.Background(), load(t, dir), rec, Options{})
	for _, r := range rep.Calls {
		if r.Outcome != Same {
			t.Errorf("%s (%s): %s %s %+v", r.Session, r.App, r.Outcome, r.Why, r.Diff)
		}
	}
	if !rep.OK() || rep.Same != len(calls) {
		t.Fatalf("report: %+v", rep)
	}
}

func TestReplayShowsTheCallsAChangeAffects(t *testing.T) {
	rec := record(t, folder(t, nil), calls)
	changed := folder(t, map[string][][2]string{"restaurant.lua": {
		// a prompt, worded otherwise
		{"Press 1 to make a new reservation, press 2", "Press 1 to book a table, press 2"},
		// a branch: the hours now go to the reservations menu
		{`["3"] = goodbye("Our restaurant hours are between 9AM and 9PM every day of the week."),`, `["3"] = "reservations",`},
	}})
	rep := Run(context.Background(), load(t, changed), rec, Options{})
	want := []string{Differs, Same, Differs, Differs, Same}
	for i, r := range rep.Calls {
		if r.Outcome != want[i] {
			t.Errorf("call %d %v: %s, want %s (%+v)", i, calls[i].keys, r.Outcome, want[i], r.Diff)
		}
	}
	if rep.OK() || rep.Differs != 3 || rep.Same != 2 {
		t.Fatalf("report: %+v", rep)
	}

	// Event 1 is the phone's Register, 2 the call's start. The prompt: the event that pressed 1 at main_menu now hears other words,
	// said by the reservations menu, which the option of main_menu chose.
	d := rep.Calls[0].Diff
	if d.Seq != 3 || d.Position != "main_menu" || d.Digits == nil || *d.Digits != "1" {
		t.Errorf("prompt change found at event %d (%v at %s)", d.Seq, d.Digits, d.Position)
	}
	if len(d.Changes) != 1 || d.Changes[0].Path != "callflow[0].params.promptMessage" || d.Changes[0].Kind != "changed" ||
		!strings.Contains(string(d.Changes[0].Now), "Press 1 to book a table") || !strings.Contains(string(d.Changes[0].Was), "Press 1 to make a new reservation") {
		t.Errorf("prompt change: %+v", d.Changes)
	}
	if d.Where != `option ["1"] (restaurant.lua:29) of menu "main_menu" (restaurant.lua:25)` || d.Menu != `menu "reservations" (restaurant.lua:29)` || d.Written != "restaurant.lua:31" {
		t.Errorf("prompt change from %q, menu %q, written at %q", d.Where, d.Menu, d.Written)
	}

	// The branch: a say and a hangup became the reservations prompt.
	d = rep.Calls[2].Diff
	got := []string{}
	for _, c := range d.Changes {
		got = append(got, c.Kind+" "+c.Path+" "+c.Action)
	}
	if d.Seq != 3 || strings.Join(got, "; ") != "added clientActionId ; removed callflow[0] say; removed callflow[1] hangup; added callflow[0] sayAndCapture" {
		t.Errorf("branch change at event %d: %s", d.Seq, strings.Join(got, "; "))
	}
	if d.Written != "restaurant.lua:31" { // the prompt it now hears, not a comment that names the menu
		t.Errorf("branch change: the new text written at %q", d.Written)
	}
	// The option that changed is a menu id: its own line, not the menu's
	// first (nor the ["3"] of the menu nested before it).
	if d.Where != `option ["3"] (restaurant.lua:54) of menu "main_menu" (restaurant.lua:25)` {
		t.Errorf("branch change from %q", d.Where)
	}

	// Per menu: every restaurant caller started and answered main_menu; of
	// the three whose reply changed there, the hours caller is taken
	// elsewhere (the reservations menu, no hangup), and the two who pressed 1
	// go where they went but hear other words.
	counts := map[string][3]int{}
	for _, m := range rep.Menus {
		counts[m.App+" "+m.Position] = [3]int{m.Callers, m.Elsewhere, m.Reworded}
	}
	for k, want := range map[string][3]int{"restaurant ": {4, 0, 0}, "restaurant main_menu": {4, 1, 2}, "restaurant connect_call": {1, 0, 0}, "simple_ivr ": {1, 0, 0}} {
		if counts[k] != want {
			t.Errorf("menu %q: %v callers, elsewhere, reworded; want %v (all: %v)", k, counts[k], want, counts)
		}
	}
}

func TestReplayCannot(t *testing.T) {
	rec := record(t, folder(t, nil), calls[:1])
	dir := t.TempDir() // the restaurant is gone
	if err := os.WriteFile(filepath.Join(dir, "other.lua"), []byte(`ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_call(session) return ivr.hangup() end`), 0o644); err != nil {
		t.Fatal(err)
	}
	noPayload := rec[0]
	noPayload.Transcript = append([]store.Entry(nil), noPayload.Transcript...)
	noPayload.Transcript[2].Event = nil
	rep := Run(context.Background(), load(t, dir), []Call{rec[0]}, Options{Dir: dir})
	if r := rep.Calls[0]; r.Outcome != Cannot || !strings.Contains(r.Why, "app restaurant is not in "+dir+" (apps: other)") {
		t.Errorf("app gone: %s %q", r.Outcome, r.Why)
	}
	rep = Run(context.Background(), load(t, folder(t, nil)), []Call{noPayload}, Options{})
	if r := rep.Calls[0]; r.Outcome != Cannot || r.Why != "event 3 (CALL_ACTION) has no recorded payload" || rep.OK() {
		t.Errorf("no payload: %s %q", r.Outcome, r.Why)
	}
}

// The flow test made from each recorded call passes on the script it was
// recorded with, and fails on one that changes what its caller hears.
func TestFlowTestOfARecordedCallPasses(t *testing.T) {
	dir := folder(t, nil)
	rec := record(t, dir, calls)
	changed := folder(t, map[string][][2]string{"restaurant.lua": {
		{"Press 1 to make a new reservation, press 2", "Press 1 to book a table, press 2"},
	}})
	for i, c := range rec {
		src, err := FlowTest(c)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("recorded%d_test.lua", i)
		for _, d := range []string{dir, changed} {
			if err := os.WriteFile(filepath.Join(d, name), src, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if i == 1 {
			t.Logf("%s:\n%s", name, src)
		}
	}
	var out strings.Builder
	res, err := flowtest.Run(flowtest.Options{Dir: dir, Out: &out})
	if err != nil || res.Failed != 0 || res.Passed != len(calls) {
		t.Fatalf("on the recorded script: %+v %v\n%s", res, err, out.String())
	}
	out.Reset()
	res, err = flowtest.Run(flowtest.Options{Dir: changed, Out: &out, Run: regexp.MustCompile("^test_recorded_")})
	// calls 0 and 3 heard the reservations prompt
	if err != nil || res.Failed != 2 || !strings.Contains(out.String(), `the caller did not hear "Press 1 to make a new reservation`) {
		t.Fatalf("on the changed script: %+v %v\n%s", res, err, out.String())
	}
}

// Digits redacted at a sensitive capture were never stored: the event runs
// on a placeholder of the same length, and the report says so; a reply that
// differs there is no regression (other digits may answer otherwise).
func TestReplayRedactedDigitsRunOnAPlaceholder(t *testing.T) {
	dir := folder(t, nil)
	rec := record(t, dir, []recording{{"simple_ivr", []string{"2"}}})
	c := rec[0]
	c.Transcript = append([]store.Entry(nil), c.Transcript...)
	redacted := false
	for i, e := range c.Transcript {
		if e.Digits != nil && *e.Digits == "2" {
			dots := "•"
			e.Digits, e.Redacted = &dots, true
			e.Event = json.RawMessage(strings.Replace(string(e.Event), `"dtmf":"2"`, `"dtmf":"•"`, 1))
			c.Transcript[i], redacted = e, true
		}
	}
	if !redacted {
		t.Fatal("no event with the digits 2 in the recorded call")
	}
	r := Replay(context.Background(), load(t, dir), c, Options{})
	// simple_ivr answers the placeholder key 1 otherwise than the 2 the caller pressed
	if r.Outcome != Placeholder || r.Diff.Seq != 3 || !slices.ContainsFunc(r.Notes, func(n string) bool {
		return n == "event 3 ran on placeholder digits 1: its digits were a sensitive capture, redacted when recorded"
	}) {
		t.Fatalf("%s %+v %q", r.Outcome, r.Diff, r.Notes)
	}
	if strings.Contains(string(r.Diff.Replayed), "Sorry, we did not understand your response.") {
		t.Errorf("the placeholder was not the key 1: %s", r.Diff.Replayed)
	}
	// Nothing is shown to differ: the gate passes, the report says what happened.
	if rep := Run(context.Background(), load(t, dir), []Call{c}, Options{}); !rep.OK() || rep.Placeholder != 1 {
		t.Errorf("report: %+v", rep)
	}
}

// bankApp asks for a PIN marked sensitive, checks it with the bank's API
// (in the URL and in a JSON body), says it back, and reads a balance at the
// menu after it; %s is the API's URL. The card branch is what a change
// breaks.
const bankApp = `API = %q
ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_call(session)
  return { clientActionId = "pin",
           ivr.say_and_capture("Please enter your 6 digit PIN.", { minDigits = 6, maxDigits = 6, sensitive = true }) }
end
function on_dtmf(session, digits)
  if session.action_id == "pin" then
    local who = http.get(API .. "/customer?pin=" .. digits)
    local ok = http.post(API .. "/verify", { pin = digits, n = tonumber(digits) })
    if not who or not ok or who.status ~= 200 or ok.status ~= 200 then return { ivr.say("Sorry."), ivr.hangup() } end
    session.vars.name = who.json.name
    return { clientActionId = "menu",
             ivr.say("You entered " .. digits:gsub(".", "%%0 ") .. ", " .. who.json.name .. "."),
             ivr.say_and_capture("Press 1 for your balance.", { maxDigits = 1 }) }
  end
  return { ivr.say("Your balance is 1000000 dollars, " .. session.vars.name .. "."), ivr.hangup() }
end
`

// A call that entered a PIN replays on placeholder keys: the requests that
// carry them match the record, which holds "••••••" where the PIN was, and
// the prompt that says them back is compared with them hidden, so the
// unchanged app replays the same to its last event; a handler that now
// fails at the PIN is a difference, not "same up to a placeholder"; and the
// call's flow test passes on the unchanged app.
func TestReplayASensitiveCallThatCallsOut(t *testing.T) {
	const pin = "582731"
	var hits atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"name":"Ann"}`)
	}))
	defer api.Close()
	dir := t.TempDir()
	write := func(dir, edit string) {
		src := fmt.Sprintf(bankApp, api.URL)
		if edit != "" {
			src = strings.Replace(src, `    session.vars.name = who.json.name`, edit, 1)
		}
		if err := os.WriteFile(filepath.Join(dir, "bank.lua"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(dir, "")
	opts := engine.Options{Deadline: 2 * time.Second, // the race detector on busy cores
		HTTP: httpmod.Options{Allow: []string{strings.TrimPrefix(api.URL, "http://")}}}
	rec := recordWith(t, dir, opts, []recording{{"bank", []string{pin, "1"}}})
	recorded := hits.Load()
	if b, _ := json.Marshal(rec); strings.Contains(string(b), pin) || !strings.Contains(string(b), "pin=••••••") {
		t.Fatalf("the record is not redacted as this test expects: %s", b)
	}

	r := Replay(context.Background(), load(t, dir), rec[0], Options{Engine: opts})
	if r.Outcome != Same || r.Events != len(rec[0].Transcript) {
		t.Errorf("the unchanged app: %s after %d events, %+v, notes %q", r.Outcome, r.Events, r.Diff, r.Notes)
	}

	broken := t.TempDir()
	write(broken, "    undefined_fn()")
	rep := Run(context.Background(), load(t, broken), rec, Options{Engine: opts})
	if r := rep.Calls[0]; r.Outcome != Differs || r.Diff.Seq != 3 || !strings.HasPrefix(r.Diff.Error, "bank.lua:12: ") || rep.OK() {
		t.Errorf("a handler that now fails at the PIN: %s %+v", r.Outcome, r.Diff)
	}
	if hits.Load() != recorded {
		t.Errorf("the replays reached the API %d times", hits.Load()-recorded)
	}

	src, err := FlowTest(rec[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(src), "•") {
		t.Errorf("the flow test stubs or hears redacted keys:\n%s", src)
	}
	if err := os.WriteFile(filepath.Join(dir, "recorded_test.lua"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	api.Close() // the flow test must not need it
	var out strings.Builder
	res, err := flowtest.Run(flowtest.Options{Dir: dir, Out: &out})
	if err != nil || res.Failed != 0 || res.Passed != 1 {
		t.Fatalf("the flow test on the unchanged app: %+v %v\n%s\n%s", res, err, out.String(), src)
	}
}
