// Package kv is the Lua module `kv`: a small persistent key-value store that
// all sessions of one app share (another app cannot see it), kept in the
// same store as the sessions.
//
//	kv.set("outcome:" .. session.vars.booking, "confirmed", 7 * 86400)  -- value, ttl in seconds (optional)
//	local n = kv.incr("calls:" .. session.source)                       -- atomic; 1 the first time
//	kv.get("outcome:42")                                                 -- the value, or nil
//	kv.delete("outcome:42")
//	for _, e in ipairs(kv.list("calls:", 20)) do log.info(e.key, { n = e.value }) end
//
// Values are anything json can hold. A store failure raises: the caller gets
// the app's fallback rather than a call that silently forgot something.
package kv

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/luaivr/luaivr/stdlib/luaconv"
	"github.com/luaivr/luaivr/store"
	lua "github.com/yuin/gopher-lua"
)

// Limits on what a script stores.
const (
	MaxKeyBytes   = 512
	MaxValueBytes = 64 << 10
	maxList       = 1000
)

// Open returns the module for app, storing in st. With a nil st (while a
// script loads, before any call) every function raises.
func Open(st store.KV, app string) func(L *lua.LState) lua.LValue {
	m := &module{st: st, app: app}
	return func(L *lua.LState) lua.LValue {
		return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
			"get":    m.get,
			"set":    m.set,
			"delete": m.delete,
			"incr":   m.incr,
			"list":   m.list,
		})
	}
}

type module struct {
	st  store.KV
	app string
}

func ctxOf(L *lua.LState) context.Context {
	if ctx := L.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func argError(L *lua.LState, fn string, n int, msg string) {
	L.RaiseError("bad argument #%d to kv.%s (%s)", n, fn, msg)
}

func key(L *lua.LState, fn string, n int) string {
	s, ok := L.Get(n).(lua.LString)
	switch {
	case !ok:
		argError(L, fn, n, "a key (string) expected, got "+L.Get(n).Type().String())
	case len(s) == 0 || len(s) > MaxKeyBytes:
		argError(L, fn, n, fmt.Sprintf("a key is 1 to %d bytes, this one is %d", MaxKeyBytes, len(s)))
	}
	return string(s)
}

func ttl(L *lua.LState, fn string, n int) time.Duration {
	switch v := L.Get(n).(type) {
	case *lua.LNilType:
		return 0
	case lua.LNumber:
		if v < 1 {
			argError(L, fn, n, "ttl is seconds, at least 1")
		}
		return time.Duration(float64(v) * float64(time.Second))
	}
	argError(L, fn, n, "ttl (seconds) expected, got "+L.Get(n).Type().String())
	return 0
}

// ready raises when there is no store to use.
func (m *module) ready(L *lua.LState, fn string) {
	if m.st == nil {
		L.RaiseError("kv.%s: kv is not available while the script loads; use it in handlers", fn)
	}
}

func (m *module) fail(L *lua.LState, fn string, err error) {
	L.RaiseError("kv.%s: the store failed: %v", fn, err)
}

func (m *module) get(L *lua.LState) int {
	m.ready(L, "get")
	k := key(L, "get", 1)
	b, ok, err := m.st.KVGet(ctxOf(L), m.app, k)
	if err != nil {
		m.fail(L, "get", err)
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(Decode(L, b))
	return 1
}

// Decode turns a stored value into Lua (flow tests read kv with it too).
func Decode(L *lua.LState, b []byte) lua.LValue {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return lua.LString(b) // written by something else than kv.set: hand it over as text
	}
	return luaconv.ToLua(L, v)
}

func (m *module) set(L *lua.LState) int {
	m.ready(L, "set")
	k := key(L, "set", 1)
	if L.Get(2) == lua.LNil {
		argError(L, "set", 2, "a value expected; use kv.delete to remove a key")
	}
	v, err := luaconv.FromLua(L.Get(2), "value")
	if err != nil {
		argError(L, "set", 2, err.Error())
	}
	b, _ := json.Marshal(v)
	if len(b) > MaxValueBytes {
		argError(L, "set", 2, fmt.Sprintf("the value is %d bytes as JSON, over the limit of %d", len(b), MaxValueBytes))
	}
	if err := m.st.KVSet(ctxOf(L), m.app, k, b, ttl(L, "set", 3)); err != nil {
		m.fail(L, "set", err)
	}
	return 0
}

func (m *module) delete(L *lua.LState) int {
	m.ready(L, "delete")
	if err := m.st.KVDelete(ctxOf(L), m.app, key(L, "delete", 1)); err != nil {
		m.fail(L, "delete", err)
	}
	return 0
}

func (m *module) incr(L *lua.LState) int {
	m.ready(L, "incr")
	k := key(L, "incr", 1)
	by := 1.0
	switch v := L.Get(2).(type) {
	case *lua.LNilType:
	case lua.LNumber:
		by = float64(v)
	default:
		argError(L, "incr", 2, "a number to add expected, got "+L.Get(2).Type().String())
	}
	n, err := m.st.KVIncr(ctxOf(L), m.app, k, by, ttl(L, "incr", 3))
	if err != nil {
		m.fail(L, "incr", err)
	}
	L.Push(lua.LNumber(n))
	return 1
}

func (m *module) list(L *lua.LState) int {
	m.ready(L, "list")
	prefix := ""
	if L.Get(1) != lua.LNil {
		s, ok := L.Get(1).(lua.LString)
		if !ok {
			argError(L, "list", 1, "a key prefix (string) expected")
		}
		prefix = string(s)
	}
	limit := 100
	if n, ok := L.Get(2).(lua.LNumber); ok {
		limit = min(max(int(n), 1), maxList)
	}
	pairs, err := m.st.KVList(ctxOf(L), m.app, prefix, limit)
	if err != nil {
		m.fail(L, "list", err)
	}
	out := L.CreateTable(len(pairs), 0)
	for _, p := range pairs {
		e := L.CreateTable(0, 2)
		e.RawSetString("key", lua.LString(p.Key))
		e.RawSetString("value", Decode(L, p.Value))
		out.Append(e)
	}
	L.Push(out)
	return 1
}
