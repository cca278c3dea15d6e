package explore_test

import (
	"context"
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

func problems(t *testing.T, scripts *engine.Scripts, app string, opts explore.Options) string {
	t.Helper()
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
	}
	scripts := load(t, apps)
	open := time.Date(2026, 1, 5, 10, 0, 0, 0, time.FixedZone("+08", 8*3600)) // a Monday
	want := map[string][]string{
		"is_open": {`(after: call, 1, at `, `on_call (is_open.lua:8) returned a callflow 8x8 would reject: -1009`, `(after: call, at Thu 2026-12-24 10:30 +08)`},
		"parts":   {`(after: call, 1, at `},
		"format":  {`(after: call, 1, at `},
		"arith":   {`(after: call, 1, at `},
		"launch":  {`(after: call, 1, at Sun 2026-03-01 00:30 +08)`},
		"agent":   {`(after: call, 1, at Mon 2026-01-05 04:29 +08)`},
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
