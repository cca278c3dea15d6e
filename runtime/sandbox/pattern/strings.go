package pattern

import (
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"
)

// Functions returns string.find, string.match, string.gmatch (also under its
// Lua 5.0 name gfind, which gopher-lua keeps) and string.gsub built on this
// matcher, to replace gopher-lua's in a state's string table.
//
// check is asked every few microseconds of matching whether to go on; the
// error it returns is raised in Lua. With ContextErr a match stops when the
// state's context ends: at the event's deadline.
//
// maxResult bounds what gsub builds: a result over it (and longer than its
// subject) is refused with "string.gsub: the result would be over the limit
// of maxResult bytes" as soon as it grows past it.
//
// The functions behave as Lua 5.1's, which gopher-lua's follow, with these
// choices where the two differ: a leading ^ anchors gmatch, as in gopher-lua
// (Lua 5.1 reads it as a character); malformed patterns are refused on every
// call, as in gopher-lua, with Lua 5.1's messages (Lua 5.1 notices only the
// parts it reaches); a '%' ending a gsub replacement stands for itself (Lua
// 5.1 reads the byte past the string); the zero byte is an ordinary
// character, as in gopher-lua. Everything else gopher-lua does differently
// (no %f, init past the end, gsub's n of 0, %x in a replacement, ...) is a bug
// this package does not repeat; conformance_test.go lists each case.
func Functions(check func(*lua.LState) error, maxResult int) map[string]lua.LGFunction {
	lib := &library{check: check, maxResult: maxResult}
	return map[string]lua.LGFunction{
		"find":   lib.find,
		"match":  lib.match,
		"gmatch": lib.gmatch,
		"gfind":  lib.gmatch,
		"gsub":   lib.gsub,
	}
}

// ContextErr is the check that stops a match when L's context is done; it
// never stops a state without one.
func ContextErr(L *lua.LState) error {
	if ctx := L.Context(); ctx != nil {
		return ctx.Err()
	}
	return nil
}

// library holds what the functions share: the caller's deadline and gsub's
// bound.
type library struct {
	check     func(*lua.LState) error
	maxResult int
}

// matchers are reused: a matcher with its captures and the items of a short
// pattern is a kilobyte, which every call would otherwise allocate.
var matchers = sync.Pool{New: func() any { return new(matcher) }}

// start returns a matcher for pat in subject, raising a malformed pattern's
// error. The caller releases it.
func (lib *library) start(L *lua.LState, subject, pat string) *matcher {
	m := matchers.Get().(*matcher)
	m.subject, m.steps, m.check, m.L = subject, checkEvery, lib.check, L
	if err := m.compile(pat); err != nil {
		m.release()
		L.RaiseError("%s", err.Error())
	}
	return m
}

// release returns m to the pool, holding on to none of the script's strings.
func (m *matcher) release() {
	*m = matcher{}
	matchers.Put(m)
}

// initPosition turns string.find's and string.match's init (1-based, negative
// from the end) into an offset into a subject of n bytes, clamped to it as
// Lua 5.1 does.
func initPosition(init, n int) int {
	if init < 0 {
		init += n + 1
	}
	return min(max(init-1, 0), n)
}

// find is string.find(s, pattern [, init [, plain]]).
func (lib *library) find(L *lua.LState) int {
	subject, pat := L.CheckString(1), L.CheckString(2)
	init := initPosition(L.OptInt(3, 1), len(subject))
	if lua.LVAsBool(L.Get(4)) || !strings.ContainsAny(pat, specials) {
		i := strings.Index(subject[init:], pat)
		if i < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + i + 1))
		L.Push(lua.LNumber(init + i + len(pat)))
		return 2
	}
	m := lib.start(L, subject, pat)
	defer m.release()
	start, end := m.find(init)
	if start < 0 {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LNumber(start + 1))
	L.Push(lua.LNumber(end))
	return 2 + m.pushCaptures(start, end, false)
}

// match is string.match(s, pattern [, init]).
func (lib *library) match(L *lua.LState) int {
	subject, pat := L.CheckString(1), L.CheckString(2)
	init := initPosition(L.OptInt(3, 1), len(subject))
	m := lib.start(L, subject, pat)
	defer m.release()
	start, end := m.find(init)
	if start < 0 {
		L.Push(lua.LNil)
		return 1
	}
	return m.pushCaptures(start, end, true)
}

// gmatch is string.gmatch(s, pattern): an iterator over the matches, found
// one at a time as the loop asks for them.
func (lib *library) gmatch(L *lua.LState) int {
	subject, pat := L.CheckString(1), L.CheckString(2)
	m := lib.start(L, subject, pat) // the iterator keeps it: never released
	// Where the next search starts (past the end when done) is the
	// closure's Lua upvalue, not a Go variable: a state that serves many
	// events puts upvalues back after each (sandbox.Snapshot), so an
	// iterator a script's top level made starts every event where the top
	// level left it.
	L.Push(L.NewClosure(func(L *lua.LState) int {
		pos := int(L.Get(lua.UpvalueIndex(1)).(lua.LNumber))
		if pos > len(subject) {
			return 0
		}
		m.L = L // the loop may run in another coroutine than gmatch did
		start, end := m.find(pos)
		switch {
		case start < 0 || m.prog.anchored:
			pos = len(subject) + 1
		case end == start: // an empty match: go on one character later
			pos = end + 1
		default:
			pos = end
		}
		L.Replace(lua.UpvalueIndex(1), lua.LNumber(pos))
		if start < 0 {
			return 0
		}
		return m.pushCaptures(start, end, true)
	}, lua.LNumber(0)))
	return 1
}

