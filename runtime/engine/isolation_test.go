package engine_test

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	kvmod "github.com/luaivr/luaivr/stdlib/kv"
	logmod "github.com/luaivr/luaivr/stdlib/log"
)

// carrier is one way a script might try to carry something from one call to
// the next: write runs at the digit 1 and leaves "LEAK" somewhere; read runs at
// the digit 2 and says what it finds ("clean" when nothing came through).
type carrier struct {
	name       string
	top        string // the app's top level, before the handlers
	write      string // Lua statements
	read       string // a Lua expression for what the caller hears
	menuDriven bool   // the app is a menu tree: top defines main with options 1 (write) and 2 (read)
}

// carriers is everything a state kept between events (a pooled state, a top
// level run once) would let through, if nothing stopped it.
var carriers = []carrier{
	{name: "top-level local table", top: `local cache = {}`,
		write: `cache.x = "LEAK"`, read: `cache.x or "clean"`},
	{name: "top-level local table's metatable", top: `local cache = {}`,
		write: `setmetatable(cache, { __index = function() return "LEAK" end })`, read: `cache.anything or "clean"`},
	{name: "top-level upvalue", top: `local n = 0
local function bump() n = n + 1 return n end`,
		write: `bump()`, read: `n == 0 and "clean" or ("LEAK " .. n)`},
	{name: "top-level local holding the session", top: `local last = {}`,
		write: `last.session = session`, read: `last.session and ("LEAK " .. tostring(last.session.source)) or "clean"`},
	{name: "global set in a handler",
		write: `leaked = "LEAK"`, read: `leaked or "clean"`},
	{name: "global function replaced", top: `function greeting() return "clean" end`,
		write: `greeting = function() return "LEAK" end`, read: `greeting()`},
	{name: "rawset on _G",
		write: `rawset(_G, "leaked", "LEAK")`, read: `rawget(_G, "leaked") or "clean"`},
	{name: "_G's metatable",
		write: `setmetatable(_G, { __index = function() return "LEAK" end })`, read: `undefined_name or "clean"`},
	{name: "string metatable",
		write: `getmetatable("").__index = function() return "LEAK" end`, read: `("x").anything or "clean"`},
	{name: "string metatable's table",
		write: `getmetatable("").__add = function() return "LEAK" end`, read: `(pcall(function() return "a" + {} end)) and "LEAK" or "clean"`},
	{name: "json.null's metatable",
		write: `local mt = getmetatable(json.null) or {}; mt.__index = { secret = "LEAK" }; setmetatable(json.null, mt)`,
		read:  `(getmetatable(json.null) and getmetatable(json.null).__index and getmetatable(json.null).__index.secret) or "clean"`},
	{name: "ivr.defaults changed at run time",
		write: `ivr.defaults { voiceProfile = "en-GB-RyanNeural" }`, read: `"clean"`},
	{name: "a module from require, changed", top: `local util = require("util")`,
		write: `util.greeting = "LEAK"`, read: `require("util").greeting`},
	{name: "a module's upvalue, changed", top: `local util = require("util")`,
		write: `util.bump()`, read: `util.count() == 0 and "clean" or "LEAK"`},
	{name: "a number's metatable",
		write: `pcall(setmetatable, 1, { __index = function() return "LEAK" end })`,
		read:  `select(2, pcall(function() return (5).anything end)) == "LEAK" and "LEAK" or "clean"`},
	{name: "a top-level list sorted", top: `local list = { "clean", "b", "a" }`,
		write: `table.sort(list)`, read: `list[1]`},
	{name: "a top-level list grown and shrunk", top: `local list = { "clean", "x" }`,
		write: `table.insert(list, 1, "LEAK"); table.remove(list)`, read: `list[1] .. (list[3] and " LEAK" or "")`},
	{name: "a top-level table grown past what a state may keep", top: `local seen = {}`,
		write: `for i = 1, 5000 do seen["k" .. i] = "LEAK" end`, read: `seen.k1 or "clean"`},
	{name: "a closure of the session kept in a top-level table", top: `local hooks = {}`,
		write: `hooks[1] = function() return session.source end`, read: `hooks[1] and "LEAK" or "clean"`},
	{name: "a library a handler opened, changed", // the top level never touched table or math
		write: `table.leaked = "LEAK"; math.pi = 3`, read: `(table.leaked or math.pi == 3) and "LEAK" or "clean"`},
	{name: "a gmatch iterator the top level made", top: `local ticket = string.gmatch(string.rep(".", 100), "()")`,
		write: `ticket(); ticket()`, read: `ticket() == 1 and "clean" or "LEAK"`},
	{name: "pairs order: a key added and removed in one event", top: `local seen = {}`,
		write: `seen.victim = true; seen.victim = nil`,
		read:  `(function() seen.first = true; seen.victim = true; local k = next(seen); seen.first, seen.victim = nil, nil; return k == "first" and "clean" or "LEAK" end)()`},
	{name: "pairs order: a key added and kept", top: `local seen = {}`,
		write: `seen.victim = true`,
		read:  `(function() seen.first = true; seen.victim = true; local k = next(seen); seen.first, seen.victim = nil, nil; return k == "first" and "clean" or "LEAK" end)()`},
	{name: "pairs order in _G",
		write: `victim_global = true; victim_global = nil`,
		read: `(function() first_global = true; victim_global = true; local found
  for k in pairs(_G) do if k == "first_global" or k == "victim_global" then found = k; break end end
  return found == "first_global" and "clean" or "LEAK" end)()`},
	{name: "table.remove on a top-level list a handler grew and shrank", top: `local list = {}`,
		write: `table.insert(list, 1, "x"); table.remove(list); list[#list + 1] = "kept"`,
		read:  `(function() table.insert(list, 1, "x"); local got = table.remove(list); return got == "x" and "clean" or ("LEAK " .. tostring(got)) end)()`},
	{name: "a negative zero in an upvalue", top: `local z = 0`,
		write: `z = 0 / -1`, read: `1 / z < 0 and "LEAK" or "clean"`},
	{name: "a negative zero in a table", top: `local t = { x = 0, 0 }`,
		write: `t.x = 0 / -1; t[1] = math.ceil(-0.5)`, read: `(1 / t.x < 0 or 1 / t[1] < 0) and "LEAK" or "clean"`},
	{name: "a key the top level removed, set again", top: `local t = { gone = 1 }; t.gone = nil`,
		write: `t.gone = "LEAK"`, read: `t.gone or "clean"`},
	{name: "a hole the top level left in a list, filled", top: `local list = { 1, 2, 3 }; list[2] = nil`,
		write: `list[2] = "LEAK"`, read: `list[2] or "clean"`},
	{name: "a global the top level removed, set again", top: `gone = 1; gone = nil`,
		write: `gone = "LEAK"`, read: `gone or "clean"`},
	// Slots gopher-lua keeps that Lua can see (next's order, table.remove),
	// keys of every kind, metatables, upvalues, libraries (an adversarial
	// review of the warm states, 2026-12-02).
	{name: "trailing nil in array part", top: `local t = { 1, 2, 3 }; t[3] = nil`,
		write: `t[3] = "LEAK"`, read: `t[3] or "clean"`},
	{name: "boolean key removed at top", top: `local t = { [true] = 1, [false] = 2 }; t[true] = nil; t[false] = nil`,
		write: `t[true] = "LEAK"; t[false] = "LEAK"`, read: `t[true] or t[false] or "clean"`},
	{name: "float key removed at top", top: `local t = { [1.5] = 1 }; t[1.5] = nil`,
		write: `t[1.5] = "LEAK"`, read: `t[1.5] or "clean"`},
	{name: "zero/negative/huge keys removed at top", top: `local t = { [0] = 1, [-1] = 2, [2^40] = 3, [2^20] = 4 }; t[0], t[-1], t[2^40], t[2^20] = nil, nil, nil, nil`,
		write: `t[0] = "LEAK"; t[-1] = "LEAK"; t[2^40] = "LEAK"; t[2^20] = "LEAK"`, read: `t[0] or t[-1] or t[2^40] or t[2^20] or "clean"`},
	{name: "table key removed at top", top: `local k = {}; local t = { [k] = 1 }; t[k] = nil`,
		write: `t[k] = "LEAK"`, read: `t[k] or "clean"`},
	{name: "function key removed at top", top: `local function k() end; local t = { [k] = 1 }; t[k] = nil`,
		write: `t[k] = "LEAK"`, read: `t[k] or "clean"`},
	{name: "array shrunk by remove and regrown", top: `local t = { "a", "b", "c" }`,
		write: `table.remove(t); table.remove(t); t[#t + 1] = "LEAK"; t[#t + 1] = "c"`, read: `t[2] == "b" and "clean" or "LEAK"`},
	{name: "trailing ghost removed then key beyond", top: `local t = { 1, 2, 3 }; t[3] = nil`,
		write: `table.remove(t); table.remove(t); t[2] = "LEAK"; t[3] = nil`, read: `t[2] == 2 and "clean" or "LEAK"`},
	{name: "array hole at top, insert shifts", top: `local t = { 1, nil, 3 }`,
		write: `table.insert(t, 1, "LEAK"); table.remove(t)`, read: `(t[1] == 1 and t[2] == nil and t[3] == 3) and "clean" or "LEAK"`},
	{name: "array part grown beyond then emptied", top: `local t = { 1 }`,
		write: `t[50] = "LEAK"; t[50] = nil`, read: `(function() local n = 0 for _ in pairs(t) do n = n + 1 end; t[50] = 1; return n == 1 and "clean" or "LEAK" end)()`},
	{name: "pairs order after hash key reuse", top: `local t = { a = 1, b = 2 }; t.a = nil`,
		write: `t.a = 1; t.c = 3; t.c = nil`, read: `next(t) == "b" and "clean" or "LEAK"`},
	{name: "pairs order: ghost filled and emptied", top: `local t = { a = 1, b = 2 }; t.a = nil`,
		write: `t.a = "x"; t.a = nil`, read: `(function() t.z = 1; t.a = 1; local k = next(t); t.z, t.a = nil, nil; return k == "a" and "clean" or "LEAK" end)()`},
	{name: "key list ghost revived in new order", top: `local t = { a = 1 }; t.a = nil`,
		write: `t.q = 1; t.q = nil`, read: `(function() t.q = 1; t.a = 1; local k = next(t); t.q, t.a = nil, nil; return k == "a" and "clean" or "LEAK" end)()`},
	{name: "value replaced by equal string", top: `local t = { s = "clean" }`,
		write: `t.s = "cle" .. "an"; t.x = "LEAK"; t.x = nil`, read: `(function() t.y = 1; t.x = 1; local k; for kk in pairs(t) do if kk == "x" or kk == "y" then k = kk break end end; t.x, t.y = nil, nil; return k == "y" and "clean" or "LEAK" end)()`},
	{name: "metatable __index table mutated", top: `local proto = { v = "clean" }; local obj = setmetatable({}, { __index = proto })`,
		write: `getmetatable(obj).__index.v = "LEAK"`, read: `obj.v`},
	{name: "metatable itself swapped for one with __newindex", top: `local obj = setmetatable({}, { })`,
		write: `local mt = getmetatable(obj); mt.__newindex = function(t, k, v) rawset(t, k, "LEAK") end`, read: `(function() obj.z = 1; local v = obj.z; rawset(obj, "z", nil); return v == 1 and "clean" or "LEAK" end)()`},
	{name: "upvalue shared by two closures, one via table", top: `local box = { f = nil }; do local n = "clean"; box.f = function(v) if v then n = v end return n end end`,
		write: `box.f("LEAK")`, read: `box.f()`},
	{name: "string methods: string.format replaced", write: `string.format = function() return "LEAK" end`, read: `("%s"):format("clean")`},
	{name: "require of a library name, changed", write: `require("table").leaked = "LEAK"; require("kv").leaked = "LEAK"`, read: `(require("table").leaked or require("kv").leaked) or "clean"`},
	{name: "library opened by a dynamic name", write: `_G["ma" .. "th"].pi = "LEAK"; _G["j" .. "son"].x = "LEAK"`, read: `(tostring(_G["ma" .. "th"].pi) == "LEAK" or _G["j" .. "son"].x) and "LEAK" or "clean"`},
	{name: "global named like a library, set by a handler", write: `kv = { get = function() return "LEAK" end }`, read: `(kv.get("x") == "LEAK") and "LEAK" or "clean"`},
	{name: "global named like a library shadowed at top", top: `http = { tag = "clean" }`, write: `http.tag = "LEAK"; rawset(_G, "http", nil)`, read: `(http and http.tag) or "clean"`},
	{name: "_G metatable __index replaced", write: `getmetatable(_G).__index = function() return "LEAK" end`, read: `not_a_name or "clean"`},
	{name: "_G metatable removed then library used", write: `setmetatable(_G, nil)`, read: `(pcall(function() return vcc.data end)) and "clean" or "LEAK"`},
	{name: "json.null metatable via decode", write: `setmetatable(json.decode("[null]")[1] and {} or {}, {}); local n = json.decode("[null]")[1]; pcall(setmetatable, n, {__index={secret="LEAK"}})`, read: `(getmetatable(json.null) and "LEAK") or "clean"`},
	{name: "ipairs upvalue", write: `local _, f = ipairs({}); pcall(function() getmetatable("").__index.leaked = f end)`, read: `string.leaked and "LEAK" or "clean"`},
	{name: "gmatch iterator held via pairs in table", top: `local it = { f = string.gmatch("abcdef", ".") }`,
		write: `it.f(); it.f()`, read: `it.f() == "a" and "clean" or "LEAK"`},
	{name: "gsub iterator keeps state", top: `local seen = {}; local count = 0`,
		write: `string.gsub("xyz", ".", function(c) count = count + 1; seen[c] = "LEAK" end)`, read: `(seen.x or (count > 0 and "LEAK")) or "clean"`},
	{name: "table.sort with a top-level comparator mutating upvalue", top: `local calls = 0; local list = { 3, 1, 2 }; local function cmp(a, b) calls = calls + 1 return a < b end`,
		write: `table.sort(list, cmp)`, read: `(calls == 0 and list[1] == 3) and "clean" or "LEAK"`},
	{name: "tostring of a table from the top", top: `local t = {}; local first = tostring(t)`,
		write: `t.x = 1`, read: `tostring(t) == first and "clean" or "LEAK"`},
	{name: "trailing array ghost then remove", top: `local t = { 1, 2, 3 }; t[3] = nil`,
		write: `t.x = 1`, read: `(function() local v = table.remove(t); t[#t+1] = v; return v == nil and "clean" or "LEAK" end)()`},
	// A covert channel between calls: the writer encodes its caller's last digit in which
	// tables it touches; a table touched loses the slot its top level removed.
	{name: "covert channel through lost ghosts", top: `local bits = {}; for i = 1, 4 do bits[i] = { a = 1, b = 2 }; bits[i].a = nil end`,
		write: `local d = 5; for i = 1, 4 do if d % 2 == 1 then bits[i].x = 1; bits[i].x = nil end; d = math.floor(d / 2) end`,
		read:  `(function() local d, w = 0, 1; for i = 1, 4 do local t = bits[i]; local before = {}; for k in pairs(t) do before[#before+1] = k end; t.z = 1; t.a = 1; if next(t) ~= "a" then d = d + w end; t.z, t.a = nil, nil; w = w * 2 end; return d == 0 and "clean" or ("LEAK " .. d) end)()`},
	{name: "a menu's table changed at run time", menuDriven: true,
		write: `main.prompt = "LEAK"; main["2"] = "LEAK"`, read: `main.prompt`},
}

