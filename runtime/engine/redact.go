package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/store"
)

// A sensitive capture's digits (a PIN, a card number) reach the handler in
// clear, for the event that carries them only; everything the engine stores
// or logs of that event has them as "•", once per key. An event's digits are
// sensitive when the call was asked for them at a position the session marks
// (markSensitive, when the reply was built: so a redelivery, and an answer
// that a newer version of the app handles, are redacted too), or when the
// version answering declares the position sensitive (ivr.sensitive, a menu's
// flag), or when the session cannot say whether they are (newRedaction: it
// fails closed).
//
// What is hidden is the digits as keys, wherever they appear in text: in the
// entry's every string (walked, so a field added to store.Entry is covered),
// the raw payload (8x8's digit fields are blanked whatever they hold), the
// reply kept for redeliveries, session.vars, and the lines the event logs.
// Digits a script spells out with separators ("1 2 3 4", "1-2-3-4") are
// found too. A key sequence shorter than four is hidden only where it stands
// alone (not inside a longer number), so that a one-key answer does not blank
// every digit of the record. What is not the digits themselves (a hash the
// script computes, a count) is not found.

// bullet replaces each key of a sensitive capture.
const bullet = "•"

// everywhere, in Session.Sensitive, marks every position of the call: the
// list is bounded (maxSensitive), and what does not fit redacts more, not
// less.
const everywhere = "*"

// minSecret is the fewest keys that failing closed hides: one or two keys
// are a menu's choice, not a secret (a CVV has three), and hiding them
// would turn the handler's counters in session.vars into "•" too.
const minSecret = 3

// maxSensitive bounds the positions a session keeps marked.
const maxSensitive = 16

// redaction is what one event hides: its digits, once they are known to be
// a sensitive capture's. The flag is set from the script's goroutine (the
// version's declarations) and read by the event's, hence atomic.
type redaction struct {
	digits string // the keys as the event carries them; "" when it carries none
	secret string // what is looked for: the keys without the closing '#'
	on     atomic.Bool
}

// newRedaction is the redaction of an event answered at position: on when
// the session marked it when it asked there. It fails closed: when the
// session cannot vouch for the position (known is false: it expired during
// the call, an in-memory store restarted, its first event never arrived; or
// it last asked elsewhere, so whether this ask was sensitive was never
// recorded) and the event carries what the caller entered (see entered), it
// is on, and
// why says so for the log. A capture's own flag (sensitive = true) is known
// only from the reply that asked, which such a session no longer has.
func newRedaction(ev *webhook.Event, sess *store.Session, position string, known bool) (r *redaction, why string) {
	r = &redaction{}
	if ev.HasDigits {
		r.digits, r.secret = ev.Digits, strings.TrimRight(ev.Digits, "#")
	}
	if slices.Contains(sess.Sensitive, position) || slices.Contains(sess.Sensitive, everywhere) {
		r.on.Store(true)
		return r, ""
	}
	if ev.Type != webhook.CallAction || !entered(ev) {
		return r, ""
	}
	switch {
	case !known:
		why = "this server has no session for the call (it expired during the call, an in-memory store restarted, or its first event never reached this server)"
	case position != sess.ActionID:
		last := "knows no position (a status event made it, or its last reply set no clientActionId)"
		if sess.ActionID != "" {
			last = fmt.Sprintf("last asked at %s", sess.ActionID)
		}
		why = fmt.Sprintf("the session %s, and the keys answer %s, so it cannot tell whether that capture was sensitive", last, position)
	default:
		return r, ""
	}
	r.on.Store(true)
	return r, "what the caller entered is redacted (•, one per key) wherever it is stored or logged, as a sensitive capture's: " + why +
		"; the handler gets it in clear"
}

