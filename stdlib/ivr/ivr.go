// Package ivr is the Lua module `ivr`: builders for the five 8x8 actions, script
// defaults, and the declarative menu tree.
//
//	ivr.defaults { voiceProfile = "en-US-BenjaminRUS", speed = 1, maxDigits = 1 }
//	ivr.say("Hello")                       --> {action="say", params={text="Hello", voiceProfile=…, speed=1}}
//	ivr.say_and_capture("Press 1", { noOfTries = 2 })
//	ivr.play_file("https://example.com/hold.mp3")
//	ivr.make_call { source = "+6568332048", destination = "+6531589338" }
//	ivr.hangup()
//
// Parameters keep 8x8's names, so what a script says is what 8x8 documents. Each
// builder checks its action against 8x8's rules when it is called, so a mistake
// is reported at the script line that made it. A handler returns one action, a
// list of actions (with an optional clientActionId field), a menu, or a menu's id.
//
// Menus: ivr.menu{ id=, prompt=, ["1"]=option, …, other=, no_input= } declares a
// position in the tree. An option is another menu, a menu id (string), an action
// or list of actions, or function(session, digits) returning any of those. When an
// app has menus and no on_dtmf/on_timeout, the runtime routes the caller's digits
// to the menu their clientActionId names (Route).
package ivr

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	lua "github.com/yuin/gopher-lua"
)

// Module is one Lua state's ivr module: its defaults, menus and positions. The
// runtime keeps it to route digits and render replies.
type Module struct {
	defaults  map[string]lua.LValue
	menus     map[string]*Menu
	order     []string // menu ids in declaration order
	byTable   map[*lua.LTable]*Menu
	positions map[string]lua.LValue
}

// Menu is one ivr.menu declaration.
type Menu struct {
	ID      string
	Prompt  string
	Params  map[string]lua.LValue // sayAndCapture parameters set on the menu
	Options map[string]lua.LValue // digits → option
	Other   lua.LValue            // nil when unset
	NoInput lua.LValue
	Where   string // script:line of the declaration
	table   *lua.LTable
}

// New makes an empty module for one state.
func New() *Module {
	return &Module{
		defaults:  map[string]lua.LValue{},
		menus:     map[string]*Menu{},
		byTable:   map[*lua.LTable]*Menu{},
		positions: map[string]lua.LValue{},
	}
}

// Open builds the module table in L.
func (m *Module) Open(L *lua.LState) lua.LValue {
	return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"defaults":        m.setDefaults,
		"say":             m.builder(callflow.Say, "text"),
		"say_and_capture": m.builder(callflow.SayAndCapture, "promptMessage"),
		"play_file":       m.builder(callflow.PlayFile, "fileUrl"),
		"make_call":       m.builder(callflow.MakeCall, "destination"),
		"hangup":          hangup,
		"menu":            m.menu,
		"on":              m.on,
	})
}

// Menus returns the declared menus in declaration order.
func (m *Module) Menus() []*Menu {
	out := make([]*Menu, len(m.order))
	for i, id := range m.order {
		out[i] = m.menus[id]
	}
	return out
}

// menuSettings are the ivr.defaults and ivr.menu keys that are not 8x8 parameters.
var menuSettings = []string{"other", "no_input"}

func (m *Module) setDefaults(L *lua.LState) int {
	t := checkTable(L, "ivr.defaults", 1)
	known := append(allParams(), menuSettings...)
	t.ForEach(func(k, v lua.LValue) {
		name, ok := k.(lua.LString)
		if !ok || !contains(known, string(name)) {
			argError(L, "ivr.defaults", 1, fmt.Sprintf("unknown setting %s; ivr.defaults takes 8x8 parameter names (%s) and %s",
				luaconv.Quote(lua.LVAsString(k)), strings.Join(allParams(), ", "), strings.Join(menuSettings, ", ")))
		}
		m.defaults[string(name)] = v
	})
	return 0
}

