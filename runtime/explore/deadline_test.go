package explore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/explore"
	httpmod "github.com/luaivr/luaivr/stdlib/http"
)

// A busy machine makes a quick handler miss its deadline now and then. The
// machine is played here by the session: on the calls check plays first,
// the handler (or the top level) loops until the deadline stops it; on the
// call played again after that, it is as quick as it is. check reports
// nothing: it was the machine. A handler that loops on every call is the
// error it is, played again once, not once per path.
func TestBusyMachineIsNoError(t *testing.T) {
	t.Parallel()
	busy := `local function busy(s) if not s.id:find("^slow") then while true do end end end
`
	scripts := load(t, map[string]string{
		"quick.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
` + busy + `function on_call(s) busy(s) return { clientActionId = "main", ivr.say_and_capture("Press 1") } end
function on_dtmf(s, d) busy(s) if d == "1" then return { ivr.say("Bye"), ivr.hangup() } end return { clientActionId = "main", ivr.say_and_capture("Press 1") } end
function on_timeout(s) return ivr.hangup() end
function on_end(s) busy(s) end`,
		"loops.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
function on_call(s) return { clientActionId = "main", ivr.say_and_capture("Press 1") } end
function on_dtmf(s, d) while true do end end
function on_timeout(s) return ivr.hangup() end`,
	})
	opts := explore.Options{Deadline: engine.Options{Deadline: 50 * time.Millisecond}}
	res, err := explore.Explore(context.Background(), scripts, "quick", opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) > 0 {
		t.Fatalf("a handler that ran out of time only on a busy machine was reported: %v", res.Problems)
	}
	res, err = explore.Explore(context.Background(), scripts, "loops", opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(res.Problems), "ran past its deadline") {
		t.Fatalf("an endless loop was not reported: %v", res.Problems)
	}
	if res.Paths > 40 {
		t.Fatalf("%d calls played for an app with 13 inputs: an endless loop is played again once, not on every path", res.Paths)
	}
}

