package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	"github.com/luaivr/luaivr/store"
)

// TestVCCURL is where the vcc module sends in flow tests (flowtest's default,
// since `luaivr test` takes no --vcc-url): a recorded hand-off is stubbed
// there, whatever contact center the call reached.
const TestVCCURL = "https://vcc.example.test/SC/externalIvrAction.php"

// FlowTest writes a flow test (a *_test.lua file for `luaivr test`) that
// plays the recorded call again on the simulator: the clock it started at
// (t:at), the kv values it read (t:set_kv), stubs for the http and vcc
// responses it got, its keys and timeouts in order, and after each one what
// the caller heard (call:hears, call:bridged), where the caller then waited
// (call:at) and whether the call ended. On the script the call was recorded
// with it passes; a change that makes a caller hear something else fails it
// at that line.
//
// The simulator plays 8x8's side itself, so some of a real call is not
// reproduced: the caller's number and ours are the recorded ones, but the
// session id, event ids and the time between events are the simulator's; a
// no input at a prompt is its noOfTries timeouts.
func FlowTest(c Call) ([]byte, error) {
	s := c.Session
	entries := append([]store.Entry(nil), c.Transcript...)
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Seq < entries[j].Seq })
	start := -1
	for i, e := range entries {
		if e.EventType == webhook.CallAction {
			start = i
			break
		}
	}
	if s.App == "" || start < 0 {
		return nil, fmt.Errorf("session %s has no CALL_ACTION in its transcript: nothing a caller heard to test", s.ID)
	}
	w := &testWriter{stubs: map[string]string{}}
	w.line("-- A recorded call, turned into a flow test by luaivr replay --to-test %s.", s.ID)
	w.line("-- Recorded %s: app %s, %s %s → %s, %d events.", s.Created.UTC().Format("2006-01-02 15:04:05 UTC"),
		s.App, or(s.Direction, "INBOUND"), or(s.Source, "?"), or(s.Destination, "?"), len(entries))
	w.line("-- Put it beside the app (scripts/%s) and run luaivr test.", TestFile(s))
	w.line("")
	w.line("function test_recorded_%s(t)", ident(s.ID))
	w.indent = "  "

	at := entries[start].At
	for _, e := range entries {
		if e.Inputs != nil && len(e.Inputs.Clock) > 0 {
			at = e.Inputs.Clock[0]
			break
		}
	}
	w.line("t:at(%s, \"UTC\")", luaconv.Literal(at.UTC().Format("2006-01-02 15:04:05")))
	w.seedKV(s.App, entries)
	// Every host the call reached is stubbed before t:call, which fixes the
	// hosts the app may call; a later answer of the same request is stubbed
	// again before the step that asks it.
	for _, e := range entries {
		w.stubsOf(e, true)
	}

	opts := []string{"app = " + luaconv.Literal(s.App)}
	if strings.EqualFold(s.Direction, "OUTBOUND") { // the phone's caller is the party we called
		opts = append(opts, "from = "+luaconv.Literal(s.Destination), "to = "+luaconv.Literal(s.Source), "outbound = true")
	} else {
		opts = append(opts, "from = "+luaconv.Literal(s.Source), "to = "+luaconv.Literal(s.Destination))
	}
	w.line("local call = t:call { %s }", strings.Join(opts, ", "))

	st := waiting{}
	for _, e := range entries[start:] {
		switch {
		case e.EventType == webhook.CallAction && e.Seq == entries[start].Seq:
		case e.EventType == webhook.CallAction:
			if st.ended {
				continue
			}
			w.stubsOf(e, false)
			w.input(e, st)
		case e.EventType == webhook.SessionSummary || e.CallStatus == "CALL_DISCONNECTED" && callID(e) == callID(entries[start]):
			if !st.ended {
				if st.pos != "" {
					w.line("call:at(%s)", luaconv.Literal(st.pos))
				}
				w.line("call:hangup() -- the caller hung up")
				st.ended = true
			}
			continue
		default:
			continue
		}
		st = w.heard(e, st)
	}
	if st.ended {
		w.line("call:ended()")
	}
	w.indent = ""
	w.line("end")
	return w.b.Bytes(), nil
}

