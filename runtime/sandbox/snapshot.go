package sandbox

import (
	"maps"
	"math"
	"reflect"
	"slices"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// Snapshot is what a state's Lua values were when it was taken: every table
// reachable from the state's globals, its registry (the modules require
// loaded), string's metatable and the roots the caller names (values Go code
// holds, such as the menus ivr keeps), with each table's entries and
// metatable; every upvalue of every function reachable; every userdata's
// metatable.
//
// It is how a state can serve many events and still start each one as its
// top level left it: Restore puts back every entry, metatable and upvalue a
// handler changed, and drops what it added, so nothing of one call reaches
// the next. What a handler creates is reachable afterwards only through what
// Restore undid. Strings and numbers are values; setmetatable takes tables
// only (New), so no other metatable can change.
type Snapshot struct {
	tables   []tableCopy
	upvalues []upvalueCopy
	userdata []userdataCopy
	entries  int // in all tables: what the state holds, roughly
	rebuilt  int // tables Restore built again, for tests
	L        *lua.LState
	forget   *lua.LFunction // see forgetCalls
	forgot   int            // frames forget has overwritten
}

// Size is how many table entries the snapshot keeps: a measure of what a
// state like this one holds in memory.
func (s *Snapshot) Size() int { return s.entries }

// tableCopy is a table as the snapshot found it, slot by slot: gopher-lua
// keeps an array part and a list of the other keys in the order they were
// first set, and a removed key keeps its place in the list (a key set again
// goes back there, ahead of keys added since), as a nil keeps its place in
// the array. Lua sees those slots (next's order, table.remove, #), so a
// table is put back slot for slot, the empty ones included.
type tableCopy struct {
	t    *lua.LTable
	meta lua.LValue
	// array is the array part, nils included; keys are the key list, in
	// order, and vals their values, LNil for a key removed.
	array      []lua.LValue
	keys, vals []lua.LValue
}

// slots are the lengths of gopher-lua's array part and key list of t, read
// by reflection since the fields are gopher-lua's own: init fails loudly if
// a version renames them.
func slots(t *lua.LTable) (array, keys int) {
	v := reflect.ValueOf(t).Elem()
	return v.Field(arrayField).Len(), v.Field(keysField).Len()
}

// keyList is t's key list, read in place (its type is checked at init);
// the caller must not change it.
func keyList(t *lua.LTable) []lua.LValue {
	return *(*[]lua.LValue)(unsafe.Pointer(reflect.ValueOf(t).Elem().Field(keysField).UnsafeAddr()))
}

var arrayField, keysField = tableField("array"), tableField("keys")

func tableField(name string) int {
	f, ok := reflect.TypeFor[lua.LTable]().FieldByName(name)
	if !ok || f.Type != reflect.TypeFor[[]lua.LValue]() {
		panic("sandbox: gopher-lua's LTable has no slice field " + name + ": Snapshot must learn the new layout")
	}
	return f.Index[0]
}

// copyTable is t's slots as they are.
func copyTable(t *lua.LTable) tableCopy {
	array, keys := slots(t)
	c := tableCopy{t: t, meta: t.Metatable, array: make([]lua.LValue, array)}
	for i := range c.array {
		c.array[i] = t.RawGetInt(i + 1)
	}
	c.keys = append([]lua.LValue(nil), keyList(t)[:keys]...)
	c.vals = make([]lua.LValue, keys)
	for i, k := range c.keys {
		c.vals[i] = t.RawGetH(k)
	}
	return c
}

// entries is how many of c's slots hold a value.
func (c *tableCopy) entries() int {
	n := 0
	for _, v := range c.array {
		if v != lua.LNil {
			n++
		}
	}
	for _, v := range c.vals {
		if v != lua.LNil {
			n++
		}
	}
	return n
}

// holds reports whether c's table has c's slots, each with its value: as
// many (gopher-lua's array and key list only grow, so a key added takes a
// new slot), and the same in each, one lookup each.
func (c *tableCopy) holds() bool {
	if a, k := slots(c.t); a != len(c.array) || k != len(c.keys) {
		return false
	}
	for i, v := range c.array {
		if !same(c.t.RawGetInt(i+1), v) {
			return false
		}
	}
	for i, k := range c.keys {
		if !same(c.t.RawGetH(k), c.vals[i]) {
			return false
		}
	}
	return true
}

// rebuild makes c's table anew with c's slots: the array in order, nils
// included, and the key list in order, a removed key set and removed again
// so that it keeps its place.
func (c *tableCopy) rebuild() {
	var fresh lua.LTable
	for i, v := range c.array {
		fresh.RawSetInt(i+1, v) // at the end of the array, a nil is kept too
	}
	for i, k := range c.keys {
		if v := c.vals[i]; v != lua.LNil {
			fresh.RawSetH(k, v)
		} else {
			fresh.RawSetH(k, lua.LTrue)
			fresh.RawSetH(k, lua.LNil)
		}
	}
	*c.t = fresh
}

type upvalueCopy struct {
	uv *lua.Upvalue
	v  lua.LValue
}

type userdataCopy struct {
	ud   *lua.LUserData
	meta lua.LValue
	env  *lua.LTable
}

// Take snapshots L's values (see Snapshot). Call it with no script running.
func Take(L *lua.LState, roots ...lua.LValue) *Snapshot {
	s := &Snapshot{L: L}
	s.forget = L.NewFunction(func(L *lua.LState) int {
		if s.forgot++; s.forgot < lua.FramesPerSegment {
			L.Push(s.forget)
			L.Call(0, 0)
		}
		return 0
	})
	walk(L, roots, visitor{
		table: func(t *lua.LTable) {
			c := copyTable(t)
			s.entries += c.entries()
			s.tables = append(s.tables, c)
		},
		upvalue: func(uv *lua.Upvalue) {
			s.upvalues = append(s.upvalues, upvalueCopy{uv: uv, v: uv.Value()})
		},
		userdata: func(ud *lua.LUserData) {
			s.userdata = append(s.userdata, userdataCopy{ud: ud, meta: ud.Metatable, env: ud.Env})
		},
	})
	return s
}

// visitor is what walk calls for each thing it reaches; a nil func is not
// called.
type visitor struct {
	table    func(*lua.LTable)
	function func(*lua.LFunction)
	upvalue  func(*lua.Upvalue)
	userdata func(*lua.LUserData)
}

// walk calls v once for every table, function, upvalue and userdata
// reachable from L's globals, its registry, string's metatable and roots:
// through table keys, values and metatables, functions' environments and
// upvalues, userdata's metatables and environments.
func walk(L *lua.LState, roots []lua.LValue, v visitor) {
	seen := map[lua.LValue]bool{}
	seenUp := map[*lua.Upvalue]bool{}
	queue := append([]lua.LValue{L.G.Global, L.G.Registry, L.GetMetatable(lua.LString(""))}, roots...)
	for len(queue) > 0 {
		x := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		switch x := x.(type) {
		case *lua.LTable:
			if seen[x] {
				continue
			}
			seen[x] = true
			if v.table != nil {
				v.table(x)
			}
			for k, val := x.Next(lua.LNil); k != lua.LNil; k, val = x.Next(k) {
				queue = append(queue, k, val)
			}
			queue = append(queue, x.Metatable)
		case *lua.LFunction:
			if seen[x] {
				continue
			}
			seen[x] = true
			if v.function != nil {
				v.function(x)
			}
			if x.Env != nil {
				queue = append(queue, x.Env)
			}
			for _, uv := range x.Upvalues {
				if uv == nil || seenUp[uv] {
					continue
				}
				seenUp[uv] = true
				if v.upvalue != nil {
					v.upvalue(uv)
				}
				queue = append(queue, uv.Value())
			}
		case *lua.LUserData:
			if seen[x] {
				continue
			}
			seen[x] = true
			if v.userdata != nil {
				v.userdata(x)
			}
			queue = append(queue, x.Metatable)
			if x.Env != nil {
				queue = append(queue, x.Env)
			}
		}
	}
}

// Preopen opens, in L, the libraries that New puts off (see New) and that
// the code L holds names: every string constant of every Lua function
// reachable (as walk reaches them) and of the functions they define. A
// state that serves many events (Snapshot) then holds them from its
// snapshot on. Otherwise an event that names kv or table would open it anew,
// and Restore, finding _G changed, would build _G and the loaded modules
// again after it, in every such event (TestPreopenedLibrariesNeedNoRebuild).
// A library named only at run time (_G["k" .. "v"]) is still opened when
// used, and forgotten at Restore: slower, not different.
func Preopen(L *lua.LState) {
	open, ok := L.G.Registry.RawGetString(openKey).(*lua.LFunction)
	if !ok {
		return
	}
	names := map[string]bool{}
	var read func(p *lua.FunctionProto)
	read = func(p *lua.FunctionProto) {
		for _, c := range p.Constants {
			if s, ok := c.(lua.LString); ok {
				names[string(s)] = true
			}
		}
		for _, f := range p.FunctionPrototypes {
			read(f)
		}
	}
	walk(L, nil, visitor{function: func(f *lua.LFunction) {
		if f.Proto != nil {
			read(f.Proto)
		}
	}})
	// In order, so that every warm state's _G is walked by pairs alike. A
	// library that fails to open stays closed: the event that names it
	// raises the error, as it would have.
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if L.CallByParam(lua.P{Fn: open, NRet: 1, Protect: true}, lua.LString(name)) == nil {
			L.Pop(1)
		}
	}
}

