package ivr

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/spelling"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	lua "github.com/yuin/gopher-lua"
)

// Route answers digits (or no input, when has is false) pressed at the
// position the event answers (see Answer): the menu or ivr.on position that
// clientActionId names, or the root menu when the event carries no position
// (the first answer of a call placed through the API) or names one the script
// no longer has. It returns the chosen answer, already called when it is a
// function; what chose it, for errors about it (`option ["1"] of menu "main"
// (app.lua:12)`, with the line of the option's function when it is one); and
// a note for the log when the position was unknown. It must run inside a
// protected call: a script error in an option raises, and so does a call
// with no root to start again at.
func (m *Module) Route(L *lua.LState, digits string, has bool) (answer lua.LValue, from, note string) {
	pos := m.event.position
	if mn := m.menus[pos]; mn != nil {
		answer, from = m.choose(L, mn, digits, has)
		return answer, from, ""
	}
	if p, ok := m.positions[pos]; ok {
		return m.call(L, p.answer, digits, has), fmt.Sprintf("ivr.on %q (%s)", pos, whereOf(p.answer, p.where)), ""
	}
	mn := m.resolveRoot(L, pos)
	if pos == "" {
		answer, from = m.choose(L, mn, digits, has)
		return answer, from, ""
	}
	note = fmt.Sprintf("no menu or ivr.on position %q in this script; starting again at the root menu %q", pos, mn.ID)
	if near := spelling.Closest(pos, append(m.Positions(), m.order...)); near != "" {
		note += fmt.Sprintf(" (did you mean %q?)", near)
	}
	return mn.table, fmt.Sprintf("root menu %q (%s)", mn.ID, mn.Where), note
}

// route is ivr.route(session, digits [, menu]): a handler hands the caller's
// digits (nil: no input) to the menu tree, at the menu given, else at the
// caller's position when it is one of the tree's, else at the root menu.
func (m *Module) route(L *lua.LState) int {
	if m.event == nil {
		L.RaiseError("ivr.route answers a caller's digits: call it in a handler such as on_dtmf")
	}
	L.CheckTable(1)
	digits, has := "", false
	switch d := L.Get(2).(type) {
	case lua.LString:
		digits, has = string(d), true
	case *lua.LNilType:
	default:
		luaconv.ArgError(L, "ivr.route", 2, "the digits (a string, or nil for no input) expected, got "+d.Type().String())
	}
	var answer lua.LValue
	switch {
	case L.GetTop() >= 3:
		mn := m.menuOf(L.Get(3))
		if mn == nil {
			luaconv.ArgError(L, "ivr.route", 3, "a menu or a menu id expected, got "+luaconv.Quote(lua.LVAsString(L.Get(3))))
		}
		answer, _ = m.choose(L, mn, digits, has)
	case m.IsPosition(m.event.position):
		answer, _, _ = m.Route(L, digits, has)
	default:
		root := m.rootMenu(L)
		if root == nil {
			L.RaiseError("ivr.route: the caller is at no menu (%s) and the app has no root menu: declare one with ivr.root(menu), or name the menu: ivr.route(session, digits, menu)", luaconv.Quote(m.event.position))
		}
		answer, _ = m.choose(L, root, digits, has)
	}
	L.Push(answer)
	return 1
}

// choose is a menu's answer to digits, already called when it is a
// function, and what it is: `option ["1"] of menu "main" (app.lua:12)`.
func (m *Module) choose(L *lua.LState, mn *Menu, digits string, has bool) (lua.LValue, string) {
	opt, c := m.pick(mn, digits, has, m.event.mem.Tries)
	if opt == nil {
		return mn.table, answeredBy(mn, choice{}, "")
	}
	return m.call(L, opt, digits, has), answeredBy(mn, c, whereOf(opt, c.decl))
}

