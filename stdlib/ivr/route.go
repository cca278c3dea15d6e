package ivr

import (
	"fmt"
	"sort"
	"strings"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	lua "github.com/yuin/gopher-lua"
)

// Route answers digits (or no input, when has is false) pressed at a position of
// the menu tree: the menu or ivr.on position that clientActionId names, or root
// when the event carries no position (the first answer of a call placed through
// the API). It returns the chosen option, already called when it is a function,
// and a note for the log when the position was unknown. It must run inside a
// protected call: a script error in an option raises.
func (m *Module) Route(L *lua.LState, session, root lua.LValue, position, digits string, has bool) (lua.LValue, string) {
	var mn *Menu
	var note string
	switch {
	case position == "":
		mn = m.resolveRoot(L, root)
	case m.menus[position] != nil:
		mn = m.menus[position]
	default:
		if v, ok := m.positions[position]; ok {
			return call(L, v, session, digits, has), ""
		}
		note = fmt.Sprintf("no menu or ivr.on position %q in this script; starting again at the root menu", position)
		return m.resolveRoot(L, root).table, note
	}
	var opt lua.LValue
	if has {
		opt = mn.Options[digits]
		if opt == nil {
			opt = mn.Options[strings.TrimSuffix(digits, "#")]
		}
	} else {
		opt = first(mn.NoInput, m.defaults["no_input"])
	}
	if opt == nil {
		opt = first(mn.Other, m.defaults["other"], mn.table)
	}
	return call(L, opt, session, digits, has), note
}

func (m *Module) resolveRoot(L *lua.LState, root lua.LValue) *Menu {
	switch v := root.(type) {
	case *lua.LTable:
		if mn := m.byTable[v]; mn != nil {
			return mn
		}
	case lua.LString:
		if mn := m.menus[string(v)]; mn != nil {
			return mn
		}
	}
	L.RaiseError("digits arrived at no known menu and the app has no root menu: set on_call = <your main menu> so luaivr knows where a call starts")
	return nil
}

func first(vs ...lua.LValue) lua.LValue {
	for _, v := range vs {
		if v != nil && v != lua.LNil {
			return v
		}
	}
	return nil
}

func call(L *lua.LState, v, session lua.LValue, digits string, has bool) lua.LValue {
	fn, ok := v.(*lua.LFunction)
	if !ok {
		return v
	}
	var d lua.LValue = lua.LNil
	if has {
		d = lua.LString(digits)
	}
	L.Push(fn)
	L.Push(session)
	L.Push(d)
	L.Call(2, 1)
	ret := L.Get(-1)
	L.Pop(1)
	return ret
}

// Reply turns what a handler or option returned into the reply 8x8 gets: one
// action, a list of actions (flattened; its clientActionId field names the
// position), a menu or a menu's id. nil gives an empty reply.
func (m *Module) Reply(v lua.LValue) (callflow.Reply, error) {
	var r callflow.Reply
	if v == lua.LNil || v == nil {
		return r, nil
	}
	work := 0
	if err := m.collect(&r, v, "returned value", 0, &work); err != nil {
		return callflow.Reply{}, err
	}
	if t, ok := v.(*lua.LTable); ok && m.byTable[t] == nil {
		switch id := t.RawGetString("clientActionId").(type) {
		case lua.LString:
			r.ClientActionID = string(id)
		case *lua.LNilType:
		default:
			return callflow.Reply{}, fmt.Errorf("returned value.clientActionId must be a string, got a %s", id.Type())
		}
	}
	return r, nil
}

// Bounds on a reply, far above any real callflow, so that a table that refers
// to itself many times over cannot expand into millions of actions.
const (
	maxActions = 100
	maxWork    = 2000 // tables and values visited
)

func (m *Module) collect(r *callflow.Reply, v lua.LValue, path string, depth int, work *int) error {
	if depth > 8 {
		return fmt.Errorf("%s: lists nested more than 8 deep", path)
	}
	if *work++; *work > maxWork || len(r.Callflow) > maxActions {
		return fmt.Errorf("%s: more than %d actions in one reply", path, maxActions)
	}
	switch v := v.(type) {
	case lua.LString:
		mn, ok := m.menus[string(v)]
		if !ok {
			ids := append([]string(nil), m.order...)
			sort.Strings(ids)
			return fmt.Errorf("%s is %q, but no menu has that id (menus: %s); to speak text use ivr.say(%q)",
				path, string(v), strings.Join(ids, ", "), string(v))
		}
		return m.addMenu(r, mn, path)
	case *lua.LTable:
		if mn := m.byTable[v]; mn != nil {
			return m.addMenu(r, mn, path)
		}
		if v.RawGetString("action") != lua.LNil {
			a, err := toAction(v, path)
			if err != nil {
				return err
			}
			r.Callflow = append(r.Callflow, a)
			return nil
		}
		n := v.Len()
		if n == 0 {
			return fmt.Errorf("%s is a table with no actions: return ivr.say(…), a list of actions, or a menu", path)
		}
		for i := 1; i <= n; i++ {
			if err := m.collect(r, v.RawGetInt(i), fmt.Sprintf("%s[%d]", path, i), depth+1, work); err != nil {
				return err
			}
		}
		return nil
	case *lua.LFunction:
		return fmt.Errorf("%s is a function: return its result instead (call it)", path)
	}
	return fmt.Errorf("%s is a %s: return an action (ivr.say, …), a list of actions, or a menu", path, v.Type())
}

// addMenu appends a menu's prompt. A reply holds one capture at most, and its
// position is that menu.
func (m *Module) addMenu(r *callflow.Reply, mn *Menu, path string) error {
	if r.ClientActionID != "" && r.ClientActionID != mn.ID {
		return fmt.Errorf("%s: menu %q after menu %q in one reply; a caller can answer only one menu at a time", path, mn.ID, r.ClientActionID)
	}
	params := map[string]any{"promptMessage": mn.Prompt}
	for _, p := range callflow.ParamNames(callflow.SayAndCapture) {
		v, ok := mn.Params[p]
		if !ok {
			v, ok = m.defaults[p]
		}
		if !ok || p == "promptMessage" {
			continue
		}
		gv, err := luaconv.FromLua(v, "menu "+mn.ID+"."+p)
		if err != nil {
			return err
		}
		params[p] = gv
	}
	a := callflow.Action{Name: callflow.SayAndCapture, Params: params}
	for _, p := range callflow.Validate([]callflow.Action{a}, callflow.AsReply) {
		if !p.Warning {
			return fmt.Errorf("menu %q (%s): %s", mn.ID, mn.Where, strings.Replace(p.Error(), "$.callflow[0].", "", 1))
		}
	}
	r.Callflow = append(r.Callflow, a)
	r.ClientActionID = mn.ID
	return nil
}

// toAction converts an action table {action=…, params={…}} to a callflow.Action.
func toAction(t *lua.LTable, path string) (callflow.Action, error) {
	name, ok := t.RawGetString("action").(lua.LString)
	if !ok {
		return callflow.Action{}, fmt.Errorf("%s.action must be a string such as \"say\"", path)
	}
	a := callflow.Action{Name: string(name)}
	switch p := t.RawGetString("params").(type) {
	case *lua.LNilType:
	case *lua.LTable:
		v, err := luaconv.FromLua(p, path+".params")
		if err != nil {
			return a, err
		}
		if params, ok := v.(map[string]any); ok {
			a.Params = params
		} else if v != nil {
			return a, fmt.Errorf("%s.params must be a table of named parameters, not a list", path)
		}
	default:
		return a, fmt.Errorf("%s.params must be a table, got a %s", path, p.Type())
	}
	return a, nil
}
