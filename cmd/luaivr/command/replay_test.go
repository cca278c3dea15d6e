package command_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// replayCalls are the calls the replay tests record with serve.
var replayCalls = []consoleCall{
	{id: "call-book", caller: "+6591110001", keys: []string{"1", "1", "2"}, ended: true},  // reservations prompt on the way
	{id: "call-hours", caller: "+6591110002", keys: []string{"3"}, ended: true},           // the hours: the branch that changes
	{id: "call-agent", caller: "+6591110003", keys: []string{"2", "2", "3"}, ended: true}, // back to the main menu, then the hours
	{id: "call-bridge", caller: "+6591110004", keys: []string{"2", "1"}, ended: true},     // connected to the front desk
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// Calls recorded by serve, replayed on a copy of the scripts with a prompt
// and a branch changed: exactly the calls that pass them differ, with the
// parameter that changed and the line; the others are the same; exit codes
// gate on it; filters select; the data folder of a running server is
// refused with what to do, and read once it stopped.
func TestReplayCommand(t *testing.T) {
	t.Parallel()
	scripts := copyScripts(t)
	data := t.TempDir()
	p := serve(t, data, "LUAIVR_SCRIPTS="+scripts, "LUAIVR_ADMIN_TOKEN=s3cret")
	placeCalls(t, p, replayCalls)
	server := []string{"--server", p.url, "--admin-token", "s3cret"}
	deadline := "LUAIVR_DEADLINE=2s" // the race detector on busy cores

	out, err := runLuaivr(t, []string{deadline}, append([]string{"replay", "--scripts", scripts}, server...)...)
	if exitCode(err) != 0 || strings.Count(out, " same (") != len(replayCalls) {
		t.Fatalf("unchanged scripts: exit %d\n%s", exitCode(err), out)
	}

	changed := copyScripts(t)
	edit(t, changed, "restaurant.lua", "Press 1 to make a new reservation, press 2", "Press 1 to book a table, press 2")
	edit(t, changed, "restaurant.lua", `["3"] = goodbye("Our restaurant hours are between 9AM and 9PM every day of the week."),`,
		`["3"] = goodbye("We are open from 9AM to 10PM every day."),`)
	out, err = runLuaivr(t, []string{deadline}, append([]string{"replay", "--scripts", changed}, server...)...)
	if exitCode(err) != 1 {
		t.Fatalf("changed scripts: exit %d, want 1\n%s", exitCode(err), out)
	}
	for _, want := range []string{
		"call-book    restaurant  +6591110001",
		"DIFFERS at event 2: keys 1 at main_menu\n" +
			`      ~ callflow[0] sayAndCapture promptMessage: "Press 1 to make a new reservation, press 2 to reschedule an existing reservation, press 3 to return to main menu." → "Press 1 to book a table, press 2 to reschedule an existing reservation, press 3 to return to main menu."` + "\n" +
			`      the new reply: from option ["1"] (restaurant.lua:29) of menu "main_menu" (restaurant.lua:25); waits at menu "reservations" (restaurant.lua:29); the new text is at restaurant.lua:31`,
		"call-hours   restaurant  +6591110002",
		"DIFFERS at event 2: keys 3 at main_menu\n" +
			`      ~ callflow[0] say text: "Our restaurant hours are between 9AM and 9PM every day of the week." → "We are open from 9AM to 10PM every day."` + "\n" +
			`      the new reply: from option ["3"] (restaurant.lua:54) of menu "main_menu" (restaurant.lua:25); the new text is at restaurant.lua:54`,
		"DIFFERS at event 4: keys 3 at main_menu", // call-agent, after going back to the main menu
		"call-bridge  restaurant  +6591110004  ",
		"4 calls replayed against " + changed + ": 1 same, 3 differ, 0 cannot be replayed",
		// the three changed replies reword what the caller hears; none goes elsewhere
		"  APP         POSITION      CALLERS  ANOTHER PATH  OTHER WORDS\n",
		"  restaurant  main_menu     4        0             3\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("changed scripts: no %q in\n%s", want, out)
		}
	}
	if !strings.Contains(out, "call-bridge  restaurant  +6591110004  ") || strings.Contains(strings.SplitAfter(out, "call-bridge")[1][:80], "DIFFERS") {
		t.Errorf("call-bridge should be the same:\n%s", out)
	}

	// A running server holds its data folder: replay says how to ask it.
	// It could not replay (exit 2), which a gate tells from a difference.
	out, err = runLuaivr(t, nil, "replay", "--scripts", changed, "--data", data)
	if exitCode(err) != 2 || !strings.Contains(out, "--server http://HOST:PORT --admin-token TOKEN") {
		t.Errorf("data folder in use: exit %d\n%s", exitCode(err), out)
	}
	out, err = runLuaivr(t, nil, "replay", "--scripts", changed, "--server", p.url, "--admin-token", "wrong")
	if exitCode(err) != 2 {
		t.Errorf("a wrong admin token: exit %d\n%s", exitCode(err), out)
	}
	p.stop(t)

	for _, tc := range []struct {
		args []string
		exit int
		want []string
	}{
		{[]string{"--session", "call-bridge", "--session", "call-hours"}, 1, []string{"2 calls replayed", "1 same, 1 differ"}},
		{[]string{"--session", "call-bridge"}, 0, []string{"1 calls replayed", "1 same, 0 differ"}},
		{[]string{"--limit", "1"}, 0, []string{"call-bridge", "1 calls replayed"}}, // the most recent
		{[]string{"--app", "simple_ivr"}, 2, []string{"no recorded calls to replay (--app simple_ivr): nothing was compared"}},
		{[]string{"--since", "2h"}, 1, []string{"4 calls replayed"}},
		{[]string{"--since", "2999-01-01"}, 2, []string{"no recorded calls to replay (--since 2999-01-01)"}},
		{[]string{"--since", "yesterday"}, 2, []string{`--since "yesterday": give a duration (24h, 90m) or a time`}},
		{[]string{"--session", "nobody"}, 2, []string{"no session nobody"}},
		{[]string{"--to-test", "nobody"}, 2, []string{"no session nobody"}},
		{[]string{"--limit", "many"}, 2, []string{"many"}},
		{[]string{"--nosuch"}, 2, []string{"nosuch"}},
	} {
		out, err := runLuaivr(t, []string{deadline}, append([]string{"replay", "--scripts", changed, "--data", data}, tc.args...)...)
		if exitCode(err) != tc.exit {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, exitCode(err), tc.exit, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: no %q in\n%s", tc.args, w, out)
			}
		}
	}

	// --json, for machines; and a call whose app is gone cannot be replayed, and says so.
	out, err = runLuaivr(t, []string{deadline}, "replay", "--scripts", t.TempDir(), "--data", data, "--json", "--session", "call-hours")
	var rep struct {
		Calls  []struct{ Session, Outcome, Why string }
		Cannot int
	}
	if exitCode(err) != 1 || json.Unmarshal([]byte(out), &rep) != nil || rep.Cannot != 1 || len(rep.Calls) != 1 ||
		rep.Calls[0].Outcome != "cannot" || !strings.Contains(rep.Calls[0].Why, "app restaurant is not in") {
		t.Errorf("json, app gone: exit %d %+v\n%s", exitCode(err), rep, out)
	}

	// An app that does not load cannot replay its calls, and says why.
	broken := copyScripts(t)
	edit(t, broken, "restaurant.lua", "on_call = main", "on_call = main end")
	out, err = runLuaivr(t, []string{deadline}, "replay", "--scripts", broken, "--data", data, "--session", "call-hours")
	if exitCode(err) != 1 || !strings.Contains(out, "CANNOT REPLAY: app restaurant does not load: restaurant.lua:") {
		t.Errorf("app broken: exit %d\n%s", exitCode(err), out)
	}

	// The recorded call as a flow test: it passes on the script it was
	// recorded with, and fails on the changed one at the prompt it heard.
	test := filepath.Join(scripts, "restaurant_call_book_test.lua")
	out, err = runLuaivr(t, nil, "replay", "--data", data, "--to-test", "call-book", "-o", test)
	if err != nil {
		t.Fatalf("--to-test: %v\n%s", err, out)
	}
	if out, err := runLuaivr(t, []string{deadline}, "test", scripts, "-run", "^test_recorded_"); err != nil || !strings.Contains(out, "PASS (1 test)") {
		t.Errorf("the recorded call's flow test on its script: %v\n%s", err, out)
	}
	out, err = runLuaivr(t, nil, "replay", "--data", data, "--to-test", "call-book")
	if err != nil || !strings.Contains(out, `call:press("1")`) {
		t.Fatalf("--to-test to stdout: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(test); err != nil || os.WriteFile(filepath.Join(changed, "restaurant_call_book_test.lua"), b, 0o644) != nil {
		t.Fatal(err)
	}
	if out, err := runLuaivr(t, []string{deadline}, "test", changed, "-run", "^test_recorded_"); exitCode(err) != 1 ||
		!strings.Contains(out, `the caller did not hear "Press 1 to make a new reservation`) {
		t.Errorf("the recorded call's flow test on the changed script: exit %d\n%s", exitCode(err), out)
	}
	if out, err := runLuaivr(t, nil, "replay", "--data", data, "--to-test", "call-book", "-o", filepath.Join(scripts, "book.lua")); exitCode(err) != 2 ||
		!strings.Contains(out, "name it so (e.g. restaurant_call_book_test.lua)") {
		t.Errorf("-o without _test.lua: exit %d\n%s", exitCode(err), out)
	}
}

