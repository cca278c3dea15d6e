// Package webhook turns the JSON that 8x8 POSTs into an Event the engine can act on.
//
// 8x8 has changed its payloads over the years and all shapes are still in the wild
// (see ../shared/fixtures/8x8/README.md): digits arrive at payload.dtmf (2023),
// payload.eventData as a string (2025) or payload.eventData.dtmf (current), and
// session summaries name their call legs callA or CallA. Parse reads every shape
// and reports malformed input as a *BadRequest that says what is wrong, so the
// server can answer 4xx with a message a person can act on.
package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The eventType values 8x8 sends.
const (
	CallAction          = "CALL_ACTION"           // VCA: answer with a callflow
	CallStatus          = "CALL_STATUS"           // VCS
	SessionSummary      = "SESSION_SUMMARY"       // VSS
	CallRecordingStatus = "CALL_RECORDING_STATUS" // VRU
)

// Event is one webhook, with the fields the runtime needs lifted out of the payload.
type Event struct {
	Type        string // eventType; may be a type we don't know
	SessionID   string
	EventID     string // payload.eventId; absent on summaries and recordings
	CallID      string
	CallStatus  string // CALL_ACTION/CALL_STATUS: callStatus; SESSION_SUMMARY: sessionStatus; recordings: status
	Direction   string // INBOUND or OUTBOUND
	Source      string
	Destination string
	// ActionID is the clientActionId 8x8 echoed; empty when it sent none.
	ActionID string
	// Digits the caller pressed; HasDigits is false for no input (a timeout) and
	// for the first event of an inbound call.
	Digits    string
	HasDigits bool
	// Unreadable says why digits that were present were not usable (speech
	// text, a wrong type): the event is then no input, since refusing it would
	// end the caller's call.
	Unreadable string
	// RecordingID is set on CALL_RECORDING_STATUS.
	RecordingID string
	// Payload is the payload object as received, for scripts and transcripts.
	Payload map[string]any
	// RawPayload is the payload's JSON text as received.
	RawPayload json.RawMessage
}

// IsCallStart reports whether this is the first event of an inbound call: the
// CALL_ACTION whose reply starts the IVR.
func (e *Event) IsCallStart() bool {
	return e.Type == CallAction && e.CallStatus == "CALL_RECEIVED"
}

// ReplyKey names the event for redelivery: 8x8 may post a webhook more than once,
// and the second delivery must get the first one's reply. Events without an
// eventId are named by what makes them unique. The parts are joined with NUL,
// which no id can hold, so two different events never share a key.
func (e *Event) ReplyKey() string {
	switch {
	case e.EventID != "":
		return e.Type + "\x00" + e.SessionID + "\x00" + e.EventID
	case e.Type == SessionSummary:
		return e.Type + "\x00" + e.SessionID
	case e.Type == CallRecordingStatus && e.RecordingID != "":
		return e.Type + "\x00" + e.SessionID + "\x00" + e.RecordingID + "\x00" + e.CallStatus
	}
	return ""
}

// BadRequest is input we cannot use. Its message names the field and the problem.
type BadRequest struct{ Msg string }

func (e *BadRequest) Error() string { return e.Msg }

func bad(format string, args ...any) *BadRequest {
	return &BadRequest{Msg: fmt.Sprintf(format, args...)}
}

// MaxDepth bounds how deeply nested a webhook may be. 8x8's deepest payload (a
// session summary's call quality) is 5 levels; anything far deeper is hostile.
const MaxDepth = 32

