package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/luaivr/luaivr/runtime/flowtest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/phone"
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
	ctx := context.Background()
	st, err := badgerstore.Open(badgerstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	line, err := phone.NewLine(load(t, dir), st, engine.Options{})
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
	if d.Where != `option ["1"] of menu "main_menu" (restaurant.lua:25)` || d.Menu != `menu "reservations" (restaurant.lua:29)` || d.Written != "restaurant.lua:31" {
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

	// Per menu: every restaurant caller started and answered main_menu; of
	// the three who changed path there, all changed there.
	counts := map[string][2]int{}
	for _, m := range rep.Menus {
		counts[m.App+" "+m.Position] = [2]int{m.Callers, m.Changed}
	}
	for k, want := range map[string][2]int{"restaurant ": {4, 0}, "restaurant main_menu": {4, 3}, "restaurant connect_call": {1, 0}, "simple_ivr ": {1, 0}} {
		if counts[k] != want {
			t.Errorf("menu %q: %v callers, changed; want %v (all: %v)", k, counts[k], want, counts)
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
	// simple_ivr answers a key it does not know (the placeholder 0) with its menu again
	if r.Outcome != Placeholder || r.Diff.Seq != 3 || !slices.ContainsFunc(r.Notes, func(n string) bool {
		return n == "event 3 ran on a placeholder: its digits were a sensitive capture, redacted when recorded"
	}) {
		t.Fatalf("%s %+v %q", r.Outcome, r.Diff, r.Notes)
	}
	if !strings.Contains(string(r.Diff.Replayed), "Sorry, we did not understand your response.") {
		t.Errorf("the placeholder was not one key: %s", r.Diff.Replayed)
	}
	// Nothing is shown to differ: the gate passes, the report says what happened.
	if rep := Run(context.Background(), load(t, dir), []Call{c}, Options{}); !rep.OK() || rep.Placeholder != 1 {
		t.Errorf("report: %+v", rep)
	}
}