// Every library table a script can reach gets its own carriers: a new field,
// and one of its functions replaced.
func init() {
	libs := map[string]string{"string": "upper", "table": "insert", "math": "floor", "ivr": "say",
		"json": "encode", "time": "now", "kv": "get", "log": "info", "http": "get", "vcc": "forward"}
	for lib, fn := range libs {
		carriers = append(carriers,
			carrier{name: lib + " table, new field", write: lib + `.leaked = "LEAK"`, read: lib + `.leaked or "clean"`},
			carrier{name: lib + "." + fn + " replaced", write: lib + "." + fn + ` = "LEAK"`,
				read: `type(` + lib + "." + fn + `) == "function" and "clean" or "LEAK"`},
			carrier{name: lib + " table's metatable", write: `setmetatable(` + lib + `, { __index = function() return "LEAK" end })`,
				read: lib + `.no_such_field or "clean"`})
	}
}

const utilModule = `local M = { greeting = "clean" }
local n = 0
function M.bump() n = n + 1 end
function M.count() return n end
return M`

// appFor is the script of one carrier: a plain handler app, or a menu tree
// whose options do the writing and reading.
func appFor(c carrier) string {
	if c.menuDriven {
		return voice + c.top + `
main = ivr.menu { id = "main", prompt = "clean",
  ["1"] = function(session) ` + c.write + ` return main end,
  ["2"] = function(session) return { clientActionId = "main", ivr.say_and_capture(` + c.read + `, { maxDigits = 1 }) } end }
on_call = main`
	}
	return voice + c.top + `
function on_call(session) return ivr.say_and_capture("clean", { maxDigits = 1 }) end
function on_dtmf(session, digits)
  if digits == "1" then ` + c.write + ` return ivr.say_and_capture("wrote", { maxDigits = 1 }) end
  return ivr.say_and_capture(` + c.read + `, { maxDigits = 1 })
end`
}

