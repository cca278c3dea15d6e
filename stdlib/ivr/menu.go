package ivr

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/spelling"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	lua "github.com/yuin/gopher-lua"
)

// Menu is one ivr.menu declaration.
type Menu struct {
	ID      string
	Prompt  string
	Params  map[string]lua.LValue // sayAndCapture parameters set on the menu
	Options map[string]lua.LValue // digits → option
	// Settings are the menu's own menuSettings (other, no_input, tries,
	// on_too_many, repeat_key); ivr.defaults gives the ones it leaves out.
	Settings map[string]lua.LValue
	OnEnter  lua.LValue // function(session) run when a caller arrives; nil when unset
	// Sensitive: the digits a caller enters here are never stored nor
	// logged (sensitive = true; see Module.Sensitive).
	Sensitive bool
	Where     string // script:line of the declaration
	table     *lua.LTable
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

// setting is a menu's own setting, else the default; nil when neither is set.
func (m *Module) setting(mn *Menu, name string) lua.LValue {
	if v, ok := mn.Settings[name]; ok {
		return v
	}
	if v, ok := m.defaults[name]; ok {
		return v
	}
	return nil
}

// settingAt is the line that declared a menu's setting.
func (m *Module) settingAt(mn *Menu, name string) string {
	if _, ok := mn.Settings[name]; ok {
		return mn.Where
	}
	return m.setAt[name]
}

// Tries is the menu's limit on wrong or missing answers in a row (0: none).
func (m *Module) Tries(mn *Menu) int {
	n, _ := m.setting(mn, "tries").(lua.LNumber)
	return int(n)
}

// RepeatKey is the key that says the menu again ("" when none).
func (m *Module) RepeatKey(mn *Menu) string {
	k, _ := m.setting(mn, "repeat_key").(lua.LString)
	return string(k)
}

// captureParams are sayAndCapture's parameter names, the ones a menu takes.
var captureParams = callflow.ParamNames(callflow.SayAndCapture)

var digitKey = regexp.MustCompile(`^[0-9*#]{1,25}$`)

// menu declares a menu: ivr.menu{ id = "main", prompt = "…", ["1"] = option, … }.
// What is wrong with it is reported here, at its line: its keys, its options'
// kinds, and the values of the 8x8 parameters it sets. Menu ids its options
// name, and the rules between its parameters and the defaults, are checked by
// Loaded, when every menu and default is known. At load a mistake is noted and
// the menu is declared all the same (without an id, a copy of a used id is
// known only by its table), so that the rest of the tree is checked in the same
// run and what names this menu does not report that no menu has its id.
func (m *Module) menu(L *lua.LState) int {
	m.declaring(L, "ivr.menu")
	mn := &Menu{Params: map[string]lua.LValue{}, Options: map[string]lua.LValue{}, Settings: map[string]lua.LValue{}, Where: where(L)}
	broken := false
	wrong := func(msg string) {
		broken = true
		m.mistake(L, "ivr.menu", 1, mn.Where, msg)
	}
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		wrong("a table expected, such as ivr.menu { id = \"main\", prompt = \"…\", [\"1\"] = … }; got " + L.Get(1).Type().String())
		t = L.NewTable()
	}
	var promptMessage lua.LValue
	m.entries(t, func(k, v lua.LValue) {
		key := lua.LVAsString(k)
		if n, ok := k.(lua.LNumber); ok {
			key = n.String()
		}
		switch {
		case key == "id":
			if _, ok := v.(lua.LString); !ok {
				wrong("menu id is a string (it becomes the clientActionId 8x8 echoes back); got " + shown(v))
			}
			mn.ID = lua.LVAsString(v)
		case key == "prompt":
			if _, ok := v.(lua.LString); !ok {
				wrong("menu prompt is the text the caller hears (a string); got " + shown(v))
			}
			mn.Prompt = lua.LVAsString(v)
		case key == "promptMessage":
			promptMessage = v
		case key == callflow.SensitiveParam:
			b, ok := v.(lua.LBool)
			if !ok {
				wrong("sensitive is true (the digits a caller enters at this menu are never stored nor logged) or false; got " + shown(v))
				return
			}
			mn.Sensitive = bool(b)
		case key == "on_enter":
			if _, ok := v.(*lua.LFunction); !ok {
				wrong("on_enter is a function(session) run when a caller arrives at the menu; got a " + v.Type().String())
				return
			}
			mn.OnEnter = v
		case contains(menuSettings, key):
			if err := CheckSetting(key, v); err != nil {
				wrong(err.Error())
				return
			}
			mn.Settings[key] = v
		case digitKey.MatchString(key):
			if err := checkOption(v); err != nil {
				wrong(fmt.Sprintf("option [%q]: %s", key, err))
				return
			}
			mn.Options[key] = v
		case contains(captureParams, key):
			mn.Params[key] = v
		default:
			wrong(MenuKeyProblem(key))
		}
	})
	name := "menu"
	if mn.ID != "" {
		name = fmt.Sprintf("menu %q", mn.ID)
	}
	switch {
	case mn.Prompt != "":
		if promptMessage != nil {
			wrong(name + " sets both prompt and promptMessage: a menu's text is prompt alone; remove promptMessage")
		}
	case promptMessage != nil:
		wrong(PromptMessageProblem(name))
		mn.Prompt = lua.LVAsString(promptMessage)
	default:
		wrong(name + " needs a prompt: the text the caller hears (prompt = \"…\")")
	}
	declared := true // known by its id
	switch prev, dup := m.menus[mn.ID]; {
	case mn.ID == "":
		wrong("menu needs an id (a string): it becomes the clientActionId 8x8 echoes back")
		declared = false
	case dup:
		wrong(fmt.Sprintf("menu id %q is already used by the menu at %s", mn.ID, prev.Where))
		declared = false
	default:
		if err := callflow.CheckClientActionID(mn.ID); err != nil {
			wrong("menu id: " + err.Error())
		}
		if p, on := m.positions[mn.ID]; on {
			wrong(fmt.Sprintf("menu id %q is already an ivr.on position (%s)", mn.ID, p.where))
			declared = false
		}
	}
	if m.vet && !broken {
		own := map[string]bool{}
		for p := range mn.Params {
			own[p] = true
		}
		a, err := m.capture(mn, &luaconv.Budget{Limits: replyLimits})
		if err == nil {
			err = valueProblem(a, own)
		}
		if err != nil {
			m.problem(L, Problem{Where: mn.Where, Msg: fmt.Sprintf("ivr.menu %q: %s", mn.ID, err)})
		}
	}
	obj := L.CreateTable(0, 2)
	obj.RawSetString("id", lua.LString(mn.ID))
	obj.RawSetString("prompt", lua.LString(mn.Prompt))
	mn.table = obj
	if declared {
		m.menus[mn.ID] = mn
		m.order = append(m.order, mn.ID)
	}
	m.byTable[obj] = mn
	L.Push(obj)
	return 1
}

