package sandbox

import (
	"math/rand"

	"github.com/luaivr/luaivr/stdlib/inputs"
	lua "github.com/yuin/gopher-lua"
)

// random is math.random as Lua 5.1 has it — random() in [0, 1), random(m)
// in 1..m, random(m, n) in m..n — made from one draw that goes through the
// event's tape (package inputs): a script that picks a prompt at random picks
// the same one when its call is replayed. math.randomseed seeds the draws
// as before.
func random(L *lua.LState) int {
	lo, hi := 0, 0
	switch L.GetTop() {
	case 0:
	case 1:
		lo, hi = 1, L.CheckInt(1)
	default:
		lo, hi = L.CheckInt(1), L.CheckInt(2)
	}
	if hi < lo {
		L.ArgError(min(L.GetTop(), 2), "interval is empty")
	}
	u := inputs.From(L.Context()).Random(rand.Float64)
	if L.GetTop() == 0 {
		L.Push(lua.LNumber(u))
	} else {
		L.Push(lua.LNumber(min(lo+int(u*float64(hi-lo+1)), hi))) // min: u*n may round up to n
	}
	return 1
}