// builder makes the constructor of one action. Its first argument is either the
// action's main parameter (text, promptMessage, fileUrl, destination) or a table
// of parameters; an optional second table adds more.
func (m *Module) builder(action, main string) lua.LGFunction {
	fname := "ivr." + snake(action)
	return func(L *lua.LState) int {
		params := L.NewTable()
		switch v := L.Get(1).(type) {
		case lua.LString:
			params.RawSetString(main, v)
		case *lua.LTable:
			copyParams(L, fname, 1, params, v)
		default:
			argError(L, fname, 1, fmt.Sprintf("%s (a string) or a table of parameters expected, got %s", main, L.Get(1).Type()))
		}
		if L.GetTop() >= 2 {
			more, ok := L.Get(2).(*lua.LTable)
			if !ok {
				argError(L, fname, 2, "a table of parameters expected, got "+L.Get(2).Type().String())
			}
			copyParams(L, fname, 2, params, more)
		}
		m.applyDefaults(params, action)
		a := actionTable(L, action, params)
		if err := checkAction(a); err != nil {
			L.RaiseError("%s: %s", fname, err)
		}
		L.Push(a)
		return 1
	}
}

func hangup(L *lua.LState) int {
	t := L.NewTable()
	t.RawSetString("action", lua.LString(callflow.Hangup))
	L.Push(t)
	return 1
}

func (m *Module) applyDefaults(params *lua.LTable, action string) {
	for _, p := range callflow.ParamNames(action) {
		if v, ok := m.defaults[p]; ok && params.RawGetString(p) == lua.LNil {
			params.RawSetString(p, v)
		}
	}
}

func actionTable(L *lua.LState, action string, params *lua.LTable) *lua.LTable {
	t := L.CreateTable(0, 2)
	t.RawSetString("action", lua.LString(action))
	t.RawSetString("params", params)
	return t
}

// checkAction applies 8x8's per-action rules to one action as soon as it is
// built, so the error points at the script line that built it.
func checkAction(t *lua.LTable) error {
	a, err := toAction(t, "action", &luaconv.Budget{Limits: replyLimits})
	if err != nil {
		return err
	}
	if ps := callflow.Validate([]callflow.Action{a}, callflow.AsReply); ps != nil {
		return errors.New(ofOneAction(ps))
	}
	return nil
}

// ofOneAction words the problems of a callflow of one action about that action:
// "params.speed: …" rather than "$.callflow[0].params.speed: …".
func ofOneAction(ps []callflow.Problem) string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msg := strings.ReplaceAll(p.Error(), "$.callflow[0].", "")
		msgs[i] = strings.ReplaceAll(msg, "$.callflow[0]:", "the action:")
	}
	return strings.Join(msgs, "; ")
}

var digitKey = regexp.MustCompile(`^[0-9*#]{1,25}$`)

// menu declares a menu: ivr.menu{ id = "main", prompt = "…", ["1"] = option, … }.
func (m *Module) menu(L *lua.LState) int {
	t := checkTable(L, "ivr.menu", 1)
	mn := &Menu{Params: map[string]lua.LValue{}, Options: map[string]lua.LValue{}, Where: strings.TrimSuffix(L.Where(1), ":")}
	captureParams := callflow.ParamNames(callflow.SayAndCapture)
	t.ForEach(func(k, v lua.LValue) {
		key := lua.LVAsString(k)
		if n, ok := k.(lua.LNumber); ok {
			key = n.String()
		}
		switch {
		case key == "id":
			mn.ID = lua.LVAsString(v)
		case key == "prompt":
			mn.Prompt = lua.LVAsString(v)
		case key == "other":
			mn.Other = v
		case key == "no_input":
			mn.NoInput = v
		case digitKey.MatchString(key):
			mn.Options[key] = v
		case contains(captureParams, key) && key != "promptMessage":
			mn.Params[key] = v
		default:
			argError(L, "ivr.menu", 1, fmt.Sprintf("menu key %s: expected id, prompt, other, no_input, a key like [\"1\"], or a sayAndCapture parameter (%s)",
				luaconv.Quote(key), strings.Join(captureParams[1:], ", ")))
		}
	})
	if mn.ID == "" {
		argError(L, "ivr.menu", 1, "menu needs an id (a string): it becomes the clientActionId 8x8 echoes back")
	}
	if err := callflow.CheckClientActionID(mn.ID); err != nil {
		argError(L, "ivr.menu", 1, "menu id: "+err.Error())
	}
	if mn.Prompt == "" {
		argError(L, "ivr.menu", 1, fmt.Sprintf("menu %q needs a prompt: the text the caller hears", mn.ID))
	}
	if prev, dup := m.menus[mn.ID]; dup {
		argError(L, "ivr.menu", 1, fmt.Sprintf("menu id %q is already used by the menu at %s", mn.ID, prev.Where))
	}
	for _, opt := range append(mapValues(mn.Options), mn.Other, mn.NoInput) {
		if err := checkOption(opt); err != nil {
			argError(L, "ivr.menu", 1, fmt.Sprintf("menu %q: %s", mn.ID, err))
		}
	}
	obj := L.CreateTable(0, 2)
	obj.RawSetString("id", lua.LString(mn.ID))
	obj.RawSetString("prompt", lua.LString(mn.Prompt))
	mn.table = obj
	m.menus[mn.ID] = mn
	m.order = append(m.order, mn.ID)
	m.byTable[obj] = mn
	L.Push(obj)
	return 1
}