// MenuKeyProblem is what is wrong with key in an ivr.menu table; "" when a
// menu takes it, and for promptMessage, whose mistake depends on the menu
// (PromptMessageProblem). Values are checked apart: CheckSetting, 8x8's rules.
func MenuKeyProblem(key string) string {
	if key == "id" || key == "prompt" || key == "on_enter" || key == callflow.SensitiveParam || contains(menuSettings, key) || digitKey.MatchString(key) ||
		contains(captureParams, key) {
		return ""
	}
	if near := spelling.Closest(key, append(append([]string{"id", "prompt", "on_enter", callflow.SensitiveParam}, menuSettings...), captureParams[1:]...)); near != "" {
		return fmt.Sprintf("menu key %s: did you mean %s? (a menu takes id, prompt, on_enter, sensitive, %s, keys like [\"1\"], and sayAndCapture parameters)",
			luaconv.Quote(key), near, strings.Join(menuSettings, ", "))
	}
	return fmt.Sprintf("menu key %s: expected id, prompt, on_enter, sensitive, %s, a key like [\"1\"], or a sayAndCapture parameter (%s)",
		luaconv.Quote(key), strings.Join(menuSettings, ", "), strings.Join(captureParams[1:], ", "))
}

// TriesProblem is said of a menu that allows n tries with no on_too_many,
// in the menu or in ivr.defaults.
func TriesProblem(n int) string {
	return fmt.Sprintf("allows %d tries but says nothing after them: add on_too_many = <what the caller gets> (here or in ivr.defaults)", n)
}

// PromptMessageProblem is said of a menu that sets promptMessage and no
// prompt; name is `menu "id"`, or `menu` when it has no id.
func PromptMessageProblem(name string) string {
	return name + " sets promptMessage: in a menu the key is prompt (prompt = \"…\"), the text the caller hears"
}

