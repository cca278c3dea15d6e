package ivr_test

import (
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/sandbox"
	"github.com/luaivr/luaivr/stdlib/ivr"
	jsonmod "github.com/luaivr/luaivr/stdlib/json"
	"github.com/luaivr/luaivr/stdlib/luatest"
	lua "github.com/yuin/gopher-lua"
)

func libs(m *ivr.Module) []sandbox.Lib {
	return []sandbox.Lib{{Name: "ivr", Open: m.Open}, {Name: "json", Open: jsonmod.Open}}
}

func TestBuilders(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"say with defaults": `
			ivr.defaults { voiceProfile = "en-GB-Emma", speed = 1, maxDigits = 1 }
			eq(ivr.say("Hello"), { action = "say", params = { text = "Hello", voiceProfile = "en-GB-Emma", speed = 1 } })`,
		"own params win over defaults": `
			ivr.defaults { voiceProfile = "en-GB-Emma", speed = 1 }
			eq(ivr.say("Hi", { speed = 1.5, repetition = 2 }).params,
			   { text = "Hi", voiceProfile = "en-GB-Emma", speed = 1.5, repetition = 2 })`,
		"table form": `
			eq(ivr.say { text = "Hi", voiceProfile = "en-US-ZiraRUS" }.params, { text = "Hi", voiceProfile = "en-US-ZiraRUS" })`,
		"capture defaults only reach sayAndCapture": `
			ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 4, noOfTries = 2 }
			eq(ivr.say_and_capture("Account number?").params,
			   { promptMessage = "Account number?", voiceProfile = "en-GB-Emma", maxDigits = 4, noOfTries = 2 })
			eq(ivr.play_file("https://example.com/a.mp3").params, { fileUrl = "https://example.com/a.mp3" })`,
		"make_call and hangup": `
			eq(ivr.make_call { source = "+6568332048", destination = "+6531589338" },
			   { action = "makeCall", params = { source = "+6568332048", destination = "+6531589338" } })
			eq(ivr.hangup(), { action = "hangup" })`,
		"json.null reaches the params": `
			ivr.defaults { voiceProfile = "en-GB-Emma", successMessage = json.null, maxDigits = 1 }
			eq(ivr.say_and_capture("x").params.successMessage, json.null)`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			luatest.Run(t, src, libs(ivr.New())...)
		})
	}
}