// on declares what to answer when 8x8 comes back at a position that is not a
// menu, e.g. after a bridged call ends: ivr.on("post_call", goodbye).
func (m *Module) on(L *lua.LState) int {
	id, ok := L.Get(1).(lua.LString)
	if !ok {
		argError(L, "ivr.on", 1, "a position id (string) expected, got "+L.Get(1).Type().String())
	}
	v := L.Get(2)
	if err := checkOption(v); err != nil || v == lua.LNil {
		argError(L, "ivr.on", 2, "what to answer there: a menu, a menu id, an action, a list of actions or a function")
	}
	if err := callflow.CheckClientActionID(string(id)); err != nil {
		argError(L, "ivr.on", 1, "position id: "+err.Error())
	}
	if _, isMenu := m.menus[string(id)]; isMenu {
		argError(L, "ivr.on", 1, fmt.Sprintf("%q is a menu; ivr.on is for positions that are not menus", id))
	}
	m.positions[string(id)] = v
	return 0
}

func checkOption(v lua.LValue) error {
	switch v.(type) {
	case nil, *lua.LNilType, lua.LString, *lua.LTable, *lua.LFunction:
		return nil
	}
	return fmt.Errorf("an option is a menu, a menu id, an action, a list of actions or a function; got a %s", v.Type())
}

// argError reports a bad argument the way gopher-lua's auxlib does, naming the
// function as scripts write it (ivr.say, not say).
func argError(L *lua.LState, fn string, n int, msg string) {
	L.RaiseError("bad argument #%d to %s (%s)", n, fn, msg)
}

func checkTable(L *lua.LState, fn string, n int) *lua.LTable {
	t, ok := L.Get(n).(*lua.LTable)
	if !ok {
		argError(L, fn, n, "table expected, got "+L.Get(n).Type().String())
	}
	return t
}

// maxParams bounds the entries of a builder's table of parameters: 8x8's
// actions take at most 12, and a huge table would be copied in one Go call.
const maxParams = 64

// copyParams copies argument n's parameters into dst.
func copyParams(L *lua.LState, fn string, n int, dst, src *lua.LTable) {
	count := 0
	for k, v := src.Next(lua.LNil); k != lua.LNil; k, v = src.Next(k) {
		if count++; count > maxParams {
			argError(L, fn, n, fmt.Sprintf("more than %d parameters; 8x8's actions take at most 12", maxParams))
		}
		dst.RawSet(k, v)
	}
}

func snake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func allParams() []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range []string{callflow.Say, callflow.SayAndCapture, callflow.PlayFile, callflow.MakeCall} {
		for _, p := range callflow.ParamNames(a) {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mapValues(m map[string]lua.LValue) []lua.LValue {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]lua.LValue, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// Keys returns a menu's option keys in order.
func (mn *Menu) Keys() []string {
	keys := make([]string, 0, len(mn.Options))
	for k := range mn.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
