package callflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The encoder writes JSON by hand because it runs on every webhook reply: it appends
// to one buffer and only falls back to encoding/json for value types a script cannot
// produce. Its output is what encoding/json would write (numbers, string escapes)
// except that HTML characters are not escaped and params come in 8x8's order.

var (
	_ json.Marshaler   = Reply{}
	_ json.Unmarshaler = (*Reply)(nil)
	_ json.Marshaler   = Action{}
	_ json.Unmarshaler = (*Action)(nil)
)

// MarshalJSON encodes the reply as 8x8 expects it:
// {"clientActionId":"…","callflow":[{"action":"say","params":{…}},{"action":"hangup"}]}.
// clientActionId is left out when empty, params when there are none, and params are
// written in the order of 8x8's API reference, unknown ones after them by name.
func (r Reply) MarshalJSON() ([]byte, error) {
	n := 32 + len(r.ClientActionID)
	for _, a := range r.Callflow {
		n += a.sizeHint()
	}
	return r.AppendJSON(make([]byte, 0, n))
}

// AppendJSON appends the reply's JSON (as MarshalJSON writes it) to b, so that a
// server can reuse its buffers.
func (r Reply) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	if r.ClientActionID != "" {
		b = append(b, `"clientActionId":`...)
		b = appendString(b, r.ClientActionID)
		b = append(b, ',')
	}
	b = append(b, `"callflow":[`...)
	for i, a := range r.Callflow {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = a.appendJSON(b); err != nil {
			return nil, fmt.Errorf("callflow[%d]: %w", i, err)
		}
	}
	return append(b, "]}"...), nil
}

// MarshalJSON encodes one action: {"action":"say","params":{…}}.
func (a Action) MarshalJSON() ([]byte, error) {
	return a.appendJSON(make([]byte, 0, a.sizeHint()))
}

func (a Action) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"action":`...)
	b = appendString(b, a.Name)
	if len(a.Params) > 0 {
		var err error
		b = append(b, `,"params":`...)
		if b, err = appendParams(b, actions[a.Name], a.Params); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// sizeHint estimates the encoded size of an action, so that MarshalJSON allocates once.
func (a Action) sizeHint() int {
	n := 32 + len(a.Name)
	for k, v := range a.Params {
		n += len(k) + 8
		if s, ok := v.(string); ok {
			n += len(s) + len(s)/8
		} else {
			n += 16
		}
	}
	return n
}

// appendParams writes the params that spec knows in its order, then the others
// sorted by name. spec is nil for an action 8x8 does not know.
func appendParams(b []byte, spec *actionSpec, params map[string]any) ([]byte, error) {
	b = append(b, '{')
	n := 0
	var err error
	if spec != nil {
		k := spec.known(params)
		for j := range spec.params {
			if !k.set[j] {
				continue
			}
			if b, err = appendMember(b, n, spec.params[j].name, k.vals[j]); err != nil {
				return nil, err
			}
			n++
		}
	}
	if n < len(params) {
		for _, name := range spec.unknown(params) {
			if b, err = appendMember(b, n, name, params[name]); err != nil {
				return nil, err
			}
			n++
		}
	}
	return append(b, '}'), nil
}

// appendMember writes "name":value, after a comma unless it is the object's first.
func appendMember(b []byte, n int, name string, v any) ([]byte, error) {
	if n > 0 {
		b = append(b, ',')
	}
	b = appendString(b, name)
	b = append(b, ':')
	b, err := appendValue(b, v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// appendValue writes a JSON-shaped value; objects get their keys sorted.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case float64:
		return appendFloat(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(v)) {
			var err error
			if b, err = appendMember(b, i, k, v[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	// A type no script produces: let encoding/json do it, with our escaping.
	w := bytes.NewBuffer(b)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(w.Bytes(), []byte("\n")), nil
}

// appendFloat writes f as encoding/json does: whole numbers without a fraction (1,
// 10000), no exponent between 1e-6 and 1e21.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("unsupported number %v: JSON has no NaN or infinity", f)
	}
	abs := math.Abs(f)
	if f == math.Trunc(f) && abs < 1e15 && (f != 0 || !math.Signbit(f)) {
		// The common case (digits, timeouts, 1 for a speed): an integer, written
		// as such without going through float formatting.
		return strconv.AppendInt(b, int64(f), 10), nil
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 → 1e-7, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string, escaped as encoding/json escapes it minus
// the HTML escapes: invalid UTF-8 becomes U+FFFD, and U+2028/U+2029 are escaped for
// JavaScript readers.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// UnmarshalJSON reads a reply as MarshalJSON writes it (or as 8x8's documentation
// shows it). Numbers become float64; unknown fields are ignored.
func (r *Reply) UnmarshalJSON(data []byte) error {
	var w struct {
		ClientActionID string   `json:"clientActionId"`
		Callflow       []Action `json:"callflow"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*r = Reply{ClientActionID: w.ClientActionID, Callflow: w.Callflow}
	return nil
}