// gsub is string.gsub(s, pattern, repl [, n]).
func (lib *library) gsub(L *lua.LState) int {
	subject, pat := L.CheckString(1), L.CheckString(2)
	repl := L.Get(3)
	switch repl.(type) {
	case lua.LString, lua.LNumber, *lua.LTable, *lua.LFunction:
	default:
		L.ArgError(3, "string/function/table expected")
	}
	maxN := L.OptInt(4, len(subject)+1)
	m := lib.start(L, subject, pat)
	defer m.release()
	out := &result{L: L, limit: max(lib.maxResult, len(subject)), maxResult: lib.maxResult}
	pos, n := 0, 0 // subject[:pos] is done
	for n < maxN && pos <= len(subject) {
		start, end := m.find(pos)
		if start < 0 {
			break
		}
		n++
		out.add(subject[pos:start])
		m.replace(out, start, end, repl)
		pos = end
		if end == start { // an empty match: keep the character after it, go on from the next
			out.add(subject[start:min(start+1, len(subject))])
			pos++
		}
		if m.prog.anchored {
			break
		}
	}
	if n == 0 {
		L.Push(lua.LString(subject))
	} else {
		out.add(subject[min(pos, len(subject)):])
		L.Push(lua.LString(out.String()))
	}
	L.Push(lua.LNumber(n))
	return 2
}

// result is gsub's output, refused once it grows past its limit.
type result struct {
	strings.Builder
	L                *lua.LState
	limit, maxResult int
}

func (r *result) add(s string) {
	if r.Len()+len(s) > r.limit {
		r.L.RaiseError("string.gsub: the result would be over the limit of %d bytes", r.maxResult)
	}
	r.WriteString(s)
}

// replace adds the replacement of the match subject[start:end] to out.
func (m *matcher) replace(out *result, start, end int, repl lua.LValue) {
	L := m.L
	var v lua.LValue
	switch repl := repl.(type) {
	case lua.LString, lua.LNumber:
		m.expand(out, start, end, lua.LVAsString(repl))
		return
	case *lua.LTable:
		v = L.GetTable(repl, m.capture(0, start, end))
	case *lua.LFunction:
		L.Push(repl)
		n := m.pushCaptures(start, end, true)
		L.Call(n, 1)
		v = L.Get(-1)
		L.Pop(1)
	}
	switch v := v.(type) {
	case lua.LString, lua.LNumber:
		out.add(lua.LVAsString(v))
	default:
		if lua.LVAsBool(v) {
			L.RaiseError("invalid replacement value (a %s)", v.Type().String())
		}
		out.add(m.subject[start:end]) // nil or false: keep the match
	}
}

// expand adds a string replacement to out: %0 is the match, %1-%9 its
// captures, %% a percent sign, % before any other character that character.
func (m *matcher) expand(out *result, start, end int, repl string) {
	for {
		i := strings.IndexByte(repl, '%')
		if i < 0 || i == len(repl)-1 {
			out.add(repl)
			return
		}
		out.add(repl[:i])
		switch c := repl[i+1]; {
		case c == '0':
			out.add(m.subject[start:end])
		case '1' <= c && c <= '9':
			n := int(c - '1')
			if n >= m.prog.captures && n > 0 {
				m.L.RaiseError("invalid capture index")
			}
			out.add(lua.LVAsString(m.capture(n, start, end)))
		default:
			out.add(repl[i+1 : i+2])
		}
		repl = repl[i+2:]
	}
}

// capture is capture n of the match subject[start:end]: its text or its
// position, or the whole match when the pattern has no captures.
func (m *matcher) capture(n, start, end int) lua.LValue {
	if m.prog.captures == 0 {
		return lua.LString(m.subject[start:end])
	}
	c := m.caps[n]
	if c.position {
		return lua.LNumber(c.start + 1)
	}
	return lua.LString(m.subject[c.start:c.end])
}

// pushCaptures pushes the captures of the match subject[start:end], or, when
// there are none and whole is set, the match itself; it returns how many.
func (m *matcher) pushCaptures(start, end int, whole bool) int {
	if m.prog.captures == 0 {
		if !whole {
			return 0
		}
		m.L.Push(lua.LString(m.subject[start:end]))
		return 1
	}
	for n := 0; n < m.prog.captures; n++ {
		m.L.Push(m.capture(n, start, end))
	}
	return m.prog.captures
}
