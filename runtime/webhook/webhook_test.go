package webhook_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/webhook"
)

const fixtures = "testdata/8x8" // a copy of shared/fixtures/8x8

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatalf("fixture %s: %v (testdata/8x8 is a copy of shared/fixtures/8x8)", name, err)
	}
	return b
}

// Every webhook fixture parses, and the fields the runtime routes on come out right.
func TestFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file       string
		typ        string
		session    string
		status     string
		digits     string
		hasDigits  bool
		actionID   string
		callStart  bool
		replyKeyOK bool
	}{
		{"vca_dtmf_received_payload_dtmf__seed_simple_ivr_2023.json", webhook.CallAction, "d62f91ba-9a40-11ee-945e-5f476b4334a1", "DTMF_RECEIVED", "3", true, "", false, true},
		{"vca_action_completed_eventData_string__thirdparty_2025.json", webhook.CallAction, "example-session-id", "ACTION_COMPLETED", "1", true, "", false, true},
		{"vca_action_completed_eventData_map__docs_vca_guide.json", webhook.CallAction, "a4fad4b3-b388-12ee-b217-2fb8260fcf59", "ACTION_COMPLETED", "1", true, "ivr1_level1", false, true},
		{"vca_action_completed_eventData_map_asr__developer.8x8.com_reference_page_variant.json", webhook.CallAction, "a4fad4b3-b388-12ee-b217-2fb8260fcf59", "ACTION_COMPLETED", "7534", true, "ivr1_level1", false, true},
		{"vca_call_received_inbound__docs_number_masking.json", webhook.CallAction, "a1d6a5e2-efec-11e9-b999-efc71013a78f", "CALL_RECEIVED", "", false, "", true, true},
		{"call_status_call_received__docs_2026.json", webhook.CallStatus, "e1ff6a15-eae8-11f0-baa6-c147150ab00e", "CALL_RECEIVED", "", false, "", false, true},
		{"vss_ivr_busy__docs.json", webhook.SessionSummary, "ece96728-f059-11f0-baa6-c147150ab00e", "BUSY", "", false, "", false, true},
		{"vss_ivr_completed_bridged__docs.json", webhook.SessionSummary, "a089b40d-f059-11f0-8937-99c7872ee3c4", "COMPLETED", "", false, "", false, true},
		{"vss_ivr_inbound_hangup__docs.json", webhook.SessionSummary, "4eec57d5-f05a-11f0-baa6-c147150ab00e", "COMPLETED", "", false, "", false, true},
		{"vss_vm_completed_CallA_capitalised__docs.json", webhook.SessionSummary, "1f048a84-ea6d-11ee-911b-078f7290bf52", "COMPLETED", "", false, "", false, true},
		{"vss_vm_error_-2004__docs.json", webhook.SessionSummary, "47f19e66-2163-11ee-8ccd-27b543a164ea", "ERROR", "", false, "", false, true},
		{"vru_call_recording_status__docs.json", webhook.CallRecordingStatus, "e35e3d0e-065a-11ec-b119-676cb2bc33ef", "UPLOAD_COMPLETED", "", false, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			ev, err := webhook.Parse(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type != tt.typ || ev.SessionID != tt.session || ev.CallStatus != tt.status {
				t.Errorf("type/session/status = %s/%s/%s, want %s/%s/%s", ev.Type, ev.SessionID, ev.CallStatus, tt.typ, tt.session, tt.status)
			}
			if ev.Digits != tt.digits || ev.HasDigits != tt.hasDigits {
				t.Errorf("digits = %q (%v), want %q (%v)", ev.Digits, ev.HasDigits, tt.digits, tt.hasDigits)
			}
			if ev.ActionID != tt.actionID {
				t.Errorf("clientActionId = %q, want %q", ev.ActionID, tt.actionID)
			}
			if ev.IsCallStart() != tt.callStart {
				t.Errorf("IsCallStart = %v", ev.IsCallStart())
			}
			if (ev.ReplyKey() != "") != tt.replyKeyOK {
				t.Errorf("ReplyKey = %q", ev.ReplyKey())
			}
			if len(ev.Payload()) == 0 || len(ev.RawPayload()) == 0 {
				t.Error("payload not kept")
			}
		})
	}
}

// Session summaries name their first leg callA or CallA; scripts see callA.
func TestSummaryLegsNormalized(t *testing.T) {
	t.Parallel()
	ev, err := webhook.Parse(readFixture(t, "vss_vm_completed_CallA_capitalised__docs.json"))
	if err != nil {
		t.Fatal(err)
	}
	details := ev.Payload()["details"].(map[string]any)
	if _, ok := details["callA"]; !ok {
		t.Fatalf("details = %v, want a callA key", details)
	}
	if _, ok := details["CallA"]; ok {
		t.Fatal("CallA still present")
	}
}

func TestDigitShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, payload, digits string
		has                   bool
		unreadable            string
	}{
		{"payload.dtmf", `"dtmf":"12"`, "12", true, ""},
		{"eventData string", `"eventData":"5"`, "5", true, ""},
		{"eventData number", `"eventData":5`, "5", true, ""},
		{"eventData.dtmf", `"eventData":{"dtmf":"*9#"}`, "*9#", true, ""},
		{"eventData.dtmf null", `"eventData":{"dtmf":null}`, "", false, ""},
		{"eventData empty object", `"eventData":{}`, "", false, ""},
		{"dtmf empty", `"dtmf":""`, "", false, ""},
		{"dtmf null", `"dtmf":null`, "", false, ""},
		{"nothing", `"x":1`, "", false, ""},
		{"empty dtmf does not hide eventData", `"dtmf":"","eventData":{"dtmf":"4"}`, "4", true, ""},
		{"speech text", `"eventData":"hello world"`, "", false, `payload.eventData is "hello world", which is not keypad keys`},
		{"array", `"dtmf":[1]`, "", false, "payload.dtmf is an array"},
		{"bool", `"eventData":true`, "", false, "payload.eventData is a boolean"},
		{"letters", `"dtmf":"1; drop"`, "", false, "not keypad keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := webhook.Parse([]byte(`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","callStatus":"ACTION_COMPLETED",` + tt.payload + `}}`))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Digits != tt.digits || ev.HasDigits != tt.has {
				t.Errorf("digits = %q (%v), want %q (%v)", ev.Digits, ev.HasDigits, tt.digits, tt.has)
			}
			if !strings.Contains(ev.Unreadable, tt.unreadable) || (tt.unreadable == "") != (ev.Unreadable == "") {
				t.Errorf("unreadable = %q, want %q", ev.Unreadable, tt.unreadable)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body, want string }{
		{"empty", ``, "empty body"},
		{"not JSON", `hello`, "not a JSON object"},
		{"array", `[1,2]`, "not a JSON object"},
		{"truncated", `{"eventType":"CALL_ACTION","payload":{"sessionId":"s"`, "not valid JSON"},
		{"trailing data", `{"eventType":"CALL_ACTION","payload":{"sessionId":"s"}} {}`, "data after"},
		{"no eventType", `{"payload":{"sessionId":"s"}}`, "eventType is missing"},
		{"eventType number", `{"eventType":3,"payload":{"sessionId":"s"}}`, "eventType must be a non-empty string"},
		{"no payload", `{"eventType":"CALL_ACTION"}`, "payload is missing"},
		{"payload null", `{"eventType":"CALL_ACTION","payload":null}`, "payload is missing"},
		{"payload string", `{"eventType":"CALL_ACTION","payload":"x"}`, "payload must be a JSON object"},
		{"no sessionId", `{"eventType":"CALL_ACTION","payload":{"eventId":"e"}}`, "sessionId is missing"},
		{"sessionId number", `{"eventType":"CALL_ACTION","payload":{"sessionId":12}}`, "payload.sessionId must be a string, got the number 12"},
		{"clientActionId object", `{"eventType":"CALL_ACTION","payload":{"sessionId":"s","clientActionId":{}}}`, "payload.clientActionId must be a string"},
		{"long eventId", `{"eventType":"CALL_ACTION","payload":{"sessionId":"s","eventId":"` + strings.Repeat("e", 201) + `"}}`, "payload.eventId is 201 bytes long"},
		{"long clientActionId", `{"eventType":"CALL_ACTION","payload":{"sessionId":"s","clientActionId":"` + strings.Repeat("m", 1001) + `"}}`, "payload.clientActionId is 1001 bytes"},
		{"NUL in id", `{"eventType":"CALL_ACTION","payload":{"sessionId":"s\u0000x"}}`, "not valid UTF-8 text"},
		{"deep", `{"eventType":"CALL_ACTION","payload":{"sessionId":"s","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`, "nested"},
		{"invalid UTF-8", "{\"eventType\":\"CALL_ACTION\",\"payload\":{\"sessionId\":\"s\xff\"}}", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := webhook.Parse([]byte(tt.body))
			var bad *webhook.BadRequest
			if !errors.As(err, &bad) {
				t.Fatalf("err = %v, want a *BadRequest", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestReplyKey(t *testing.T) {
	t.Parallel()
	keys := map[string]string{}
	for _, body := range []string{
		`{"eventType":"CALL_ACTION","payload":{"sessionId":"s1","eventId":"e"}}`,
		`{"eventType":"CALL_ACTION","payload":{"sessionId":"s2","eventId":"e"}}`,
		`{"eventType":"CALL_STATUS","payload":{"sessionId":"s1","eventId":"e"}}`, // same id, other type
		`{"eventType":"CALL_ACTION","payload":{"sessionId":"a/b","eventId":"c"}}`,
		`{"eventType":"CALL_ACTION","payload":{"sessionId":"a","eventId":"b/c"}}`,
	} {
		ev, err := webhook.Parse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := keys[ev.ReplyKey()]; dup {
			t.Errorf("%s and %s share a reply key", other, body)
		}
		keys[ev.ReplyKey()] = body
	}
	c, _ := webhook.Parse([]byte(`{"eventType":"CALL_STATUS","payload":{"sessionId":"s1"}}`))
	if c.ReplyKey() != "" {
		t.Errorf("an event with nothing to name it by has ReplyKey %q", c.ReplyKey())
	}
}

func FuzzParse(f *testing.F) {
	entries, _ := os.ReadDir(fixtures)
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(fixtures, e.Name())); err == nil && strings.HasSuffix(e.Name(), ".json") {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := webhook.Parse(body)
		if err != nil {
			var bad *webhook.BadRequest
			if !errors.As(err, &bad) {
				t.Fatalf("error is not a *BadRequest: %v", err)
			}
			return
		}
		if ev.SessionID == "" || ev.Type == "" {
			t.Fatal("parsed an event without session or type")
		}
	})
}

func BenchmarkParse(b *testing.B) {
	body, err := os.ReadFile(filepath.Join(fixtures, "vca_action_completed_eventData_map__docs_vca_guide.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := webhook.Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

// Parse runs on every webhook: one pass, and values built only for what it
// lifts into the Event, so a few allocations for 8x8's largest call action
// (encoding/json, decoding twice, made 117; building the whole payload, 36).
func TestParseAllocations(t *testing.T) {
	body := readFixture(t, "vca_action_completed_eventData_map__docs_vca_guide.json")
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := webhook.Parse(body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 20 {
		t.Errorf("Parse made %.0f allocations for %s; at most 20 expected", allocs, "the VCA guide's event")
	}
}
