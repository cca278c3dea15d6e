package callflow

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/webhook"
)

// actionSize is what the encoder writes, byte for byte, whatever the params
// hold, and sizeBound is never below it.
func TestActionSizeIsEncodedSize(t *testing.T) {
	t.Parallel()
	actions := []Action{
		say(), capture(), playFile(), makeCall(), hangup(), {Name: "record"},
		with(say(), "text", "\"quoted\" \\ \x00\x1f\x7f \b\f\n\r\t <&> 日本 🎉 \u2028\u2029 \xff\xe2\x82"),
		with(say(), "speed", 1.5e-7, "repetition", 3, "n", int64(-42), "null", nil, "t", true, "f", false),
		with(say(), "junk", []any{}, "list", []any{1.0, "two", []any{nil}}, "obj", map[string]any{}, "deep", map[string]any{"a\n": map[string]any{"b": []any{"c"}}}),
	}
	for _, a := range actions {
		b, err := a.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if got := a.actionSize(1 << 30); got != len(b) {
			t.Errorf("actionSize = %d, the encoder writes %d bytes: %s", got, len(b), b)
		}
		if bound := sizeBound(a); bound < len(b) {
			t.Errorf("sizeBound = %d, below the %d bytes the encoder writes: %s", bound, len(b), b)
		}
	}
}

// sizeBound is the bound as Validate takes it.
func sizeBound(a Action) int {
	var k known
	if spec := actions[a.Name]; spec != nil {
		k = spec.known(a.Params)
	}
	return a.sizeBound(&k)
}

// A callflow over MaxCallflowBytes of JSON is refused at the action that
// takes it over, however the bytes got there: one huge unknown param, or
// many actions each within 8x8's limits.
func TestCallflowSize(t *testing.T) {
	t.Parallel()
	pad := func(a Action, total int) Action { // a, with an unknown param making its JSON total bytes
		a = with(a, "junk", "")
		return with(a, "junk", strings.Repeat("x", total-a.actionSize(1<<30)))
	}
	fits := pad(say(), MaxCallflowBytes-len(`[]`))
	tests := []struct {
		name string
		cf   []Action
		over int // index of the action reported, -1 for none
	}{
		{"exactly at the bound", cf(fits), -1},
		{"one byte over", cf(pad(say(), MaxCallflowBytes-len(`[]`)+1)), 0},
		{"over at the third action", cf(say(), pad(say(), MaxCallflowBytes/2), pad(say(), MaxCallflowBytes/2), hangup()), 2},
		{"five texts at 8x8's limit fit", manySays(5), -1},
		{"the sixth does not", manySays(30), 5},
		{"a huge value in a nested param", cf(with(capture(), "extra", map[string]any{"a": []any{strings.Repeat("é", 40000)}})), 0},
		{"an unknown action counts too", cf(Action{Name: "record", Params: map[string]any{"x": strings.Repeat("x", 70000)}}), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []Problem
			for _, p := range Validate(tt.cf, AsReply) {
				if strings.Contains(p.Message, "bytes of JSON") {
					got = append(got, p)
				}
			}
			switch {
			case tt.over < 0 && len(got) > 0:
				t.Fatalf("refused: %v", got)
			case tt.over >= 0 && (len(got) != 1 || got[0].Path != actionPath(tt.over) || got[0].Code != codeInvalidEntry):
				t.Fatalf("problems %v, want one -1009 at %s", got, actionPath(tt.over))
			}
		})
	}
	if b, _ := (Reply{Callflow: cf(fits)}).MarshalJSON(); len(b) != MaxCallflowBytes+len(`{"callflow":}`) {
		t.Fatalf("the callflow at the bound encodes to %d bytes", len(b))
	}
}

// manySays is n says of 3000 four-byte characters: each valid, 12 KB of JSON.
func manySays(n int) []Action {
	var out []Action
	for range n {
		out = append(out, with(say(), "text", strings.Repeat("🎉", 3000)))
	}
	return out
}

// What a reply may carry as its clientActionId is what the webhook parser
// accepts when 8x8 echoes it, and no control characters.
func TestCheckClientActionID(t *testing.T) {
	t.Parallel()
	tests := []struct{ id, want string }{
		{"main_menu", ""},
		{"", ""},
		{"réservations 日本 🎉", ""},
		{strings.Repeat("m", MaxClientActionIDBytes), ""},
		{strings.Repeat("m", MaxClientActionIDBytes+1), "is 1001 bytes, over the limit of 1000"},
		{strings.Repeat("é", 501), "is 1002 bytes, over the limit of 1000"},
		{"menu\x00", `holds the control character U+0000 at byte 4`},
		{"two\nlines", `holds the control character U+000A`},
		{"del\x7f", `U+007F`},
		{"c1\u0085", `U+0085`},
		{"bad \xff", "is not valid UTF-8 text"},
	}
	for _, tt := range tests {
		err := CheckClientActionID(tt.id)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "main_menu")) {
			t.Errorf("CheckClientActionID(%.20q) = %v, want %q", tt.id, err, tt.want)
		}
		if err != nil {
			continue
		}
		// 8x8 echoes what we accept, and the webhook parser takes it back.
		payload, _ := json.Marshal(map[string]any{"eventType": "CALL_ACTION", "payload": map[string]any{"sessionId": "s", "clientActionId": tt.id}})
		if _, err := webhook.Parse(payload); err != nil {
			t.Errorf("clientActionId %.20q is accepted in a reply, but its echo is refused: %v", tt.id, err)
		}
	}
	for _, id := range []string{strings.Repeat("m", MaxClientActionIDBytes+1), "menu\x00"} {
		payload, _ := json.Marshal(map[string]any{"eventType": "CALL_ACTION", "payload": map[string]any{"sessionId": "s", "clientActionId": id}})
		if _, err := webhook.Parse(payload); err == nil {
			t.Errorf("the webhook parser takes clientActionId %.20q back: the limit here is stricter than it need be", id)
		}
	}
}