// callID is the callId of an entry's payload: a CALL_DISCONNECTED of
// another leg (the party the caller was connected to) is not the caller
// hanging up.
func callID(e store.Entry) string {
	var p struct {
		CallID string `json:"callId"`
	}
	_ = json.Unmarshal(e.Event, &p)
	return p.CallID
}

// TestFile is a name for the flow test of a recorded call: app_session_test.lua.
func TestFile(s store.Session) string { return s.App + "_" + ident(s.ID) + "_test.lua" }

// waiting is what the call waits for after a reply, as the simulator plays it.
type waiting struct {
	tries   int    // a prompt waits for keys: its noOfTries
	bridged bool   // the caller is connected to another party
	auto    bool   // nothing waits: the simulator asks for more by itself
	ended   bool   // hung up
	pos     string // the reply's clientActionId
}

type testWriter struct {
	b      bytes.Buffer
	indent string
	stubs  map[string]string // "METHOD URL" → the answer stubbed now
	// pressed is the placeholder keys of the entry being written, when its
	// digits were redacted (placeholderOf).
	pressed string
}

func (w *testWriter) line(format string, args ...any) {
	w.b.WriteString(w.indent)
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteByte('\n')
}

// input is the caller's answer an event carried, where the caller waited;
// nothing when the simulator sends that event by itself (after a reply that
// left nothing waiting).
func (w *testWriter) input(e store.Entry, st waiting) {
	if st.auto {
		return
	}
	if st.pos != "" {
		w.line("call:at(%s)", luaconv.Literal(st.pos))
	}
	switch {
	case e.Digits != nil && *e.Digits != "" && st.tries > 0:
		keys := *e.Digits
		if e.Redacted {
			w.line("-- the caller's digits were a sensitive capture, redacted when recorded: the test presses placeholder keys, and stubs and hears them where the record hid the caller's")
			keys = PlaceholderKeys(keys)
		}
		w.line("call:press(%s)", luaconv.Literal(keys))
	case st.bridged:
		w.line("call:timeout() -- the other party hung up")
	default:
		n := max(st.tries, 1)
		if n == 1 {
			w.line("call:timeout()")
		} else {
			w.line("for _ = 1, %d do call:timeout() end -- no key, at each of the prompt's noOfTries", n)
		}
	}
}

// heard asserts what the caller heard of an event's reply, and returns what
// the call then waits for.
func (w *testWriter) heard(e store.Entry, st waiting) waiting {
	r, err := callflow.Parse(e.Reply)
	if err != nil {
		w.line("-- event %d's reply was not a callflow: %s", e.Seq, clipLine(string(e.Reply)))
		return st
	}
	if e.Error != "" {
		w.line("-- the caller got the fallback here: %s", clipLine(e.Error))
	}
	w.pressed = placeholderOf(e)
	next := waiting{auto: true, pos: r.ClientActionID}
	for _, a := range r.Callflow {
		switch a.Name {
		case callflow.Say:
			w.hears(a.Params["text"])
		case callflow.SayAndCapture:
			w.hears(a.Params["promptMessage"])
			tries := 1
			if n, ok := a.Params["noOfTries"].(float64); ok && n > 1 {
				tries = int(n)
			}
			next = waiting{tries: tries, pos: r.ClientActionID}
			return next
		case callflow.PlayFile:
			w.hears(a.Params["fileUrl"])
		case callflow.MakeCall:
			if d, ok := a.Params["destination"].(string); ok {
				w.line("call:bridged(%s)", luaconv.Literal(d))
			}
			return waiting{bridged: true, pos: r.ClientActionID}
		case callflow.Hangup:
			return waiting{ended: true, pos: r.ClientActionID}
		}
	}
	return next
}

func (w *testWriter) hears(v any) {
	if s, ok := v.(string); ok && s != "" {
		w.line("call:hears(%s)", luaconv.Literal(w.clear(s)))
	}
}

// placeholderOf is the placeholder keys the test presses for an entry whose
// digits were redacted; "" for any other.
func placeholderOf(e store.Entry) string {
	if !e.Redacted || e.Digits == nil {
		return ""
	}
	return strings.TrimRight(PlaceholderKeys(*e.Digits), "#")
}

