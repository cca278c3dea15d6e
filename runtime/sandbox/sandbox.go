// Package sandbox makes the Lua states that IVR scripts run in.
//
// A state gets Lua's base, string, table and math libraries with everything that
// reaches outside removed (no io, os, debug, load*, dofile), a require that only
// loads modules from the script folder, and bounded stacks. Like a bloblang
// environment, a script can use what its state carries and nothing else.
//
// Nothing a script writes — globals, module tables, even string's metatable —
// may reach the next event or another call. The engine either makes a new
// state for an event and closes it afterwards, or, for a script whose top
// level reads nothing from outside, keeps a state whose top level has run and
// puts it back after each event as it was (Snapshot). Compiled code is shared
// between states, so a new state costs only the libraries' tables.
package sandbox

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/luaivr/luaivr/runtime/sandbox/pattern"
	lua "github.com/yuin/gopher-lua"
)

// Limits that stop a runaway script with a Lua error rather than exhausting the
// process. The event deadline (the engine's context) stops endless loops.
const (
	// CallStackSize bounds Lua call depth: unbounded recursion raises
	// "stack overflow" instead of growing without end.
	CallStackSize = 200
	// registrySize and registryMaxSize bound the value stack: CallStackSize
	// frames of at most 250 registers, and maxUnpack values on top. It grows
	// in steps of registryGrowStep: gopher-lua's default of 32 makes pushing
	// many values quadratic (string.byte over 1 MiB took 76 s before it
	// overflowed).
	registrySize     = 256
	registryMaxSize  = 64 * 1024
	registryGrowStep = 4096
	// MaxStringBytes bounds what string.rep can build in one call.
	MaxStringBytes = 1 << 20
	// maxUnpack bounds how many values unpack may push.
	maxUnpack = 4096
	// MaxArrayIndex bounds the array part of a table: gopher-lua's default
	// (2^26) lets one assignment, t[67108863] = 1, allocate a gigabyte of
	// nils. Larger integer keys still work; they live in the hash part.
	MaxArrayIndex = 1 << 20
	// checkEvery is how many steps Go-side library loops take between
	// looks at the deadline.
	checkEvery = 1024
)

func init() { lua.MaxArrayIndex = MaxArrayIndex }

// Modules resolves require(name) to compiled code from the script folder.
// It returns ErrNoModule when there is no such module.
type Modules interface {
	Module(name string) (*lua.FunctionProto, error)
}

// ErrNoModule is returned by Modules for a name with no file behind it.
var ErrNoModule = errors.New("no such module")

// Lib is a Go-provided module, set as a global of its name before any script
// runs (require of that name returns it too).
type Lib struct {
	Name string
	Open func(L *lua.LState) lua.LValue
}

