package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/engine"
)

// menuStep is one event of a call and what its reply must be: the first text the
// caller hears, and the clientActionId ("-": none).
type menuStep struct {
	keys     string // "call": the call starts; "": no input
	at       string // when set, 8x8 echoes this clientActionId instead of ours
	hears    string
	position string
}

// menuApp is the start of the apps below: a main menu, a sales menu under it.
const menuApp = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
local bye = { ivr.say("Goodbye."), ivr.hangup() }
sales = ivr.menu { id = "sales", prompt = "Sales menu", ["1"] = bye, ["9"] = "main" }
main = ivr.menu { id = "main", prompt = "Main menu", ["1"] = sales, ["2"] = bye }
`

// Menus and replies keep their position, digits at a menu go to the menu
// even when the app has on_dtmf, and the menus' own behaviour (tries,
// on_enter, the repeat key) holds across events: each event runs in a new
// Lua state, so what a menu counts lives in the session.
func TestMenuRouting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		app   string
		steps []menuStep
	}{
		{"a list nested in a reply keeps its clientActionId", menuApp + `
local function ask_pin()
  return { clientActionId = "pin", ivr.say_and_capture("Enter your PIN.", { maxDigits = 4 }) }
end
ivr.on("pin", function(session, digits)
  if digits == "1234" then return { ivr.say("PIN ok."), main } end
  return { ivr.say("Wrong PIN."), ask_pin() }
end)
function on_call(session) return { ivr.say("Welcome."), ask_pin() } end`, []menuStep{
			{keys: "call", hears: "Welcome.", position: "pin"},
			{keys: "0000", hears: "Wrong PIN.", position: "pin"},
			{keys: "1234", hears: "PIN ok.", position: "main"},
		}},
		{"a renamed menu starts again at the menu on_call returned first", menuApp + `
function on_call(session) return { ivr.say("Hello."), main } end`, []menuStep{
			{keys: "call", hears: "Hello.", position: "main"},
			{keys: "1", at: "old_sales", hears: "Main menu", position: "main"},
			{keys: "1", hears: "Sales menu", position: "sales"},
		}},
		{"ivr.root names where a call starts again", menuApp + `
ivr.root(main)
ivr.on("intro", function() return sales end)
function on_call(session) return { clientActionId = "intro", ivr.say_and_capture("Press a key.") } end`, []menuStep{
			{keys: "call", hears: "Press a key.", position: "intro"},
			{keys: "5", at: "renamed", hears: "Main menu", position: "main"},
		}},
		{"digits at a menu go to the menu, others to on_dtmf", menuApp + `
function on_call(session) return main end
function on_dtmf(session, digits)
  return ivr.say_and_capture("on_dtmf got " .. digits)
end`, []menuStep{
			{keys: "call", hears: "Main menu", position: "main"},
			{keys: "1", hears: "Sales menu", position: "sales"},
			{keys: "9", hears: "Main menu", position: "main"},
			{keys: "7", hears: "Main menu", position: "main"}, // the menu's own invalid key
			{keys: "2", at: "elsewhere", hears: "on_dtmf got 2", position: "-"},
		}},
		{"on_dtmf hands digits to the menus with ivr.route", menuApp + `
ivr.root(main)
function on_call(session) return ivr.say_and_capture("Press 0 for the operator, or a menu key.") end
function on_dtmf(session, digits)
  if digits == "0" then return { ivr.say("Operator."), ivr.hangup() } end
  return ivr.route(session, digits)
end`, []menuStep{
			{keys: "call", hears: "Press 0 for the operator", position: "-"},
			{keys: "1", hears: "Sales menu", position: "sales"}, // the root (main) answered 1
			{keys: "9", hears: "Main menu", position: "main"},
			{keys: "2", at: "elsewhere", hears: "Goodbye.", position: "-"},
		}},
		{"ivr.route with a menu", menuApp + `
function on_call(session) return ivr.say_and_capture("Press a key.") end
function on_dtmf(session, digits) return ivr.route(session, digits, "sales") end`, []menuStep{
			{keys: "call", hears: "Press a key.", position: "-"},
			{keys: "9", hears: "Main menu", position: "main"},
		}},
		{"three wrong answers end at on_too_many; a right one starts the count again", `
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
sub = ivr.menu { id = "sub", prompt = "Sub menu", ["9"] = "main" }
main = ivr.menu { id = "main", prompt = "Main menu", ["1"] = sub,
  tries = 3, on_too_many = { ivr.say("Too many tries."), ivr.hangup() } }
