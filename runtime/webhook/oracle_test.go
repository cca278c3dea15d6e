package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// encodingJSONParse is Parse as it was before the one-pass decoder: encoding/json
// decoding the envelope, then the payload again into a map. It is the oracle
// the decoder is compared with.
func encodingJSONParse(body []byte) (*Event, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, bad("empty body: expected an 8x8 webhook JSON object with eventType and payload")
	}
	if body[0] != '{' {
		return nil, bad("body is not a JSON object: expected an 8x8 webhook with eventType and payload")
	}
	if !utf8.Valid(body) { // else the decoder would quietly merge ids that differ in bad bytes
		return nil, bad("body is not valid UTF-8, as JSON must be")
	}
	if d := nestingDepth(body); d > MaxDepth {
		return nil, bad("JSON nested %d levels deep; 8x8 webhooks nest at most a few levels (limit %d)", d, MaxDepth)
	}
	var env struct {
		EventType *json.RawMessage `json:"eventType"`
		Payload   json.RawMessage  `json:"payload"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		return nil, bad("body is not valid JSON: %s", jsonErr(err))
	}
	if dec.More() {
		return nil, bad("body has data after the JSON object")
	}
	e := &Event{}
	if env.EventType == nil {
		return nil, bad("eventType is missing: expected CALL_ACTION, CALL_STATUS, SESSION_SUMMARY or CALL_RECORDING_STATUS")
	}
	if err := json.Unmarshal(*env.EventType, &e.Type); err != nil || e.Type == "" {
		return nil, bad("eventType must be a non-empty string, got %s", clip(string(*env.EventType)))
	}
	if len(env.Payload) == 0 || string(env.Payload) == "null" {
		return nil, bad("payload is missing: an 8x8 webhook carries its data in a payload object")
	}
	pd := json.NewDecoder(bytes.NewReader(env.Payload))
	pd.UseNumber()
	var p map[string]any
	if err := pd.Decode(&p); err != nil || p == nil {
		return nil, bad("payload must be a JSON object, got %s", clip(string(env.Payload)))
	}
	e.payload.text = string(env.Payload)
	e.payload.once.Do(func() { e.payload.m = p })

	var err error
	str := func(key string) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = optString(key, p[key])
		return s
	}
	e.SessionID = str("sessionId")
	e.EventID = str("eventId")
	e.CallID = str("callId")
	e.Direction = str("callDirection")
	e.Source = str("source")
	e.Destination = str("destination")
	e.ActionID = str("clientActionId")
	switch e.Type {
	case SessionSummary:
		e.CallStatus = str("sessionStatus")
	case CallRecordingStatus:
		e.CallStatus = str("status")
		e.RecordingID = str("recordingId")
	default:
		e.CallStatus = str("callStatus")
	}
	if err != nil {
		return nil, err
	}
	if e.SessionID == "" {
		return nil, bad("payload.sessionId is missing: every 8x8 webhook names its session")
	}
	for _, id := range []struct {
		name, value string
		max         int
	}{
		{"sessionId", e.SessionID, maxID}, {"eventId", e.EventID, maxID}, {"callId", e.CallID, maxID},
		{"recordingId", e.RecordingID, maxID}, {"clientActionId", e.ActionID, maxActionID},
	} {
		if len(id.value) > id.max {
			return nil, bad("payload.%s is %d bytes long; the limit is %d (8x8's ids are UUIDs)", id.name, len(id.value), id.max)
		}
		if !utf8.ValidString(id.value) || strings.ContainsRune(id.value, 0) {
			return nil, bad("payload.%s is not valid UTF-8 text", id.name)
		}
	}
	if e.Type == SessionSummary {
		normalizeLegs(p)
	}
	e.Digits, e.HasDigits, e.Unreadable = digits(p["dtmf"], p["eventData"])
	if ed, ok := p["eventData"].(map[string]any); ok {
		e.Said, _ = ed["asrCaptured"].(string)
	}
	return e, nil
}

func jsonErr(err error) string {
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	return err.Error()
}

// nestingDepth is the deepest nesting of objects and arrays, found without
// decoding, so a hostile body cannot make the decoder recurse deeply.
func nestingDepth(b []byte) int {
	depth, max := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				max = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return max
}

// sameAsEncodingJSON fails t when Parse and encodingJSONParse disagree on
// body: both accept it and make the same Event, or both refuse it.
func sameAsEncodingJSON(t *testing.T, body []byte) {
	t.Helper()
	want, wantErr := encodingJSONParse(body)
	got, err := Parse(body)
	var badReq *BadRequest
	switch {
	case err != nil && !errors.As(err, &badReq):
		t.Errorf("Parse(%q): error %v is not a *BadRequest", body, err)
	case wantErr == nil && err == nil:
		got.Payload() // built when asked for; the oracle built it at once
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q) =\n%+v\nencoding/json made\n%+v", body, got, want)
		}
	case wantErr != nil && err == nil:
		t.Errorf("Parse(%q) accepted what encoding/json refused (%v)", body, wantErr)
	case wantErr == nil && err != nil:
		// The one difference on purpose: encoding/json's Decoder.More let a
		// ']' or '}' after the object pass; Parse refuses any data after it.
		rest := bytes.TrimSpace(body)
		if !strings.Contains(err.Error(), "data after") || !closedTwice(rest) {
			t.Errorf("Parse(%q) refused what encoding/json accepted: %v", body, err)
		}
	}
}

// closedTwice reports whether body is a JSON value followed by ']' or '}'.
func closedTwice(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v any
	if dec.Decode(&v) != nil {
		return false
	}
	rest := bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")
	return len(rest) > 0 && (rest[0] == ']' || rest[0] == '}')
}

// equivalent holds bodies where a hand-written decoder could go wrong.
var equivalent = []string{
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","eventData":{"dtmf":"1"}}}`,
	` {"eventType":"CALL_ACTION","payload":{"sessionId":"s"}} ` + "\n",
	`{"EVENTTYPE":"CALL_STATUS","Payload":{"sessionId":"s"}}`,
	`{"eventType":"A","eventType":"CALL_ACTION","payload":{"sessionId":"a"},"payload":{"sessionId":"b"}}`,
	`{"eventType":"CALL_ACTION","eventType":null,"payload":{"sessionId":"s"}}`,
	`{"eventType":"","payload":{"sessionId":"s"}}`,
	`{"eventType":["x"],"payload":{"sessionId":"s"}}`,
	`{"eventType":"CALL_ACTION","payload":[]}`,
	`{"eventType":"CALL_ACTION","payload":true}`,
	`{"eventType":"CALL_ACTION","payload":{}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","sessionId":"t"}}`,
	`{"eventType":"CALL\u005fACTION","payload":{"sessionId":"\u0073\"\\\/\b\f\n\r\t","clientActionId":"caf\u00e9 \ud83d\ude00"}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"lone \ud83d high","eventId":"lone \ude00 low","callId":"\ud83d\u0041"}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"héllo ☎ 😀","dtmf":12,"n":[-0,0.5,1e5,1.5E+3,-2e-3,[],{},null,true,false]}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","eventData":"  7 "}}`,
	`{"eventType":"SESSION_SUMMARY","payload":{"sessionId":"s","sessionStatus":"COMPLETED","details":{"CallA":{"x":1},"callB":2,"CallB":3}}}`,
	`{"eventType":"CALL_RECORDING_STATUS","payload":{"sessionId":"s","status":"UPLOAD_COMPLETED","recordingId":"r"}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s\u0000"}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s"}}]`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s"}}x`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s"}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s",}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":01}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","n":1.}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","n":-}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","n":1e}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","n":tru}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s\x"}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s\u12"}}`,
	"{\"eventType\":\"CALL_ACTION\",\"payload\":{\"sessionId\":\"a\tb\"}}",
	"{\"eventType\":\"CALL_ACTION\",\"payload\":{\"sessionId\":\"s\xff\"}}",
	"{\"eventType\":\"CALL_ACTION\",\"payload\":{\"sessionId\":\"s\"}}\xff",
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","x":` + strings.Repeat("[", 29) + strings.Repeat("]", 29) + `}}`,
}

// Parse makes the Event that encoding/json made, for every fixture and the
// corner cases of JSON a hand-written decoder can get wrong.
func TestSameAsEncodingJSON(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir("testdata/8x8")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join("testdata/8x8", e.Name())); err == nil && strings.HasSuffix(e.Name(), ".json") {
			sameAsEncodingJSON(t, b)
		}
	}
	for _, body := range equivalent {
		sameAsEncodingJSON(t, []byte(body))
	}
}

// FuzzSameAsEncodingJSON compares Parse with encoding/json on random input.
func FuzzSameAsEncodingJSON(f *testing.F) {
	entries, _ := os.ReadDir("testdata/8x8")
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join("testdata/8x8", e.Name())); err == nil && strings.HasSuffix(e.Name(), ".json") {
			f.Add(b)
		}
	}
	for _, body := range equivalent {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { sameAsEncodingJSON(t, body) })
}

// BenchmarkParseEncodingJSON is BenchmarkParse with the old decoding, for
// the ratio in one run.
func BenchmarkParseEncodingJSON(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata/8x8", "vca_action_completed_eventData_map__docs_vca_guide.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := encodingJSONParse(body); err != nil {
			b.Fatal(err)
		}
	}
}