// answeredBy says what answered at mn (Handled.Where), declared at decl:
// `option ["1"] of menu "main" (app.lua:12)`, or, for no choice, the menu
// itself again.
func answeredBy(mn *Menu, c choice, decl string) string {
	if c == (choice{}) {
		return fmt.Sprintf("menu %q (%s)", mn.ID, mn.Where)
	}
	return fmt.Sprintf("%s of menu %q (%s)", c.what(), mn.ID, decl)
}

// choice is what answered at a menu: the option pressed (key), or the
// setting (on_too_many, no_input, other), with the line that declared it.
type choice struct{ key, setting, decl string }

// what names the choice: `option ["1"]`, or the setting.
func (c choice) what() string {
	if c.setting != "" {
		return c.setting
	}
	return fmt.Sprintf("option [%q]", c.key)
}

// pick is what a menu answers: the option pressed; nil (the menu again) for
// its repeat key; else a wrong or missing answer, which counts against the
// menu's tries when it has a limit (counted in tries, which pick changes).
// c says what answered. It reads only what the top level declared, never a
// Lua table, so it also serves Answers, outside any state.
func (m *Module) pick(mn *Menu, digits string, has bool, tries map[string]int) (opt lua.LValue, c choice) {
	if has {
		key := digits
		if mn.Options[key] == nil {
			key = strings.TrimSuffix(digits, "#")
		}
		if opt := mn.Options[key]; opt != nil {
			delete(tries, mn.ID)
			return opt, choice{key: key, decl: mn.Where}
		}
		if k := m.RepeatKey(mn); k != "" && (digits == k || strings.TrimSuffix(digits, "#") == k) {
			return nil, choice{}
		}
	}
	if limit := m.Tries(mn); limit > 0 {
		if tries[mn.ID]+1 >= limit {
			delete(tries, mn.ID)
			return m.setting(mn, "on_too_many"), choice{setting: "on_too_many", decl: m.settingAt(mn, "on_too_many")}
		}
		tries[mn.ID]++
	}
	if !has {
		if opt := m.setting(mn, "no_input"); opt != nil {
			return opt, choice{setting: "no_input", decl: m.settingAt(mn, "no_input")}
		}
	}
	return m.setting(mn, "other"), choice{setting: "other", decl: m.settingAt(mn, "other")}
}

// resolveRoot is the menu a call starts at: the one ivr.root declares, else
// on_call when it is a menu, else the first menu the call was sent to.
func (m *Module) resolveRoot(L *lua.LState, pos string) *Menu {
	if mn := m.rootMenu(L); mn != nil {
		return mn
	}
	if pos == "" {
		L.RaiseError("digits arrived at no position (a call placed through the API, or a reply without a clientActionId) and the app has no root menu to give them to: declare one with ivr.root(menu), or define on_dtmf")
	}
	L.RaiseError("the caller answered at %s, which is no menu or ivr.on position of this script (did the script change mid-call?), and there is no root menu to start again at: declare one with ivr.root(menu)", luaconv.Quote(pos))
	return nil
}

// rootMenu is the root menu, or nil when there is none (see resolveRoot).
func (m *Module) rootMenu(L *lua.LState) *Menu {
	for _, v := range []lua.LValue{m.root, L.G.Global.RawGetString("on_call"), lua.LString(m.event.mem.Root)} {
		if mn := m.menuOf(v); mn != nil {
			return mn
		}
	}
	return nil
}

// menuOf is the menu v is (a table ivr.menu returned) or names (an id).
func (m *Module) menuOf(v lua.LValue) *Menu {
	switch v := v.(type) {
	case *lua.LTable:
		return m.byTable[v]
	case lua.LString:
		return m.menus[string(v)]
	}
	return nil
}

// whereOf names where an answer comes from: its function's first line, else
// the declaration that holds it.
func whereOf(v lua.LValue, decl string) string {
	if fn, ok := v.(*lua.LFunction); ok && fn.Proto != nil {
		return fmt.Sprintf("%s:%d", fn.Proto.SourceName, fn.Proto.LineDefined)
	}
	return decl
}

