package callflow

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestMarshalReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reply Reply
		want  string
	}{
		{
			name:  "clientActionId left out when empty, hangup without params",
			reply: Reply{Callflow: []Action{{Name: Hangup}}},
			want:  `{"callflow":[{"action":"hangup"}]}`,
		},
		{
			name:  "empty params left out",
			reply: Reply{ClientActionID: "x", Callflow: []Action{{Name: Hangup, Params: map[string]any{}}}},
			want:  `{"clientActionId":"x","callflow":[{"action":"hangup"}]}`,
		},
		{
			name:  "no actions",
			reply: Reply{},
			want:  `{"callflow":[]}`,
		},
		{
			// 8x8's own sample writes speed as 1.0 and puts the messages first.
			name: "params in 8x8's order, whole floats without a fraction",
			reply: Reply{ClientActionID: "ivr1_level2", Callflow: []Action{{Name: SayAndCapture, Params: map[string]any{
				"promptMessage": "Enter 1 if you would like to talk", "successMessage": "Thank you, have a nice day!",
				"failureMessage": "Invalid input received.", "voiceProfile": "en-US-BenjaminRUS", "speed": 1.0,
				"completeOnHash": true, "minDigits": 2.0, "maxDigits": 2.0, "digitTimeout": 10000.0,
				"overallTimeout": 10000.0, "noOfTries": 3.0, "repetition": 1.0,
			}}}},
			want: `{"clientActionId":"ivr1_level2","callflow":[{"action":"sayAndCapture","params":{` +
				`"promptMessage":"Enter 1 if you would like to talk","voiceProfile":"en-US-BenjaminRUS","repetition":1,"speed":1,` +
				`"minDigits":2,"maxDigits":2,"digitTimeout":10000,"overallTimeout":10000,"completeOnHash":true,"noOfTries":3,` +
				`"successMessage":"Thank you, have a nice day!","failureMessage":"Invalid input received."}}]}`,
		},
		{
			name: "makeCall, say and playFile orders",
			reply: Reply{Callflow: []Action{
				{Name: MakeCall, Params: map[string]any{"callRecording": false, "destination": "+6590000000", "source": "+6588000000"}},
				{Name: Say, Params: map[string]any{"speed": 0.5, "repetition": 2, "voiceProfile": "en-GB-Emma", "text": "Hi"}},
				{Name: PlayFile, Params: map[string]any{"repetition": int64(3), "fileUrl": "https://example.com/a.mp3"}},
			}},
			want: `{"callflow":[` +
				`{"action":"makeCall","params":{"source":"+6588000000","destination":"+6590000000","callRecording":false}},` +
				`{"action":"say","params":{"text":"Hi","voiceProfile":"en-GB-Emma","repetition":2,"speed":0.5}},` +
				`{"action":"playFile","params":{"fileUrl":"https://example.com/a.mp3","repetition":3}}]}`,
		},
		{
			name: "unknown params after the known ones, sorted; null kept",
			reply: Reply{Callflow: []Action{{Name: Say, Params: map[string]any{
				"zeta": nil, "alpha": "a", "text": "Hi", "voiceProfile": "en-GB-Emma",
			}}}},
			want: `{"callflow":[{"action":"say","params":{"text":"Hi","voiceProfile":"en-GB-Emma","alpha":"a","zeta":null}}]}`,
		},
		{
			name:  "unknown action: all params sorted",
			reply: Reply{Callflow: []Action{{Name: "record", Params: map[string]any{"b": 1.5, "a": true}}}},
			want:  `{"callflow":[{"action":"record","params":{"a":true,"b":1.5}}]}`,
		},
		{
			name: "nested values, maps sorted",
			reply: Reply{Callflow: []Action{{Name: "x", Params: map[string]any{
				"list":  []any{1.0, "two", nil, map[string]any{"z": 1e21, "y": []any{}}},
				"obj":   map[string]any{"b": map[string]any{}, "a": false},
				"typed": []string{"a<b"},
			}}}},
			want: `{"callflow":[{"action":"x","params":{"list":[1,"two",null,{"y":[],"z":1e+21}],` +
				`"obj":{"a":false,"b":{}},"typed":["a<b"]}}]}`,
		},
		{
			name:  "strings escaped, HTML left alone",
			reply: Reply{ClientActionID: "a\"b\\c\n<&>", Callflow: []Action{{Name: Say, Params: map[string]any{"text": "Ünïcödé\t\u2028\x01\xff"}}}},
			want:  `{"clientActionId":"a\"b\\c\n<&>","callflow":[{"action":"say","params":{"text":"Ünïcödé\t\u2028\u0001\ufffd"}}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.reply.MarshalJSON()
			if err != nil {
				t.Fatalf("MarshalJSON: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("MarshalJSON\n got %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("MarshalJSON wrote invalid JSON: %s", got)
			}
			prefix := []byte("prefix")
			appended, err := tt.reply.AppendJSON(prefix)
			if err != nil || string(appended) != "prefix"+tt.want {
				t.Errorf("AppendJSON = %s, %v; want the same bytes after the prefix", appended, err)
			}
		})
	}
}

func TestMarshalAction(t *testing.T) {
	t.Parallel()
	got, err := json.Marshal(Action{Name: PlayFile, Params: map[string]any{"repetition": 1.0, "fileUrl": "https://x.test/a.wav"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"action":"playFile","params":{"fileUrl":"https://x.test/a.wav","repetition":1}}`; string(got) != want {
		t.Errorf("json.Marshal(Action)\n got %s\nwant %s", got, want)
	}
}

func TestMarshalErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value any
		want  string
	}{
		{"NaN", math.NaN(), "callflow[1]: speed: unsupported number NaN"},
		{"infinity", math.Inf(1), "callflow[1]: speed: unsupported number +Inf"},
		{"nested NaN", []any{math.NaN()}, "callflow[1]: speed: unsupported number NaN"},
		{"channel", make(chan int), "callflow[1]: speed: json: unsupported type: chan int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := Reply{Callflow: []Action{{Name: Hangup}, {Name: Say, Params: map[string]any{"speed": tt.value}}}}
			_, err := r.MarshalJSON()
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("MarshalJSON error = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

// The encoder promises encoding/json's numbers and string escapes (HTML aside).
func TestEncodingMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1.25, 2, 10000, 1e6, 123456789, 1e20, 1e21, 1.5e300,
		1e-6, 1e-7, 0.000001234, 5e-324, math.MaxFloat64, -1e-9, 0.1 + 0.2, 3000.000001,
		-5, 999999999999999, -999999999999999, 1e15, 123456789012345678, math.MaxInt64, -math.MaxInt64}
	for _, f := range floats {
		got, err := appendFloat(nil, f)
		want, _ := json.Marshal(f)
		if err != nil || string(got) != string(want) {
			t.Errorf("appendFloat(%v) = %s, %v; encoding/json writes %s", f, got, err, want)
		}
	}
	strs := []string{"", "plain", `"quoted" \back\slash/`, "\x00\x01\x1f\x7f", "\b\f\n\r\t", "<a href='x'>&amp;</a>",
		"日本語 ünïcode 🎉", "\u2028\u2029", "bad \xff\xfe utf8 \xe2\x82", "\xed\xa0\x80 surrogate"}
	for _, s := range strs {
		if got, want := appendString(nil, s), encodeNoHTML(t, s); string(got) != want {
			t.Errorf("appendString(%q) = %s; encoding/json writes %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00\u2028\xff", "<>&", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := appendString(nil, s), encodeNoHTML(t, s); string(got) != want {
			t.Errorf("appendString(%q) = %s; encoding/json writes %s", s, got, want)
		}
	})
}

func encodeNoHTML(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Reply
		wantErr string
	}{
		{
			name: "reply with params and without",
			in: `{"clientActionId":"main_menu","callflow":[{"action":"say","params":{"text":"Hi","speed":1,` +
				`"extra":[1,{"a":null}]}},{"action":"hangup"}]}`,
			want: Reply{ClientActionID: "main_menu", Callflow: []Action{
				{Name: Say, Params: map[string]any{"text": "Hi", "speed": 1.0, "extra": []any{1.0, map[string]any{"a": nil}}}},
				{Name: Hangup},
			}},
		},
		{
			name: "null params and unknown fields",
			in:   `{"callflow":[{"action":"hangup","params":null,"x":1}],"validUntil":"2024-07-03T05:59:32.226Z"}`,
			want: Reply{Callflow: []Action{{Name: Hangup}}},
		},
		{
			name: "missing action name",
			in:   `{"callflow":[{"params":{}}]}`,
			want: Reply{Callflow: []Action{{Params: map[string]any{}}}},
		},
		{name: "not JSON", in: `{"callflow":[`, wantErr: "-1001 Invalid JSON request body: unexpected end of JSON input"},
		{name: "action not a string", in: `{"callflow":[{"action":1}]}`, wantErr: "-1001 Invalid JSON request body: json: cannot unmarshal"},
		{name: "params not an object", in: `{"callflow":[{"action":"say","params":[]}]}`, wantErr: "-1001 Invalid JSON request body: json: cannot unmarshal"},
		{name: "trailing data", in: `{"callflow":[]} {}`, wantErr: "-1001 Invalid JSON request body: invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("Parse error = %v, want prefix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// Whatever Parse accepts, MarshalJSON writes back to the same reply, in as
// many bytes as the validator counts.
func FuzzRoundTrip(f *testing.F) {
	f.Add(`{"clientActionId":"a","callflow":[{"action":"say","params":{"text":"Hi","speed":1.5e-7,"n":[null,true,{}]}},{"action":"hangup"}]}`)
	f.Add(`{}`)
	f.Add(`{"callflow":[{"action":"makeCall","params":{"source":"\u2028\ud800","destination":1e300}}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		r, err := Parse([]byte(in))
		if err != nil {
			return
		}
		out, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of a parsed reply: %v", err)
		}
		for _, a := range r.Callflow {
			if b, _ := a.MarshalJSON(); a.actionSize(1<<30) != len(b) || sizeBound(a) < len(b) {
				t.Fatalf("actionSize = %d, sizeBound = %d, the encoder writes %d bytes: %s", a.actionSize(1<<30), sizeBound(a), len(b), b)
			}
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse of %s: %v", out, err)
		}
		if !reflect.DeepEqual(normalize(r), normalize(again)) {
			t.Errorf("round trip changed the reply:\n in %#v\nout %#v", r, again)
		}
	})
}

// normalize forgets the differences the encoder does not keep: no params and empty
// params, no callflow and an empty one.
func normalize(r Reply) Reply {
	if len(r.Callflow) == 0 {
		r.Callflow = nil
	}
	for i, a := range r.Callflow {
		if len(a.Params) == 0 {
			r.Callflow[i].Params = nil
		}
	}
	return r
}
