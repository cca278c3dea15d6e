package ivr

import (
	"errors"
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
	c := collector{budget: luaconv.Budget{Limits: replyLimits}}
	if err := m.collect(&r, v, "returned value", 0, &c); err != nil {
		return callflow.Reply{}, err
	}
	if t, ok := v.(*lua.LTable); ok && m.byTable[t] == nil {
		switch id := t.RawGetString("clientActionId").(type) {
		case lua.LString:
			if err := callflow.CheckClientActionID(string(id)); err != nil {
				return callflow.Reply{}, fmt.Errorf("returned value.clientActionId: %w", err)
			}
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

// maxIDsShown is how many menu ids an error lists (an id is at most 1000
// bytes).
const maxIDsShown = 10

// replyLimits bound the params of a reply's actions, all together, as they
// leave Lua: to the text of the largest callflow luaivr sends, so that a huge
// value is refused before it is copied, let alone encoded. Real params are
// flat and few: a hundred actions of 12 is 1200 entries.
var replyLimits = luaconv.Limits{Depth: 8, Items: 4096, Bytes: callflow.MaxCallflowBytes}

// collector is what rendering one reply has used of its bounds.
type collector struct {
	work   int
	budget luaconv.Budget
}

func (m *Module) collect(r *callflow.Reply, v lua.LValue, path string, depth int, c *collector) error {
	if depth > 8 {
		return fmt.Errorf("%s: lists nested more than 8 deep", path)
	}
	if c.work++; c.work > maxWork || len(r.Callflow) > maxActions {
		return fmt.Errorf("%s: more than %d actions in one reply", path, maxActions)
	}
	switch v := v.(type) {
	case lua.LString:
		mn, ok := m.menus[string(v)]
		if !ok {
			ids := append([]string(nil), m.order...)
			sort.Strings(ids)
			if len(ids) > maxIDsShown {
				ids = append(ids[:maxIDsShown], "…")
			}
			return fmt.Errorf("%s is %s, but no menu has that id (menus: %s); to speak text use ivr.say(%s)",
				path, luaconv.Quote(string(v)), strings.Join(ids, ", "), luaconv.Quote(string(v)))
		}
		return m.addMenu(r, mn, path, &c.budget)
	case *lua.LTable:
		if mn := m.byTable[v]; mn != nil {
			return m.addMenu(r, mn, path, &c.budget)
		}
		if v.RawGetString("action") != lua.LNil {
			a, err := toAction(v, path, &c.budget)
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
			if err := m.collect(r, v.RawGetInt(i), fmt.Sprintf("%s[%d]", path, i), depth+1, c); err != nil {
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
func (m *Module) addMenu(r *callflow.Reply, mn *Menu, path string, budget *luaconv.Budget) error {
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
		gv, err := budget.FromLua(v, "menu "+mn.ID+"."+p)
		if err != nil {
			return tooLarge(err)
		}
		params[p] = gv
	}
	a := callflow.Action{Name: callflow.SayAndCapture, Params: params}
	if ps := callflow.Validate([]callflow.Action{a}, callflow.AsReply); ps != nil {
		return fmt.Errorf("menu %q (%s): %s", mn.ID, mn.Where, ofOneAction(ps))
	}
	r.Callflow = append(r.Callflow, a)
	r.ClientActionID = mn.ID
	return nil
}

// toAction converts an action table {action=…, params={…}} to a
// callflow.Action, its params counted against budget.
func toAction(t *lua.LTable, path string, budget *luaconv.Budget) (callflow.Action, error) {
	name, ok := t.RawGetString("action").(lua.LString)
	if !ok {
		return callflow.Action{}, fmt.Errorf("%s.action must be a string such as \"say\"", path)
	}
	a := callflow.Action{Name: string(name)}
	switch p := t.RawGetString("params").(type) {
	case *lua.LNilType:
	case *lua.LTable:
		v, err := budget.FromLua(p, path+".params")
		if err != nil {
			return a, tooLarge(err)
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

// tooLarge says, of params over replyLimits, what bounds them.
func tooLarge(err error) error {
	var limit *luaconv.LimitError
	if errors.As(err, &limit) {
		return fmt.Errorf("%w: a callflow is at most %d bytes of JSON (8x8 speaks at most 3000 characters a text)", err, callflow.MaxCallflowBytes)
	}
	return err
}
