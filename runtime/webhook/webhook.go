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
	"sync"
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
	// Said is what the caller said, when 8x8 heard speech
	// (payload.eventData.asrCaptured, a string).
	Said string

	payload lazyPayload
}

// lazyPayload is the payload as Parse read it, its object built the first
// time it is asked for: an event answered without Lua (a static menu's
// option, a status) never needs it, and building it was most of the cost of
// Parse.
type lazyPayload struct {
	text string // the payload's JSON text, a slice of the body Parse read
	once sync.Once
	m    map[string]any
}

// RawPayload is the payload's JSON text as received, for transcripts; nil
// for an Event Parse did not make (an outbound call's first event).
func (e *Event) RawPayload() json.RawMessage {
	if e.payload.text == "" {
		return nil
	}
	return json.RawMessage(e.payload.text)
}

// Payload is the payload object as received (numbers as json.Number), for
// scripts; a session summary's legs are spelled callA, callB, …. It is built
// on the first call; an Event Parse did not make has an empty payload. The
// map is shared by every caller: read it, do not change it.
func (e *Event) Payload() map[string]any {
	e.payload.once.Do(func() {
		d := decoder{text: e.payload.text}
		if v, err := d.value(); err == nil {
			e.payload.m, _ = v.(map[string]any)
		}
		if e.payload.m == nil {
			e.payload.m = map[string]any{}
		}
		if e.Type == SessionSummary {
			normalizeLegs(e.payload.m)
		}
	})
	return e.payload.m
}

// Build makes the payload with b, from its text, as Payload would give it
// (its objects' members in the order 8x8 sent them); ok is false when only
// Payload can give it: a session summary, whose legs Payload spells again.
// It reads the text each time, and builds nothing in Go on the way.
func (e *Event) Build(b Builder) (v any, ok bool) {
	if e.Type == SessionSummary || e.payload.text == "" { // Parse made the Event only with an object
		return nil, false
	}
	d := decoder{text: e.payload.text}
	v, err := d.build(b)
	if err != nil {
		return nil, false // Parse checked the text: not reached
	}
	return v, true
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

// Parse decodes one webhook body, in one pass over it (see decoder). It
// checks all of it, but builds only the values it lifts into the Event; the
// payload object is built when asked for (Event.Payload).
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
	var lifted fields
	err := d.object(func(key string) error {
		d.space()
		start := d.pos
		switch {
		case strings.EqualFold(key, "eventType"):
			v, err := d.value()
			typ, typeText = v, d.text[start:d.pos]
			return err
		case strings.EqualFold(key, "payload"):
			if d.pos < len(d.text) && d.text[d.pos] == '{' {
				lifted = fields{}
				err := d.object(lifted.member(&d))
				payload, payloadText = &lifted, d.text[start:d.pos]
				return err
			}
			v, err := d.value()
			payload, payloadText = v, d.text[start:d.pos]
			return err
		}
		return d.skip()
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
	if _, ok := payload.(*fields); !ok {
		return nil, bad("payload must be a JSON object, got %s", clip(payloadText))
	}
	e.payload.text = payloadText
	p := &lifted

	str := func(key string) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = optString(key, p.get(key))
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
	e.Digits, e.HasDigits, e.Unreadable = digits(p.dtmf, p.eventData)
	if ed, ok := p.eventData.(map[string]any); ok {
		e.Said, _ = ed["asrCaptured"].(string)
	}
	return e, nil
}

// fields are the payload's members Parse lifts into the Event, each as
// encoding/json would have decoded it; the rest of the payload is checked
// and skipped. A member given twice counts the last time, as in a map.
type fields struct {
	sessionID, eventID, callID, direction, source, destination any
	actionID, callStatus, sessionStatus, status, recordingID   any
	dtmf, eventData                                            any
}

// member reads one member of the payload object into f (see decoder.object).
func (f *fields) member(d *decoder) func(key string) error {
	return func(key string) error {
		slot := f.slot(key)
		if slot == nil {
			return d.skip()
		}
		v, err := d.value()
		*slot = v
		return err
	}
}

// slot is where the member named key is kept; nil for a member not lifted.
func (f *fields) slot(key string) *any {
	switch key {
	case "sessionId":
		return &f.sessionID
	case "eventId":
		return &f.eventID
	case "callId":
		return &f.callID
	case "callDirection":
		return &f.direction
	case "source":
		return &f.source
	case "destination":
		return &f.destination
	case "clientActionId":
		return &f.actionID
	case "callStatus":
		return &f.callStatus
	case "sessionStatus":
		return &f.sessionStatus
	case "status":
		return &f.status
	case "recordingId":
		return &f.recordingID
	case "dtmf":
		return &f.dtmf
	case "eventData":
		return &f.eventData
	}
	return nil
}

// get is the lifted member named key; nil when absent.
func (f *fields) get(key string) any {
	if slot := f.slot(key); slot != nil {
		return *slot
	}
	return nil
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
func digits(dtmf, eventData any) (d string, has bool, unreadable string) {
	candidates := []struct {
		where string
		v     any
	}{{"payload.dtmf", dtmf}}
	switch ed := eventData.(type) {
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

func optString(key string, v any) (string, error) {
	switch v := v.(type) {
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