// call answers with v, calling it with the session and digits when it is a
// function.
func (m *Module) call(L *lua.LState, v lua.LValue, digits string, has bool) lua.LValue {
	fn, ok := v.(*lua.LFunction)
	if !ok {
		return v
	}
	var d lua.LValue = lua.LNil
	if has {
		d = lua.LString(digits)
	}
	L.Push(fn)
	L.Push(m.event.session)
	L.Push(d)
	L.Call(2, 1)
	ret := L.Get(-1)
	L.Pop(1)
	return ret
}

// Reply turns what a handler or option returned into the reply 8x8 gets: one
// action, a list of actions (lists nest and are flattened; a clientActionId
// on any of them names the position), a menu or a menu's id. nil gives an
// empty reply. While answering an event (Answer), a menu a caller arrives at
// runs its on_enter first, in L, and the first menu a call is sent to
// becomes its root when the app declares none.
func (m *Module) Reply(L *lua.LState, v lua.LValue) (callflow.Reply, error) {
	var r callflow.Reply
	if v == lua.LNil || v == nil {
		return r, nil
	}
	c := collector{L: L, budget: luaconv.Budget{Limits: replyLimits}}
	if err := m.render(&r, v, "returned value", &c); err != nil {
		return callflow.Reply{}, err
	}
	return r, nil
}

// render collects v into r, and marks the reply's capture sensitive when
// the position it asks at is (Sensitive): what Reply gives, and Answers
// works out at load.
func (m *Module) render(r *callflow.Reply, v lua.LValue, path string, c *collector) error {
	if err := m.collect(r, v, path, 0, c); err != nil {
		return err
	}
	if m.Sensitive(r.ClientActionID) {
		for i := range r.Callflow {
			r.Callflow[i].Sensitive = r.Callflow[i].Sensitive || r.Callflow[i].Name == callflow.SayAndCapture
		}
	}
	return nil
}

// Sensitive reports whether the digits a caller enters at position are
// sensitive as the script declares it: position is in ivr.sensitive's list,
// or a menu marked sensitive = true. (A capture built with sensitive = true
// marks only itself: the engine remembers it in the session.)
func (m *Module) Sensitive(position string) bool {
	if m.sensitive[position] {
		return true
	}
	mn := m.menus[position]
	return mn != nil && mn.Sensitive
}

// SensitivePositions are the positions Sensitive reports, as a set: the
// engine learns them at load and marks an event answered at one of them,
// whichever way it is answered.
func (m *Module) SensitivePositions() map[string]bool {
	set := maps.Clone(m.sensitive)
	for id, mn := range m.menus {
		if mn.Sensitive {
			if set == nil {
				set = map[string]bool{}
			}
			set[id] = true
		}
	}
	return set
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
	L        *lua.LState
	work     int
	budget   luaconv.Budget
	entering string  // the menu whose on_enter is being rendered
	menus    []*Menu // the menus the reply says, in order
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
			return fmt.Errorf("%s %w", path, m.noMenu(string(v)))
		}
		return m.addMenu(r, mn, path, depth, c)
	case *lua.LTable:
		if mn := m.byTable[v]; mn != nil {
			return m.addMenu(r, mn, path, depth, c)
		}
		id, err := actionID(v, path)
		if err != nil {
			return err
		}
		if v.RawGetString("action") != lua.LNil {
			a, err := toAction(v, path, &c.budget)
			if err == nil {
				err = handWritten(a, path)
			}
			if err != nil {
				return err
			}
			r.Callflow = append(r.Callflow, a)
		} else {
			n := v.Len()
			if n == 0 {
				return fmt.Errorf("%s is a table with no actions: return ivr.say(…), a list of actions, or a menu", path)
			}
			for i := 1; i <= n; i++ {
				if err := m.collect(r, v.RawGetInt(i), fmt.Sprintf("%s[%d]", path, i), depth+1, c); err != nil {
					return err
				}
			}
		}
		return setID(r, id, path)
	case *lua.LFunction:
		return fmt.Errorf("%s is a function: return its result instead (call it)", path)
	}
	return fmt.Errorf("%s is a %s: return an action (ivr.say, …), a list of actions, or a menu", path, v.Type())
}