// New returns a fresh, locked-down Lua state with libs. The caller closes it.
//
// Only the base library and string (whose metatable gives strings their
// methods) are opened up front. table, math and the libs are opened the
// first time a script names them, through _G's __index: a new state per
// event is the price of isolation, and most handlers touch two or three
// modules.
func New(mods Modules, libs ...Lib) *lua.LState {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       CallStackSize,
		RegistrySize:        registrySize,
		RegistryMaxSize:     registryMaxSize,
		RegistryGrowStep:    registryGrowStep,
		MinimizeStackMemory: true,
	})
	open := func(fn lua.LGFunction, name string) lua.LValue {
		L.Push(L.NewFunction(fn))
		L.Push(lua.LString(name))
		L.Call(1, 1)
		v := L.Get(-1)
		L.Pop(1)
		return v
	}
	open(lua.OpenBase, lua.BaseLibName)
	g := L.G.Global
	// Each of these reads files, compiles code at run time, or changes the
	// environment of functions: the ways out of a sandbox.
	for _, name := range []string{"dofile", "loadfile", "load", "loadstring", "module",
		"require", "collectgarbage", "getfenv", "setfenv", "newproxy", "_printregs", "print"} {
		g.RawSetString(name, lua.LNil)
	}
	if str, ok := open(lua.OpenString, lua.StringLibName).(*lua.LTable); ok {
		str.RawSetString("dump", lua.LNil)
		str.RawSetString("rep", L.NewFunction(strRep))
		for name, fn := range patterns { // gopher-lua's cannot be stopped at the deadline
			str.RawSetString(name, L.NewFunction(fn))
		}
		str.RawSetString("format", bounded(L, str.RawGetString("format"), formatBound))
		str.RawSetString("byte", bounded(L, str.RawGetString("byte"), byteBound))
		inOrder(str)
	}
	g.RawSetString("unpack", L.NewFunction(unpack))
	g.RawSetString(concatGlobal, L.NewFunction(concat))
	inOrder(g)

	loaded := L.NewTable()
	L.G.Registry.RawSetString(loadedKey, loaded)
	lazy := map[string]func(*lua.LState) lua.LValue{
		lua.TabLibName: func(L *lua.LState) lua.LValue {
			tbl := open(lua.OpenTable, lua.TabLibName).(*lua.LTable)
			tbl.RawSetString("unpack", L.NewFunction(unpack))
			tbl.RawSetString("concat", L.NewFunction(tableConcat))
			tbl.RawSetString("sort", L.NewFunction(tableSort))
			return tbl
		},
		lua.MathLibName: func(L *lua.LState) lua.LValue {
			math := open(lua.OpenMath, lua.MathLibName).(*lua.LTable)
			seed := math.RawGetString("randomseed").(*lua.LFunction).GFunction
			for name, fn := range map[string]lua.LGFunction{"random": random, "randomseed": seed} { // noted for Random
				what := "math." + name
				math.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
					if L.G.Registry.RawGetString(randomKey) == lua.LNil {
						L.G.Registry.RawSetString(randomKey, lua.LString(what))
						L.G.Registry.RawSetString(randomAtKey, lua.LString(Where(L)))
					}
					return fn(L)
				}))
			}
			return math
		},
	}
	for _, lib := range libs {
		lazy[lib.Name] = lib.Open
	}
	// openLazy opens a library on first use, as a global (unless the script
	// has a global of that name) and for require. A state that serves many
	// events (Snapshot) loses a library an event opened when it is restored,
	// and opens it again, new, for the next event that uses it.
	openLazy := func(name string) lua.LValue {
		fn, ok := lazy[name]
		if !ok {
			return lua.LNil
		}
		if v := loaded.RawGetString(name); v != lua.LNil {
			return v
		}
		v := fn(L)
		if t, ok := v.(*lua.LTable); ok {
			inOrder(t)
		}
		if g.RawGetString(name) == lua.LNil {
			g.RawSetString(name, v)
		}
		loaded.RawSetString(name, v)
		return v
	}
	// A script that sets or reads _G's metatable (a "strict globals" guard)
	// would hide the libraries not opened yet: open them all first.
	openAll := func() {
		for _, name := range slices.Sorted(maps.Keys(lazy)) {
			if g.RawGetString(name) == lua.LNil {
				openLazy(name)
			}
		}
	}
	for _, name := range []string{"setmetatable", "getmetatable"} {
		orig := g.RawGetString(name).(*lua.LFunction).GFunction
		set := name == "setmetatable"
		g.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			if L.Get(1) == g {
				openAll()
			}
			if _, table := L.Get(1).(*lua.LTable); set && !table {
				// As in Lua 5.1: gopher-lua would set the metatable of every
				// string, number or function of the state.
				L.ArgError(1, "table expected, got "+L.Get(1).Type().String())
			}
			return orig(L)
		}))
	}
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		name, ok := L.Get(2).(lua.LString)
		if !ok {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(openLazy(string(name)))
		return 1
	}))
	L.SetMetatable(g, mt)
	g.RawSetString("require", L.NewFunction(requireFrom(mods, openLazy)))
	L.G.Registry.RawSetString(openKey, L.NewFunction(func(L *lua.LState) int {
		L.Push(openLazy(L.CheckString(1)))
		return 1
	}))
	return L
}