// Mistakes are reported at the call that made them, in 8x8's words or naming
// the function and argument.
func TestBuilderErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"missing voice": `fails(function() ivr.say("Hi") end, "ivr.say: -1002 params.voiceProfile is missing but it is required: every spoken action needs a voice; give the script one with ivr.defaults { voiceProfile = ")`,
		// A misspelt parameter is an error at the builder, with the name meant.
		"misspelt param": `fails(function() ivr.say_and_capture("Account?", { voiceProfile = "en-GB-Emma", maxDigits = 8, overallTimeout = 9000, digitTimout = 3000 }) end,
			"ivr.say_and_capture: -1009 Invalid call flow entry provided. params.digitTimout: is not defined in the schema and the schema does not allow additional properties; did you mean digitTimeout?")`,
		"misspelt params, all": `fails(function() ivr.say("Hi", { voiceProfile = "en-GB-Emma", sped = 1, repetitions = 2 }) end,
			"params.repetitions: is not defined in the schema and the schema does not allow additional properties; did you mean repetition?; -1009 Invalid call flow entry provided. params.sped:")`,
		"param of another action": `fails(function() ivr.say { text = "Hi", voiceProfile = "en-GB-Emma", maxDigits = 1 } end, "maxDigits is a parameter of sayAndCapture, not of say")`,
		"local destination": `fails(function() ivr.make_call { source = "+6568332048", destination = "91234567" } end,
			"ivr.make_call: -1017 params.destination is \"91234567\", a local number without a country code: 8x8 dials E.164 numbers")`,
		"speed too fast":    `fails(function() ivr.say("Hi", { voiceProfile = "en-GB-Emma", speed = 5 }) end, "ivr.say: -1009")`,
		"text too long":     `fails(function() ivr.say(string.rep("a", 3001), { voiceProfile = "en-GB-Emma" }) end, "3000")`,
		"bad first arg":     `fails(function() ivr.say(42) end, "bad argument #1 to ivr.say (text (a string) or a table")`,
		"bad second arg":    `fails(function() ivr.say("x", 5) end, "bad argument #2 to ivr.say")`,
		"on without answer": `fails(function() ivr.on("x") end, "bad argument #2 to ivr.on")`,
		"bad file":          `fails(function() ivr.play_file("ftp://x/a.ogg") end, "ivr.play_file: -1009")`,
		"bad destination":   `fails(function() ivr.make_call { source = "+6568332048", destination = "call me" } end, "-1017")`,
		"min without max":   `fails(function() ivr.say_and_capture("x", { voiceProfile = "en-GB-Emma", minDigits = 1 }) end, "-1003")`,
		"unknown default":   `fails(function() ivr.defaults { voice = "en-GB-Emma" } end, "unknown setting \"voice\"")`,
		"menu without id":   `fails(function() ivr.menu { prompt = "x" } end, "menu needs an id")`,
		"menu no prompt":    `fails(function() ivr.menu { id = "m" } end, "needs a prompt")`,
		"menu bad key":      `fails(function() ivr.menu { id = "m", prompt = "x", colour = 1 } end, "menu key \"colour\"")`,
		"menu bad option":   `fails(function() ivr.menu { id = "m", prompt = "x", ["1"] = true } end, "an option is a menu")`,
		"menu duplicate id": `ivr.menu { id = "m", prompt = "x" } fails(function() ivr.menu { id = "m", prompt = "y" } end, "already used")`,
		"on a menu":         `ivr.menu { id = "m", prompt = "x" } fails(function() ivr.on("m", ivr.hangup()) end, "is a menu")`,
		// What 8x8 echoes must come back as a webhook luaivr reads.
		"menu id too long": `fails(function() ivr.menu { id = string.rep("m", 1001), prompt = "x" } end,
			"bad argument #1 to ivr.menu (menu id: clientActionId \"mmmm")`,
		"menu id with NUL":      `fails(function() ivr.menu { id = "main\0", prompt = "x" } end, "control character U+0000")`,
		"menu id bad utf-8":     `fails(function() ivr.menu { id = "caf\233", prompt = "x" } end, "not valid UTF-8")`,
		"position id too long":  `fails(function() ivr.on(string.rep("p", 1001), ivr.hangup()) end, "bad argument #1 to ivr.on (position id: clientActionId")`,
		"position id with a LF": `fails(function() ivr.on("post\ncall", ivr.hangup()) end, "control character U+000A")`,
		// A builder refuses what no reply can carry, before copying it.
		"huge unknown param": `fails(function() ivr.say("x", { voiceProfile = "en-GB-Emma", junk = string.rep("x", 70000) }) end,
			"ivr.say: action.params.junk: more than 65536 bytes of text: a callflow is at most 65536 bytes of JSON")`,
		"many numbers": `local junk = {} for i = 1, 4000 do junk[i] = -1.2345678901234567e-300 end
			fails(function() ivr.say("x", { voiceProfile = "en-GB-Emma", junk = junk }) end,
			"ivr.say: -1009 Invalid call flow entry provided. the action: takes the callflow over 65536 bytes of JSON")`,
		"defaults minDigits alone": `ivr.defaults { voiceProfile = "en-GB-Emma", minDigits = 2, digitTimeout = 5000 }`,
		"menu tries":               `fails(function() ivr.menu { id = "m", prompt = "x", tries = 0 } end, "tries is how many wrong or missing answers")`,
		"defaults tries":           `fails(function() ivr.defaults { tries = "3" } end, "a whole number from 1 to 100")`,
		"menu repeat key":          `fails(function() ivr.menu { id = "m", prompt = "x", repeat_key = "star" } end, "repeat_key is the key that says a menu again")`,
		"menu on_enter":            `fails(function() ivr.menu { id = "m", prompt = "x", on_enter = "hello" } end, "on_enter is a function(session)")`,
		"menu option kind":         `fails(function() ivr.menu { id = "m", prompt = "x", ["1"] = 5 } end, "option [\"1\"]: an option is a menu")`,
		"root not a menu":          `fails(function() ivr.root({}) end, "bad argument #1 to ivr.root (a menu (what ivr.menu returned) or a menu id expected")`,
		"root twice":               `ivr.root("a") fails(function() ivr.root("b") end, "the root is already declared at")`,
		"route outside a handler":  `fails(function() ivr.route({}, "1") end, "ivr.route answers a caller's digits: call it in a handler")`,
		"menu id used by ivr.on":   `ivr.on("p", ivr.hangup()) fails(function() ivr.menu { id = "p", prompt = "x" } end, "already an ivr.on position")`,
		"too many params": `local p = { voiceProfile = "en-GB-Emma" } for i = 1, 100 do p["p" .. i] = 1 end
			fails(function() ivr.say("x", p) end, "bad argument #2 to ivr.say (more than 64 parameters")`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			luatest.Run(t, src, libs(ivr.New())...)
		})
	}
}

