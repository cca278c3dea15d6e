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
