package pattern

import (
	"fmt"
	"regexp"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// harness is Lua that both states (and a real Lua 5.1) run: RUN(fn, ...)
// calls string[fn](...) and describes what it returned or raised in one
// line. It uses none of the functions under test.
const harness = `
ALL = {} for i = 0, 255 do ALL[#ALL + 1] = string.char(i) end ALL = table.concat(ALL)
local function quote(s)
  local out = {}
  for i = 1, #s do
    local b = string.byte(s, i)
    if b >= 32 and b < 127 and b ~= 92 and b ~= 34 then out[#out + 1] = string.char(b) else out[#out + 1] = "\\" .. b end
  end
  return '"' .. table.concat(out) .. '"'
end
local function describe(...)
  local out = {}
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    out[i] = type(v) == "string" and quote(v) or tostring(v)
  end
  return "(" .. table.concat(out, ", ") .. ")"
end
local function outcome(ok, ...)
  if ok then return describe(...) end
  return "error: " .. tostring((...))
end
-- step calls a generic for's iterator once: what it returned, and its first value.
local function step(f, s, c)
  local first
  local r = outcome(pcall(function(...) first = ... return ... end, f(s, c)))
  return r, first
end
function RUN(fn, ...)
  if fn ~= "gmatch" and fn ~= "gfind" then return outcome(pcall(string[fn], ...)) end
  local ok, f, s, c = pcall(string[fn], ...)
  if not ok then return "error: " .. tostring(f) end
  local out = {}
  for i = 1, 100 do
    local ok, r, first = pcall(step, f, s, c)
    if not ok then r = "error: " .. tostring(r) end
    if first == nil then
      if r ~= "()" then out[#out + 1] = r end
      break
    end
    out[#out + 1] = r
    c = first
  end
  return "[" .. table.concat(out, " ") .. "]"
end
`

// where is the position gopher-lua puts before errors raised by Go
// functions; Lua 5.1 puts none there.
var where = regexp.MustCompile(`(^|error: )[^ ]+:\d+: `)

// oracle runs calls in one Lua state, gopher-lua's own string library or
// one whose pattern functions are this package's.
type oracle struct{ L *lua.LState }

func newOracle(t testing.TB, ours bool, check func(*lua.LState) error) *oracle {
	L := lua.NewState()
	t.Cleanup(L.Close)
	if ours {
		str := L.GetGlobal("string").(*lua.LTable)
		for name, fn := range Functions(check, 1<<20) {
			str.RawSetString(name, L.NewFunction(fn))
		}
	}
	if err := L.DoString(harness); err != nil {
		t.Fatal(err)
	}
	return &oracle{L: L}
}

// run returns the description of string.<fn>(<args>), args being Lua source.
func (o *oracle) run(fn, args string) string {
	src := fmt.Sprintf("return RUN(%q, %s)", fn, args)
	if err := o.L.DoString(src); err != nil {
		return "harness: " + err.Error()
	}
	v := o.L.Get(-1)
	o.L.Pop(1)
	return withoutWhere(v.String())
}

// withoutWhere drops the positions from the errors in a result.
func withoutWhere(result string) string { return where.ReplaceAllString(result, "$1") }

// noDeadline is a check that never stops a match.
func noDeadline(*lua.LState) error { return nil }