// A hand-written PIN check that locks the caller out after three wrong
// PINs, counted in session.vars: check gives a wrong PIN again and again
// where the prompt comes back, so the lockout's broken reply is found.
// No input, once, leads to the prompt on_timeout gives, not beyond it.
func TestRepeatsWrongEntries(t *testing.T) {
	t.Parallel()
	scripts := load(t, map[string]string{
		"pin.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 4, minDigits = 4 }
local main = ivr.menu { id = "main", prompt = "Press 1", maxDigits = 1, minDigits = 1, ["1"] = { ivr.hangup() } }
local function ask() return { clientActionId = "pin", ivr.say_and_capture("Your PIN") } end
function on_call(s) return ask() end
function on_dtmf(s, d)
  if d == "4321" then return main end
  s.vars.wrong = (s.vars.wrong or 0) + 1
  if s.vars.wrong >= 3 then return { ivr.say("Locked.", { speed = 3 }), ivr.hangup() } end
  return { ivr.say("Wrong PIN."), ask() }
end
function on_timeout(s) return { ivr.say("Let us start again."), main } end
check_inputs = { pin = "4321" }`,
	})
	res, err := explore.Explore(context.Background(), scripts, "pin", explore.Options{Deadline: slowMachine})
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprint(res.Problems)
	if !strings.Contains(text, "params.speed: must have a maximum value of 2 (after: call, 1111 ×3)") {
		t.Errorf("the lockout after three wrong PINs was not explored: %v", res.Problems)
	}
	noInput := false
	for _, e := range res.Edges {
		if e.From == "pin" && contains(e.Keys, "no input") {
			noInput = e.To == "main"
			if !noInput {
				t.Errorf("no input at pin leads to %s, past the prompt on_timeout gives (main)", e.To)
			}
		}
	}
	if !noInput {
		t.Errorf("no edge for no input at pin: %v", res.Edges)
	}
}

// An app with on_dtmf and menus but no on_timeout: a no input at a prompt
// of on_dtmf's has no handler, and check says that (not that the position
// is unknown, nor that the app should declare a root).
func TestNoOnTimeoutIsTheCause(t *testing.T) {
	t.Parallel()
	scripts := load(t, map[string]string{
		"pin.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 6, minDigits = 6 }
local secret = ivr.menu { id = "secret", prompt = "Press 1", maxDigits = 1, minDigits = 1, ["1"] = { ivr.hangup() } }
function on_call(s) return { clientActionId = "pin", ivr.say_and_capture("Your PIN") } end
function on_dtmf(s, d) if d == "908172" then return secret end return { ivr.say("Wrong."), ivr.hangup() } end
check_inputs = { pin = "908172" }`,
	})
	got := problems(t, scripts, "pin", explore.Options{})
	if !strings.Contains(got, "error: pin.lua has no on_timeout for a no input at a prompt that is no menu's (menus answer no input only at their own): define on_timeout (after: call, no input)") ||
		strings.Contains(got, "root") || strings.Contains(got, "error:  ") {
		t.Errorf("the missing on_timeout is not named as the cause:\n%s", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// What a failing on_call or an unknown PIN hides is not reported on its
// own: the menus behind them are not "never reached" by mistake of their
// own, and a check_inputs position is not misspelt because no call got to
// it.
func TestNoCascades(t *testing.T) {
	t.Parallel()
	menus := `local cards = ivr.menu { id = "cards", prompt = "Cards: 1", maxDigits = 1, minDigits = 1, ["1"] = { ivr.hangup() } }
local main = ivr.menu { id = "main", prompt = "Main: 1", maxDigits = 1, minDigits = 1, ["1"] = cards }
`
	scripts := load(t, map[string]string{
		"crash.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 4, minDigits = 4 }
` + menus + `function on_call(s) return { clientActionId = "pin", ivr.say_and_capture("PIN " .. s.vars.name.first) } end
function on_dtmf(s, d) if d == "4321" then return main end return { ivr.say("Wrong."), ivr.hangup() } end
function on_timeout(s) return ivr.hangup() end
check_inputs = { pin = "4321" }`,
		"noseed.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 4, minDigits = 4 }
` + menus + `local function ask() return { clientActionId = "pin", ivr.say_and_capture("PIN") } end
function on_call(s) return ask() end
function on_dtmf(s, d)
  if d == "4321" then return main end
  s.vars.wrong = (s.vars.wrong or 0) + 1
  if s.vars.wrong >= 3 then return { ivr.say("Locked."), ivr.hangup() } end
  return { ivr.say("Wrong."), ask() }
end
function on_timeout(s) return ivr.hangup() end`,
	})
	got := problems(t, scripts, "crash", explore.Options{})
	if !strings.Contains(got, "attempt to index") || strings.Count(got, "\n") > 0 {
		t.Errorf("a failing on_call: want its error alone, got:\n%s", got)
	}
	got = problems(t, scripts, "noseed", explore.Options{})
	if strings.Count(got, "\n") > 0 || !strings.Contains(got, `give check one`) ||
		!strings.Contains(got, `not reached, maybe behind it: menu "cards" (noseed.lua:2), "main" (noseed.lua:3)`) {
		t.Errorf("behind an unknown PIN: want the hint alone, naming the menus behind it, got:\n%s", got)
	}
}

// A handler that needs longer than --deadline on any machine (it waits
// 60 ms for a server, with a deadline of 20 ms) runs out of time, then
// finishes when played again with 20 times the deadline: a warning that
// says how long it took, not an error.
func TestSlowHandlerIsAWarning(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(60 * time.Millisecond)
		fmt.Fprint(w, "ok")
	}))
	defer api.Close()
	scripts := load(t, map[string]string{
		"slow.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_call(s)
  local r = http.get("` + api.URL + `/")
  if not (r and r.status == 200) then while true do end end -- waits out the deadline
  return { ivr.say("Hello."), ivr.hangup() }
end`,
	})
	res, err := explore.Explore(context.Background(), scripts, "slow", explore.Options{Deadline: engine.Options{
		Deadline: 20 * time.Millisecond, HTTP: httpmod.Options{Allow: []string{strings.TrimPrefix(api.URL, "http://")}}}})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(res.Problems)
	if len(res.Problems) != 1 || !strings.Contains(got, "warning: on_call took") || !strings.Contains(got, "more than the 20ms deadline (--deadline)") {
		t.Fatalf("want one warning that on_call takes longer than its deadline, got %v", res.Problems)
	}
}

// What an earlier caller left in kv (an account locked after three wrong
// PINs) is explored too: a second pass starts every call from kv as the
// first pass's calls left it, and its findings say so.
func TestKVLeftByEarlierCalls(t *testing.T) {
	t.Parallel()
	scripts := load(t, map[string]string{
		"lock.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 4, minDigits = 4 }
function on_call(s)
  if kv.get("locked") then return { ivr.say("Locked.", { speed = 3 }), ivr.hangup() } end
  return { clientActionId = "pin", ivr.say_and_capture("PIN") }
end
function on_dtmf(s, d)
  if d == "4321" then return { ivr.say("Hello."), ivr.hangup() } end
  s.vars.wrong = (s.vars.wrong or 0) + 1
  if s.vars.wrong >= 3 then kv.set("locked", true) return { ivr.say("Now locked."), ivr.hangup() } end
  return { clientActionId = "pin", ivr.say_and_capture("Wrong. PIN") }
end
function on_timeout(s) return ivr.hangup() end
check_inputs = { pin = "4321" }`,
	})
	for range 2 { // the same on every run
		got := problems(t, scripts, "lock", explore.Options{})
		if got != `lock.lua:3: error: ivr.say: -1009 Invalid call flow entry provided. params.speed: must have a maximum value of 2 (with kv as the calls check played before left it) (after: call)` {
			t.Fatalf("the reply after an earlier call's lockout: got\n%s", got)
		}
	}
}