// crmApp is an app that reads the clock and kv and calls a CRM over http.
const crmApp = `
local CRM = "%s"
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1, noOfTries = 1 }

function on_call(session)
  local n = kv.incr("calls:" .. session.source)
  local vip = kv.get("vip:" .. session.source)
  local res = http.get(CRM .. "/callers/" .. session.source, { timeout = 1 })
  local name = (res and res.status == 200 and res.json.name) or "caller"
  session.vars.name = name
  local part = time.parts(time.now(), "UTC").hour < 12 and "morning" or "day"
  return { ivr.say("Good " .. part .. ", " .. name .. ". This is your call number " .. n .. (vip and ", VIP" or "") .. "."),
           { clientActionId = "menu", ivr.say_and_capture("Press 1 to leave a note.") } }
end

function on_dtmf(session, digits)
  local res = http.post(CRM .. "/notes", { caller = session.source, digits = digits }, { timeout = 1 })
  return { ivr.say((res and res.status == 201) and ("Noted, " .. session.vars.name .. ".") or "Sorry, not now."), ivr.hangup() }
end

function on_timeout(session) return ivr.hangup() end
`

// An app that calls out: its calls replay the same with the CRM's answers
// from the record, and no request reaches the CRM; a request the call did
// not make is a difference that says so; the call's flow test stubs the CRM
// and starts from the kv value the call read.
func TestReplayCallsOut(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/callers/"):
			io.WriteString(w, `{"name":"Ann"}`)
		case r.Method == "POST" && r.URL.Path == "/notes":
			w.WriteHeader(201)
			io.WriteString(w, `{"id":7}`)
		default:
			w.WriteHeader(404)
		}
	}))
	defer crm.Close()
	scripts := t.TempDir()
	write := func(dir, src string) {
		if err := os.WriteFile(filepath.Join(dir, "crm.lua"), []byte(fmt.Sprintf(crmApp, crm.URL)+src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(scripts, "")
	data := t.TempDir()
	p := serve(t, data, "LUAIVR_SCRIPTS="+scripts, "LUAIVR_HTTP_ALLOW="+strings.TrimPrefix(crm.URL, "http://"))
	for _, id := range []string{"crm-1", "crm-2"} { // the second is call number 2 in kv
		p.post(t, "/webhooks/crm", inbound(id, id+"-0", "+6591110009", ""))
		p.post(t, "/webhooks", inbound(id, id+"-1", "+6591110009", "1"))
		p.post(t, "/webhooks", summary(id))
	}
	p.stop(t)
	recorded := hits.Load()
	if recorded < 4 { // and serve's vetting of the script may have called it too
		t.Fatalf("the CRM got %d requests while recording, want 4", recorded)
	}

	deadline := "LUAIVR_DEADLINE=2s"
	out, err := runLuaivr(t, []string{deadline}, "replay", "--scripts", scripts, "--data", data)
	if exitCode(err) != 0 || strings.Count(out, " same (3 events)") != 2 || hits.Load() != recorded {
		t.Fatalf("unchanged: exit %d, %d requests to the CRM\n%s", exitCode(err), hits.Load()-recorded, out)
	}

	changed := t.TempDir()
	write(changed, `
local note = on_dtmf
function on_dtmf(session, digits)
  local offers = http.get(CRM .. "/offers")
  return note(session, digits)
end`)
	out, err = runLuaivr(t, []string{deadline}, "replay", "--scripts", changed, "--data", data)
	want := "http.get " + crm.URL + "/offers was not made when this call was recorded: replay serves only recorded responses"
	if exitCode(err) != 1 || strings.Count(out, "DIFFERS at event 2: keys 1 at menu") != 2 || !strings.Contains(out, want) || hits.Load() != recorded {
		t.Fatalf("a new request: exit %d, %d requests to the CRM\n%s", exitCode(err), hits.Load()-recorded, out)
	}

	test := filepath.Join(scripts, "crm_crm_2_test.lua")
	if out, err := runLuaivr(t, nil, "replay", "--data", data, "--to-test", "crm-2", "-o", test); err != nil {
		t.Fatalf("--to-test: %v\n%s", err, out)
	}
	src, _ := os.ReadFile(test)
	for _, w := range []string{`t:set_kv("crm", "calls:+6591110009", 1)`, `t:stub("GET ` + crm.URL + `/callers/+6591110009", { status = 200,`,
		`call:hears("Noted, Ann.")`, `call:hears("Good `} {
		if !strings.Contains(string(src), w) {
			t.Errorf("the flow test has no %q:\n%s", w, src)
		}
	}
	if out, err := runLuaivr(t, []string{deadline}, "test", scripts); err != nil || !strings.Contains(out, "PASS (1 test)") {
		t.Errorf("the recorded call's flow test: %v\n%s\n%s", err, out, src)
	}
	if hits.Load() != recorded {
		t.Errorf("the flow test reached the CRM %d times", hits.Load()-recorded)
	}
}

// serve --reload-replay N refuses a new version of an app that answers one
// of the last N recorded calls of the app otherwise, saying which and how,
// and the version before keeps serving; a version those calls do not notice
// is served, and the calls of the version before it still gate the next.
func TestReloadReplay(t *testing.T) {
	t.Parallel()
	scripts := copyScripts(t)
	p := serve(t, t.TempDir(), "LUAIVR_SCRIPTS="+scripts, "LUAIVR_RELOAD_REPLAY=10", "LUAIVR_RELOAD_INTERVAL=100ms")
	placeCalls(t, p, replayCalls)
	original, err := os.ReadFile(filepath.Join(scripts, "restaurant.lua"))
	if err != nil {
		t.Fatal(err)
	}
	until := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting: %s\n%s", what, p.stderr)
			}
		}
	}
	reservations := func() string { // what a new caller hears after pressing 1
		id := fmt.Sprintf("probe-%d", time.Now().UnixNano())
		p.post(t, "/webhooks/restaurant", inbound(id, id+"-0", "+6590000000", ""))
		return p.post(t, "/webhooks", inbound(id, id+"-1", "+6590000000", "1"))
	}

	edit(t, scripts, "restaurant.lua", "Press 1 to make a new reservation, press 2", "Press 1 to book a table, press 2")
	until("the reload refused", func() bool { return strings.Contains(p.stderr.String(), "--reload-replay") })
	log := p.stderr.String()
	for _, want := range []string{"script refused", "restaurant.lua: --reload-replay: 1 of the last 4 recorded calls would now hear something else; the first, call-book, at event 2 (keys 1 at main_menu): ~ callflow[0] sayAndCapture promptMessage:",
		"luaivr replay --session call-book shows it", "its previous version serves on"} {
		if !strings.Contains(log, want) {
			t.Errorf("the refusal has no %q:\n%s", want, log)
		}
	}
	if got := reservations(); !strings.Contains(got, "Press 1 to make a new reservation") {
		t.Errorf("the refused version is served: %s", got)
	}

	// The reschedule menu, which no recorded call reached, may change.
	changed := strings.Replace(string(original), "Rescheduling your reservation, Press 1", "Rescheduling, Press 1", 1)
	if err := os.WriteFile(filepath.Join(scripts, "restaurant.lua"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	// (A probe at the reschedule menu before the version is served would be a
	// recorded call it changes: wait for the reload to serve it instead.)
	until("the new version served", func() bool {
		return strings.Count(p.stderr.String(), `"msg":"scripts loaded","changed":["restaurant"]`) == 1
	})
	id := "probe-reschedule"
	p.post(t, "/webhooks/restaurant", inbound(id, id+"-0", "+6590000000", ""))
	p.post(t, "/webhooks", inbound(id, id+"-1", "+6590000000", "1"))
	if got := p.post(t, "/webhooks", inbound(id, id+"-2", "+6590000000", "2")); !strings.Contains(got, "Rescheduling, Press 1") {
		t.Errorf("the new version is not served: %s\n%s", got, p.stderr)
	}

	// The calls the first version answered still gate the next change: the
	// hours, which only they heard.
	hours := strings.Replace(changed, "Our restaurant hours are between 9AM and 9PM", "We are open 9AM to 10PM", 1)
	if err := os.WriteFile(filepath.Join(scripts, "restaurant.lua"), []byte(hours), 0o644); err != nil {
		t.Fatal(err)
	}
	until("the second reload refused", func() bool { return strings.Count(p.stderr.String(), "restaurant.lua: --reload-replay:") == 2 })
	if log := p.stderr.String(); !strings.Contains(log, "--reload-replay: 2 of the last 6 recorded calls would now hear something else") || !strings.Contains(log, "(keys 3 at main_menu)") {
		t.Errorf("the refusal names another call:\n%s", log)
	}
}
