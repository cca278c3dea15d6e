package lint_test

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/luaivr/luaivr/runtime/lint"
)

// check warns at a capture that looks like a PIN or card entry (its digits,
// or a prompt naming a PIN, a passcode, a card, an account) unless it is
// marked: sensitive on it or on its menu, its position in ivr.sensitive, or
// sensitive = false, a decision too. A menu choice that names an account
// is no secret.
func TestUnmarkedSecretsWarned(t *testing.T) {
	t.Parallel()
	const head = "ivr.defaults { voiceProfile = \"en-US-BenjaminRUS\", maxDigits = 1 }\n"
	tests := []struct {
		name, src string
		want      string // words of the warning on line 2; "" for none
	}{
		{"4 digits", `function on_call() return ivr.say_and_capture("Enter the code.", { maxDigits = 4 }) end`, "it collects up to 4 digits"},
		{"16 digits", `function on_call() return ivr.say_and_capture { promptMessage = "Number?", maxDigits = 16 } end`, "it collects up to 16 digits"},
		{"PIN in the prompt", `function on_call() return ivr.say_and_capture("Enter your pin then hash.", { maxDigits = 8 }) end`, `its prompt says "pin"`},
		{"maxDigits not known", `function on_call() return ivr.say_and_capture("Enter your pin then hash.", { maxDigits = json.null }) end`, ""},
		{"passcode in the prompt", `function on_call() return ivr.say_and_capture("Your passcode, then hash.", { completeOnHash = true, maxDigits = 10 }) end`, `its prompt says "passcode"`},
		{"card menu", `ivr.menu { id = "card", prompt = "Your card number.", maxDigits = 16 } on_call = "card"`, `menu "card" asks for what looks like a PIN or a card number (it collects up to 16 digits)`},
		{"account menu choice", `ivr.menu { id = "main", prompt = "For your account balance press 1.", ["1"] = ivr.hangup() } on_call = "main"`, ""},
		{"marked", `function on_call() return ivr.say_and_capture("Your PIN.", { maxDigits = 4, sensitive = true }) end`, ""},
		{"marked false", `function on_call() return ivr.say_and_capture("Your PIN.", { maxDigits = 4, sensitive = false }) end`, ""},
		{"listed position", `ivr.sensitive { "pin" } function on_call() return { clientActionId = "pin", ivr.say_and_capture("Your PIN.", { maxDigits = 4 }) } end`, ""},
		{"other position", `ivr.sensitive { "card" } function on_call() return { clientActionId = "pin", ivr.say_and_capture("Your PIN.", { maxDigits = 4 }) } end`, "Mark it: ivr.say_and_capture(…, { sensitive = true })"},
		{"menu flag", `ivr.menu { id = "pin", prompt = "Your PIN.", maxDigits = 4, sensitive = true } on_call = "pin"`, ""},
		{"listed menu", `ivr.sensitive { "pin" } ivr.menu { id = "pin", prompt = "Your PIN.", maxDigits = 4 } on_call = "pin"`, ""},
		{"list not literal", `local p = "pin" ivr.sensitive { p } function on_call() return ivr.say_and_capture("Your PIN.", { maxDigits = 4 }) end`, ""},
		{"prompt built at run time", `function on_call(s) return ivr.say_and_capture(s.app .. "?", { maxDigits = 2 }) end`, ""},
		{"3-digit CVV", `function on_call() return ivr.say_and_capture("Enter your 3 digit CVV.", { maxDigits = 3 }) end`, `its prompt says "CVV"`},
		{"security code", `function on_call() return ivr.say_and_capture("The security code on the back of your card.", { maxDigits = 3 }) end`, `its prompt says "security code"`},
		{"secret code, long", `function on_call() return ivr.say_and_capture("Key in your secret code followed by hash.", { maxDigits = 25 }) end`, `its prompt says "secret"`},
		{"password, long", `function on_call() return ivr.say_and_capture("Your phone password, then hash.", { maxDigits = 20 }) end`, `its prompt says "password"`},
		{"3-digit extension", `function on_call() return ivr.say_and_capture("The extension you want.", { maxDigits = 3 }) end`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := lint.Apps(fstest.MapFS{"app.lua": {Data: []byte(head + tt.src + "\n")}}, []string{"app.lua"}, env)
			var warned []string
			for _, f := range got {
				if strings.Contains(f.Message, "not marked sensitive") {
					warned = append(warned, f.String())
				}
			}
			switch {
			case tt.want == "" && len(warned) > 0:
				t.Errorf("warned: %v", warned)
			case tt.want != "" && (len(warned) != 1 || !strings.Contains(warned[0], tt.want) || !strings.HasPrefix(warned[0], "app.lua:2: warning: ")):
				t.Errorf("got %v, want one warning at app.lua:2 holding %q (all: %v)", warned, tt.want, fmt.Sprint(got))
			}
		})
	}
}