// Restore puts L's values back as they were when s was taken: a table an
// event changed is built again, slot for slot (tableCopy), so that not even
// next's order or table.remove shows what another call added and removed.
//
// A table is checked with one lookup a slot, where walking it with next
// costs three (measured: 2.4 us against 7.1 us a restore of simple_ivr's
// state, BenchmarkRestore).
func (s *Snapshot) Restore() {
	for i := range s.tables {
		c := &s.tables[i]
		if !c.holds() {
			c.rebuild()
			s.rebuilt++
		}
		c.t.Metatable = c.meta
	}
	for _, u := range s.upvalues {
		if !same(u.uv.Value(), u.v) {
			u.uv.SetValue(u.v)
		}
	}
	for _, u := range s.userdata {
		u.ud.Metatable, u.ud.Env = u.meta, u.env
	}
	s.forgetCalls()
}

// forgetCalls overwrites the call frames the event left behind. gopher-lua
// keeps a state's first lua.FramesPerSegment call frames when the calls
// return, each naming the function it ran: a closure the event made, or
// the engine's own closure around the handler, and so whatever they hold
// (one call's session, a table a handler built) stayed reachable from an
// idle state until its next event. Calling a function of the snapshot's own
// that deep leaves each of those frames naming it. The values the calls
// pushed are gone already: the caller sets the stack's top to 0.
func (s *Snapshot) forgetCalls() {
	s.forgot = 0
	s.L.Push(s.forget)
	s.L.Call(0, 0)
}

// same reports whether a and b are the same Lua value, bit for bit: -0 is
// not 0 (1/x tells them apart), and a NaN is itself.
func same(a, b lua.LValue) bool {
	if x, ok := a.(lua.LNumber); ok {
		y, ok := b.(lua.LNumber)
		return ok && math.Float64bits(float64(x)) == math.Float64bits(float64(y))
	}
	return a == b
}