const tree = `
ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1 }
local bye = { ivr.say("Bye"), ivr.hangup() }
main = ivr.menu {
  id = "main", prompt = "1 sales, 2 support",
  ["1"] = ivr.menu { id = "sales", prompt = "Sales: 1 new, 9 back", ["1"] = bye, ["9"] = "main", noOfTries = 3 },
  ["2"] = function(session, digits) return { ivr.say("Support for " .. session.name), "main" } end,
  [3] = bye,
  no_input = "sales",
}
ivr.on("after", bye)
`

// Route picks the option for the digits at a position; Reply renders it.
func TestRouteAndReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		position, digits string
		has              bool
		wantID           string
		wantActions      string
	}{
		{"main", "1", true, "sales", "sayAndCapture"},
		{"main", "2", true, "main", "say,sayAndCapture"},
		{"main", "3", true, "", "say,hangup"},
		{"main", "3#", true, "", "say,hangup"},
		{"main", "7", true, "main", "sayAndCapture"}, // no other: the menu again
		{"main", "", false, "sales", "sayAndCapture"},
		{"sales", "9", true, "main", "sayAndCapture"},
		{"sales", "", false, "sales", "sayAndCapture"}, // no no_input: the menu again
		{"", "1", true, "sales", "sayAndCapture"},      // no position: the root (on_call)
		{"after", "", false, "", "say,hangup"},
		{"gone", "1", true, "main", "sayAndCapture"}, // unknown: the root again
	}
	for _, tt := range tests {
		t.Run(tt.position+"/"+tt.digits, func(t *testing.T) {
			t.Parallel()
			m := ivr.New()
			L := luatest.State(t, libs(m)...)
			if err := L.DoString(tree + "on_call = main"); err != nil {
				t.Fatal(err)
			}
			session := L.NewTable()
			session.RawSetString("name", lua.LString("Ann"))
			var v lua.LValue
			L.Push(L.NewFunction(func(L *lua.LState) int {
				m.Answer(session, tt.position, ivr.Memory{})
				v, _, _ = m.Route(L, tt.digits, tt.has)
				return 0
			}))
			if err := L.PCall(0, 0, nil); err != nil {
				t.Fatal(err)
			}
			r, err := m.Reply(L, v)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, a := range r.Callflow {
				names = append(names, a.Name)
			}
			if r.ClientActionID != tt.wantID || strings.Join(names, ",") != tt.wantActions {
				t.Fatalf("got %q %v, want %q %s", r.ClientActionID, names, tt.wantID, tt.wantActions)
			}
			if err := callflow.Check(r.Callflow, callflow.AsReply); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Menus and defaults are checked against 8x8's rules where they are written;
// the top level goes on, so that Loaded reports every mistake at once, each at
// its line, with the menu ids no menu has and the rules between a menu's
// settings and the defaults as they ended up.
func TestTreeProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want []string
	}{
		{`ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1 }
		  ivr.menu { id = "m", prompt = "x", speed = 3 }`,
			[]string{`<string>:2: ivr.menu "m": -1009 Invalid call flow entry provided. params.speed: must have a maximum value of 2`}},
		{`ivr.menu { id = "m", prompt = "x", maxDigits = 30, voiceProfile = "en-GB-Emma" }`,
			[]string{`<string>:1: ivr.menu "m": -1009 Invalid call flow entry provided. params.maxDigits: must have a maximum value of 25`}},
		{`ivr.defaults { speed = 3 }`, []string{`<string>:1: ivr.defaults: -1009 Invalid call flow entry provided. params.speed: must have a maximum value of 2`}},
		{`ivr.defaults { voiceProfile = "Benjamin" }`, []string{`<string>:1: ivr.defaults: -1002`}},
		{`ivr.menu { id = "big", prompt = "x", voiceProfile = "en-GB-Emma", noOfTries = string.rep("x", 70000) }`,
			[]string{`<string>:1: ivr.menu "big": menu big.noOfTries: more than 65536 bytes of text`}},
		// A default completed by the menus is no mistake; a menu without a voice is.
		{`ivr.defaults { minDigits = 2, digitTimeout = 5000 }
		  ivr.menu { id = "m", prompt = "x", voiceProfile = "en-GB-Emma", maxDigits = 4, overallTimeout = 9000 }`, nil},
		{`ivr.menu { id = "m", prompt = "x", maxDigits = 1 }`, []string{`<string>:1: ivr.menu "m": -1002`}},
		// A position no menu, ivr.on or handler answers.
		{`ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1 }
		  ivr.menu { id = "main", prompt = "x", ["1"] = { clientActionId = "postcall", ivr.make_call { source = "+6568332048", destination = "+6531589338" } } }
		  ivr.on("post_call", ivr.hangup())`, []string{
			`<string>:2: ivr.menu "main" option ["1"] sets clientActionId "postcall", which no menu or ivr.on position has: the caller's answer there would start again at the root (did you mean "post_call"?)`}},
		{`ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1 }
		  ivr.menu { id = "main", prompt = "x", ["1"] = { clientActionId = "mine", ivr.say_and_capture("Code?") } }
		  function on_dtmf(session, digits) return ivr.hangup() end`, nil},
		// Every mistake, in script order.
		{`ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1 }
		  ivr.menu { id = "main", prompt = "x", ["1"] = "sales", ["2"] = "suport" }
		  ivr.menu { id = "sales", prompt = "x", ["9"] = { ivr.say("Back"), "mian" }, speed = 3 }
		  ivr.menu { id = "support", prompt = "x", tries = 2, other = "nowhere" }
		  ivr.on("after", "goodbye")
		  ivr.root("Main")`, []string{
			`<string>:2: ivr.menu "main" option ["2"] is "suport", but no menu has that id (menus: main, sales, support); did you mean "support"?`,
			`<string>:3: ivr.menu "sales": -1009 Invalid call flow entry provided. params.speed: must have a maximum value of 2`,
			`<string>:3: ivr.menu "sales" option ["9"] is "mian"`,
			`<string>:4: ivr.menu "support" other is "nowhere", but no menu has that id (menus: main, sales, support); to speak text use ivr.say("nowhere")`,
			`<string>:4: ivr.menu "support" allows 2 tries but says nothing after them: add on_too_many`,
			`<string>:5: ivr.on "after" is "goodbye", but no menu has that id`,
			`<string>:6: ivr.root is "Main", but no menu has that id (menus: main, sales, support); did you mean "main"?`,
		}},
		// A repeat key the prompt cannot collect, from the menu or the defaults.
		{`ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1, repeat_key = "**" }
		  ivr.menu { id = "main", prompt = "x", ["1"] = "main" }
		  ivr.menu { id = "acct", prompt = "x", maxDigits = 8, minDigits = 8, repeat_key = "*" }
		  ivr.menu { id = "two", prompt = "x", maxDigits = 2, repeat_key = "**" }`, []string{
			`<string>:1: ivr.menu "main" repeats on "**" (repeat_key), but its prompt collects 1 to 1 digits: no caller can press it`,
			`<string>:3: ivr.menu "acct" repeats on "*" (repeat_key), but its prompt collects 8 to 8 digits`,
		}},
		// A mistake that cannot be declared does not stop the top level: every
		// mistake after it is reported in the same run, and what names the
		// broken menu does not add "no menu has that id".
		{`ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1, tries = 0, noOfTry = 2 }
		  ivr.menu { id = "main", promptMessage = "Welcome", ["1"] = "cards", ["2"] = "mian" }
		  ivr.menu { id = "cards", prompt = "x", on_to_many = "main", ["9"] = "main" }
		  ivr.menu { prompt = "no id" }
		  ivr.menu { id = "cards", prompt = "again" }
		  ivr.menu { id = "late", prompt = "x", speed = 3, ["1"] = "nowhere" }
		  ivr.on(7, "main")
		  ivr.on("after", 5)
		  ivr.root({})
		  ivr.root("main")`, []string{
			`<string>:1: ivr.defaults: unknown setting "noOfTry": did you mean noOfTries?`,
			`<string>:1: ivr.defaults: tries is how many wrong or missing answers a caller may give at a menu before on_too_many: a whole number from 1 to 100, got 0`,
			`<string>:2: ivr.menu: menu "main" sets promptMessage: in a menu the key is prompt`,
			`<string>:2: ivr.menu "main" option ["2"] is "mian", but no menu has that id (menus: cards, late, main); did you mean "main"?`,
			`<string>:3: ivr.menu: menu key "on_to_many": did you mean on_too_many?`,
			`<string>:4: ivr.menu: menu needs an id`,
			`<string>:5: ivr.menu: menu id "cards" is already used by the menu at <string>:3`,
			`<string>:6: ivr.menu "late": -1009 Invalid call flow entry provided. params.speed: must have a maximum value of 2`,
			`<string>:6: ivr.menu "late" option ["1"] is "nowhere"`,
			`<string>:7: ivr.on: a position id (string) expected, got number`,
			`<string>:8: ivr.on: what to answer at "after": a menu, a menu id, an action, a list of actions or a function; got 5`,
			`<string>:9: ivr.root: a menu (what ivr.menu returned) or a menu id expected, got a table that is not a menu`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			t.Parallel()
			m := ivr.NewAtLoad()
			L := luatest.State(t, libs(m)...)
			if err := L.DoString(tt.src); err != nil {
				t.Fatal(err)
			}
			got := m.Loaded()
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems %v, want %d", len(got), got, len(tt.want))
			}
			for i, p := range got {
				if !strings.HasPrefix(p.Error(), tt.want[i]) {
					t.Errorf("problem %d: %s\nwant %s", i, p, tt.want[i])
				}
			}
		})
	}
}

