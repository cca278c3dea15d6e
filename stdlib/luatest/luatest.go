// Package luatest runs Lua snippets as Go tests, in the same sandbox scripts get.
// A snippet is the test: it calls eq(got, want) and fails(fn, pattern), which
// raise an error on a mismatch. Stdlib functions are tested in Lua, the
// language people call them from.
package luatest

import (
	"testing"

	"github.com/luaivr/luaivr/runtime/sandbox"
	lua "github.com/yuin/gopher-lua"
)

const prelude = `
local function show(v)
  if type(v) ~= "table" then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local val = v[k]
    if val == nil then val = v[tonumber(k)] end
    parts[#parts + 1] = k .. "=" .. show(val)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end
function eq(got, want, what)
  if show(got) ~= show(want) then
    error((what or "value") .. ": got " .. show(got) .. ", want " .. show(want), 2)
  end
end
function fails(fn, pattern)
  local ok, err = pcall(fn)
  if ok then error("expected an error matching " .. pattern, 2) end
  if not string.find(tostring(err), pattern, 1, true) then
    error("error " .. tostring(err) .. " does not mention " .. pattern, 2)
  end
end
`

// Run executes src in a fresh sandboxed state with libs; any error fails t.
func Run(t *testing.T, src string, libs ...sandbox.Lib) {
	t.Helper()
	L := sandbox.New(nil, libs...)
	defer L.Close()
	if err := L.DoString(prelude); err != nil {
		t.Fatal(err)
	}
	fn, err := L.LoadString(src)
	if err != nil {
		t.Fatalf("snippet does not compile: %v", err)
	}
	L.Push(fn)
	if err := L.PCall(0, 0, nil); err != nil {
		t.Fatal(err)
	}
}

// State returns a sandboxed state with libs for tests that inspect it from Go.
func State(t *testing.T, libs ...sandbox.Lib) *lua.LState {
	t.Helper()
	L := sandbox.New(nil, libs...)
	t.Cleanup(L.Close)
	if err := L.DoString(prelude); err != nil {
		t.Fatal(err)
	}
	return L
}