// entered reports whether the event carries what the caller entered that
// may be a secret: keys, at least minSecret of them, keys 8x8 could not
// read, or speech (payload.eventData.asrCaptured).
func entered(ev *webhook.Event) bool {
	if ev.HasDigits {
		return len(strings.TrimRight(ev.Digits, "#")) >= minSecret
	}
	if ev.Unreadable != "" {
		return true
	}
	return strings.TrimSpace(ev.Said) != ""
}

// mark turns the redaction on: the version answering declares the position
// sensitive.
func (r *redaction) mark() { r.on.Store(true) }

// sensitive reports whether the event answers a sensitive capture: with
// digits or not (what a caller said, or keys 8x8 could not read, are
// blanked in the payload too).
func (r *redaction) sensitive() bool { return r.on.Load() }

// active reports whether the event carries digits to hide.
func (r *redaction) active() bool { return r.digits != "" && r.on.Load() }

// markSensitive adds the position of a reply that asks for sensitive digits
// to those the call keeps marked. A mark is never taken back during the
// call: an answer redelivered after its cached reply expired still finds it.
func markSensitive(marked []string, r callflow.Reply) []string {
	if !r.Sensitive() || slices.Contains(marked, r.ClientActionID) || slices.Contains(marked, everywhere) {
		return marked
	}
	if len(marked) >= maxSensitive {
		return []string{everywhere}
	}
	return append(slices.Clone(marked), r.ClientActionID)
}

// keys is the digits as the record shows them: "•" for each key, the
// closing '#' kept.
func keys(d string) string {
	var b strings.Builder
	for _, c := range d {
		if c == '#' {
			b.WriteRune(c)
		} else {
			b.WriteString(bullet)
		}
	}
	return b.String()
}

// outcome hides the digits in what the handler's run produced, before it is
// logged or observed: its error and note, and session.vars, which a script
// that copies the digits there would keep for the rest of the call. vars are
// saved redacted and the note says where (check reports it at the handler's
// line) rather than refusing them: a refusal would give a caller who typed
// the right PIN the fallback.
func (r *redaction) outcome(out *outcome, where string) {
	if !r.active() {
		return
	}
	if out.err != nil {
		if s := r.hide(out.err.Error()); s != out.err.Error() {
			out.err = errors.New(s)
		}
	}
	out.note = r.hide(out.note)
	if len(out.vars) == 0 {
		return
	}
	vars := r.json(out.vars, true)
	if bytes.Equal(vars, out.vars) {
		return
	}
	name, at := who(out.handler, where)
	note := fmt.Sprintf("%s kept the digits of a sensitive capture in %s: they are saved as •, one per key, never in clear; keep what the digits told you (session.vars.pin_ok = true), not the digits",
		name, changedKeys(out.vars, vars))
	if at != "" {
		note = at + ": " + note
	}
	out.vars = vars
	if out.note != "" {
		note = out.note + "; " + note
	}
	out.note = note
}

// who names what ran from a luaOutcome's where (" (app.lua:3)" after the
// handler, or ": " and the menu's choice), and the script line it names.
func who(handler, where string) (name, at string) {
	if m := namedLine.FindAllStringSubmatch(where, -1); m != nil {
		at = m[len(m)-1][1]
	}
	name = handler
	if chose, ok := strings.CutPrefix(where, ": "); ok {
		name = strings.TrimSpace(strings.Replace(chose, "("+at+")", "", 1))
	}
	return name, at
}

// namedLine is a script line in parentheses: "(app.lua:3)".
var namedLine = regexp.MustCompile(`\(([\w./-]+\.lua:\d+)\)`)