// A list nested in a reply keeps its clientActionId, at any depth, and so
// does an action table; a list repeating its menu's id is no conflict.
func TestNestedPositions(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		`local function ask() return { clientActionId = "pin", ivr.say_and_capture("PIN?") } end
		 return { ivr.say("Wrong PIN."), ask() }`: "pin",
		`return { ivr.say("a"), { ivr.say("b"), { clientActionId = "deep", ivr.hangup() } } }`:       "deep",
		`local a = ivr.say_and_capture("PIN?") a.clientActionId = "pin" return { ivr.say("Hi"), a }`: "pin",
		`return { clientActionId = "main", ivr.say("Hi"), "main" }`:                                  "main",
		`return { ivr.say("Hi"), { ivr.say("Back") , "sales" } }`:                                    "sales",
	}
	for src, want := range tests {
		t.Run(src, func(t *testing.T) {
			t.Parallel()
			m := ivr.New()
			L := luatest.State(t, libs(m)...)
			if err := L.DoString(tree); err != nil {
				t.Fatal(err)
			}
			fn, err := L.LoadString(src)
			if err != nil {
				t.Fatal(err)
			}
			L.Push(fn)
			L.Call(0, 1)
			r, err := m.Reply(L, L.Get(-1))
			if err != nil || r.ClientActionID != want {
				t.Fatalf("got %q, %v; want %q", r.ClientActionID, err, want)
			}
		})
	}
}

