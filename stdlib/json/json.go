// Package json is the Lua module `json`: encode and decode JSON in scripts.
//
//	local s = json.encode({ digits = "1", tries = 2 })   -- '{"digits":"1","tries":2}'
//	local v, err = json.decode(body)                      -- nil and a message on bad input
//	json.null                                             -- an explicit JSON null in a table
//
// Encoding a value JSON cannot hold (a function, a cycle) is an error raised in
// the script, since it is a mistake in the script; decoding returns nil and a
// message, since bad input usually comes from elsewhere.
package json

import (
	"bytes"
	"encoding/json"

	"github.com/luaivr/luaivr/stdlib/luaconv"
	lua "github.com/yuin/gopher-lua"
)

// MaxDecodeBytes bounds the text json.decode accepts, and MaxEncodeBytes
// what json.encode makes: the longest string a script may build in one call
// (string.rep and table.concat stop there too).
const (
	MaxDecodeBytes = 1 << 20
	MaxEncodeBytes = 1 << 20
)

// encodeLimits bound a value as it leaves Lua, before any of it is encoded: a
// table that holds one big string many times is refused while it is read.
var encodeLimits = luaconv.Limits{Depth: luaconv.Default.Depth, Items: luaconv.Default.Items, Bytes: MaxEncodeBytes}

// Open returns the module table.
func Open(L *lua.LState) lua.LValue {
	mod := L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"encode": encode,
		"decode": decode,
	})
	mod.RawSetString("null", luaconv.Null(L))
	return mod
}

func encode(L *lua.LState) int {
	if L.GetTop() < 1 {
		luaconv.ArgError(L, "json.encode", 1, "value expected")
	}
	v, err := encodeLimits.FromLua(L.Get(1), "value")
	if err != nil {
		luaconv.ArgError(L, "json.encode", 1, err.Error())
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		luaconv.ArgError(L, "json.encode", 1, err.Error())
	}
	out := bytes.TrimRight(buf.Bytes(), "\n")
	if len(out) > MaxEncodeBytes { // escapes make JSON up to six times its text
		L.RaiseError("json.encode: the result is %d bytes, over the limit of %d", len(out), MaxEncodeBytes)
	}
	L.Push(lua.LString(out))
	return 1
}

func decode(L *lua.LState) int {
	str, ok := L.Get(1).(lua.LString)
	if !ok {
		luaconv.ArgError(L, "json.decode", 1, "string expected, got "+L.Get(1).Type().String())
	}
	s := string(str)
	if len(s) > MaxDecodeBytes {
		L.Push(lua.LNil)
		L.Push(lua.LString("json.decode: text is over 1 MiB"))
		return 2
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString("json.decode: " + err.Error()))
		return 2
	}
	if dec.More() {
		L.Push(lua.LNil)
		L.Push(lua.LString("json.decode: data after the JSON value"))
		return 2
	}
	L.Push(luaconv.ToLua(L, v))
	return 1
}
