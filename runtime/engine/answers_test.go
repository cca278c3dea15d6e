package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
)

// trees are menu trees with every shape an answer worked out at load must
// agree with the script on: options that are actions, lists, menus, menu
// ids and functions; on_enter; tries and on_too_many; repeat keys; no input;
// ivr.on positions; ivr.root; on_call as a menu and as a function; on_dtmf
// beside menus; keys with #.
var trees = map[string]string{
	"tree.lua": `
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 2 }
ivr.defaults { other = ivr.say("Sorry.") }
local function bye(t) return { ivr.say(t), ivr.hangup() } end
local sub
local main = ivr.menu {
  id = "main", prompt = "Main. 1 sub, 2 info, 3 agent, 4 count.", tries = 3, repeat_key = "*",
  on_too_many = bye("Too many tries."), no_input = ivr.say("Still there?"),
  ["1"] = "sub",
  ["2"] = { ivr.say("Info."), "main" },
  ["3"] = { clientActionId = "after_agent", ivr.make_call { source = "+6568332048", destination = "+6531589338" } },
  ["4"] = function(session) session.vars.n = (session.vars.n or 0) + 1; return ivr.say("Count " .. session.vars.n) end,
  ["12"] = bye("Twelve."),
}
sub = ivr.menu {
  id = "sub", prompt = "Sub. 1 back, 2 deeper.", tries = 2, on_too_many = "main",
  on_enter = function(session) session.vars.entered = (session.vars.entered or 0) + 1; return ivr.say("Entering sub.") end,
  ["1"] = main,
  ["2"] = ivr.menu { id = "deep", prompt = "Deep. 9 back.", ["9"] = "sub", other = "main" },
}
ivr.on("after_agent", bye("Thanks."))
ivr.root(main)
on_call = main
`,
	"mixed.lua": `
ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
local m = ivr.menu { id = "m", prompt = "1 or 2", ["1"] = ivr.say("One."), ["2"] = function() return ivr.hangup() end }
function on_call(session) session.vars.started = true; return ivr.say_and_capture { prompt = "Your code?", maxDigits = 4, clientActionId = "code" } end
function on_dtmf(session, digits)
  if digits == "1234" then return m end
  return ivr.route(session, digits, m)
end
function on_timeout(session) return m end
`,
}

// TestAnswersAgreeWithTheScript walks random calls through every app of the
// shipped folders and the trees above, once with the answers worked out at
// load and once with every event running its script: the replies must be
// byte for byte the same, and so must what the session keeps.
func TestAnswersAgreeWithTheScript(t *testing.T) {
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	opts := engine.Options{Now: func() time.Time { return at }}
	for _, dir := range []string{"../../scripts", "../../examples", scriptDir(t, trees)} {
		fast, slow := newHarness(t, dir, opts), newHarness(t, dir, opts)
		engine.WithoutAnswers(slow.eng.Scripts())
		served := 0
		for name, app := range fast.eng.Scripts().Apps {
			if engine.HasAnswers(fast.eng.Scripts(), name) {
				served++
			}
			keys := []string{"", "0", "7", "*", "#", "1#", "99"}
			for _, m := range app.Menus {
				keys = append(keys, m.Keys...)
			}
			rng := rand.New(rand.NewPCG(uint64(len(name)), 7))
			for range 40 {
				c := newCall(shapeEventDataDTMF, true)
				body := c.start()
				for step := 0; step < 8; step++ {
					ha, hb := fast.handle(body, name), slow.handle(body, name)
					a, b := ha.Body, hb.Body
					if string(a) != string(b) {
						t.Fatalf("%s/%s: step %d of %s answered differently from its script:\nanswers: %s\nscript:  %s", dir, name, step, c.session, a, b)
					}
					// Both say alike what chose the reply (Where, which replay shows).
					if whereFast, whereSlow := ha.Where, hb.Where; whereFast != whereSlow {
						t.Fatalf("%s/%s: step %d of %s: the reply came from %q, the script says %q", dir, name, step, c.session, whereFast, whereSlow)
					}
					sameSession(t, fast, slow, c.session)
					c.remember(a)
					if !strings.Contains(string(a), "captureDigits") && !strings.Contains(string(a), "sayAndCapture") {
						break
					}
					body = c.keys(keys[rng.IntN(len(keys))])
				}
			}
		}
		if served == 0 {
			t.Errorf("%s: no app has answers worked out at load; the comparison proved nothing", dir)
		}
	}
}