// entries calls fn on each entry of t: at load in the order of its keys, so
// that the mistakes of one table are reported in the same order at every
// load; at an event, where the top level runs again and nothing is reported,
// in the table's own order, without sorting.
func (m *Module) entries(t *lua.LTable, fn func(k, v lua.LValue)) {
	if !m.vet {
		t.ForEach(fn)
		return
	}
	type entry struct{ k, v lua.LValue }
	var entries []entry
	t.ForEach(func(k, v lua.LValue) { entries = append(entries, entry{k, v}) })
	sort.SliceStable(entries, func(i, j int) bool { return lua.LVAsString(entries[i].k) < lua.LVAsString(entries[j].k) })
	for _, e := range entries {
		fn(e.k, e.v)
	}
}

// mistake reports a mistake in a declaration: at load it is noted, so that
// the top level runs on and Loaded reports every mistake in one run; in an
// event's module (the script already loaded without it) it raises.
func (m *Module) mistake(L *lua.LState, fn string, arg int, at, msg string) {
	if !m.vet {
		argError(L, fn, arg, msg)
	}
	m.problem(L, Problem{Where: at, Msg: fn + ": " + msg})
}

// shown is a value as a mistake quotes it: numbers as numbers, text quoted,
// anything else by its type.
func shown(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LNumber:
		return v.String()
	case lua.LString:
		return luaconv.Quote(string(v))
	case lua.LBool:
		return v.String()
	}
	return "a " + v.Type().String()
}

// capture is the menu's sayAndCapture: its prompt, its parameters, the
// defaults for the others.
func (m *Module) capture(mn *Menu, budget *luaconv.Budget) (callflow.Action, error) {
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
			return callflow.Action{}, tooLarge(err)
		}
		params[p] = gv
	}
	return callflow.Action{Name: callflow.SayAndCapture, Params: params, Sensitive: mn.Sensitive}, nil
}

// on declares what to answer when 8x8 comes back at a position that is not a
// menu, e.g. after a bridged call ends: ivr.on("post_call", goodbye).
func (m *Module) on(L *lua.LState) int {
	m.declaring(L, "ivr.on")
	at := where(L)
	id, ok := L.Get(1).(lua.LString)
	if !ok {
		m.mistake(L, "ivr.on", 1, at, "a position id (string) expected, got "+L.Get(1).Type().String())
		return 0
	}
	v := L.Get(2)
	if err := checkOption(v); err != nil || v == lua.LNil {
		m.mistake(L, "ivr.on", 2, at, fmt.Sprintf("what to answer at %q: a menu, a menu id, an action, a list of actions or a function; got %s", id, shown(v)))
		v = lua.LNil // still a position: what names it is no mistake
	}
	if err := callflow.CheckClientActionID(string(id)); err != nil {
		m.mistake(L, "ivr.on", 1, at, "position id: "+err.Error())
	}
	if _, isMenu := m.menus[string(id)]; isMenu {
		m.mistake(L, "ivr.on", 1, at, fmt.Sprintf("%q is a menu; ivr.on is for positions that are not menus", id))
		return 0
	}
	if prev, dup := m.positions[string(id)]; dup {
		m.mistake(L, "ivr.on", 1, at, fmt.Sprintf("position %q is already declared at %s", id, prev.where))
		return 0
	}
	m.positions[string(id)] = position{answer: v, where: at}
	return 0
}

// declareRoot is ivr.root(menu): where a call starts when it arrives without
// a position, and starts again when its position no longer exists.
func (m *Module) declareRoot(L *lua.LState) int {
	m.declaring(L, "ivr.root")
	at := where(L)
	switch v := L.Get(1).(type) {
	case lua.LString:
	case *lua.LTable:
		if m.byTable[v] == nil {
			m.mistake(L, "ivr.root", 1, at, "a menu (what ivr.menu returned) or a menu id expected, got a table that is not a menu")
			return 0
		}
	default:
		m.mistake(L, "ivr.root", 1, at, "a menu or a menu id expected, got "+shown(v))
		return 0
	}
	if m.root != nil {
		m.mistake(L, "ivr.root", 1, at, "the root is already declared at "+m.rootAt)
		return 0
	}
	m.root, m.rootAt = L.Get(1), at
	return 0
}