on_call = main`, []menuStep{
			{keys: "call", hears: "Main menu", position: "main"},
			{keys: "7", hears: "Main menu", position: "main"},
			{keys: "", hears: "Main menu", position: "main"},
			{keys: "1", hears: "Sub menu", position: "sub"},
			{keys: "9", hears: "Main menu", position: "main"},
			{keys: "7", hears: "Main menu", position: "main"},
			{keys: "8", hears: "Main menu", position: "main"},
			{keys: "", hears: "Too many tries.", position: "-"},
		}},
		{"on_enter runs when a caller arrives, not when the menu is said again", `
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1, repeat_key = "*" }
main = ivr.menu { id = "main", prompt = "Main menu", ["1"] = "sub",
  on_enter = function(session)
    session.vars.entered = (session.vars.entered or 0) + 1
    return ivr.say("Visit " .. session.vars.entered .. ".")
  end }
sub = ivr.menu { id = "sub", prompt = "Sub menu", ["9"] = main, tries = 2, on_too_many = main }
on_call = main`, []menuStep{
			{keys: "call", hears: "Visit 1.", position: "main"},
			{keys: "7", hears: "Main menu", position: "main"},
			{keys: "*", hears: "Main menu", position: "main"},
			{keys: "1", hears: "Sub menu", position: "sub"},
			{keys: "*", hears: "Sub menu", position: "sub"}, // the repeat key is no wrong answer
			{keys: "*", hears: "Sub menu", position: "sub"},
			{keys: "9", hears: "Visit 2.", position: "main"},
			{keys: "1", hears: "Sub menu", position: "sub"},
			{keys: "5", hears: "Sub menu", position: "sub"},
			{keys: "5", hears: "Visit 3.", position: "main"}, // on_too_many = main: an arrival
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, scriptDir(t, map[string]string{"app.lua": tt.app}), relaxed)
			c := newCall(shapeEventDataDTMF, true)
			for i, s := range tt.steps {
				body := c.start()
				if s.keys != "call" {
					if s.at != "" {
						c.lastID = s.at
					}
					body = c.keys(s.keys)
				}
				got := h.post(body, "app")
				c.remember(got)
				var r struct {
					ClientActionID string `json:"clientActionId"`
				}
				_ = json.Unmarshal(got, &r)
				want := s.position
				if want == "-" {
					want = ""
				}
				if text := replyText(t, got); !strings.HasPrefix(text, s.hears) || r.ClientActionID != want {
					t.Fatalf("step %d (%q): got %s\nwant %q at %q\nlog:\n%s", i, s.keys, got, s.hears, want, h.logs.String())
				}
			}
		})
	}
}

// What menu routing cannot answer is an error that says where and what to do.
func TestMenuRoutingErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, app string
		keys      []string // after the call starts
		want      string   // in the log
	}{
		{"two clientActionIds in one reply", menuApp + `
function on_call(session) -- line 6
  return { { clientActionId = "pin", ivr.say_and_capture("PIN?") }, main }
end`, nil, `on_call (app.lua:6) returned value[2]: clientActionId \"pin\" and \"main\" in one reply`},
		{"on_dtmf returning nothing", menuApp + `
function on_call(session) return ivr.say_and_capture("Press a key.") end
function on_dtmf(session, digits) end`, []string{"1"}, `on_dtmf (app.lua:7) returned nothing; the caller would hear silence (return a callflow, e.g. ivr.hangup(), or hand the digits to the menus: return ivr.route(session, digits))`},
		{"an option's bad answer names the option", menuApp + `
ivr.menu { id = "top", prompt = "Top",
  ["1"] = function(session, digits) -- line 7
    return 42
  end }
on_call = "top"`, []string{"1"}, `menu: option [\"1\"] of menu \"top\" (app.lua:7) returned value is a number`},
		{"no root to start again at", menuApp + `
function on_call(session) return { clientActionId = "intro", ivr.say_and_capture("Hello.") } end
ivr.on("intro", function() return ivr.say_and_capture("Still here.") end)`, []string{"1", "1"},
			`there is no root menu to start again at: declare one with ivr.root(menu)`},
		{"a menu declared in a handler", menuApp + `
function on_call(session)
  return ivr.menu { id = "late", prompt = "Late" } -- line 7
end`, nil, `app.lua:7: ivr.menu is called in a handler or an option: declare menus, positions and the root at the top level`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, scriptDir(t, map[string]string{"app.lua": tt.app}), relaxed)
			c := newCall(shapeEventDataDTMF, true)
			c.remember(h.post(c.start(), "app"))
			for i, k := range tt.keys {
				if i > 0 {
					c.lastID = "gone" // the second press comes back at a position the script lost
				}
				c.remember(h.post(c.keys(k), "app"))
			}
			if !strings.Contains(h.logs.String(), tt.want) {
				t.Fatalf("the log does not say %s:\n%s", tt.want, h.logs.String())
			}
		})
	}
}