// A typo of a menu id is named: an edit or a swap in a short id, more in a
// long one, nothing when no id is near.
func TestDidYouMean(t *testing.T) {
	t.Parallel()
	ids := `ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1 }
	for _, id in ipairs { "main", "sales", "reservations", "book_table" } do ivr.menu { id = id, prompt = id } end`
	tests := map[string]string{
		"mian": `did you mean "main"?`, "Main": `did you mean "main"?`, "sale": `did you mean "sales"?`,
		"resevrations": `did you mean "reservations"?`, "booktable": `did you mean "book_table"?`,
		"support": `to speak text use ivr.say("support")`, "xy": `to speak text use ivr.say("xy")`,
	}
	for typo, want := range tests {
		t.Run(typo, func(t *testing.T) {
			t.Parallel()
			m := ivr.New()
			L := luatest.State(t, libs(m)...)
			if err := L.DoString(ids); err != nil {
				t.Fatal(err)
			}
			_, err := m.Reply(L, lua.LString(typo))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want %q", err, want)
			}
		})
	}
}

func TestMenuRendering(t *testing.T) {
	t.Parallel()
	m := ivr.New()
	L := luatest.State(t, libs(m)...)
	if err := L.DoString(tree); err != nil {
		t.Fatal(err)
	}
	r, err := m.Reply(L, lua.LString("sales"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := r.MarshalJSON()
	want := `{"clientActionId":"sales","callflow":[{"action":"sayAndCapture","params":{"promptMessage":"Sales: 1 new, 9 back","voiceProfile":"en-GB-Emma","maxDigits":1,"noOfTries":3}}]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

func TestReplyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ src, want string }{
		{`return "Hello there"`, `no menu has that id (menus: main, sales); to speak text use ivr.say("Hello there")`},
		{`return function() end`, `is a function`},
		// What an error shows of a script's string is cut short: it goes to the log and the transcript.
		{`return string.rep("x", 1024 * 1024)`, `returned value is "` + strings.Repeat("x", 40) + `…", but no menu has that id`},
		{`return {}`, `a table with no actions`},
		{`return 42`, `is a number`},
		{`return { ivr.hangup(), clientActionId = 7 }`, `clientActionId must be a string`},
		{`return { "main", "sales" }`, `clientActionId "main" and "sales" in one reply`},
		{`return { { clientActionId = "pin", ivr.say_and_capture("PIN?") }, "main" }`, `returned value[2]: clientActionId "pin" and "main" in one reply`},
		{`return { clientActionId = "a", { clientActionId = "b", ivr.hangup() } }`, `returned value: clientActionId "b" and "a" in one reply`},
		{`return { ivr.say("x"), { clientActionId = 5, ivr.hangup() } }`, `returned value[2].clientActionId must be a string`},
		{`return "mian"`, `returned value is "mian", but no menu has that id (menus: main, sales); did you mean "main"?`},
		{`return { { action = "say", params = { "a", "b" } } }`, `params must be a table of named parameters`},
		// ivr.defaults reaches the builders, not an action table written by hand.
		{`return { { action = "say", params = { text = "Hi" } }, "main" }`, `returned value[1]: this say action has no voiceProfile: an action table written by hand ({ action = "say", params = … }) does not receive ivr.defaults; build it with ivr.say(…)`},
		{`return { action = "sayAndCapture", params = { promptMessage = "PIN?" } }`, `build it with ivr.say_and_capture(…), which applies them, or give it params.voiceProfile`},
		{`local l = ivr.hangup() for d = 1, 8 do local n = {} for i = 1, 100 do n[i] = l end l = n end return l`, `more than 100 actions in one reply`},
		{`return { clientActionId = string.rep("m", 1001), ivr.hangup() }`, `returned value.clientActionId: clientActionId "mmmm`},
		{`return { clientActionId = "main\0", "main" }`, `returned value.clientActionId: clientActionId "main\x00" holds the control character U+0000`},
		// Each action within 8x8's rules, the reply as a whole far over: the
		// params of all its actions share one bound, checked as they leave Lua.
		{`local big = { action = "say", params = { text = "x", voiceProfile = "en-GB-Emma", junk = string.rep("x", 40000) } }
		  return { big, big, ivr.hangup() }`, `returned value[2].params.junk: more than 65536 bytes of text: a callflow is at most 65536 bytes of JSON`},
		{`local junk = {} for i = 1, 7 do junk[i] = string.rep("x", 1024 * 1024) end
		  local r = {} for i = 1, 99 do r[i] = { action = "say", params = { text = "hi", voiceProfile = "en-GB-Emma", junk = junk } } end
		  return r`, `returned value[1].params.junk[1]: more than 65536 bytes of text`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			t.Parallel()
			m := ivr.New()
			L := luatest.State(t, libs(m)...)
			if err := L.DoString(tree); err != nil {
				t.Fatal(err)
			}
			fn, err := L.LoadString(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			L.Push(fn)
			L.Call(0, 1)
			_, err = m.Reply(L, L.Get(-1))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