// TestNothingCarriesOverBetweenCalls is the isolation guarantee any reuse of
// Lua states must keep: a call sees only its own session, its app's kv, and
// what the top level built, unchanged. Each carrier's app is written to by
// several calls (so that every state a pool might hold has been touched) and
// then read by several others, and by the next event of a writing call.
func TestNothingCarriesOverBetweenCalls(t *testing.T) {
	t.Parallel()
	files := map[string]string{"util.lua": utilModule}
	apps := map[string]carrier{}
	for i, c := range carriers {
		name := fmt.Sprintf("carrier%02d", i)
		files[name+".lua"] = appFor(c)
		apps[name] = c
	}
	dir := scriptDir(t, files)
	h := newHarness(t, dir, engine.Options{})
	const calls = 6
	for name, c := range apps {
		t.Run(c.name, func(t *testing.T) {
			for i := 0; i < calls; i++ { // writers, each on a call of its own
				w := newCall(shapeDTMF, true)
				w.remember(h.post(w.start(), name))
				w.remember(h.post(w.keys("1"), name))
				// The writer's own next event: the top level is rebuilt for it too.
				if got := heard(t, h.post(w.keys("2"), name)); got != "clean" {
					t.Fatalf("the writing call's next event heard %q", got)
				}
			}
			for i := 0; i < calls; i++ { // readers on new calls
				r := newCall(shapeDTMF, true)
				first := h.post(r.start(), name)
				if got := heard(t, first); got != "clean" {
					t.Fatalf("call %d after the writers was greeted with %q", i+1, got)
				}
				r.remember(first)
				reply := h.post(r.keys("2"), name)
				if got := heard(t, reply); got != "clean" {
					t.Fatalf("call %d after the writers heard %q", i+1, got)
				}
				if !strings.Contains(string(reply), "en-US-BenjaminRUS") {
					t.Fatalf("call %d after the writers got another voice: %s", i+1, reply)
				}
			}
		})
	}
}