// The load reports what is wrong with the menu tree at the line of the
// declaration, before any call: menu ids no menu has, and 8x8 parameters.
func TestMenuTreeCheckedAtLoad(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ app, want string }{
		"an option naming no menu": {`ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
main = ivr.menu { id = "main", prompt = "Main" }
ivr.menu { id = "sales", prompt = "Sales",
  ["9"] = "mian" }
on_call = main`, `app.lua:3: ivr.menu "sales" option ["9"] is "mian", but no menu has that id (menus: main, sales); did you mean "main"?`},
		"a menu id inside a list": {`ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
main = ivr.menu { id = "main", prompt = "Main", ["1"] = { ivr.say("Back"), "mainn" } }
on_call = main`, `app.lua:2: ivr.menu "main" option ["1"] is "mainn"`},
		"a default naming no menu": {`ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
ivr.defaults { other = "start" }
main = ivr.menu { id = "main", prompt = "Main" }
on_call = main`, `app.lua:2: ivr.defaults other is "start", but no menu has that id`},
		"an unreached menu's speed": {`ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
main = ivr.menu { id = "main", prompt = "Main" }
ivr.menu { id = "orphan", prompt = "Orphan",
  speed = 3 }
on_call = main`, `app.lua:3: ivr.menu "orphan": -1009 Invalid call flow entry provided. params.speed: must have a maximum value of 2`},
		"maxDigits over 25": {`ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
on_call = ivr.menu { id = "main", prompt = "Main", maxDigits = 30 }`, `app.lua:2: ivr.menu "main": -1009 Invalid call flow entry provided. params.maxDigits: must have a maximum value of 25`},
		"speed in the defaults": {`ivr.defaults { voiceProfile = "en-US-BenjaminRUS",
  speed = 3 }
function on_call(session) return ivr.hangup() end`, `app.lua:1: ivr.defaults: -1009 Invalid call flow entry provided. params.speed: must have a maximum value of 2`},
		"a rule between a menu and the defaults": {`on_call = ivr.menu { id = "main", prompt = "Main", maxDigits = 1 }
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", minDigits = 2 }`, `app.lua:1: ivr.menu "main": -1009 Invalid call flow entry provided. params.minDigits: must not be greater than maxDigits`},
		"tries without on_too_many": {`ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
on_call = ivr.menu { id = "main", prompt = "Main", tries = 3 }`, `app.lua:2: ivr.menu "main" allows 3 tries but says nothing after them: add on_too_many`},
		"ivr.root naming no menu": {`ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
ivr.menu { id = "main", prompt = "Main" }
ivr.root("Main")
function on_call(session) return "main" end`, `app.lua:3: ivr.root is "Main", but no menu has that id (menus: main); did you mean "main"?`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, errs := engine.Load(scriptDir(t, map[string]string{"app.lua": tt.app}))
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) {
				t.Fatalf("load errors %v\nwant one saying %s", errs, tt.want)
			}
		})
	}
}

// Each mistake of the tree is its own load error, at its line, so check
// reports them all in one run.
func TestMenuTreeMistakesAllReported(t *testing.T) {
	t.Parallel()
	app := `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
local main = ivr.menu { id = "main", prompt = "Sales 1, support 2.",
  ["1"] = "sales", ["2"] = "suport" }
ivr.menu { id = "sales", prompt = "Sales. Back: 9.", ["9"] = "mian" }
ivr.menu { id = "support", prompt = "Support.", speed = 3 }
on_call = main`
	_, errs := engine.Load(scriptDir(t, map[string]string{"shop.lua": app}))
	var lines []int
	for _, err := range errs {
		var se *engine.ScriptError
		if !errors.As(err, &se) || se.File != "shop.lua" {
			t.Fatalf("%v is not a script error of shop.lua", err)
		}
		lines = append(lines, se.Line)
	}
	if fmt.Sprint(lines) != "[2 4 5]" {
		t.Fatalf("errors at lines %v, want 2, 4 and 5: %v", lines, errs)
	}
}

// A call we place remembers the first menu its on_call gave, so that its
// callee starts again there when their position no longer exists.
func TestPlacedCallKeepsItsRoot(t *testing.T) {
	t.Parallel()
	h := newHarness(t, scriptDir(t, map[string]string{"app.lua": menuApp + `
function on_call(session) return { ivr.say("This is a reminder."), main } end`}), relaxed)
	req := engine.CallRequest{App: "app", To: "+6591234567", From: "+6568332048"}
	id := newCall(shapeEventDataDTMF, true).session
	if _, err := h.eng.Call(context.Background(), req, func(context.Context, []callflow.Action) (string, error) { return id, nil }); err != nil {
		t.Fatal(err)
	}
	c := &call{session: id, direction: "OUTBOUND", shape: shapeEventDataDTMF, echo: true, lastID: "renamed"}
	if got := h.post(c.keys("1"), ""); replyText(t, got) != "Main menu" {
		t.Fatalf("the callee at a lost position heard %s\n%s", got, h.logs.String())
	}
}

// relaxed gives handlers time on a loaded machine: these tests are about
// where keys go, not about the deadline.
var relaxed = engine.Options{Deadline: 5 * time.Second}
