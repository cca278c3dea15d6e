package ivr_test

import (
	"strings"
	"testing"

	"github.com/luaivr/luaivr/stdlib/ivr"
	"github.com/luaivr/luaivr/stdlib/luatest"
)

// A capture is marked sensitive three ways: sensitive = true on the builder
// (or a hand-written action's params), a menu's flag, and ivr.sensitive's
// list of positions. The mark is the reply's, never a param: the JSON 8x8
// gets has no "sensitive" in it.
func TestSensitiveCaptures(t *testing.T) {
	t.Parallel()
	const app = `
		ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1 }
		ivr.sensitive { "card" }
		ivr.menu { id = "pin_menu", prompt = "Your PIN, please.", maxDigits = 4, sensitive = true, ["1234"] = ivr.hangup() }
		ivr.menu { id = "plain", prompt = "Press 1.", ["1"] = ivr.hangup() }
		ivr.menu { id = "card", prompt = "Your card number.", maxDigits = 16 }
	`
	tests := []struct {
		name, src string
		sensitive bool
	}{
		{"builder flag", `return { clientActionId = "pin", ivr.say_and_capture("Your PIN.", { maxDigits = 4, sensitive = true }) }`, true},
		{"builder table form", `return ivr.say_and_capture { promptMessage = "Your PIN.", maxDigits = 4, sensitive = true }`, true},
		{"builder flag false", `return ivr.say_and_capture("Your PIN.", { maxDigits = 4, sensitive = false })`, false},
		{"hand-written params", `return { action = "sayAndCapture", params = { promptMessage = "PIN?", voiceProfile = "en-GB-Emma", maxDigits = 4, sensitive = true } }`, true},
		{"menu flag", `return "pin_menu"`, true},
		{"listed menu", `return "card"`, true},
		{"listed position of a handler's reply", `return { clientActionId = "card", ivr.say("Next:"), ivr.say_and_capture("Card number?", { maxDigits = 16 }) }`, true},
		{"unmarked menu", `return "plain"`, false},
		{"unmarked capture", `return ivr.say_and_capture("Press 1.")`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := ivr.New()
			L := luatest.State(t, libs(m)...)
			if err := L.DoString(app); err != nil {
				t.Fatal(err)
			}
			fn, err := L.LoadString(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			L.Push(fn)
			L.Call(0, 1)
			r, err := m.Reply(L, L.Get(-1))
			if err != nil {
				t.Fatal(err)
			}
			if r.Sensitive() != tt.sensitive {
				t.Errorf("Sensitive() = %v, want %v", r.Sensitive(), tt.sensitive)
			}
			b, _ := r.MarshalJSON()
			if strings.Contains(string(b), "sensitive") {
				t.Errorf("the reply 8x8 gets names luaivr's sensitive: %s", b)
			}
		})
	}
	m := ivr.New()
	L := luatest.State(t, libs(m)...)
	if err := L.DoString(app); err != nil {
		t.Fatal(err)
	}
	for pos, want := range map[string]bool{"pin_menu": true, "card": true, "plain": false, "pin": false, "": false} {
		if got := m.Sensitive(pos); got != want {
			t.Errorf("Sensitive(%q) = %v, want %v", pos, got, want)
		}
	}
}

// A mark that is not true or false, on a capture or a menu, and a list that
// is not of positions, are refused where they are written.
func TestSensitiveMistakes(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"builder":      `fails(function() ivr.say_and_capture("PIN?", { voiceProfile = "en-GB-Emma", maxDigits = 4, sensitive = "yes" }) end, "params.sensitive is true")`,
		"say":          `fails(function() ivr.say("Hi", { voiceProfile = "en-GB-Emma", sensitive = true }) end, "sensitive marks the digits of a sayAndCapture")`,
		"menu":         `fails(function() ivr.menu { id = "m", prompt = "x", sensitive = 1 } end, "sensitive is true")`,
		"list entry":   `fails(function() ivr.sensitive { "pin", 4 } end, "entry 2: a position is a string")`,
		"not a list":   `fails(function() ivr.sensitive("pin") end, "a list of positions expected")`,
		"named fields": `fails(function() ivr.sensitive { pin = true } end, "this table has named fields")`,
		"a default":    `fails(function() ivr.defaults { sensitive = true } end, "sensitive is not a default")`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			luatest.Run(t, src, libs(ivr.New())...)
		})
	}
}