// changedKeys names the top-level keys of vars that redaction changed.
func changedKeys(before, after json.RawMessage) string {
	var b, a map[string]json.RawMessage
	if json.Unmarshal(before, &b) != nil || json.Unmarshal(after, &a) != nil {
		return "session.vars"
	}
	var names []string
	for k, v := range b {
		if !bytes.Equal(v, a[k]) || a[k] == nil {
			names = append(names, "session.vars."+k)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// entry redacts a transcript entry: its digits, 8x8's digit fields of the
// payload, and the digits in every string it holds, then marks it Redacted.
func (r *redaction) entry(e *store.Entry) {
	if e.Digits != nil {
		d := keys(*e.Digits)
		e.Digits = &d
	}
	e.Event = blankDigitFields(e.Event)
	r.scrub(reflect.ValueOf(e).Elem())
	e.Redacted = true
}

// reply redacts the body kept for redeliveries: the text of its params, not
// its numbers, so that it stays a callflow 8x8 takes (a redelivery hears "•"
// where the script said the digits back).
func (r *redaction) reply(body []byte) []byte { return r.json(body, false) }

// blankDigitFields replaces what 8x8's payload holds where it puts a
// caller's input (payload.dtmf, payload.eventData and its dtmf and
// asrCaptured, see runtime/webhook) with "•"s, whatever form it takes. The
// payload may be the envelope or its payload object.
func blankDigitFields(raw json.RawMessage) json.RawMessage {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if len(raw) == 0 || dec.Decode(&doc) != nil {
		return raw
	}
	p := doc
	if inner, ok := doc["payload"].(map[string]any); ok {
		p = inner
	}
	blank := func(v any) any { return keys(strings.TrimSpace(fmt.Sprint(v))) }
	changed := false
	for _, k := range []string{"dtmf", "eventData"} {
		switch v := p[k].(type) {
		case nil:
		case map[string]any:
			for _, f := range []string{"dtmf", "asrCaptured"} {
				if v[f] != nil {
					v[f], changed = blank(v[f]), true
				}
			}
		default:
			p[k], changed = blank(v), true
		}
	}
	if !changed {
		return raw
	}
	b, err := store.Encode(doc)
	if err != nil {
		return raw
	}
	return b
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

// scrub hides the digits in every string v holds, through pointers,
// structs, slices, arrays, maps and interfaces, so that a field added to
// store.Entry is covered without a change here; JSON (json.RawMessage) is
// read as JSON, so that it stays valid. Numbers are left alone, but for
// those in JSON (a script's tonumber(digits)).
func (r *redaction) scrub(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(r.hide(v.String()))
		}
	case reflect.Slice:
		bytesOf := v.Type().Elem().Kind() == reflect.Uint8
		switch {
		case v.IsNil() || bytesOf && !v.CanSet():
		case v.Type() == rawMessage:
			v.SetBytes(r.json(v.Bytes(), true))
		case bytesOf:
			v.SetBytes([]byte(r.hide(string(v.Bytes()))))
		default:
			for i := range v.Len() {
				r.scrub(v.Index(i))
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			r.scrub(v.Index(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			r.scrub(v.Elem())
		}
	case reflect.Interface:
		if v.IsNil() || !v.CanSet() {
			return
		}
		c := reflect.New(v.Elem().Type()).Elem()
		c.Set(v.Elem())
		r.scrub(c)
		v.Set(c)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				r.scrub(v.Field(i))
			}
		}
	case reflect.Map:
		if v.IsNil() || !v.CanSet() {
			return
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			k := reflect.New(it.Key().Type()).Elem()
			k.Set(it.Key())
			e := reflect.New(it.Value().Type()).Elem()
			e.Set(it.Value())
			r.scrub(k)
			r.scrub(e)
			out.SetMapIndex(k, e)
		}
		v.Set(out)
	}
}

// json hides the digits in a JSON document's strings and keys, and, with
// numbers, in its numbers (which become strings of "•"). What is not JSON
// is redacted as text.
func (r *redaction) json(b []byte, numbers bool) []byte {
	if r.hide(string(b)) == string(b) {
		return b // the digits are not in it: kept byte for byte
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		return []byte(r.hide(string(b)))
	}
	out, err := store.Encode(r.jsonValue(v, numbers))
	if err != nil {
		return []byte(r.hide(string(b)))
	}
	return out
}

func (r *redaction) jsonValue(v any, numbers bool) any {
	switch v := v.(type) {
	case string:
		return r.hide(v)
	case json.Number:
		if s := r.hide(v.String()); numbers && s != v.String() {
			return s
		}
	case []any:
		for i := range v {
			v[i] = r.jsonValue(v[i], numbers)
		}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[r.hide(k)] = r.jsonValue(e, numbers)
		}
		return out
	}
	return v
}

// separators are what may stand between the keys when a script spells the
// digits out: "1 2 3 4", "1-2-3-4", "1, 2, 3, 4".
const separators = " ,.-_/\t\n"

// hide replaces the secret's keys in s with "•", the separators between
// them kept. A secret shorter than four keys is found only as a whole
// number (no digit next to it), and only without separators.
func (r *redaction) hide(s string) string {
	sec := r.secret
	if sec == "" || len(s) < len(sec) {
		return s
	}
	short := len(sec) < 4
	var b strings.Builder
	done := 0 // s[:done] is written to b
	for i := 0; i < len(s); {
		end, at := match(s, i, sec, short)
		if end < 0 {
			i++
			continue
		}
		for _, j := range at {
			b.WriteString(s[done:j])
			b.WriteString(bullet)
			done = j + 1
		}
		i = end
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// match reports whether sec's keys start at s[i], each key after the first
// behind at most two separators (none when short); end is where the match
// ends and at the index of each key, or end is -1.
func match(s string, i int, sec string, short bool) (end int, at []int) {
	if !sameKey(s[i], sec[0]) || short && i > 0 && isDigit(s[i-1]) {
		return -1, nil
	}
	at = make([]int, 0, len(sec))
	at = append(at, i)
	j, k := i+1, 1
	for gap := 0; k < len(sec); {
		switch {
		case j >= len(s):
			return -1, nil
		case sameKey(s[j], sec[k]):
			at = append(at, j)
			j, k, gap = j+1, k+1, 0
		case !short && gap < 2 && strings.IndexByte(separators, s[j]) >= 0:
			j, gap = j+1, gap+1
		default:
			return -1, nil
		}
	}
	if short && j < len(s) && isDigit(s[j]) {
		return -1, nil
	}
	return j, at
}

func sameKey(a, b byte) bool {
	return a == b || 'a' <= a && a <= 'd' && a-'a'+'A' == b || 'a' <= b && b <= 'd' && b-'a'+'A' == a
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// logger is the event's logger: while the redaction is on, the digits are
// hidden in every line and attribute it writes (the script's log and print
// too).
func (r *redaction) logger(l *slog.Logger) *slog.Logger {
	if r.digits == "" {
		return l
	}
	return slog.New(&redactingHandler{next: l.Handler(), r: r})
}

// redactingHandler hides an event's sensitive digits in the log lines
// written through it.
type redactingHandler struct {
	next slog.Handler
	r    *redaction
}

var _ slog.Handler = (*redactingHandler)(nil)

func (h *redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	if !h.r.active() {
		return h.next.Handle(ctx, rec)
	}
	out := slog.NewRecord(rec.Time, rec.Level, h.r.hide(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.r.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if h.r.active() {
		for i := range as {
			as[i] = h.r.attr(as[i])
		}
	}
	return &redactingHandler{next: h.next.WithAttrs(as), r: h.r}
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	return &redactingHandler{next: h.next.WithGroup(name), r: h.r}
}

// attr is a with the digits hidden in its key and value; a value that is
// not text is compared as it would be written.
func (r *redaction) attr(a slog.Attr) slog.Attr {
	a.Key = r.hide(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, r.hide(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i := range g {
			out[i] = r.attr(g[i])
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	}
	if s := v.String(); r.hide(s) != s {
		if v.Kind() == slog.KindAny {
			if b, err := json.Marshal(v.Any()); err == nil {
				return slog.String(a.Key, r.hide(string(b)))
			}
		}
		return slog.String(a.Key, r.hide(s))
	}
	return slog.Attr{Key: a.Key, Value: v}
}
