package luaconv

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"
)

// ArgError raises the error a script gets for a bad argument, worded as
// gopher-lua's own are ("bad argument #2 to kv.set (a string expected, got
// nil)"), at the script's line: fn is the function as the script calls it,
// its module included, so the message names the call and the argument to
// fix. Every stdlib module reports its arguments through it.
func ArgError(L *lua.LState, fn string, n int, msg string) {
	L.RaiseError("%s", BadArgument(fn, n, msg))
}

// BadArgument is ArgError's message, for a check that collects several
// mistakes before it raises (time.is_open's hours).
func BadArgument(fn string, n int, msg string) string {
	return fmt.Sprintf("bad argument #%d to %s (%s)", n, fn, msg)
}
