package explore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/explore"
)

// load writes apps into a new folder and loads it.
func load(t *testing.T, apps map[string]string) *engine.Scripts {
	t.Helper()
	dir := t.TempDir()
	for name, src := range apps {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scripts, errs := engine.Load(dir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return scripts
}

// problems explores app, on a slow machine's deadline, and returns what it
// found, one problem a line.
func problems(t *testing.T, scripts *engine.Scripts, app string, opts explore.Options) string {
	t.Helper()
	opts.Deadline = slowMachine
	res, err := explore.Explore(context.Background(), scripts, app, opts)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, p := range res.Problems {
		all = append(all, p.String())
	}
	return strings.Join(all, "\n")
}

// The start of a bank line, open or closed: what is behind each is broken
// in its own way (a speed 8x8 refuses), and check must find it whichever
// side the clock starts on. Each app writes its opening hours another way a
// user would through the time module. The default clock (2026-01-01 17:00 in
// Singapore) is a public holiday and after hours.
const bankHead = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1, noOfTries = 1 }
local ZONE = "Asia/Singapore"
local function bad(text) return { action = "say", params = { text = text, voiceProfile = "en-US-BenjaminRUS", speed = 3 } } end
local main = ivr.menu { id = "main", prompt = "Balances 1, cards 2.",
  ["1"] = function() return bad("open side") end, ["2"] = { ivr.hangup() } }
local function closed() return { ivr.say("We are closed."), ivr.hangup() } end
`

func TestExploresBothSidesOfTheClock(t *testing.T) {
	t.Parallel()
	apps := map[string]string{
		// is_open with holidays; on the holiday's own special hours the
		// caller hears a broken notice.
		"is_open.lua": bankHead + `
function on_call(s)
  local open = time.is_open({ weekdays = "09:00-17:30", saturday = "09:00-12:00" },
    { zone = ZONE, holidays = { "2026-01-01", ["2026-12-24"] = "09:00-12:00" } })
  if not open then return closed() end
  if time.format(time.now(), "%m-%d", ZONE) == "12-24" then return bad("holiday hours") end
  return main
end`,
		// time.parts: the hour and the weekday compared by hand.
		"parts.lua": bankHead + `
function on_call(s)
  local p = time.parts(time.now(), ZONE)
  if p.wday <= 5 and p.hour >= 9 and p.hour < 17 then return main end
  return closed()
end`,
		// time.format read as a number.
		"format.lua": bankHead + `
function on_call(s)
  local hhmm = tonumber(time.format(time.now(), "%H%M", ZONE))
  if time.format(time.now(), "%a", ZONE) ~= "Sun" and hhmm >= 830 and hhmm < 1700 then return main end
  return closed()
end`,
		// time.now() with arithmetic of its own, in UTC.
		"arith.lua": bankHead + `
function on_call(s)
  local hour = math.floor((time.now() + 8 * 3600) % 86400 / 3600)
  if hour >= 9 and hour < 17 then return main end
  return closed()
end`,
		// time.now() against a moment from time.parse: a line that opens
		// on a launch date.
		"launch.lua": bankHead + `
local LAUNCH = time.parse("2026-03-01 00:00", ZONE)
function on_call(s)
  if time.now() >= LAUNCH then return main end
  return closed()
end`,
		// The decision is deeper, behind a key, and the closed side is the
		// broken one: the first call is made while open (Options.Start).
		"agent.lua": bankHead + `
local top = ivr.menu { id = "top", prompt = "Agent 1, hours 2.",
  ["1"] = function()
    if time.is_open({ weekdays = "09:00-18:00" }, { zone = ZONE }) then
      return { ivr.say("Connecting."), ivr.make_call { source = "+6568332048", destination = "+6531589338" } }
    end
    return bad("closed side")
  end,
  ["2"] = { ivr.say("We open at nine."), ivr.hangup() } }
on_call = top`,
		// Both the greeting and an option read the hour: the option's own
		// reading is moved too, and the morning's broken transfer is found.
		"greeting.lua": bankHead + `
local desk = ivr.menu { id = "desk", prompt = "Front desk 1.", ["1"] = function()
  if time.parts(time.now(), ZONE).hour < 12 then return bad("morning desk") end
  return { ivr.say("The desk is closed."), ivr.hangup() }
end }
function on_call(s)
  log.info("called", { hour = time.parts(time.now(), ZONE).hour })
  return desk
end`,
		// Its own list of holidays, looked up with time.format, in a module.
		"own_dates.lua": bankHead + `
local days = require("lib.days")
function on_call(s)
  if days.HOLIDAYS[time.format(time.now(), "%Y-%m-%d", ZONE)] then return bad("holiday") end
  return closed()
end`,
		"lib/days.lua": `return { HOLIDAYS = { ["2026-12-25"] = true, ["2025-12-25"] = true } }`,
	}
	scripts := load(t, apps)
	open := time.Date(2026, 1, 5, 10, 0, 0, 0, time.FixedZone("+08", 8*3600)) // a Monday
	want := map[string][]string{
		"is_open":   {`(after: call, 1, at `, `on_call (is_open.lua:8) returned a callflow 8x8 would reject: -1009`, `(after: call, at Thu 2026-12-24 10:30 +08)`},
		"parts":     {`(after: call, 1, at `},
		"format":    {`(after: call, 1, at `},
		"arith":     {`(after: call, 1, at `},
		"launch":    {`(after: call, 1, at Sun 2026-03-01 00:30 +08)`},
		"agent":     {`(after: call, 1, at Mon 2026-01-05 04:29 +08)`},
		"greeting":  {`(after: call, 1, at `},
		"own_dates": {`(after: call, at Fri 2026-12-25 12:00 +08)`},
	}
	for app, lines := range want {
		opts := explore.Options{}
		if app == "agent" {
			opts.Start = open
		}
		got := problems(t, scripts, app, opts)
		for _, l := range lines {
			if !strings.Contains(got, l) {
				t.Errorf("%s: problems lack %q:\n%s", app, l, got)
			}
		}
		if !strings.Contains(got, "-1009") || !strings.Contains(got, "error:") {
			t.Errorf("%s: the broken callflow was not found:\n%s", app, got)
		}
	}
}

// A menu behind a PIN is explored when check is given the PIN, from the
// command line or from the script; without it, check says how to give it
// instead of asking whether a caller can ever leave.
func TestSeedInputs(t *testing.T) {
	t.Parallel()
	const pin = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 4, noOfTries = 1 }
local account = ivr.menu { id = "account", prompt = "Balance 1, statement 2", maxDigits = 1,
  ["1"] = function() return { action = "say", params = { text = "Your balance", voiceProfile = "en-US-BenjaminRUS", speed = 3 } } end,
  ["2"] = { ivr.hangup() } }
local function ask(intro)
  return { clientActionId = "pin", ivr.say(intro), ivr.say_and_capture("Enter your PIN") }
end
function on_call(s) return ask("Welcome.") end
ivr.on("pin", function(s, d)
  if d == "4321" then return account end
  return ask("Wrong PIN.")
end)
`
	scripts := load(t, map[string]string{
		"pin.lua":      pin,
		"seeded.lua":   pin + `check_inputs = { pin = { "0000", "4321" } }`,
		"misspelt.lua": pin + `check_inputs = { pn = "4321" }`,
		"computed.lua": pin + `local PIN = "4321"
check_inputs = { pin = { PIN, "12ab" } }`,
		"bye.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_call(s) return { ivr.say("We are closed."), ivr.hangup() } end`,
	})
	const broken = `-1009 Invalid call flow entry provided. $.callflow[0].params.speed: must have a maximum value of 2 (after: call, 4321, 1)`
	for _, c := range []struct {
		app     string
		inputs  map[string][]string
		want    []string
		wantNot []string
	}{
		{app: "pin", want: []string{`warning: every key check tried at the prompt "Enter your PIN" (1, 2, 0, 1111, 9#) went the way a wrong one does`,
			`--input pin=KEYS, or check_inputs = { pin = { "KEYS" } } in pin.lua`}, wantNot: []string{"can a caller ever leave", "dead end", "-1009"}},
		{app: "pin", inputs: map[string][]string{"pin": {"4321"}}, want: []string{broken}, wantNot: []string{"PIN or an account number"}},
		{app: "seeded", want: []string{broken}, wantNot: []string{"PIN or an account number", "no prompt waits"}},
		{app: "misspelt", want: []string{`misspelt.lua:13: warning: check_inputs.pn: no prompt waits at "pn" on any path check took`}},
		{app: "computed", want: []string{`computed.lua:14: warning: check_inputs.pin[1] is not a literal string`,
			`computed.lua:14: warning: check_inputs.pin[2] is "12ab": a caller presses 0-9, * and #`}},
	} {
		got := problems(t, scripts, c.app, explore.Options{Inputs: c.inputs})
		for _, l := range c.want {
			if !strings.Contains(got, l) {
				t.Errorf("%s %v: problems lack %q:\n%s", c.app, c.inputs, l, got)
			}
		}
		for _, l := range c.wantNot {
			if strings.Contains(got, l) {
				t.Errorf("%s %v: problems have %q:\n%s", c.app, c.inputs, l, got)
			}
		}
	}
	if got := problems(t, scripts, "bye", explore.Options{}); got != "" {
		t.Errorf("an on_call that says goodbye and hangs up has problems:\n%s", got)
	}
}

// A script that reads the clock in its top level reads it at every event:
// the explorer moves that once, not at every key.
func TestTopLevelClockIsMovedOnce(t *testing.T) {
	t.Parallel()
	restaurant, err := os.ReadFile("../../scripts/restaurant.lua")
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]int{}
	for app, src := range map[string]string{
		"plain":   string(restaurant),
		"clocked": `local HOUR = time.parts(time.now(), "Asia/Singapore").hour` + "\n" + string(restaurant),
	} {
		scripts := load(t, map[string]string{app + ".lua": src})
		res, err := explore.Explore(context.Background(), scripts, app, explore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		paths[app] = res.Paths
	}
	// Once: the 17 moments of a week in Singapore and in UTC, and the 68
	// other hours of a weekday, a Saturday and a Sunday in Singapore; at
	// every key it would be ten times that.
	if paths["clocked"] > paths["plain"]+17+17+68+8 {
		t.Fatalf("reading the clock at the top level took %d calls to explore, the same app without it %d", paths["clocked"], paths["plain"])
	}
}

// The graph of an app that starts in different places at different clocks
// begins with the call, and an edge to each place labelled with a clock.
func TestGraphShowsWhereCallsStart(t *testing.T) {
	t.Parallel()
	scripts, errs := engine.Load("../../examples")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	res, err := explore.Explore(context.Background(), scripts, "hours", explore.Options{Deadline: slowMachine})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	res.Mermaid(&got, explore.GraphOptions{NoOther: true})
	res.DOT(&got, explore.GraphOptions{})
	for _, want := range []string{`(("call"))`, `-- "at Thu 17:00" --> main`, `-- "at Sun 12:00" --> end`, "We are closed.", `main -- "1" --> bridge`, `[shape=circle, label="call"]`} {
		if !strings.Contains(got.String(), want) {
			t.Errorf("the graph lacks %s:\n%s", want, got.String())
		}
	}
}

// A window of one hour compared on time.parts (p.hour == 7), on a weekday,
// a Saturday or a Sunday, is tried whatever its hour: check finds what is
// broken behind each, however far from the moment the call starts at.
func TestEveryHourOfTheDayIsTried(t *testing.T) {
	t.Parallel()
	apps := map[string]string{}
	window := func(name, cond string) {
		apps[name+".lua"] = bankHead + `
function on_call(s)
  local p = time.parts(time.now(), ZONE)
  if ` + cond + ` then return bad("window") end
  return closed()
end`
	}
	for h := range 24 {
		window(fmt.Sprintf("weekday%d", h), fmt.Sprintf("p.wday <= 5 and p.hour == %d", h))
	}
	for _, h := range []int{0, 5, 11, 13, 19, 23} {
		window(fmt.Sprintf("saturday%d", h), fmt.Sprintf("p.wday == 6 and p.hour == %d", h))
		window(fmt.Sprintf("sunday%d", h), fmt.Sprintf("p.wday == 7 and p.hour == %d", h))
	}
	scripts := load(t, apps)
	for _, app := range scripts.Names() {
		if got := problems(t, scripts, app, explore.Options{}); !strings.Contains(got, "params.speed: must have a maximum value of 2") {
			t.Errorf("%s: the broken reply behind the window was not found:\n%s", app, got)
		}
	}
}
