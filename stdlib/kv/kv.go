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
//
// The answers a handler gets (kv.get, kv.incr, kv.list, failures included)
// are recorded with the event, and `luaivr replay` serves them back in the
// same order; writes go to the store — in a replay, the replay's own.
//
// What scripts keep is bounded, since every app shares one disk: a key is at
// most MaxKeyBytes, a value MaxValueBytes of JSON; an app holds at most its
// quota of keys and bytes (--kv-max-keys, --kv-max-bytes); one event makes
// at most MaxEventWrites writes of MaxEventWriteBytes in all, so that a loop
// rewriting one key cannot churn the store under every other call; kv.list
// returns at most maxListBytes. Each is a Lua error at the script's line.
package kv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/luaivr/luaivr/stdlib/inputs"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	"github.com/luaivr/luaivr/store"
	lua "github.com/yuin/gopher-lua"
)

// Limits on what a script stores.
const (
	MaxKeyBytes   = 512
	MaxValueBytes = 64 << 10
	// The quota of an app unless the operator sets one: far more than an
	// IVR keeps (a counter per caller, an outcome per booking), far less
	// than a disk.
	DefaultMaxKeys  = 100_000
	DefaultMaxBytes = 64 << 20
	// What one event may write: an IVR writes a few keys per event.
	MaxEventWrites     = 1000
	MaxEventWriteBytes = 1 << 20
	maxList            = 1000
	maxListBytes       = 1 << 20
)

// valueLimits bound a value as it leaves Lua, before it is encoded.
var valueLimits = luaconv.Limits{Depth: luaconv.Default.Depth, Items: luaconv.Default.Items, Bytes: MaxValueBytes}

// Options configure the module for every app and event.
type Options struct {
	// Store keeps the values. Nil (a script's top level at load, before any
	// call) makes every function raise.
	Store store.KV
	// Quota bounds what each app keeps; a zero field is the default.
	Quota store.KVQuota
}

// Module is kv as opened into one state, for app. What an event may write
// is counted from its Begin.
type Module struct{ m *module }

// New makes the module of app for one state.
func New(opts Options, app string) *Module {
	if opts.Quota.Keys <= 0 {
		opts.Quota.Keys = DefaultMaxKeys
	}
	if opts.Quota.Bytes <= 0 {
		opts.Quota.Bytes = DefaultMaxBytes
	}
	return &Module{m: &module{st: opts.Store, app: app, quota: opts.Quota}}
}

// Open opens the module into L (a sandbox.Lib's Open).
func (k *Module) Open(L *lua.LState) lua.LValue {
	m := k.m
	return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"get":    m.get,
		"set":    m.set,
		"delete": m.delete,
		"incr":   m.incr,
		"list":   m.list,
	})
}

// Begin starts the next event of the state: its writes are counted afresh.
func (k *Module) Begin() { k.m.writes, k.m.written = 0, 0 }

