// Package luaconv converts between Lua values and JSON-shaped Go values
// (nil, bool, float64, string, []any, map[string]any).
//
// It is the one crossing between the two worlds: webhook payloads become Lua
// tables on the way in; session.vars, json.encode and callflow parameters become
// Go values on the way out. Conversions out of Lua are bounded in depth and size
// and report the path of a value that cannot cross ("session.vars.cb: a function
// cannot be stored"), since scripts are written by people.
package luaconv

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// Null returns L's stand-in for JSON null, where nil cannot be a table value:
// a script writes `successMessage = json.null` to send an explicit null, and
// nulls inside decoded arrays keep their place. Each state has its own, so
// nothing a script does to it (setmetatable) reaches another call.
func Null(L *lua.LState) *lua.LUserData {
	if ud, ok := L.G.Registry.RawGetString(nullKey).(*lua.LUserData); ok {
		return ud
	}
	ud := L.NewUserData()
	ud.Value = nullValue{}
	L.G.Registry.RawSetString(nullKey, ud)
	return ud
}

const nullKey = "luaivr.null"

type nullValue struct{}

// IsNull reports whether v is a state's JSON null.
func IsNull(v lua.LValue) bool {
	ud, ok := v.(*lua.LUserData)
	if !ok {
		return false
	}
	_, ok = ud.Value.(nullValue)
	return ok
}

// Limits bound a value leaving Lua. Each Go function that turns a script's
// value into Go builds in one call, which the event's deadline cannot
// interrupt, so the bound is checked while converting, before anything large
// is built: a table that refers to itself or to one big string many times
// would otherwise expand into gigabytes in a single call.
type Limits struct {
	Depth int // nesting of tables
	Items int // table entries, all levels together, counted each time a table appears
	// Bytes bounds the text: every string and key, counted each time it
	// appears.
	Bytes int
}

// Default bounds any value that leaves Lua without a tighter limit of its
// own (session.vars, which the engine then holds to 1 MiB of JSON).
var Default = Limits{Depth: 64, Items: 1 << 16, Bytes: 8 << 20}

// LimitError is a value over its Limits: too deep, too many entries or too
// much text. Callers tell it apart from a value that cannot be converted at
// all with errors.As.
type LimitError struct {
	Path string // where the limit was reached: session.vars.list[3]
	What string // which limit: "more than 65536 table entries"
}

func (e *LimitError) Error() string { return e.Path + ": " + e.What }

// ToLua converts a JSON-shaped Go value (json.Number allowed) into Lua.
// JSON null becomes nil, except inside arrays, where it becomes Null(L) so the
// elements after it keep their index.
func ToLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return lua.LString(v.String())
		}
		return lua.LNumber(f)
	case []any:
		t := L.CreateTable(len(v), 0)
		for i, e := range v {
			if e == nil {
				t.RawSetInt(i+1, Null(L))
				continue
			}
			t.RawSetInt(i+1, ToLua(L, e))
		}
		return t
	case map[string]any:
		// In key order, not Go's map order, which changes from run to
		// run: pairs over what a script decodes must go the same way when
		// a replay or another run of the top level decodes it again.
		var buf [16]string // most objects: no allocation for the order
		keys := buf[:0]
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		t := L.CreateTable(0, len(v))
		for _, k := range keys {
			t.RawSetString(k, ToLua(L, v[k]))
		}
		return t
	}
	return lua.LString(fmt.Sprint(v))
}

// FromLua converts a Lua value into a JSON-shaped Go value within Default
// limits. A table whose keys are exactly 1..n becomes an array; any other
// table an object (numeric keys written as strings); an empty table an empty
// object. Functions, userdata (other than Null) and coroutines cannot be
// converted: the error names where the value sits, starting from path.
func FromLua(v lua.LValue, path string) (any, error) { return Default.FromLua(v, path) }

// FromLua converts one value, as the package's FromLua does, within l.
func (l Limits) FromLua(v lua.LValue, path string) (any, error) {
	b := Budget{Limits: l}
	return b.FromLua(v, path)
}

// Budget converts several values within one set of Limits: what one value
// uses is gone for the next, so that, say, every action of a reply together
// stays within the reply's bound. The zero counts are a full budget.
type Budget struct {
	Limits
	items, bytes int
}

