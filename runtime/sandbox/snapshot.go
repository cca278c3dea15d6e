package sandbox

import (
	"math"
	"reflect"
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
}

// Size is how many table entries the snapshot keeps: a measure of what a
// state like this one holds in memory.
func (s *Snapshot) Size() int { return s.entries }

type tableCopy struct {
	t    *lua.LTable
	meta lua.LValue
	// keys and vals are the entries in the order next gives them.
	keys, vals []lua.LValue
	// ghosts are the slots that hold no value: keys removed before the
	// snapshot, which gopher-lua keeps in its key list, and the nils inside
	// the array part. Setting one changes neither slots nor an entry.
	ghosts []lua.LValue
	// arraySlots and keySlots are the lengths of the table's array part
	// and key list (see slots) as the snapshot left them.
	arraySlots, keySlots int
}

// slots are the lengths of gopher-lua's array part and key list of t. They
// count what Lua cannot see: the nils at the array's end and the keys
// removed (gopher-lua keeps a removed key's slot, and a key added again
// goes back to it, ahead of keys added since). Restore needs them to know
// that an event added a key and removed it, which next would otherwise
// betray to a later call. Read by reflection, since the fields are
// gopher-lua's own: init fails loudly if a version renames them.
func slots(t *lua.LTable) (array, keys int) {
	v := reflect.ValueOf(t).Elem()
	return v.Field(arrayField).Len(), v.Field(keysField).Len()
}

// ghosts are t's slots without a value (see tableCopy).
func ghosts(t *lua.LTable) []lua.LValue {
	var gs []lua.LValue
	array, keys := slots(t)
	for i := 1; i <= array; i++ {
		if t.RawGetInt(i) == lua.LNil {
			gs = append(gs, lua.LNumber(i))
		}
	}
	// The key list is unexported: read in place (its type is checked at init).
	list := *(*[]lua.LValue)(unsafe.Pointer(reflect.ValueOf(t).Elem().Field(keysField).UnsafeAddr()))
	for _, k := range list[:keys] {
		if t.RawGet(k) == lua.LNil {
			gs = append(gs, k)
		}
	}
	return gs
}

var arrayField, keysField = tableField("array"), tableField("keys")

func tableField(name string) int {
	f, ok := reflect.TypeFor[lua.LTable]().FieldByName(name)
	if !ok || f.Type != reflect.TypeFor[[]lua.LValue]() {
		panic("sandbox: gopher-lua's LTable has no slice field " + name + ": Snapshot must learn the new layout")
	}
	return f.Index[0]
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
	s := &Snapshot{}
	walk(L, roots, visitor{
		table: func(t *lua.LTable) {
			c := tableCopy{t: t, meta: t.Metatable, ghosts: ghosts(t)}
			for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
				c.keys, c.vals = append(c.keys, k), append(c.vals, v)
			}
			c.arraySlots, c.keySlots = slots(t)
			s.entries += len(c.keys)
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
// again after it, in every such event (measured: a third of a kv-using
// app's Lua). A library named only at run time (_G["k" .. "v"]) is still
// opened when used, and forgotten at Restore: slower, not different.
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
	for name := range names {
		if err := L.CallByParam(lua.P{Fn: open, NRet: 1}, lua.LString(name)); err != nil {
			panic(err) // New's own code: a failure is luaivr's bug
		}
		L.Pop(1)
	}
}

// Restore puts L's values back as they were when s was taken. A table an
// event changed is built again, its entries in their order, and takes the
// place of its contents: gopher-lua keeps the slot of a removed key, so only
// a new table has no trace of what the event added (next and pairs would
// visit a key an earlier call added and removed in its old place, and the
// table would only grow).
//
// A table is unchanged when its slots are as many as in the snapshot (a key
// added takes a new one: gopher-lua's key list and array only grow), each
// entry holds its value and each ghost (tableCopy) still holds none: then
// every slot is as it was. That is one lookup per entry, where walking the
// table with next costs three (measured: 7.1 µs against 2.4 µs a restore
// of simple_ivr's state, BenchmarkRestore).
func (s *Snapshot) Restore() {
	for i := range s.tables {
		c := &s.tables[i]
		if a, k := slots(c.t); a != c.arraySlots || k != c.keySlots || !c.holds() {
			var fresh lua.LTable
			for j, k := range c.keys {
				fresh.RawSet(k, c.vals[j])
			}
			*c.t = fresh
			s.rebuilt++
			c.arraySlots, c.keySlots = slots(c.t)
			c.ghosts = ghosts(c.t) // the array's nils, as built again
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
}

// holds reports whether c's table holds each of c's entries and none of
// its ghosts.
func (c *tableCopy) holds() bool {
	for j, k := range c.keys {
		if !same(c.t.RawGet(k), c.vals[j]) {
			return false
		}
	}
	for _, k := range c.ghosts {
		if c.t.RawGet(k) != lua.LNil {
			return false
		}
	}
	return true
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