type module struct {
	st    store.KV
	app   string
	quota store.KVQuota
	// writes and written are what this event has written so far.
	writes, written int
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

// fail raises what went wrong with a write or read.
func (m *module) fail(L *lua.LState, fn string, err error) {
	L.RaiseError("%s", m.failure(fn, err))
}

// failure says what went wrong with a write or read: the app's quota, or
// the store.
func (m *module) failure(fn string, err error) string {
	var quota *store.KVQuotaError
	switch {
	case errors.As(err, &quota) && quota.OverKeys():
		return fmt.Sprintf("kv.%s: app %s is over its kv quota of %d keys (--kv-max-keys); delete the keys it no longer needs or give them a ttl", fn, m.app, quota.Quota.Keys)
	case errors.As(err, &quota):
		return fmt.Sprintf("kv.%s: app %s is over its kv quota of %d bytes (--kv-max-bytes); delete the keys it no longer needs or give them a ttl", fn, m.app, quota.Quota.Bytes)
	case errors.Is(err, store.ErrKVListTooLarge):
		return fmt.Sprintf("kv.%s: the entries asked for hold more than %d bytes; list fewer at a time (kv.list(prefix, limit)) or keep smaller values", fn, maxListBytes)
	}
	return fmt.Sprintf("kv.%s: the store failed: %v", fn, err)
}

// read is a kv read whose answer the handler sees: made by live, recorded
// with the event, or served from its record in a replay (package inputs).
// A failure is raised at the script's line.
func (m *module) read(L *lua.LState, fn, key string, live func(ctx context.Context) (json.RawMessage, bool, error)) store.KVRead {
	r := inputs.From(L.Context()).KV(fn, key, func() store.KVRead {
		v, ok, err := live(ctxOf(L))
		if err != nil {
			return store.KVRead{Err: m.failure(fn, err)}
		}
		return store.KVRead{Value: v, Found: ok}
	})
	if r.Err != "" {
		L.RaiseError("%s", r.Err)
	}
	return r
}

// asJSON is a stored value as JSON: as it is, or, written by something else
// than kv.set, as a JSON string of its text (which Decode gives back alike).
func asJSON(b []byte) json.RawMessage {
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

// entry is one kv.list answer as recorded.
type entry struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// spend counts a write of n bytes against the event's budget, raising when
// it is spent.
func (m *module) spend(L *lua.LState, fn string, n int) {
	m.writes++
	m.written += n
	switch {
	case m.writes > MaxEventWrites:
		L.RaiseError("kv.%s: this event has made %d kv writes, the most one event may (is the script writing in a loop?)", fn, MaxEventWrites)
	case m.written > MaxEventWriteBytes:
		L.RaiseError("kv.%s: this event has written %d bytes to kv, over the %d one event may (is the script writing in a loop?)", fn, m.written, MaxEventWriteBytes)
	}
}

func (m *module) get(L *lua.LState) int {
	m.ready(L, "get")
	k := key(L, "get", 1)
	r := m.read(L, "get", k, func(ctx context.Context) (json.RawMessage, bool, error) {
		b, ok, err := m.st.KVGet(ctx, m.app, k)
		if !ok || err != nil {
			return nil, false, err
		}
		return asJSON(b), true, nil
	})
	if !r.Found {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(Decode(L, r.Value))
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
	v, err := valueLimits.FromLua(L.Get(2), "value")
	var limit *luaconv.LimitError
	if errors.As(err, &limit) {
		argError(L, "set", 2, fmt.Sprintf("%s: a value is at most %d bytes as JSON", err, MaxValueBytes))
	} else if err != nil {
		argError(L, "set", 2, err.Error())
	}
	b, _ := json.Marshal(v)
	if len(b) > MaxValueBytes {
		argError(L, "set", 2, fmt.Sprintf("the value is %d bytes as JSON, over the limit of %d", len(b), MaxValueBytes))
	}
	d := ttl(L, "set", 3)
	m.spend(L, "set", len(k)+len(b))
	if err := m.st.KVSet(ctxOf(L), m.app, k, b, d, m.quota); err != nil {
		m.fail(L, "set", err)
	}
	return 0
}

func (m *module) delete(L *lua.LState) int {
	m.ready(L, "delete")
	k := key(L, "delete", 1)
	m.spend(L, "delete", len(k))
	if err := m.st.KVDelete(ctxOf(L), m.app, k); err != nil {
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
	d := ttl(L, "incr", 3)
	m.spend(L, "incr", len(k)+len(`-1.7976931348623157e+308`))
	r := m.read(L, "incr", k, func(ctx context.Context) (json.RawMessage, bool, error) {
		n, err := m.st.KVIncr(ctx, m.app, k, by, d, m.quota)
		if err != nil {
			return nil, false, err
		}
		text := strconv.FormatFloat(n, 'g', -1, 64)
		if math.IsInf(n, 0) || math.IsNaN(n) { // no JSON number: a string
			text = strconv.Quote(text)
		}
		return json.RawMessage(text), true, nil
	})
	var n float64
	if json.Unmarshal(r.Value, &n) != nil {
		var text string
		_ = json.Unmarshal(r.Value, &text)
		n, _ = strconv.ParseFloat(text, 64)
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
		if len(s) > MaxKeyBytes {
			argError(L, "list", 1, fmt.Sprintf("a key prefix is at most %d bytes, like a key; this one is %d", MaxKeyBytes, len(s)))
		}
		prefix = string(s)
	}
	limit := 100
	if n, ok := L.Get(2).(lua.LNumber); ok {
		limit = min(max(int(n), 1), maxList)
	}
	r := m.read(L, "list", prefix, func(ctx context.Context) (json.RawMessage, bool, error) {
		pairs, err := m.st.KVList(ctx, m.app, prefix, limit, maxListBytes)
		if err != nil {
			return nil, false, err
		}
		entries := make([]entry, len(pairs))
		for i, p := range pairs {
			entries[i] = entry{Key: p.Key, Value: asJSON(p.Value)}
		}
		b, err := json.Marshal(entries)
		return b, true, err
	})
	var entries []entry
	_ = json.Unmarshal(r.Value, &entries)
	out := L.CreateTable(len(entries), 0)
	for _, p := range entries {
		e := L.CreateTable(0, 2)
		e.RawSetString("key", lua.LString(p.Key))
		e.RawSetString("value", Decode(L, p.Value))
		out.Append(e)
	}
	L.Push(out)
	return 1
}