// inOrder makes pairs and next go through t's keys in order (numbers,
// then names), keeping t itself: the libraries are built from Go maps
// (gopher-lua's and luaivr's own), which list their functions in another
// order in every state, so a top level that walks one (a prompt listing
// what string offers) would build something else in each run, and each
// Lua state, a replay's included, would walk it its own way. Removed keys
// (nil values) are dropped.
func inOrder(t *lua.LTable) {
	var keys []lua.LValue
	t.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
	slices.SortFunc(keys, func(a, b lua.LValue) int {
		an, aNum := a.(lua.LNumber)
		bn, bNum := b.(lua.LNumber)
		switch {
		case aNum && bNum:
			return cmp.Compare(an, bn)
		case aNum:
			return -1
		case bNum:
			return 1
		}
		return cmp.Or(cmp.Compare(a.Type(), b.Type()), strings.Compare(a.String(), b.String()))
	})
	fresh := lua.LTable{Metatable: t.Metatable}
	for _, k := range keys {
		fresh.RawSet(k, t.RawGet(k))
	}
	*t = fresh
}

// Environment is what a state New makes offers a script before it runs: the
// name of each global, and for a library table the names of its fields. The
// linter reads it to know which names a script may use, from the states
// scripts really get rather than from a list kept beside them.
func Environment(libs ...Lib) map[string][]string {
	L := New(nil, libs...)
	defer L.Close()
	g := L.G.Global
	// getmetatable(_G) opens every library New puts off (see New).
	if err := L.CallByParam(lua.P{Fn: g.RawGetString("getmetatable"), NRet: 1}, g); err != nil {
		panic(err) // New's own code: a failure is luaivr's bug
	}
	env := map[string][]string{}
	g.ForEach(func(k, v lua.LValue) {
		name, ok := k.(lua.LString)
		if !ok || name == concatGlobal {
			return
		}
		var fields []string
		if t, ok := v.(*lua.LTable); ok && t != g {
			t.ForEach(func(k, _ lua.LValue) {
				if f, ok := k.(lua.LString); ok {
					fields = append(fields, string(f))
				}
			})
			sort.Strings(fields)
		}
		env[string(name)] = fields
	})
	return env
}

// strRep is string.rep with a bound on the result, so `string.rep("x", 1e12)`
// is an error rather than an out-of-memory crash.
func strRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	sep := L.OptString(3, "")
	if n <= 0 {
		L.Push(lua.LString(""))
		return 1
	}
	// Compared by division, so a huge n cannot overflow the check.
	if unit := len(s) + len(sep); unit > 0 && n-1 > (MaxStringBytes-len(s))/unit {
		L.RaiseError("string.rep: %d copies of %d bytes is over the limit of %d bytes", n, len(s), MaxStringBytes)
	}
	if sep == "" {
		L.Push(lua.LString(strings.Repeat(s, n)))
	} else {
		L.Push(lua.LString(strings.Repeat(s+sep, n-1) + s))
	}
	return 1
}

// bounded wraps a library function with a check of its arguments that
// refuses calls whose result could exceed MaxStringBytes: the work happens in
// one Go call, which the deadline cannot interrupt.
func bounded(L *lua.LState, orig lua.LValue, check func(L *lua.LState) string) *lua.LFunction {
	fn := orig.(*lua.LFunction).GFunction
	return L.NewFunction(func(L *lua.LState) int {
		if msg := check(L); msg != "" {
			L.RaiseError("%s", msg)
		}
		return fn(L)
	})
}