// FromLua converts v, as the package's FromLua does, counting against b.
func (b *Budget) FromLua(v lua.LValue, root string) (any, error) {
	return b.convert(v, &path{key: root}, 0)
}

// path is where a value sits, as an error names it: session.vars.list[3].
// It is written out only for an error: writing it for every value would copy
// a long key into the path of each of its children, gigabytes for a table of
// thousands under a key of a megabyte.
type path struct {
	up    *path
	key   string // a field's key; the root's name
	index int    // an element's index, from 1; 0 for a field
}

// maxShown is how much of a script's string an error shows.
const maxShown = 40

func (p *path) String() string {
	var segs []*path
	for q := p; q != nil; q = q.up {
		segs = append(segs, q)
	}
	var b strings.Builder
	for i := len(segs) - 1; i >= 0; i-- {
		switch s := segs[i]; {
		case s.up == nil:
			b.WriteString(s.key)
		case s.index > 0:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		default:
			b.WriteString("." + Clip(s.key, maxShown))
		}
	}
	return b.String()
}

// Clip is s cut to at most n bytes, at a character boundary, with "…" when
// it was cut: what an error message shows of a script's string, which may be
// a megabyte.
func Clip(s string, n int) string {
	if n = max(n, 0); len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Quote is s as an error message quotes a script's string: cut short (a
// script's string may be a megabyte), in Go's quotes.
func Quote(s string) string { return strconv.Quote(Clip(s, maxShown)) }

func (b *Budget) text(p *path, n int) error {
	if b.bytes += n; b.bytes > b.Bytes {
		return &LimitError{Path: p.String(), What: fmt.Sprintf("more than %d bytes of text", b.Bytes)}
	}
	return nil
}

func (b *Budget) convert(v lua.LValue, p *path, depth int) (any, error) {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LString:
		if err := b.text(p, len(v)); err != nil {
			return nil, err
		}
		return string(v), nil
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%s: %v is not a number JSON can hold", p, f)
		}
		return f, nil
	case *lua.LUserData:
		if IsNull(v) {
			return nil, nil
		}
	case *lua.LTable:
		return b.table(v, p, depth)
	}
	return nil, fmt.Errorf("%s: a %s cannot be converted (use strings, numbers, booleans and tables)", p, v.Type())
}

func (b *Budget) table(t *lua.LTable, p *path, depth int) (any, error) {
	if depth >= b.Depth {
		return nil, &LimitError{Path: p.String(), What: fmt.Sprintf("tables nested more than %d deep (is there a cycle?)", b.Depth)}
	}
	n := t.Len()
	count := 0
	isArray := true
	// Next rather than ForEach, so that a table of millions of entries stops
	// at the limit instead of being walked to its end first.
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		if count++; b.items+count > b.Items {
			return nil, &LimitError{Path: p.String(), What: fmt.Sprintf("more than %d table entries", b.Items)}
		}
		if num, ok := k.(lua.LNumber); !ok || float64(num) != math.Trunc(float64(num)) || num < 1 || int(num) > n {
			isArray = false
		}
	}
	b.items += count
	var err error
	if isArray && count == n && n > 0 {
		out := make([]any, n)
		for i := 1; i <= n; i++ {
			if out[i-1], err = b.convert(t.RawGetInt(i), &path{up: p, index: i}, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	out := make(map[string]any, count)
	keys := make([]string, 0, count)
	vals := make(map[string]lua.LValue, count)
	t.ForEach(func(k, val lua.LValue) {
		var key string
		switch k := k.(type) {
		case lua.LString:
			key = string(k)
		case lua.LNumber:
			key = k.String()
		default:
			if err == nil {
				err = fmt.Errorf("%s: a %s key cannot be converted (use string or number keys)", p, k.Type())
			}
			return
		}
		if err == nil {
			err = b.text(p, len(key))
		}
		keys = append(keys, key)
		vals[key] = val
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(keys) // errors report the same key every time
	for _, k := range keys {
		if out[k], err = b.convert(vals[k], &path{up: p, key: k}, depth+1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Literal is s as a Lua string literal, for Lua source luaivr writes (flow
// tests, conformance cases): Lua 5.1's escapes only, every byte kept.
func Literal(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\%03d`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
