package sandbox_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/sandbox"
	lua "github.com/yuin/gopher-lua"
)

// modules is a script folder in memory.
type modules map[string]string

func (m modules) Module(name string) (*lua.FunctionProto, error) {
	src, ok := m[name]
	if !ok {
		return nil, sandbox.ErrNoModule
	}
	return sandbox.Compile(strings.NewReader(src), name+".lua")
}

// run runs src as the engine runs a script: compiled by sandbox.Compile, in
// a state from sandbox.New, under a deadline.
func run(t *testing.T, mods sandbox.Modules, src string) error {
	t.Helper()
	return runFor(t, mods, src, 200*time.Millisecond)
}

func runFor(t *testing.T, mods sandbox.Modules, src string, deadline time.Duration) error {
	t.Helper()
	L := sandbox.New(mods)
	defer L.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	L.SetContext(ctx)
	proto, err := sandbox.Compile(strings.NewReader(src), "test.lua")
	if err != nil {
		return err
	}
	L.Push(L.NewFunctionFromProto(proto))
	return L.PCall(0, 0, nil)
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
		{"format Go's argument index", `string.format("%999999[1]s", "x")`, "width or precision too long"},
		{"format Go's index after a short width", `string.format("%99[1]s", "x")`, "invalid option '%['"},
		{"format Go's star", `string.format("%*d", 999999, 1)`, "invalid option '%*'"},
		{"format Go's verbs", `string.format("%v", 1)`, "invalid option '%v'"},
		{"format ends in %", `string.format("100%")`, "invalid option '%'"},
		{"format many wide", `string.format(string.rep("%99s", 20000), "x")`, "string.format: the result could be over"},
		{"format %q escapes", `string.format("%q", string.rep("\1", 300000))`, "string.format: the result could be over"},
		{"format Lua's own", `assert(string.format("%%|%5.2f|%-3d|%x|%X|%o|%e|%g|%c|%s|%q", 1.5, 7, 255, 255, 8, 1, 0.5, 65, "s", "q") == "%| 1.50|7  |ff|FF|10|1.000000e+00|0.5|A|s|\"q\"")`, ""},
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

// The rewritten `..` gives what Lua's own gives: strings, numbers, the
// __concat metamethod on either side, chains, and the same errors.
func TestConcatMatchesLua(t *testing.T) {
	t.Parallel()
	prelude := `local mt = { __concat = function(a, b)
	  local function s(x) return type(x) == "table" and "T" or tostring(x) end
	  return "(" .. s(a) .. "+" .. s(b) .. ")" end }
	local T = setmetatable({}, mt)
	`
	exprs := []string{
		`"a" .. "b"`, `"a" .. 1`, `1 .. 2`, `1.5 .. "x"`, `-0.25 .. ""`, `2^53 .. ""`, `1e300 .. "|"`,
		`"a" .. "b" .. "c" .. "d" .. 5`, `("a" .. "b") .. ("c" .. "d")`, `"" .. ""`,
		`T .. "x"`, `"x" .. T`, `"a" .. T .. "b"`, `"a" .. "b" .. T`, `T .. T`, `1 .. T .. 2 .. 3`,
		`"x" .. nil`, `nil .. "x"`, `"x" .. {}`, `{} .. "x"`, `"x" .. true`, `"a" .. "b" .. nil .. "c"`,
		`(function() return "f" end)() .. "g"`, `#("ab" .. "cd")`, `("ab" .. "cd"):upper()`,
	}
	for _, e := range exprs {
		src := prelude + "return tostring(" + e + ")"
		want, wantErr := plainLua(src)
		got, gotErr := sandboxLua(t, src)
		if got != want || (wantErr == nil) != (gotErr == nil) {
			t.Errorf("%s: got %q, %v; Lua gives %q, %v", e, got, gotErr, want, wantErr)
			continue
		}
		if wantErr != nil && !strings.Contains(gotErr.Error(), lastPart(wantErr.Error())) {
			t.Errorf("%s: error %q, Lua's is %q", e, gotErr, wantErr)
		}
	}
}

func lastPart(msg string) string {
	msg = strings.SplitN(msg, "\n", 2)[0]
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

func plainLua(src string) (string, error) {
	L := lua.NewState()
	defer L.Close()
	if err := L.DoString(src); err != nil {
		return "", err
	}
	return L.Get(-1).String(), nil
}

func sandboxLua(t *testing.T, src string) (string, error) {
	L := sandbox.New(nil)
	defer L.Close()
	proto, err := sandbox.Compile(strings.NewReader(src), "test.lua")
	if err != nil {
		t.Fatal(err)
	}
	L.Push(L.NewFunctionFromProto(proto))
	if err := L.PCall(0, 1, nil); err != nil {
		return "", err
	}
	return L.Get(-1).String(), nil
}

// One `..` cannot build more than MaxStringBytes: the check comes before the
// join (190 operands of 140 MiB once asked for 26 GiB in one instruction),
// and the error names the script's line.
func TestConcatBounded(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, wantErr string }{
		{"doubling stops", `local s = "x"
for i = 1, 22 do s = s .. s end`, "test.lua:2: string concatenation (..): the result would be over the limit"},
		{"many operands", `local s = string.rep("x", 10000)
local x = s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s .. s`, "test.lua:2: string concatenation"},
		{"through a metamethod", `local big = string.rep("x", 1024 * 1024)
local T = setmetatable({}, { __concat = function(a, b) return big end })
local x = "a" .. T .. big`, "string concatenation"},
		{"at the limit", `local s = string.rep("x", 1024 * 1024 - 1) assert(#(s .. "y") == 1024 * 1024)`, ""},
		{"inside closures and tables", `local f = function(a) return { k = a .. a } end
for i = 1, 20 do f(string.rep("z", 2^i)) end`, "test.lua:1: string concatenation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(t, nil, tt.src)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// A table's array part is bounded: a single assignment far past the end no
// longer fills the gap with nils (t[67108863] = 1 took 1–2.4 GB).
func TestArrayPartBounded(t *testing.T) {
	t.Parallel()
	if err := run(t, nil, `local t = {} t[2^21] = 1 assert(#t == 0, "the array part grew to " .. #t) assert(t[2^21] == 1)`); err != nil {
		t.Fatal(err)
	}
	if err := run(t, nil, `local t = {} for i = 1, 3000 do t[i] = i end assert(#t == 3000)`); err != nil {
		t.Fatal(err)
	}
}

func TestTableSort(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		`local t = {5, 2, 8, 1, 9, 3} table.sort(t) assert(table.concat(t, ",") == "1,2,3,5,8,9")`,
		`local t = {"b", "a", "c"} table.sort(t, function(a, b) return a > b end) assert(table.concat(t) == "cba")`,
		`local t = {} table.sort(t) assert(#t == 0)`,
		`local t = {3, 1, 2} table.sort(t, nil) assert(t[1] == 1)`,
		`local t = {} for i = 1, 500 do t[i] = (i * 7919) % 1000 end table.sort(t) for i = 2, 500 do assert(t[i-1] <= t[i]) end`,
	} {
		if err := run(t, nil, src); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
	for src, want := range map[string]string{
		`table.sort({1, "x"})`:  "attempt to compare",
		`table.sort({1, 2}, 3)`: "function expected",
	} {
		if err := run(t, nil, src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", src, err, want)
		}
	}
}

// table.sort without an order function sorts in Go, where the VM cannot look
// at the deadline: it looks itself.
func TestTableSortStopsAtDeadline(t *testing.T) {
	t.Parallel()
	L := sandbox.New(nil)
	defer L.Close()
	if err := L.DoString(`big = {} for i = 1, 2^20 - 1 do big[i] = (i * 7919) % 1000003 end`); err != nil {
		t.Fatal(err)
	}
	// Sorting a million numbers takes far longer than this deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	L.SetContext(ctx)
	proto, err := sandbox.Compile(strings.NewReader(`table.sort(big)`), "test.lua")
	if err != nil {
		t.Fatal(err)
	}
	L.Push(L.NewFunctionFromProto(proto))
	err = L.PCall(0, 0, nil)
	// Had the sort not looked, the VM would only notice after it returned,
	// without the "table.sort:" of the sort's own stop.
	if err == nil || !strings.Contains(err.Error(), "table.sort: context deadline exceeded") {
		t.Fatalf("err = %v, want the sort stopped at its deadline", err)
	}
}

// table.concat and string.byte give what gopher-lua's give, within bounds.
func TestConcatAndByteMatchLua(t *testing.T) {
	t.Parallel()
	for _, e := range []string{
		`table.concat({})`, `table.concat({"a", "b", "c"})`, `table.concat({"a", "b", "c"}, ", ")`,
		`table.concat({1, 2.5, "x"}, "-")`, `table.concat({"a", "b", "c"}, "", 2)`, `table.concat({"a", "b", "c"}, "", 2, 3)`,
		`table.concat({"a", "b", "c"}, "", 5)`, `table.concat({"a", "b", "c"}, "", 0)`, `table.concat({"a", "b", "c"}, "", 3, 1)`,
		`table.concat({"a", "b", "c"}, "", 1, 10)`, `table.concat({"a", {}, "c"})`, `table.concat({"a", nil, "c"})`,
		`table.concat({"a", "b"}, "", -1, 2)`, `table.concat("x")`,
		`("abc"):byte()`, `("abc"):byte(2)`, `("abc"):byte(-1)`, `("abc"):byte(1, -1)`, `("abc"):byte(2, 10)`,
		`("abc"):byte(0)`, `("abc"):byte(4)`, `("abc"):byte(3, 1)`, `(""):byte(1, -1)`, `("abc"):byte(-10, 2)`,
	} {
		src := "return " + e
		want, wantErr := plainLuaAll(src)
		got, gotErr := sandboxLuaAll(src)
		if got != want || (wantErr == nil) != (gotErr == nil) {
			t.Errorf("%s: got %q, %v; gopher-lua gives %q, %v", e, got, gotErr, want, wantErr)
		}
	}
	for src, want := range map[string]string{
		`local s = string.rep("x", 1024 * 1024) local t = { s:byte(1, -1) }`:               "string.byte: more than 4096 values",
		`local s = string.rep("x", 5000) s:byte()`:                                         "string.byte: more than 4096 values",
		`local t = {} for i = 1, 300000 do t[i] = "" end assert(table.concat(t) == "")`:    "",
		`local t = {} for i = 1, 2000 do t[i] = string.rep("y", 1000) end table.concat(t)`: "table.concat: result over the limit",
	} {
		err := runFor(t, nil, src, 5*time.Second)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: err = %v, want %q", src, err, want)
		}
	}
}

// plainLuaAll and sandboxLuaAll return every value src returns, joined.
func plainLuaAll(src string) (string, error) {
	L := lua.NewState()
	defer L.Close()
	return callAll(L, func() error { return L.DoString(src) })
}

func sandboxLuaAll(src string) (string, error) {
	L := sandbox.New(nil)
	defer L.Close()
	proto, err := sandbox.Compile(strings.NewReader(src), "test.lua")
	if err != nil {
		return "", err
	}
	return callAll(L, func() error {
		L.Push(L.NewFunctionFromProto(proto))
		return L.PCall(0, lua.MultRet, nil)
	})
}

func callAll(L *lua.LState, call func() error) (string, error) {
	if err := call(); err != nil {
		return "", err
	}
	var out []string
	for i := 1; i <= L.GetTop(); i++ {
		out = append(out, L.Get(i).String())
	}
	return strings.Join(out, ","), nil
}