// formatBound reads the format as Lua 5.1 does and refuses what it would
// refuse: a directive is %, flags from "-+ #0", a width and a precision of at
// most two digits each, and one of Lua's conversions. gopher-lua hands the
// format to Go's fmt.Sprintf, which would also take Go's own directives
// (%999999[1]s, %*d, %v): a megabyte from a dozen bytes, or gigabytes from
// one call. It then refuses a result that could exceed MaxStringBytes.
func formatBound(L *lua.LState) string {
	format := lua.LVAsString(L.Get(1))
	size, arg := len(format), 2
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		if i < len(format) && format[i] == '%' {
			continue
		}
		for i < len(format) && strings.IndexByte("-+ #0", format[i]) >= 0 {
			i++
		}
		width, precision := 0, 0
		for i < len(format) && format[i] >= '0' && format[i] <= '9' {
			i, width = i+1, width+1
		}
		if i < len(format) && format[i] == '.' {
			for i++; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
				precision++
			}
		}
		if width > 2 || precision > 2 {
			return "string.format: invalid format (width or precision too long)"
		}
		if i >= len(format) || strings.IndexByte("cdiouxXeEfgGqs", format[i]) < 0 {
			option := "%"
			if i < len(format) {
				option += string(format[i])
			}
			return fmt.Sprintf("string.format: invalid option '%s' to 'format' (Lua's are %%c %%d %%i %%o %%u %%x %%X %%e %%E %%f %%g %%G %%q %%s)", option)
		}
		n := len(lua.LVAsString(L.Get(arg)))
		if format[i] == 'q' { // every byte may become an escape of four
			n = 4*n + 2
		}
		size += 99 + 32 + n
		arg++
	}
	if size > MaxStringBytes {
		return fmt.Sprintf("string.format: the result could be over the limit of %d bytes", MaxStringBytes)
	}
	return ""
}

// byteBound refuses string.byte calls that would push more than maxUnpack
// values, as unpack does. It counts as gopher-lua's string.byte does (which,
// unlike Lua's, returns every byte to the end when called with the string
// alone).
func byteBound(L *lua.LState) string {
	l := len(L.CheckString(1))
	start, end := L.OptInt(2, 1)-1, L.OptInt(3, -1)
	if start < 0 {
		start = l + start + 1
	}
	if end < 0 {
		end = l + end + 1
	}
	if L.GetTop() != 2 && min(end, l)-max(start, 0) > maxUnpack {
		return fmt.Sprintf("string.byte: more than %d values (take the bytes in pieces, or use string.find and string.sub)", maxUnpack)
	}
	return ""
}

