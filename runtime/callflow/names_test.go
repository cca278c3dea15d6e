package callflow

import (
	"errors"
	"strings"
	"testing"
)

// CheckParams checks names and values where a script writes them, before the
// action is whole: no required params, no rules between them.
func TestCheckParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		action string
		params map[string]any
		want   []string // the problems' messages, in name order
	}{
		{"defaults for every action", AnyAction, map[string]any{"voiceProfile": "en-GB-Emma", "maxDigits": 1.0, "fileUrl": "https://x.example/a.mp3", "callRecording": true}, nil},
		{"speed out of range in defaults", AnyAction, map[string]any{"speed": 3.0},
			[]string{"-1009 Invalid call flow entry provided. params.speed: must have a maximum value of 2"}},
		{"misspelt in defaults", AnyAction, map[string]any{"digitTimout": 5000.0},
			[]string{"params.digitTimout: " + notAllowed + "; did you mean digitTimeout?"}},
		{"a menu's settings, partial", SayAndCapture, map[string]any{"minDigits": 8.0, "completeOnHash": false}, nil},
		{"a menu's settings, misspelt and wrong", SayAndCapture, map[string]any{"noOfTry": 3.0, "maxDigits": 30.0},
			[]string{
				"params.maxDigits: must have a maximum value of 25",
				"params.noOfTry: " + notAllowed + "; did you mean noOfTries?",
			}},
		{"a wrong voice", Say, map[string]any{"voiceProfile": "English"}, []string{"-1002 Speech profile or language parameter invalid"}},
		{"a local destination", MakeCall, map[string]any{"destination": "91234567"}, []string{`-1017 params.destination is "91234567", a local number`}},
		{"null capture setting", SayAndCapture, map[string]any{"successMessage": nil}, nil},
		{"values not known, names checked", SayAndCapture, map[string]any{"speed": Unknown{}, "sped": Unknown{}},
			[]string{"params.sped: " + notAllowed + "; did you mean speed?"}},
		// sensitive is luaivr's: known on sayAndCapture, a boolean, nowhere else.
		{"sensitive on a capture", SayAndCapture, map[string]any{"sensitive": true, "maxDigits": 4.0}, nil},
		{"sensitive not a boolean", SayAndCapture, map[string]any{"sensitive": "yes"}, []string{"params.sensitive: string found, boolean expected"}},
		{"sensitive on say", Say, map[string]any{"sensitive": true},
			[]string{"params.sensitive: " + notAllowed + "; sensitive marks the digits of a sayAndCapture"}},
		{"an action 8x8 does not have", "transfer", map[string]any{"to": "x"}, []string{"-1007 action should be one of"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckParams(tt.action, tt.params)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckParams = %v, want nil", err)
				}
				return
			}
			var inv *Invalid
			if !errors.As(err, &inv) || len(inv.Problems) != len(tt.want) {
				t.Fatalf("CheckParams = %v, want %d problems", err, len(tt.want))
			}
			for i, want := range tt.want {
				if got := inv.Problems[i].Error(); !strings.Contains(got, want) {
					t.Errorf("problem %d\n got %s\nwant it to hold %s", i, got, want)
				}
			}
		})
	}
}

// A destination without a country code is refused, and one with it passes
// however 8x8's documents write it.
func TestCheckDestination(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"+6591234567", "6512345678", "+94778066434", "14155550100", "+2981234"} {
		if err := CheckDestination(ok); err != nil {
			t.Errorf("CheckDestination(%q) = %v, want nil", ok, err)
		}
	}
	for number, want := range map[string]string{
		"91234567":        "a local number without a country code",
		"31580000":        "a local number without a country code",
		"+65 9123 4567":   "without spaces, dashes or brackets (+6591234567)",
		"0091234567":      "a country code never starts with 0",
		"":                "7 to 15 of them",
		"+65912345678901": "",
	} {
		err := CheckDestination(number)
		switch {
		case want == "" && err != nil:
			t.Errorf("CheckDestination(%q) = %v, want nil", number, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "E.164")):
			t.Errorf("CheckDestination(%q) = %v, want it to say %q and E.164", number, err, want)
		}
	}
}
