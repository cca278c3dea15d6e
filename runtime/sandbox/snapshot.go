package sandbox

import (
	"math"
	"reflect"

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
}

// Size is how many table entries the snapshot keeps: a measure of what a
// state like this one holds in memory.
func (s *Snapshot) Size() int { return s.entries }

type tableCopy struct {
	t    *lua.LTable
	meta lua.LValue
	// keys and vals are the entries in the order next gives them;
	// want finds a key's value.
	keys, vals []lua.LValue
	want       map[lua.LValue]lua.LValue
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

var arrayField, keysField = tableField("array"), tableField("keys")

func tableField(name string) int {
	f, ok := reflect.TypeFor[lua.LTable]().FieldByName(name)
	if !ok || f.Type.Kind() != reflect.Slice {
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
	seen := map[lua.LValue]bool{}
	seenUp := map[*lua.Upvalue]bool{}
	queue := append([]lua.LValue{L.G.Global, L.G.Registry, L.GetMetatable(lua.LString(""))}, roots...)
	for len(queue) > 0 {
		v := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		switch v := v.(type) {
		case *lua.LTable:
			if seen[v] {
				continue
			}
			seen[v] = true
			c := tableCopy{t: v, meta: v.Metatable, want: map[lua.LValue]lua.LValue{}}
			for k, val := v.Next(lua.LNil); k != lua.LNil; k, val = v.Next(k) {
				c.keys, c.vals = append(c.keys, k), append(c.vals, val)
				c.want[k] = val
				queue = append(queue, k, val)
			}
			c.arraySlots, c.keySlots = slots(v)
			s.entries += len(c.keys)
			queue = append(queue, v.Metatable)
			s.tables = append(s.tables, c)
		case *lua.LFunction:
			if seen[v] {
				continue
			}
			seen[v] = true
			if v.Env != nil {
				queue = append(queue, v.Env)
			}
			for _, uv := range v.Upvalues {
				if uv == nil || seenUp[uv] {
					continue
				}
				seenUp[uv] = true
				s.upvalues = append(s.upvalues, upvalueCopy{uv: uv, v: uv.Value()})
				queue = append(queue, uv.Value())
			}
		case *lua.LUserData:
			if seen[v] {
				continue
			}
			seen[v] = true
			s.userdata = append(s.userdata, userdataCopy{ud: v, meta: v.Metatable, env: v.Env})
			queue = append(queue, v.Metatable)
			if v.Env != nil {
				queue = append(queue, v.Env)
			}
		}
	}
	return s
}

// Restore puts L's values back as they were when s was taken. A table an
// event changed is built again, its entries in their order, and takes the
// place of its contents: gopher-lua keeps the slot of a removed key, so only
// a new table has no trace of what the event added (next and pairs would
// visit a key an earlier call added and removed in its old place, and the
// table would only grow).
func (s *Snapshot) Restore() {
	for i := range s.tables {
		c := &s.tables[i]
		// Next, not ForEach: it hands out the keys the table keeps, where
		// ForEach makes each string key an interface value anew.
		n, dirty := 0, false
		for k, v := c.t.Next(lua.LNil); k != lua.LNil && !dirty; k, v = c.t.Next(k) {
			n++
			if w, ok := c.want[k]; !ok || !same(w, v) {
				dirty = true
			}
		}
		if a, k := slots(c.t); dirty || n != len(c.keys) || a != c.arraySlots || k != c.keySlots {
			var fresh lua.LTable
			for j, k := range c.keys {
				fresh.RawSet(k, c.vals[j])
			}
			*c.t = fresh
			c.arraySlots, c.keySlots = slots(c.t)
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

// same reports whether a and b are the same Lua value, bit for bit: -0 is
// not 0 (1/x tells them apart), and a NaN is itself.
func same(a, b lua.LValue) bool {
	if x, ok := a.(lua.LNumber); ok {
		y, ok := b.(lua.LNumber)
		return ok && math.Float64bits(float64(x)) == math.Float64bits(float64(y))
	}
	return a == b
}