// tableConcat is table.concat joining in Go with its result bounded by
// MaxStringBytes. gopher-lua's pushes every piece onto the value stack first,
// which for a million-element table is quadratic. It keeps gopher-lua's
// handling of i and j: both clamped to #t.
func tableConcat(L *lua.LState) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	n := t.Len()
	i, j := L.OptInt(3, 1), L.OptInt(4, n)
	if L.GetTop() == 3 && (i > n || i < 1) {
		L.Push(lua.LString(""))
		return 1
	}
	i, j = max(min(i, n), 1), min(j, n)
	var b strings.Builder
	for k := i; k <= j; k++ {
		v := t.RawGetInt(k)
		if !lua.LVCanConvToString(v) {
			L.RaiseError("invalid value (%s) at index %d in table for concat", v.Type(), k)
		}
		piece := lua.LVAsString(v)
		if k != j {
			piece += sep
		}
		if b.Len()+len(piece) > MaxStringBytes {
			L.RaiseError("table.concat: result over the limit of %d bytes", MaxStringBytes)
		}
		b.WriteString(piece)
		if k%checkEvery == 0 {
			if err := pattern.ContextErr(L); err != nil {
				L.RaiseError("table.concat: %v", err)
			}
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// patterns are string.find, match, gmatch and gsub on the project's own
// matcher, which looks at the deadline as it goes; gsub's result is bounded
// like every string a script can make.
var patterns = pattern.Functions(pattern.ContextErr, MaxStringBytes)

// tableSort is table.sort that stops at the deadline: gopher-lua's sorts a
// million elements in one Go call. Like Lua's, it sorts t[1..#t] in place
// with comp (or <); an order function that is not one raises no error, as
// in Lua 5.1 the result is then just unspecified.
func tableSort(L *lua.LState) int {
	t := L.CheckTable(1)
	comp, hasComp := L.Get(2).(*lua.LFunction)
	if !hasComp && L.Get(2) != lua.LNil {
		L.ArgError(2, "function expected")
	}
	n := t.Len()
	items := make([]lua.LValue, n)
	for i := range items {
		items[i] = t.RawGetInt(i + 1)
	}
	steps := 0
	sort.Sort(&sorter{items: items, less: func(a, b lua.LValue) bool {
		if steps++; steps%checkEvery == 0 {
			if err := pattern.ContextErr(L); err != nil {
				L.RaiseError("table.sort: %v", err)
			}
		}
		if !hasComp {
			return L.LessThan(a, b)
		}
		L.Push(comp)
		L.Push(a)
		L.Push(b)
		L.Call(2, 1)
		ok := lua.LVAsBool(L.Get(-1))
		L.Pop(1)
		return ok
	}})
	for i, v := range items {
		t.RawSetInt(i+1, v)
	}
	return 0
}

type sorter struct {
	items []lua.LValue
	less  func(a, b lua.LValue) bool
}

func (s *sorter) Len() int           { return len(s.items) }
func (s *sorter) Less(i, j int) bool { return s.less(s.items[i], s.items[j]) }
func (s *sorter) Swap(i, j int)      { s.items[i], s.items[j] = s.items[j], s.items[i] }

func unpack(L *lua.LState) int {
	tb := L.CheckTable(1)
	i := L.OptInt(2, 1)
	j := L.OptInt(3, tb.Len())
	if j < i {
		return 0
	}
	if j > i+maxUnpack-1 || i+maxUnpack-1 < i { // the second: i so large the sum wrapped
		L.RaiseError("unpack: more than %d values", maxUnpack)
	}
	for k := i; k <= j; k++ {
		L.Push(tb.RawGetInt(k))
	}
	return j - i + 1
}

// moduleName is what require accepts: dotted Lua identifiers, so a name can
// never climb out of the script folder.
var moduleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// IsModuleName reports whether require accepts name.
func IsModuleName(name string) bool { return moduleName.MatchString(name) }

const loadedKey = "luaivr.loaded"

// openKey is the registry's function that opens one library New put off
// (Preopen): out of the scripts' reach, as the whole registry is.
const openKey = "luaivr.open"

func requireFrom(mods Modules, openLazy func(string) lua.LValue) lua.LGFunction {
	return func(L *lua.LState) int {
		name := L.CheckString(1)
		if !moduleName.MatchString(name) {
			L.ArgError(1, fmt.Sprintf("module name %q: use dotted Lua names like \"lib.hours\" (files in the script folder)", name))
		}
		loaded := L.G.Registry.RawGetString(loadedKey).(*lua.LTable)
		if v := openLazy(name); v != lua.LNil { // a library not touched yet
			L.Push(v)
			return 1
		}
		if v := loaded.RawGetString(name); v != lua.LNil {
			if v == lua.LFalse {
				L.RaiseError("require %q: loop in requires (a module requires itself through others)", name)
			}
			L.Push(v)
			return 1
		}
		var proto *lua.FunctionProto
		err := ErrNoModule
		if mods != nil {
			proto, err = mods.Module(name)
		}
		if errors.Is(err, ErrNoModule) {
			L.RaiseError("require %q: no file %s.lua in the script folder", name, strings.ReplaceAll(name, ".", "/"))
		} else if err != nil {
			L.RaiseError("require %q: %s", name, err)
		}
		loaded.RawSetString(name, lua.LFalse) // mark in progress
		L.Push(L.NewFunctionFromProto(proto))
		L.Push(lua.LString(name))
		L.Call(1, 1)
		v := L.Get(-1)
		L.Pop(1)
		if v == lua.LNil {
			v = lua.LTrue
		}
		loaded.RawSetString(name, v)
		L.Push(v)
		return 1
	}
}

// Random says which of math.random and math.randomseed code that ran in L
// called first, and where ("app.lua:3"); what is "" when it called neither:
// whether running it again could give something else.
func Random(L *lua.LState) (what, where string) {
	w, _ := L.G.Registry.RawGetString(randomKey).(lua.LString)
	at, _ := L.G.Registry.RawGetString(randomAtKey).(lua.LString)
	return string(w), string(at)
}

// Where is the script and line of the Lua code that called the Go function
// running in L ("app.lua:3").
func Where(L *lua.LState) string { return strings.TrimSuffix(L.Where(1), ":") }

const randomKey, randomAtKey = "luaivr.random", "luaivr.random.at"