// declareSensitive is ivr.sensitive{ "pin", "card" }: the positions (menu
// ids, or clientActionIds a handler's reply sets) whose digits are never
// stored nor logged, whichever capture asks for them there.
func (m *Module) declareSensitive(L *lua.LState) int {
	m.declaring(L, "ivr.sensitive")
	at := where(L)
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		m.mistake(L, "ivr.sensitive", 1, at, "a list of positions expected, such as ivr.sensitive { \"pin\", \"card\" } (menu ids or clientActionIds); got "+shown(L.Get(1)))
		return 0
	}
	n, entries := t.Len(), 0
	t.ForEach(func(_, _ lua.LValue) { entries++ })
	if entries != n {
		m.mistake(L, "ivr.sensitive", 1, at, "a list of positions expected, such as ivr.sensitive { \"pin\", \"card\" }; this table has named fields")
	}
	for i := 1; i <= n; i++ {
		id, ok := t.RawGetInt(i).(lua.LString)
		if !ok {
			m.mistake(L, "ivr.sensitive", 1, at, fmt.Sprintf("entry %d: a position is a string (a menu id or a clientActionId); got %s", i, shown(t.RawGetInt(i))))
			continue
		}
		if err := callflow.CheckClientActionID(string(id)); err != nil {
			m.mistake(L, "ivr.sensitive", 1, at, fmt.Sprintf("entry %d: %s", i, err))
			continue
		}
		m.sensitive[string(id)] = true
	}
	return 0
}

// declaring refuses a declaration after the top level: each event runs the
// script afresh, so a menu declared in a handler would not exist when the
// caller's answer comes back.
func (m *Module) declaring(L *lua.LState, fn string) {
	if m.loaded {
		L.RaiseError("%s is called in a handler or an option: declare menus, positions and the root at the top level of the script (it runs again at every event, so what a handler declares is gone when the caller answers); for words that change per call, say them from the menu's on_enter", fn)
	}
}

func checkOption(v lua.LValue) error {
	switch v.(type) {
	case nil, *lua.LNilType, lua.LString, *lua.LTable, *lua.LFunction:
		return nil
	}
	return fmt.Errorf("an option is a menu, a menu id, an action, a list of actions or a function; got a %s", v.Type())
}

// Loaded closes the tree once the script's top level has run, and, for a
// module made with NewAtLoad, returns every mistake in it, in script order: those its declarations noted (8x8's
// rules on the values they set), every menu id an option, a default, a
// position or ivr.root names that no menu has, and each menu's sayAndCapture
// checked with the defaults as they ended up.
func (m *Module) Loaded() []Problem {
	m.loaded = true
	m.loadedDefaults, m.loadedAt = m.defaults, m.setAt
	if !m.vet {
		return nil
	}
	problems := m.problems
	report := func(where, what string, err error) {
		if err != nil {
			problems = append(problems, Problem{Where: where, Msg: what + " " + err.Error()})
		}
	}
	noted := map[string]bool{} // menus whose values are already reported
	for _, p := range m.problems {
		noted[p.Where] = true
	}
	for _, mn := range m.Menus() {
		what := fmt.Sprintf("ivr.menu %q", mn.ID)
		for _, k := range mn.Keys() {
			report(mn.Where, fmt.Sprintf("%s option [%q]", what, k), m.resolve(mn.Options[k], 0))
		}
		for _, s := range []string{"other", "no_input", "on_too_many"} {
			report(mn.Where, what+" "+s, m.resolve(mn.Settings[s], 0))
		}
		if n := m.Tries(mn); n > 0 && m.setting(mn, "on_too_many") == nil {
			report(mn.Where, what, errors.New(TriesProblem(n)))
		}
		report(m.settingAt(mn, "repeat_key"), what, m.repeatable(mn))
		if noted[mn.Where] {
			continue
		}
		a, err := m.capture(mn, &luaconv.Budget{Limits: replyLimits})
		if err == nil {
			if ps := callflow.Validate([]callflow.Action{a}, callflow.AsReply); ps != nil {
				err = errors.New(ofOneAction(ps))
			}
		}
		report(mn.Where, what+":", err)
	}
	for _, s := range []string{"other", "no_input", "on_too_many"} {
		report(m.setAt[s], "ivr.defaults "+s, m.resolve(m.defaults[s], 0))
	}
	for _, id := range m.Positions() {
		report(m.positions[id].where, fmt.Sprintf("ivr.on %q", id), m.resolve(m.positions[id].answer, 0))
	}
	if id, ok := m.root.(lua.LString); ok {
		report(m.rootAt, "ivr.root", m.resolve(id, 0))
	}
	sort.SliceStable(problems, func(i, j int) bool {
		fi, li := splitWhere(problems[i].Where)
		fj, lj := splitWhere(problems[j].Where)
		return fi < fj || fi == fj && li < lj
	})
	return problems
}

