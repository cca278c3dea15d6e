package spelling

import "testing"

// The name suggested for a misspelt one: close in edits, never a far one.
func TestClosest(t *testing.T) {
	t.Parallel()
	capture := []string{"promptMessage", "voiceProfile", "repetition", "speed", "minDigits", "maxDigits", "digitTimeout", "overallTimeout", "completeOnHash", "noOfTries", "successMessage", "failureMessage"}
	for name, want := range map[string]string{
		"digitTimout": "digitTimeout", "noOfTry": "noOfTries", "completeOnHsh": "completeOnHash",
		"sped": "speed", "maxDigit": "maxDigits", "maxdigits": "maxDigits", "voice": "voiceProfile",
		"overalTimeout": "overallTimeout", "promtMessage": "promptMessage", "minDigtis": "minDigits",
		"text": "", "timeout": "", "x": "", "tries": "",
	} {
		if got := Closest(name, capture); got != want {
			t.Errorf("Closest(%q) = %q, want %q", name, got, want)
		}
	}
}

// Handler names are suggested the same way.
func TestClosestHandler(t *testing.T) {
	t.Parallel()
	handlers := []string{"on_call", "on_dtmf", "on_timeout", "on_status", "on_end"}
	for name, want := range map[string]string{"on_dmtf": "on_dtmf", "on_calls": "on_call", "on_timout": "on_timeout", "on_ended": "on_end", "onCall": "on_call", "on_enter_menu": "", "on_status_update": ""} {
		if got := Closest(name, handlers); got != want {
			t.Errorf("Closest(%q) = %q, want %q", name, got, want)
		}
	}
}