// UnmarshalJSON reads one action; an action without params (or with null) gets nil
// Params.
func (a *Action) UnmarshalJSON(data []byte) error {
	var w struct {
		Action string         `json:"action"`
		Params map[string]any `json:"params"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*a = Action{Name: w.Action, Params: w.Params}
	return nil
}

// Parse decodes a reply (or a Callflows API request body). Malformed JSON is what 8x8
// answers with -1001, so the error says so.
func Parse(data []byte) (Reply, error) {
	var r Reply
	if err := json.Unmarshal(data, &r); err != nil {
		return Reply{}, fmt.Errorf("%d %s: %w", codeInvalidJSON, StatusMessage(codeInvalidJSON), err)
	}
	return r, nil
}

// actionSize returns how many bytes appendJSON writes for a, counting no
// further than limit: past it the exact figure does not matter. It lets the
// validator bound a callflow's size without encoding it, and without
// allocating, since it runs on every reply.
func (a Action) actionSize(limit int) int {
	n := len(`{"action":}`) + stringSize(a.Name, limit)
	if len(a.Params) > 0 {
		n += len(`,"params":{}`)
		for name, v := range a.Params {
			if n > limit {
				return n
			}
			n += stringSize(name, limit-n) + len(`:,`) + valueSize(v, limit-n)
		}
		n-- // no comma after the last member
	}
	return n
}

// sizeBound is at least actionSize, for a fraction of its cost: it reads the
// params its spec knows from k (sorted by Validate already), counts every
// byte of text as an escape and every number as the longest a float64 can be
// written. Unknown actions and params are rare and counted exactly.
func (a Action) sizeBound(k *known) int {
	if k.spec == nil || k.n < len(a.Params) {
		return a.actionSize(MaxCallflowBytes)
	}
	n := len(`{"action":,"params":{}}`) + 6*len(a.Name) + 2
	for j := range k.spec.params {
		if !k.set[j] {
			continue
		}
		n += len(k.spec.params[j].name) + len(`"":,`) // 8x8's names need no escapes
		switch v := k.vals[j].(type) {
		case string:
			n += 6*len(v) + len(`""`)
		case float64, int, int64, bool, nil:
			n += len("-1.7976931348623157e+308")
		default: // lists and objects: not what 8x8 takes, counted exactly
			n += valueSize(v, MaxCallflowBytes)
		}
	}
	return n
}

// valueSize returns how many bytes appendValue writes for v, counting no
// further than limit.
func valueSize(v any, limit int) int {
	var num [32]byte
	switch v := v.(type) {
	case nil:
		return len("null")
	case string:
		return stringSize(v, limit)
	case bool:
		if v {
			return len("true")
		}
		return len("false")
	case float64:
		b, _ := appendFloat(num[:0], v)
		return len(b)
	case int:
		return len(strconv.AppendInt(num[:0], int64(v), 10))
	case int64:
		return len(strconv.AppendInt(num[:0], v, 10))
	case []any:
		n := len(`[]`) + max(len(v)-1, 0)
		for _, e := range v {
			if n > limit {
				return n
			}
			n += valueSize(e, limit-n)
		}
		return n
	case map[string]any:
		n := len(`{}`) + max(len(v)-1, 0)
		for k, e := range v {
			if n > limit {
				return n
			}
			n += stringSize(k, limit-n) + len(`:`) + valueSize(e, limit-n)
		}
		return n
	}
	return 0 // a type no script produces: the encoder's fallback sizes it
}

// stringSize returns how many bytes appendString writes for s, counting no
// further than limit: a string longer than that is over it whatever it holds.
func stringSize(s string, limit int) int {
	n := len(`""`) + len(s)
	if n > limit {
		return n
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
				n++
			case c < 0x20:
				n += len(`\u0000`) - 1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += len(`\ufffd`) - 1
		case r == '\u2028' || r == '\u2029':
			n += len(`\u2028`) - size
		}
		i += size
	}
	return n
}