// repeatable is what stops a caller from pressing the menu's repeat_key: a
// key longer or shorter than its prompt collects.
func (m *Module) repeatable(mn *Menu) error {
	key := m.RepeatKey(mn)
	if key == "" {
		return nil
	}
	least, most := m.digits(mn, "minDigits", 1), m.digits(mn, "maxDigits", 25)
	if n := len(strings.TrimSuffix(key, "#")); n < least || n > most {
		return fmt.Errorf("repeats on %q (repeat_key), but its prompt collects %d to %d digits: no caller can press it; give a key the prompt collects, such as \"*\", or let it collect more digits", key, least, most)
	}
	return nil
}

// digits is a whole-number capture parameter of a menu (its own, else the
// default), or otherwise when it sets none that 8x8 would take.
func (m *Module) digits(mn *Menu, param string, otherwise int) int {
	v, ok := mn.Params[param]
	if !ok {
		v = m.defaults[param]
	}
	if n, ok := v.(lua.LNumber); ok && n >= 1 && n == lua.LNumber(int(n)) {
		return int(n)
	}
	return otherwise
}

// splitWhere splits "file:line" (0 when there is no line).
func splitWhere(where string) (string, int) {
	i := strings.LastIndexByte(where, ':')
	if i < 0 {
		return where, 0
	}
	n, err := strconv.Atoi(where[i+1:])
	if err != nil {
		return where, 0
	}
	return where[:i], n
}

// SplitWhere splits a Problem's Where into its file and line.
func (p Problem) SplitWhere() (file string, line int) { return splitWhere(p.Where) }

// resolve checks that every menu id v names, alone or in a list, is a menu,
// and, in an app whose menu tree answers every position (no on_dtmf, no
// on_timeout), that every clientActionId a list sets is a menu or an ivr.on
// position: the caller's answer there would find neither.
func (m *Module) resolve(v lua.LValue, depth int) error {
	switch v := v.(type) {
	case lua.LString:
		if m.menus[string(v)] == nil {
			return m.noMenu(string(v))
		}
	case *lua.LTable:
		if m.byTable[v] != nil || depth >= 8 {
			return nil
		}
		if id, ok := v.RawGetString("clientActionId").(lua.LString); ok && !m.IsPosition(string(id)) && m.treeAnswersAll() {
			hint := fmt.Sprintf("declare it with ivr.on(%q, …)", string(id))
			if near := spelling.Closest(string(id), append(m.Positions(), m.order...)); near != "" {
				hint = fmt.Sprintf("did you mean %q?", near)
			}
			return fmt.Errorf("sets clientActionId %q, which no menu or ivr.on position has: the caller's answer there would start again at the root (%s)", string(id), hint)
		}
		if v.RawGetString("action") != lua.LNil {
			return nil
		}
		for i := 1; i <= min(v.Len(), maxActions); i++ {
			if err := m.resolve(v.RawGetInt(i), depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// treeAnswersAll reports whether the script leaves every answer to the menu
// tree: it defines neither on_dtmf nor on_timeout.
func (m *Module) treeAnswersAll() bool {
	return m.globals != nil && m.globals.RawGetString("on_dtmf") == lua.LNil && m.globals.RawGetString("on_timeout") == lua.LNil
}

// noMenu says that no menu has id, and which one was probably meant.
func (m *Module) noMenu(id string) error {
	ids := append([]string(nil), m.order...)
	sort.Strings(ids)
	hint := fmt.Sprintf("; to speak text use ivr.say(%s)", luaconv.Quote(id))
	if best := spelling.Closest(id, ids); best != "" {
		hint = fmt.Sprintf("; did you mean %q?", best)
	}
	if len(ids) > maxIDsShown {
		ids = append(ids[:maxIDsShown], "…")
	}
	if _, on := m.positions[id]; on {
		return fmt.Errorf("is %q, an ivr.on position, not a menu: only a menu can be answered with its id (menus: %s)", id, strings.Join(ids, ", "))
	}
	return fmt.Errorf("is %s, but no menu has that id (menus: %s)%s", luaconv.Quote(id), strings.Join(ids, ", "), hint)
}