// heard is what the caller hears first, with the fallback called what it is.
func heard(t *testing.T, reply []byte) string {
	t.Helper()
	text := replyText(t, reply)
	if text == "" {
		return string(reply)
	}
	return text
}

// TestBudgetsStartAgainForEachEvent: what one event may write to kv and to
// the log is counted per event, also on a state that served the event before.
func TestBudgetsStartAgainForEachEvent(t *testing.T) {
	dir := scriptDir(t, map[string]string{"spend.lua": voice + `
function on_call(session) return ivr.say_and_capture("go", { maxDigits = 1 }) end
function on_dtmf(session, digits)
  if digits == "1" then -- spend this event's budgets
    for i = 1, ` + fmt.Sprint(kvmod.MaxEventWrites) + ` do kv.set("k", i) end
    for i = 1, ` + fmt.Sprint(logmod.MaxEventLines) + ` do log.info("spending") end
    return ivr.say_and_capture("spent", { maxDigits = 1 })
  end
  kv.set("k", "after")
  log.info("the next event logs", { marker = "after-" .. session.id })
  return ivr.say_and_capture("clean", { maxDigits = 1 })
end`})
	h := newHarness(t, dir, engine.Options{})
	for i := 0; i < 4; i++ {
		c := newCall(shapeDTMF, true)
		c.remember(h.post(c.start(), "spend"))
		if got := heard(t, h.post(c.keys("1"), "spend")); got != "spent" {
			t.Fatalf("spending: %q", got)
		}
		r := newCall(shapeDTMF, true)
		r.remember(h.post(r.start(), "spend"))
		if got := heard(t, h.post(r.keys("2"), "spend")); got != "clean" {
			t.Fatalf("the event after one that spent its budgets heard %q\n%s", got, h.logs.String())
		}
		if !strings.Contains(h.logs.String(), "after-"+r.session) {
			t.Fatalf("the event after one that spent its log budget could not log")
		}
	}
}

