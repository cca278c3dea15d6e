// Package stdlib holds what describes the Lua stdlib as a whole: the Lua
// Language Server definitions of every module, which `luaivr editor` writes
// into a project so editors complete ivr.* with documented parameters.
// The modules themselves are the subpackages (ivr, json, log).
package stdlib

import _ "embed"

// Definitions is luaivr.d.lua: LuaLS annotations for the stdlib, the handlers
// and the flow-test API.
//
//go:embed luaivr.d.lua
var Definitions []byte
