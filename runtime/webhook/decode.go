package webhook

import (
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// decoder reads a webhook body in one pass: it checks the syntax, the UTF-8
// and the nesting as it goes, and builds the values as encoding/json does
// into `any` with UseNumber (string, json.Number, bool, nil, []any,
// map[string]any), which is what scripts and transcripts see. It runs on
// every webhook, so it allocates little: text holds one copy of the body, and
// every string and key without escapes is a slice of it.
type decoder struct {
	text  string
	pos   int
	depth int
}

// fail reports the body is not JSON at pos: what was found there and,
// in context, what was expected.
func (d *decoder) fail(context string) error {
	if d.pos >= len(d.text) {
		return bad("body is not valid JSON: unexpected end of JSON input (at byte %d)", d.pos)
	}
	c := d.text[d.pos]
	if c >= utf8.RuneSelf {
		r, size := utf8.DecodeRuneInString(d.text[d.pos:])
		if r == utf8.RuneError && size == 1 {
			return errNotUTF8
		}
		return bad("body is not valid JSON: invalid character %q %s (at byte %d)", r, context, d.pos+1)
	}
	return bad("body is not valid JSON: invalid character %q %s (at byte %d)", c, context, d.pos+1)
}

var errNotUTF8 = bad("body is not valid UTF-8, as JSON must be")

func (d *decoder) space() {
	for d.pos < len(d.text) {
		switch d.text[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value reads the value at pos (after any space).
func (d *decoder) value() (any, error) {
	d.space()
	if d.pos >= len(d.text) {
		return nil, d.fail("")
	}
	switch c := d.text[d.pos]; {
	case c == '{':
		m := map[string]any{}
		err := d.object(func(key string) error {
			v, err := d.value()
			m[key] = v
			return err
		})
		return m, err
	case c == '[':
		list := []any{}
		err := d.elements(func() error {
			v, err := d.value()
			list = append(list, v)
			return err
		})
		return list, err
	case c == '"':
		s, err := d.string()
		return s, err
	case c == '-' || c >= '0' && c <= '9':
		n, err := d.number()
		return json.Number(n), err
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.fail("looking for beginning of value")
}

// Builder makes values of another kind (a script's) from a payload, as
// Event.Build reads it: the payload's objects and arrays are made, filled
// and handed back in the order they appear.
type Builder interface {
	Object() any
	Member(object any, key string, v any) // v is nil for a JSON null
	Array() any
	Element(array any, v any) // v is nil for a JSON null
	String(s string) any
	Number(text string) any
	Bool(b bool) any
}

// build reads the value at pos as value does, making it with b; a JSON
// null is nil.
func (d *decoder) build(b Builder) (any, error) {
	d.space()
	if d.pos >= len(d.text) {
		return nil, d.fail("")
	}
	switch c := d.text[d.pos]; {
	case c == '{':
		obj := b.Object()
		err := d.object(func(key string) error {
			v, err := d.build(b)
			b.Member(obj, key, v)
			return err
		})
		return obj, err
	case c == '[':
		arr := b.Array()
		err := d.elements(func() error {
			v, err := d.build(b)
			b.Element(arr, v)
			return err
		})
		return arr, err
	case c == '"':
		s, err := d.string()
		return b.String(s), err
	case c == '-' || c >= '0' && c <= '9':
		n, err := d.number()
		return b.Number(n), err
	case c == 't':
		return b.Bool(true), d.literal("true")
	case c == 'f':
		return b.Bool(false), d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.fail("looking for beginning of value")
}

// skip reads the value at pos as value does, checking it the same way, but
// builds nothing: most of a payload is read by scripts only, if at all
// (Event.Payload builds it when asked).
func (d *decoder) skip() error {
	d.space()
	if d.pos >= len(d.text) {
		return d.fail("")
	}
	switch c := d.text[d.pos]; {
	case c == '{':
		return d.object(func(string) error { return d.skip() })
	case c == '[':
		return d.elements(d.skip)
	case c == '"':
		_, err := d.string()
		return err
	case c == '-' || c >= '0' && c <= '9':
		_, err := d.number()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	}
	return d.fail("looking for beginning of value")
}

// object reads an object, calling member for each key with pos at its value;
// member must read the value.
func (d *decoder) object(member func(key string) error) error {
	if err := d.nest(); err != nil {
		return err
	}
	d.pos++ // {
	d.space()
	if d.pos < len(d.text) && d.text[d.pos] == '}' {
		d.pos++
		d.depth--
		return nil
	}
	for {
		d.space()
		if d.pos >= len(d.text) || d.text[d.pos] != '"' {
			return d.fail("looking for beginning of object key string")
		}
		key, err := d.string()
		if err != nil {
			return err
		}
		d.space()
		if d.pos >= len(d.text) || d.text[d.pos] != ':' {
			return d.fail("after object key")
		}
		d.pos++
		if err := member(key); err != nil {
			return err
		}
		d.space()
		if d.pos < len(d.text) {
			switch d.text[d.pos] {
			case ',':
				d.pos++
				continue
			case '}':
				d.pos++
				d.depth--
				return nil
			}
		}
		return d.fail("after object key:value pair")
	}
}

// elements reads an array, calling element for each with pos at it;
// element must read it.
func (d *decoder) elements(element func() error) error {
	if err := d.nest(); err != nil {
		return err
	}
	d.pos++ // [
	d.space()
	if d.pos < len(d.text) && d.text[d.pos] == ']' {
		d.pos++
		d.depth--
		return nil
	}
	for {
		if err := element(); err != nil {
			return err
		}
		d.space()
		if d.pos < len(d.text) {
			switch d.text[d.pos] {
			case ',':
				d.pos++
				continue
			case ']':
				d.pos++
				d.depth--
				return nil
			}
		}
		return d.fail("after array element")
	}
}

// nest counts one more level of objects and arrays: a hostile body must not
// make the decoder recurse deeply.
func (d *decoder) nest() error {
	if d.depth++; d.depth > MaxDepth {
		return bad("JSON nested more than %d levels deep; 8x8 webhooks nest at most a few levels", MaxDepth)
	}
	return nil
}

func (d *decoder) literal(word string) error {
	if strings.HasPrefix(d.text[d.pos:], word) {
		d.pos += len(word)
		return nil
	}
	for i := 0; i < len(word); i++ { // find the byte that differs
		if d.pos >= len(d.text) || d.text[d.pos] != word[i] {
			return d.fail("in literal " + word)
		}
		d.pos++
	}
	return nil
}

// number reads a JSON number as encoding/json's UseNumber keeps it: its text.
func (d *decoder) number() (string, error) {
	start := d.pos
	digits := func() int {
		n := 0
		for d.pos < len(d.text) && d.text[d.pos] >= '0' && d.text[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if d.text[d.pos] == '-' {
		d.pos++
	}
	switch {
	case d.pos < len(d.text) && d.text[d.pos] == '0':
		d.pos++
	case digits() == 0:
		return "", d.fail("in numeric literal")
	}
	if d.pos < len(d.text) && d.text[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return "", d.fail("after decimal point in numeric literal")
		}
	}
	if d.pos < len(d.text) && (d.text[d.pos] == 'e' || d.text[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.text) && (d.text[d.pos] == '+' || d.text[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return "", d.fail("in exponent of numeric literal")
		}
	}
	return d.text[start:d.pos], nil
}

// string reads a string; without escapes it is a slice of the body's text.
func (d *decoder) string() (string, error) {
	d.pos++ // "
	start := d.pos
	for d.pos < len(d.text) {
		c := d.text[d.pos]
		switch {
		case c == '"':
			s := d.text[start:d.pos]
			d.pos++
			return s, nil
		case c == '\\':
			return d.unescape(start)
		case c < 0x20:
			return "", d.fail("in string literal")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(d.text[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", errNotUTF8
			}
			d.pos += size
		default:
			d.pos++
		}
	}
	return "", d.fail("")
}

// unescape finishes a string that holds escapes, as encoding/json decodes
// them: a surrogate that is not half of a pair becomes U+FFFD.
func (d *decoder) unescape(start int) (string, error) {
	b := make([]byte, 0, d.pos-start+16)
	b = append(b, d.text[start:d.pos]...)
	for d.pos < len(d.text) {
		c := d.text[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(b), nil
		case c == '\\':
			d.pos++
			if d.pos >= len(d.text) {
				return "", d.fail("")
			}
			switch e := d.text[d.pos]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, err := d.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					high := r
					r = utf8.RuneError
					if low, ok := d.lowSurrogate(); ok {
						if pair := utf16.DecodeRune(high, low); pair != utf8.RuneError {
							r = pair
							d.pos += 6
						}
					}
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				return "", d.fail("in string escape code")
			}
			d.pos++
		case c < 0x20:
			return "", d.fail("in string literal")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(d.text[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", errNotUTF8
			}
			b = append(b, d.text[d.pos:d.pos+size]...)
			d.pos += size
		default:
			b = append(b, c)
			d.pos++
		}
	}
	return "", d.fail("")
}

// hex4 reads the XXXX of \uXXXX, with pos at the u; it leaves pos after them.
func (d *decoder) hex4() (rune, error) {
	d.pos++ // u
	var r rune
	for range 4 {
		if d.pos >= len(d.text) {
			return 0, d.fail("")
		}
		c := d.text[d.pos]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, d.fail("in \\u hexadecimal character escape")
		}
		r = r<<4 | rune(c)
		d.pos++
	}
	return r, nil
}

// lowSurrogate peeks at a \uXXXX after a high surrogate, without moving.
func (d *decoder) lowSurrogate() (rune, bool) {
	if !strings.HasPrefix(d.text[d.pos:], `\u`) {
		return 0, false
	}
	save := d.pos
	defer func() { d.pos = save }()
	d.pos++
	r, err := d.hex4()
	return r, err == nil
}
