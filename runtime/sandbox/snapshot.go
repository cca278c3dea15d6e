package sandbox

import (
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
}

type tableCopy struct {
	t    *lua.LTable
	meta lua.LValue
	want map[lua.LValue]lua.LValue
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
			v.ForEach(func(k, val lua.LValue) {
				c.want[k] = val
				queue = append(queue, k, val)
			})
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

// Restore puts L's values back as they were when s was taken, and reports
// how many entries it had to remove: what the event added to the state's
// tables. gopher-lua keeps the slot of a removed key, so a state whose
// handlers keep adding is worth retiring (see the engine's pool).
func (s *Snapshot) Restore() (added int) {
	var extra []lua.LValue
	for i := range s.tables {
		c := &s.tables[i]
		if c.t.Metatable != c.meta {
			c.t.Metatable = c.meta
		}
		// Next, not ForEach: it hands out the keys the table keeps, where
		// ForEach makes each string key an interface value anew.
		n, dirty := 0, false
		for k, v := c.t.Next(lua.LNil); k != lua.LNil && !dirty; k, v = c.t.Next(k) {
			n++
			if w, ok := c.want[k]; !ok || w != v {
				dirty = true
			}
		}
		if !dirty && n == len(c.want) {
			continue
		}
		extra = extra[:0]
		c.t.ForEach(func(k, _ lua.LValue) {
			if _, ok := c.want[k]; !ok {
				extra = append(extra, k)
			}
		})
		for _, k := range extra {
			c.t.RawSet(k, lua.LNil)
		}
		added += len(extra)
		for k, v := range c.want {
			if c.t.RawGet(k) != v {
				c.t.RawSet(k, v)
			}
		}
	}
	for _, u := range s.upvalues {
		if u.uv.Value() != u.v {
			u.uv.SetValue(u.v)
		}
	}
	for _, u := range s.userdata {
		u.ud.Metatable, u.ud.Env = u.meta, u.env
	}
	return added
}