// TestATopLevelThatReadsOnlySometimesIsNotKept: a top level whose course
// depends on something that changes from run to run (here the order of a
// library's functions, which gopher-lua sets from a Go map) can read the
// clock in one run and not in another. The probe at load may see a run that reads nothing; a
// warm state's own run that reads the clock must then serve only its own
// event, or every later call on that state would hear that call's hour.
func TestATopLevelThatReadsOnlySometimesIsNotKept(t *testing.T) {
	t.Parallel()
	src := voice + `
local first = next(table)
local stamp = "none"
if first ~= "insert" then stamp = "hour " .. time.parts(time.now()).hour end
function on_call(session) return ivr.say_and_capture(stamp, { maxDigits = 1 }) end`
	for try := 0; try < 200; try++ {
		now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
		h := newHarness(t, scriptDir(t, map[string]string{"clock.lua": src}), engine.Options{Now: func() time.Time { return now }})
		if !engine.HasAnswers(h.eng.Scripts(), "clock") {
			continue // the probe's run read the clock: not pure, as it should be
		}
		for range 20 {
			now = now.Add(time.Hour)
			c := newCall(shapeDTMF, true)
			if said := replyText(t, h.post(c.start(), "clock")); said != "none" && said != fmt.Sprintf("hour %d", now.Hour()) {
				t.Fatalf("a call at %02d:00 heard %q: the hour another call's top level read", now.Hour(), said)
			}
		}
		return
	}
	t.Skip("the probe's run read the clock in every try")
}