// actionID is the clientActionId a list or an action table carries ("" when none).
func actionID(t *lua.LTable, path string) (string, error) {
	switch id := t.RawGetString("clientActionId").(type) {
	case lua.LString:
		if err := callflow.CheckClientActionID(string(id)); err != nil {
			return "", fmt.Errorf("%s.clientActionId: %w", path, err)
		}
		return string(id), nil
	case *lua.LNilType:
		return "", nil
	default:
		return "", fmt.Errorf("%s.clientActionId must be a string, got a %s", path, id.Type())
	}
}

// setID gives the reply the position id names. 8x8 echoes one clientActionId,
// so two different ones in one reply leave one of them unanswerable.
func setID(r *callflow.Reply, id, path string) error {
	switch {
	case id == "" || id == r.ClientActionID:
	case r.ClientActionID != "":
		return fmt.Errorf("%s: clientActionId %q and %q in one reply; 8x8 echoes one, so the caller's answer can go to only one of them", path, r.ClientActionID, id)
	default:
		r.ClientActionID = id
	}
	return nil
}

// addMenu appends a menu's prompt, after what its on_enter says when the
// caller arrives from elsewhere. A reply holds one capture at most, and its
// position is that menu.
func (m *Module) addMenu(r *callflow.Reply, mn *Menu, path string, depth int, c *collector) error {
	if c.entering != "" {
		return fmt.Errorf("%s: on_enter of menu %q returned the menu %q: it returns what is said before its prompt (ivr.say, ivr.play_file), or nothing", path, c.entering, mn.ID)
	}
	c.menus = append(c.menus, mn)
	if ev := m.event; ev != nil && c.L != nil {
		if mn.OnEnter != nil && mn.ID != ev.position {
			c.L.Push(mn.OnEnter)
			c.L.Push(ev.session)
			c.L.Call(1, 1)
			said := c.L.Get(-1)
			c.L.Pop(1)
			if said != lua.LNil {
				c.entering = mn.ID
				err := m.collect(r, said, fmt.Sprintf("%s: on_enter of menu %q (%s)", path, mn.ID, whereOf(mn.OnEnter, mn.Where)), depth+1, c)
				c.entering = ""
				if err != nil {
					return err
				}
			}
		}
		if ev.mem.Root == "" {
			ev.mem.Root = mn.ID
		}
	}
	a, err := m.capture(mn, &c.budget)
	if err != nil {
		return err
	}
	if ps := callflow.Validate([]callflow.Action{a}, callflow.AsReply); ps != nil {
		return fmt.Errorf("menu %q (%s): %s", mn.ID, mn.Where, ofOneAction(ps))
	}
	r.Callflow = append(r.Callflow, a)
	return setID(r, mn.ID, path)
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
	return a, liftOurs(&a, path)
}

// liftOurs takes luaivr's own params (callflow.Ours) out of a's params, so
// that they are never sent to 8x8: sensitive = true becomes a.Sensitive.
func liftOurs(a *callflow.Action, path string) error {
	v, ok := a.Params[callflow.SensitiveParam]
	if !ok || !callflow.Ours(a.Name, callflow.SensitiveParam) {
		return nil // on another action, 8x8's rules report it
	}
	b, isBool := v.(bool)
	if !isBool {
		return fmt.Errorf("%s.params.sensitive is true (the digits this prompt collects are never stored nor logged) or false; got %v", path, v)
	}
	delete(a.Params, callflow.SensitiveParam)
	a.Sensitive = b
	return nil
}

// tooLarge says, of params over replyLimits, what bounds them.
func tooLarge(err error) error {
	var limit *luaconv.LimitError
	if errors.As(err, &limit) {
		return fmt.Errorf("%w: a callflow is at most %d bytes of JSON (8x8 speaks at most 3000 characters a text)", err, callflow.MaxCallflowBytes)
	}
	return err
}