// sameSession fails when two engines keep different things of one call.
func sameSession(t *testing.T, a, b *harness, id string) {
	t.Helper()
	sa, _, err := a.st.Session(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	sb, _, err := b.st.Session(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var va, vb any
	_ = json.Unmarshal(sa.Vars, &va)
	_ = json.Unmarshal(sb.Vars, &vb)
	if len(sa.Tries) == 0 {
		sa.Tries = nil
	}
	if len(sb.Tries) == 0 {
		sb.Tries = nil
	}
	if sa.Root != sb.Root || sa.ActionID != sb.ActionID || sa.Menu != sb.Menu || !reflect.DeepEqual(sa.Tries, sb.Tries) || !reflect.DeepEqual(va, vb) {
		t.Fatalf("session %s kept differently:\nanswers: root %q at %q/%q tries %v vars %s\nscript:  root %q at %q/%q tries %v vars %s",
			id, sa.Root, sa.ActionID, sa.Menu, sa.Tries, sa.Vars, sb.Root, sb.ActionID, sb.Menu, sb.Tries, sb.Vars)
	}
}

// TestAnswersNeedNoLua: a restaurant call through its menus runs no Lua at
// all, while an option function and an on_enter still run the script.
func TestAnswersNeedNoLua(t *testing.T) {
	h := newHarness(t, "../../scripts", engine.Options{})
	before := engine.ScriptsRun()
	c := newCall(shapeEventDataDTMF, true)
	for _, keys := range []string{"", "1", "3", "2", "9", "1"} { // start, reservations, main again, connect, wrong, connect
		var body []byte
		if keys == "" {
			body = c.start()
		} else {
			body = c.keys(keys)
		}
		c.remember(h.post(body, "restaurant"))
	}
	if n := engine.ScriptsRun() - before; n != 0 {
		t.Errorf("the restaurant's menus ran Lua %d times; every answer is known at load", n)
	}

	h = newHarness(t, scriptDir(t, trees), engine.Options{})
	c = newCall(shapeEventDataDTMF, true)
	c.remember(h.post(c.start(), "tree"))
	before = engine.ScriptsRun()
	c.remember(h.post(c.keys("2"), "tree")) // an action and the menu: no Lua
	if n := engine.ScriptsRun() - before; n != 0 {
		t.Errorf("option 2 ran Lua %d times", n)
	}
	reply := h.post(c.keys("1"), "tree") // to sub, whose on_enter speaks first
	if !strings.Contains(string(reply), "Entering sub.") || engine.ScriptsRun()-before != 1 {
		t.Errorf("arriving at a menu with on_enter must run it: %s (%d Lua runs)", reply, engine.ScriptsRun()-before)
	}
	c.remember(reply)
	c.remember(h.post(c.keys("1"), "tree"))
	if reply := h.post(c.keys("4"), "tree"); !strings.Contains(string(reply), "Count 1") {
		t.Errorf("an option function must run: %s", reply)
	}
}

// TestAnswersOnlyForATopLevelThatReadsNothing: a top level that reads the
// clock, random numbers or logs builds something else (or does something)
// each time it runs, so its replies are never worked out at load: a prompt
// built from the hour changes when the clock does.
func TestAnswersOnlyForATopLevelThatReadsNothing(t *testing.T) {
	menu := `ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
local greeting = %s
on_call = ivr.menu { id = "m", prompt = greeting .. " Press 1.", repeat_key = "*", ["1"] = ivr.hangup() }
`
	apps := map[string]string{
		"clock.lua":  fmt.Sprintf(menu, `time.parts(time.now()).hour < 12 and "Good morning." or "Good afternoon."`),
		"random.lua": fmt.Sprintf(menu, `"Ticket " .. math.random(1, 1000000) .. "."`),
		"logs.lua":   fmt.Sprintf(menu, `"Hello." ; log.info("loading")`),
		"pure.lua":   fmt.Sprintf(menu, `string.format("%%s.", "Hello") .. table.concat({ "", "" }) .. string.rep(" ", math.floor(0.5))`),
		// Naming a library reads nothing from it: only a call does.
		"named.lua": "local time, log, kv, http, vcc, say = time, log, kv, http, vcc, print\nlocal now = time.now\n" +
			fmt.Sprintf(menu, `"Hello."`),
	}
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	h := newHarness(t, scriptDir(t, apps), engine.Options{Now: func() time.Time { return now }})
	var served []string
	for name := range apps {
		if name = strings.TrimSuffix(name, ".lua"); engine.HasAnswers(h.eng.Scripts(), name) {
			served = append(served, name)
		}
	}
	sort.Strings(served)
	if !reflect.DeepEqual(served, []string{"named", "pure"}) {
		t.Errorf("apps answered without Lua: %v, want only [named pure]", served)
	}
	c := newCall(shapeEventDataDTMF, true)
	if got := replyText(t, h.post(c.start(), "clock")); got != "Good morning. Press 1." {
		t.Fatalf("at 09:00: %q", got)
	}
	c.lastID = "m"
	now = now.Add(6 * time.Hour)
	if got := replyText(t, h.post(c.keys("*"), "clock")); got != "Good afternoon. Press 1." {
		t.Errorf("at 15:00 the prompt is built again from the clock: %q", got)
	}
	before := strings.Count(h.logs.String(), "loading")
	c = newCall(shapeEventDataDTMF, true)
	h.post(c.start(), "logs")
	if strings.Count(h.logs.String(), "loading") != before+1 {
		t.Errorf("a top level's log line is written for each event, as before")
	}
}

// A top level that reads nothing from outside but builds other values in
// each run (an address) gets no answers worked out at load: they would be
// the load's values, and a menu option whose function says the same
// top-level value would say the warm state's. One call must hear the same
// from both. pairs over a library goes the same way in every state (the
// sandbox puts their keys in order), so walking one keeps the answers, and
// two engines agree.
func TestAnswersOnlyForATopLevelThatBuildsTheSameEachRun(t *testing.T) {
	app := func(top string) string {
		return voice + top + `
main = ivr.menu { id = "main", prompt = "Press 1 or 2.", maxDigits = 1,
  ["1"] = { ivr.say(said), "main" },                                   -- worked out at load
  ["2"] = function(session) return { ivr.say(said), "main" } end,      -- the script's path
}
on_call = main`
	}
	apps := map[string]string{
		"address.lua": app(`local said = "ref " .. tostring({}):sub(-6)`),
		"order.lua": app(`local names = {}
for k in pairs(string) do names[#names + 1] = k end
local said = table.concat(names, " ")`),
		"steady.lua": app(`local said = "Hello."`),
	}
	h := newHarness(t, scriptDir(t, apps), engine.Options{})
	for name := range apps {
		name = strings.TrimSuffix(name, ".lua")
		if got := engine.HasAnswers(h.eng.Scripts(), name); got != (name != "address") {
			t.Errorf("%s answered without Lua: %v", name, got)
		}
		c := newCall(shapeEventDataDTMF, true)
		c.remember(h.post(c.start(), name))
		r1 := h.post(c.keys("1"), name)
		c.remember(r1)
		if one, two := replyText(t, r1), replyText(t, h.post(c.keys("2"), name)); one != two {
			t.Errorf("%s: option 1 said %q, option 2, the same top-level value, %q", name, one, two)
		}
	}
	said := func(h *harness, key string) string {
		c := newCall(shapeEventDataDTMF, true)
		c.remember(h.post(c.start(), "order"))
		return replyText(t, h.post(c.keys(key), "order"))
	}
	other := newHarness(t, scriptDir(t, apps), engine.Options{})
	if one, two := said(h, "1"), said(other, "2"); one != two {
		t.Errorf("pairs(string) went one way in one engine and another in the other:\n%q\n%q", one, two)
	}
	// Two runs may agree by chance: every warm state's run is compared too,
	// and the first that differs ends the answers worked out at load.
	h = newHarness(t, scriptDir(t, apps), engine.Options{})
	engine.TrustAnswers(h.eng.Scripts(), "address")
	c := newCall(shapeEventDataDTMF, true)
	c.remember(h.post(c.start(), "address"))
	h.post(c.keys("2"), "address") // Lua: a warm state runs the top level
	if engine.HasAnswers(h.eng.Scripts(), "address") {
		t.Error("a warm state's run built another answer than the load's, and the load's are still served")
	}
	if !strings.Contains(h.logs.String(), "built other menus or replies in this run") {
		t.Errorf("not logged:\n%s", h.logs.String())
	}
}

// Every shipped app whose top level is pure keeps its answers worked out at
// load, also once its warm states ran the top level again: the comparison
// of runs must not take them from an app that builds the same each time.
func TestShippedAppsKeepTheirAnswers(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"../../scripts", "../../examples"} {
		h := newHarness(t, dir, engine.Options{})
		for name, app := range h.eng.Scripts().Apps {
			if app.Reads != (engine.Outside{}) || len(app.Menus) == 0 {
				continue
			}
			if !engine.HasAnswers(h.eng.Scripts(), name) {
				t.Errorf("%s/%s: pure with menus, but no answers at load", dir, name)
				continue
			}
			for range 3 {
				c := newCall(shapeEventDataDTMF, true)
				c.remember(h.post(c.start(), name))
				c.remember(h.post(c.keys("1"), name))
			}
			if !engine.HasAnswers(h.eng.Scripts(), name) {
				t.Errorf("%s/%s: lost its answers once its warm states ran", dir, name)
			}
		}
	}
}

// TestAnswersKeepSensitiveDigitsOut: digits answered at a position the app
// lists as sensitive are redacted also when the answer is worked out at load
// and no Lua runs.
func TestAnswersKeepSensitiveDigitsOut(t *testing.T) {
	dir := scriptDir(t, map[string]string{"vault.lua": voice + `
ivr.sensitive { "pin" }
on_call = ivr.menu { id = "pin", prompt = "Your PIN?", maxDigits = 4,
  ["4321"] = ivr.say("Welcome."), other = ivr.say("Wrong PIN.") }
`})
	h := newHarness(t, dir, engine.Options{})
	if !engine.HasAnswers(h.eng.Scripts(), "vault") {
		t.Fatal("the vault's menu should be answered without Lua")
	}
	c := newCall(shapeEventDataDTMF, true)
	c.remember(h.post(c.start(), "vault"))
	// The prompt, sent without Lua, marks the call where it asked, as the
	// script's own reply does (so a redelivery is redacted too).
	if sess, _, err := h.st.Session(context.Background(), c.session); err != nil || !slices.Contains(sess.Sensitive, "pin") {
		t.Fatalf("after the PIN prompt the session marks %v (%v), want pin", sess.Sensitive, err)
	}
	before := engine.ScriptsRun()
	if got := replyText(t, h.post(c.keys("4321"), "vault")); got != "Welcome." {
		t.Fatalf("the right PIN heard %q", got)
	}
	if engine.ScriptsRun() != before {
		t.Fatal("the PIN's answer ran Lua; this test is about the answers known at load")
	}
	entries, err := h.st.Transcript(context.Background(), c.session)
	if err != nil {
		t.Fatal(err)
	}
	if stored := storedText(h, c.session, entries); strings.Contains(stored, "4321") || strings.Contains(h.logs.String(), "4321") {
		t.Fatalf("the PIN is kept in clear:\n%s\n%s", stored, h.logs.String())
	}
}