// clear is s of the entry being written with the placeholder keys where the
// record has "•": the test presses them, so its stubs answer them and its
// caller hears them back. The record hid the caller's keys one "•" each, in
// order, so the n-th "•" is the placeholder's n-th key (counted again for
// each time the keys appear).
func (w *testWriter) clear(s string) string {
	if w.pressed == "" || !strings.Contains(s, "•") {
		return s
	}
	var b strings.Builder
	n := 0
	for _, c := range s {
		if c == '•' {
			b.WriteByte(w.pressed[n%len(w.pressed)])
			n++
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// stubsOf declares the stubs for an event's http and vcc exchanges: before
// the call (first), each request's first answer; before its step, an answer
// that differs from the one stubbed.
func (w *testWriter) stubsOf(e store.Entry, first bool) {
	if e.Inputs == nil {
		return
	}
	w.pressed = placeholderOf(e)
	for _, x := range e.Inputs.HTTP {
		url := w.clear(x.URL)
		if x.Module == "vcc" {
			url = TestVCCURL + "*"
		}
		decl := strings.ToUpper(x.Method) + " " + url
		answer := w.stubAnswer(x)
		if old, ok := w.stubs[decl]; (first && ok) || (!first && old == answer) {
			continue
		}
		w.stubs[decl] = answer
		w.line("t:stub(%s, %s)", luaconv.Literal(decl), answer)
	}
}

func (w *testWriter) stubAnswer(x store.Exchange) string {
	if x.Err != "" {
		return "{ error = " + luaconv.Literal(w.clear(x.Err)) + " }"
	}
	parts := []string{fmt.Sprintf("status = %d", or0(x.Status, 200))}
	if len(x.Headers) > 0 {
		names := make([]string, 0, len(x.Headers))
		for k := range x.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		var hs []string
		for _, k := range names {
			hs = append(hs, "["+luaconv.Literal(k)+"] = "+luaconv.Literal(w.clear(x.Headers[k])))
		}
		parts = append(parts, "headers = { "+strings.Join(hs, ", ")+" }")
	}
	if x.Reply != "" {
		parts = append(parts, "body = "+luaconv.Literal(w.clear(x.Reply)))
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// seedKV sets the kv values the call read before it wrote them: the first
// kv.get of each key as it answered, and what a first kv.incr found (one
// less than it answered).
func (w *testWriter) seedKV(app string, entries []store.Entry) {
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Inputs == nil {
			continue
		}
		w.pressed = placeholderOf(e)
		for _, r := range e.Inputs.KV {
			r.Key = w.clear(r.Key)
			if seen[r.Key] || r.Err != "" {
				continue
			}
			seen[r.Key] = true
			switch r.Op {
			case "get":
				if r.Found && len(r.Value) > 0 {
					w.line("t:set_kv(%s, %s, %s)", luaconv.Literal(app), luaconv.Literal(r.Key), luaValue(json.RawMessage(w.clear(string(r.Value)))))
				}
			case "incr":
				var n float64
				if json.Unmarshal(r.Value, &n) == nil && n != 1 {
					w.line("t:set_kv(%s, %s, %s)", luaconv.Literal(app), luaconv.Literal(r.Key), strconv.FormatFloat(n-1, 'f', -1, 64))
				}
			default:
				w.line("-- kv.%s %s was read: not seeded", r.Op, luaconv.Literal(r.Key))
			}
		}
	}
}

// luaValue is a JSON value as a Lua literal (null as json.null).
func luaValue(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return luaconv.Literal(string(raw))
	}
	return luaLiteral(v)
}

func luaLiteral(v any) string {
	switch v := v.(type) {
	case nil:
		return "json.null"
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return v.String()
	case string:
		return luaconv.Literal(v)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = luaLiteral(x)
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = "[" + luaconv.Literal(k) + "] = " + luaLiteral(v[k])
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	return luaconv.Literal(fmt.Sprint(v))
}

// ident is s as part of a Lua name.
func ident(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

func clipLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func or0(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}