// check warns at an ivr.sensitive entry that names no position of the app
// (with the one it likely meant), and at kv.set of the keys a handler got
// at a sensitive capture, at their lines; not at a list that matches, nor
// at kv.set of other keys or of what the keys told.
func TestSensitiveMistakesWarned(t *testing.T) {
	t.Parallel()
	const head = "ivr.defaults { voiceProfile = \"en-US-BenjaminRUS\", maxDigits = 1 }\n"
	const pin = `local function ask() return { clientActionId = "pin", ivr.say_and_capture("Your PIN.", { maxDigits = 4, sensitive = true }) } end
function on_call() return ask() end
`
	tests := []struct {
		name, src string
		line      int    // of the warning; 0 for none
		want      string // words of it
	}{
		{"misspelt position", `ivr.sensitive { "crad" }
function on_call() return { clientActionId = "card", ivr.say_and_capture("Card number.", { maxDigits = 16 }) } end`, 2, `ivr.sensitive lists "crad", but no menu, ivr.on or clientActionId of the app is "crad"`},
		{"misspelt menu", `ivr.sensitive { "pascode" }
on_call = ivr.menu { id = "passcode", prompt = "Passcode.", maxDigits = 6 }`, 2, `did you mean "passcode"?`},
		{"listed position", `ivr.sensitive { "card" }
function on_call() return { clientActionId = "card", ivr.say_and_capture("Card number.", { maxDigits = 16 }) } end`, 0, ""},
		{"listed ivr.on", `ivr.sensitive { "card" }
ivr.on("card", function(s, d) return ivr.hangup() end)
function on_call() return { clientActionId = "card", ivr.say_and_capture("Card number.", { maxDigits = 16 }) } end`, 0, ""},
		{"assigned clientActionId", `ivr.sensitive { "card" }
function on_call() local r = { ivr.say_and_capture("Card number.", { maxDigits = 16 }) } r.clientActionId = "card" return r end`, 0, ""},
		{"clientActionId not literal", `ivr.sensitive { "crad" }
local id = "card"
function on_call() return { clientActionId = id, ivr.say_and_capture("Card number.", { maxDigits = 16 }) } end`, 0, ""},
		{"kv.set at the guarded position", pin + `function on_dtmf(session, digits)
  if session.action_id == "pin" then kv.set("last_pin", digits) end
  return ivr.hangup()
end`, 5, `kv.set stores the keys of a sensitive capture (at "pin")`},
		{"kv.set of a part", pin + `function on_dtmf(session, digits)
  if session.action_id == "pin" then kv.set("pins", { session.caller, "x" .. digits:sub(1, 2) }) end
  return ivr.hangup()
end`, 5, `(at "pin")`},
		{"kv.set in on_dtmf, unguarded", pin + `function on_dtmf(session, digits)
  kv.set("last", digits)
  return ivr.hangup()
end`, 5, `(on_dtmf gets those of line 2)`},
		{"kv.set in on_dtmf, listed capture", `ivr.sensitive { "pin" }
function on_call() return { clientActionId = "pin", ivr.say_and_capture("Your PIN.", { maxDigits = 4 }) } end
function on_dtmf(s, d) kv.set("p", d) return ivr.hangup() end`, 4, `(on_dtmf gets those of line 3)`},
		{"kv.set in a sensitive menu", `on_call = ivr.menu { id = "passcode", prompt = "Passcode.", maxDigits = 6, sensitive = true,
  other = function(session, digits) kv.set("p", digits) return ivr.hangup() end }`, 3, `(at "passcode")`},
		{"kv.set at a listed ivr.on", `ivr.sensitive { "card" }
ivr.on("card", function(s, d) kv.set("c", d) return ivr.hangup() end)
function on_call() return { clientActionId = "card", ivr.say_and_capture("Card number.", { maxDigits = 16 }) } end`, 3, `(at "card")`},
		{"kv.set at the guarded position, and", pin + `function on_dtmf(session, digits)
  if #digits == 4 and session.action_id == "pin" then kv.set("last_pin", digits) end
  return ivr.hangup()
end`, 5, `(at "pin")`},
		{"kv.set at another position", pin + `function on_dtmf(session, digits)
  if session.action_id == "pin" then return ivr.hangup() elseif session.action_id == "main" then kv.set("choice", digits) end
  return ivr.hangup()
end`, 0, ""},
		{"kv.set of what the PIN told", pin + `function on_dtmf(session, digits)
  kv.set("ok", digits == "1234")
  return ivr.hangup()
end`, 0, ""},
		{"kv.set, nothing sensitive", `function on_call() return ivr.say_and_capture("Press a key.", { maxDigits = 1 }) end
function on_dtmf(session, digits) kv.set("last", digits) return ivr.hangup() end`, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := lint.Apps(fstest.MapFS{"app.lua": {Data: []byte(head + tt.src + "\n")}}, []string{"app.lua"}, env)
			var warned []lint.Finding
			for _, f := range got {
				if strings.Contains(f.Message, "ivr.sensitive lists") || strings.Contains(f.Message, "kv.set stores") {
					warned = append(warned, f)
				}
			}
			switch {
			case tt.line == 0 && len(warned) > 0:
				t.Errorf("warned: %v", warned)
			case tt.line != 0 && (len(warned) != 1 || warned[0].Line != tt.line || warned[0].Severity != lint.Warning || !strings.Contains(warned[0].Message, tt.want)):
				t.Errorf("got %v, want one warning at line %d holding %q (all: %v)", warned, tt.line, tt.want, got)
			}
		})
	}
}