// Parse decodes one webhook body, in one pass over it (see decoder).
func Parse(body []byte) (*Event, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, bad("empty body: expected an 8x8 webhook JSON object with eventType and payload")
	}
	if body[0] != '{' {
		return nil, bad("body is not a JSON object: expected an 8x8 webhook with eventType and payload")
	}
	d := decoder{text: string(body)}
	// The envelope's names match in any case, as encoding/json matched them;
	// a name given twice counts the last time.
	var typ, payload any
	var typeText, payloadText string
	err := d.object(func(key string) error {
		d.space()
		start := d.pos
		v, err := d.value()
		switch {
		case strings.EqualFold(key, "eventType"):
			typ, typeText = v, d.text[start:d.pos]
		case strings.EqualFold(key, "payload"):
			payload, payloadText = v, d.text[start:d.pos]
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if d.space(); d.pos < len(d.text) {
		return nil, bad("body has data after the JSON object")
	}
	e := &Event{}
	if typ == nil {
		return nil, bad("eventType is missing: expected CALL_ACTION, CALL_STATUS, SESSION_SUMMARY or CALL_RECORDING_STATUS")
	}
	if e.Type, _ = typ.(string); e.Type == "" {
		return nil, bad("eventType must be a non-empty string, got %s", clip(typeText))
	}
	if payload == nil {
		return nil, bad("payload is missing: an 8x8 webhook carries its data in a payload object")
	}
	if e.Payload, _ = payload.(map[string]any); e.Payload == nil {
		return nil, bad("payload must be a JSON object, got %s", clip(payloadText))
	}
	e.RawPayload = json.RawMessage(payloadText)
	p := e.Payload

	str := func(key string) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = optString(p, key)
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
	e.Digits, e.HasDigits, e.Unreadable = digits(p)
	return e, nil
}

// Limits on ids, far above what 8x8 sends, so that storage keys stay small.
const (
	maxID       = 200
	maxActionID = 1000
)

// digits reads the caller's key presses from wherever this payload keeps them:
// the first of payload.dtmf, payload.eventData.dtmf and payload.eventData (a
// string) that holds any. A value that is not keypad keys is reported in
// unreadable and the event counts as no input.
func digits(p map[string]any) (d string, has bool, unreadable string) {
	candidates := []struct {
		where string
		v     any
	}{{"payload.dtmf", p["dtmf"]}}
	switch ed := p["eventData"].(type) {
	case map[string]any:
		candidates = append(candidates, struct {
			where string
			v     any
		}{"payload.eventData.dtmf", ed["dtmf"]})
	case nil:
	default:
		candidates = append(candidates, struct {
			where string
			v     any
		}{"payload.eventData", ed})
	}
	for _, c := range candidates {
		if c.v == nil {
			continue
		}
		s, problem := keypad(c.v)
		if problem != "" {
			return "", false, c.where + " " + problem + "; taken as no input"
		}
		if s != "" {
			return s, true, ""
		}
	}
	return "", false, ""
}

// keypad reads keys: a string of 0-9, *, #, A-D (some senders write a
// number unquoted).
func keypad(v any) (string, string) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	default:
		return "", "is " + kind(v) + ", not a string of keys"
	}
	s = strings.TrimSpace(s)
	if len(s) > 64 {
		return "", fmt.Sprintf("is %d characters long; a keypad entry is at most a few dozen keys", len(s))
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789*#ABCDabcd", r) {
			return "", fmt.Sprintf("is %q, which is not keypad keys (0-9, *, #, A-D)", clip(s))
		}
	}
	return s, ""
}

// normalizeLegs renames a summary's call legs to one spelling (callA, callB, …):
// 8x8 sends both callA and CallA.
func normalizeLegs(p map[string]any) {
	details, ok := p["details"].(map[string]any)
	if !ok {
		return
	}
	for k, v := range details {
		if k == "" || k[0] < 'A' || k[0] > 'Z' {
			continue
		}
		norm := strings.ToLower(k[:1]) + k[1:]
		if _, taken := details[norm]; !taken {
			details[norm] = v
			delete(details, k)
		}
	}
}

func optString(p map[string]any, key string) (string, error) {
	switch v := p[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", bad("payload.%s must be a string, got %s", key, kind(v))
	}
}

func kind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "the number " + v.String()
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
