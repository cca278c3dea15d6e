package sandbox_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/sandbox"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// modules is a script folder in memory.
type modules map[string]string

func (m modules) Module(name string) (*lua.FunctionProto, error) {
	src, ok := m[name]
	if !ok {
		return nil, sandbox.ErrNoModule
	}
	chunk, err := parse.Parse(strings.NewReader(src), name+".lua")
	if err != nil {
		return nil, err
	}
	return lua.Compile(chunk, name+".lua")
}

func run(t *testing.T, mods sandbox.Modules, src string) error {
	t.Helper()
	L := sandbox.New(mods)
	defer L.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	L.SetContext(ctx)
	return L.DoString(src)
}

func TestLimitsAndRequire(t *testing.T) {
	t.Parallel()
	mods := modules{
		"lib.a":    `return { name = "a", b = require("lib.b").name }`,
		"lib.b":    `return { name = "b" }`,
		"loop.x":   `return require("loop.y")`,
		"loop.y":   `return require("loop.x")`,
		"lib.none": `local x = 1`,
	}
	tests := []struct{ name, src, wantErr string }{
		{"rep bounded", `string.rep("x", 1e9)`, "over the limit"},
		{"rep with sep bounded", `string.rep("x", 1e6, "yy")`, "over the limit"},
		{"rep fine", `assert(string.rep("ab", 3, "-") == "ab-ab-ab")`, ""},
		{"rep huge count", `string.rep("ab", 2^62)`, "over the limit"},
		{"rep one copy, big sep", `assert(string.rep("x", 1, string.rep("-", 1000)) == "x")`, ""},
		{"unpack huge range", `unpack({}, -2^62, 2^62)`, "more than"},
		{"unpack bounded", `local t = {} unpack(t, 1, 1e7)`, "more than 4096 values"},
		{"table.unpack is the same", `assert(table.unpack({1,2})==1)`, ""},
		{"gsub bounded", `local s = string.rep("x", 1024*1024) s:gsub(".", s)`, "string.gsub: the result would be over"},
		{"gsub table bounded", `local big = string.rep("y", 1024*1024) local s = string.rep("x", 400) s:gsub("x", { x = big })`, "string.gsub: the result would be over"},
		{"gsub function bounded", `local big = string.rep("y", 1024*1024) local s = string.rep("x", 400) s:gsub("x", function() return big end)`, "string.gsub: the result would be over"},
		{"gsub fine", `assert(("a-b"):gsub("-", "+") == "a+b")`, ""},
		{"gsub table fine", `assert(("$a $b"):gsub("%$(%w+)", { a = "1" }) == "1 $b")`, ""},
		{"gsub function fine", `assert(("a b"):gsub("%w", function(c) return c:upper() end) == "A B")`, ""},
		{"format wide", `string.format("%999999d", 1)`, "width or precision too long"},
		{"format many", `local s = string.rep("y", 1024*512) string.format("%s%s%s", s, s, s)`, "string.format: the result could be over"},
		{"format fine", `assert(string.format("%05.1f|%-3s|%d", 3.14159, "a", 42) == "003.1|a  |42")`, ""},
		{"concat bounded", `local t = {} local s = string.rep("x", 1024*1024) for i = 1, 4 do t[i] = s end table.concat(t)`, "table.concat: result over"},
		{"concat fine", `assert(table.concat({"a", 1, "b"}, ",") == "a,1,b")`, ""},
		{"recursion", `local function f() return 1 + f() end f()`, "stack overflow"},
		{"endless loop", `while true do end`, "context deadline exceeded"},
		{"require chain", `assert(require("lib.a").b == "b")`, ""},
		{"require cached", `assert(require("lib.a") == require("lib.a"))`, ""},
		{"require no value", `assert(require("lib.none") == true)`, ""},
		{"require loop", `require("loop.x")`, "loop in requires"},
		{"require missing", `require("lib.zzz")`, "no file lib/zzz.lua in the script folder"},
		{"require path", `require("../../etc/passwd")`, "use dotted Lua names"},
		{"strict _G keeps the libraries", `setmetatable(_G, { __index = function(_, k) error("undefined " .. k) end }) assert(math.floor(1.5) == 1) assert(table.concat({"a"}) == "a")`, ""},
		{"require absolute", `require("/etc/passwd")`, "use dotted Lua names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(t, mods, tt.src)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestNoModulesFolder(t *testing.T) {
	t.Parallel()
	if err := run(t, nil, `require("x")`); err == nil || !strings.Contains(err.Error(), "no file x.lua") {
		t.Fatal(err)
	}
}

// require of a library does not overwrite a script's own global of that name.
func TestRequireKeepsOwnGlobal(t *testing.T) {
	t.Parallel()
	lib := sandbox.Lib{Name: "kv", Open: func(L *lua.LState) lua.LValue { return lua.LString("the library") }}
	L := sandbox.New(nil, lib)
	defer L.Close()
	if err := L.DoString(`kv = "mine" local m = require("kv") assert(kv == "mine" and m == "the library")`); err != nil {
		t.Fatal(err)
	}
}