// An idle warm state keeps nothing of its last event alive: not the
// session (the caller's number, digits, whatever a handler hung on it), not
// the defaults a handler set, not a closure the handler made and called.
// The handler builds 48 MB that only those could hold; the live heap after
// its event must not keep it until another event comes to the state. Not
// parallel: it reads the heap.
func TestIdleWarmStateHoldsNothingOfItsLastEvent(t *testing.T) {
	for _, keep := range []string{
		"session.hoard = hoard",
		"ivr.defaults { other = hoard }",
		// A closure's frame, deeper than any call the handler makes after it.
		"local function size() return #hoard end; local function outer() local n = size(); return n end; outer()",
		"local function deeper(n) if n > 0 then local m = deeper(n - 1); return m end return #hoard end; deeper(5)",
		"local n = #hoard", // a handler's own local: freed either way
	} {
		t.Run(keep, func(t *testing.T) {
			src := voice + `
function on_call(session) return ivr.say_and_capture("go", { maxDigits = 1 }) end
function on_dtmf(session, digits)
  if digits == "1" then
    local hoard = {}
    for i = 1, 48 do hoard[i] = string.rep("x", 1000000) .. i end
    ` + keep + `
  end
  return ivr.say_and_capture("clean", { maxDigits = 1 })
end`
			h := newHarness(t, scriptDir(t, map[string]string{"hoard.lua": src}), engine.Options{Concurrency: 1})
			c := newCall(shapeDTMF, true)
			c.remember(h.post(c.start(), "hoard"))
			before := liveHeap()
			h.post(c.keys("1"), "hoard") // the event that builds the hoard, on the one warm state
			if after := liveHeap(); after > before+16<<20 {
				t.Errorf("%d MB of the last event still live on the idle warm state", (after-before)>>20)
			}
		})
	}
}

// liveHeap is the heap's live bytes after a collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
