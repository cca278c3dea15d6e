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
// builder checks its action against 8x8's rules (runtime/callflow) when it is
// called, and ivr.defaults and ivr.menu the values they set when the script
// loads, so a mistake is reported at the script line that made it. A handler
// returns one action, a list (of actions, menus and lists, with an optional
// clientActionId field), a menu, or a menu's id.
//
// Menus (menu.go) declare the positions of the tree at the top level; Loaded
// closes the declarations once the top level has run and, at load, resolves
// the menu ids options name. Route (route.go) answers the digits pressed at a position, and
// Reply turns what a handler returned into the reply 8x8 gets. The engine gives
// each event a new Module: per-call state (the root menu, tries counted) comes
// in and goes out as a Memory kept in the session.
package ivr

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/spelling"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	lua "github.com/yuin/gopher-lua"
)

// Module is one Lua state's ivr module: its defaults, menus and positions, and
// the event it answers. The runtime keeps it to route digits and render replies.
type Module struct {
	defaults  map[string]lua.LValue
	setAt     map[string]string // menu setting → script:line of the ivr.defaults that set it
	menus     map[string]*Menu
	order     []string // menu ids in declaration order
	byTable   map[*lua.LTable]*Menu
	positions map[string]position
	root      lua.LValue // ivr.root's argument; nil when undeclared
	rootAt    string
	sensitive map[string]bool // the positions ivr.sensitive lists
	loaded    bool            // the top level has finished: the tree is closed
	vet       bool            // check the declarations (NewAtLoad)
	problems  []Problem       // found while the top level runs, reported by Loaded
	event     *event          // the event being answered; nil at load
	globals   *lua.LTable     // the state's globals: which handlers the script defines
	// loadedDefaults and loadedAt are defaults and setAt as the top level
	// left them; eventDefaults says a handler changed them (copies of them)
	// for this event only: End puts them back, so a state that serves many
	// events starts each with the top level's.
	loadedDefaults map[string]lua.LValue
	loadedAt       map[string]string
	eventDefaults  bool
}

// position is an ivr.on declaration.
type position struct {
	answer lua.LValue
	where  string
}

// event is the event a module answers.
type event struct {
	session  lua.LValue
	position string // the clientActionId the event answers
	mem      Memory
}

// Memory is what the menu tree remembers of one call between its events; the
// engine keeps it in the session, since no event sees what another left in Lua.
type Memory struct {
	// Root is the first menu the call was sent to: where a caller whose
	// position no longer exists starts again when the app declares no root.
	Root string
	// Tries counts, per menu with a tries limit, the wrong keys and missing
	// answers in a row the caller gave there.
	Tries map[string]int
}

// NewAtLoad makes a module for the run of a script's top level at load: it
// checks the declarations as they are made and when the top level ends
// (Loaded). An event's module (New) does not check them again: the top
// level declared the same tree when the script loaded, and what an event
// renders is checked as it leaves.
func NewAtLoad() *Module {
	m := New()
	m.vet = true
	return m
}

// New makes an empty module for one event's state.
func New() *Module {
	return &Module{
		defaults:  map[string]lua.LValue{},
		setAt:     map[string]string{},
		menus:     map[string]*Menu{},
		byTable:   map[*lua.LTable]*Menu{},
		positions: map[string]position{},
		sensitive: map[string]bool{},
	}
}

// Open builds the module table in L.
func (m *Module) Open(L *lua.LState) lua.LValue {
	m.globals = L.G.Global
	return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"defaults":        m.setDefaults,
		"say":             m.builder(callflow.Say, "text"),
		"say_and_capture": m.builder(callflow.SayAndCapture, "promptMessage"),
		"play_file":       m.builder(callflow.PlayFile, "fileUrl"),
		"make_call":       m.builder(callflow.MakeCall, "destination"),
		"hangup":          hangup,
		"menu":            m.menu,
		"on":              m.on,
		"root":            m.declareRoot,
		"sensitive":       m.declareSensitive,
		"route":           m.route,
	})
}

// Answer starts answering one event: the session table handlers get, the
// position the caller is at (the clientActionId the event answers) and what
// the menus remember of the call.
func (m *Module) Answer(session lua.LValue, position string, mem Memory) {
	mem.Tries = maps.Clone(mem.Tries) // the caller's copy stays as it was
	if mem.Tries == nil {
		mem.Tries = map[string]int{}
	}
	m.event = &event{session: session, position: position, mem: mem}
}

// End ends the event Answer began, for a state that serves another after
// it (the engine's warm states): the module lets go of the event's session,
// so that an idle state keeps nothing of the last call alive (its number,
// its digits, whatever a handler hung on the session), and a handler's
// defaults give way to the top level's again.
func (m *Module) End() {
	m.event = nil
	if m.eventDefaults {
		m.defaults, m.setAt, m.eventDefaults = m.loadedDefaults, m.loadedAt, false
	}
}

// Memory is what the menus remember of the call after the event.
func (m *Module) Memory() Memory {
	if m.event == nil {
		return Memory{}
	}
	return m.event.mem
}

// Menus returns the declared menus in declaration order.
func (m *Module) Menus() []*Menu {
	out := make([]*Menu, len(m.order))
	for i, id := range m.order {
		out[i] = m.menus[id]
	}
	return out
}

// Positions returns the ivr.on position ids, sorted.
func (m *Module) Positions() []string {
	ids := make([]string, 0, len(m.positions))
	for id := range m.positions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// IsPosition reports whether id names a menu or an ivr.on position: digits
// answered there go to the menu tree, not to on_dtmf.
func (m *Module) IsPosition(id string) bool {
	_, on := m.positions[id]
	return m.menus[id] != nil || on
}

// Problem is a mistake in a script's menus or defaults, at the script line
// that made it.
type Problem struct {
	Where string // script:line
	Msg   string
}

func (p Problem) Error() string { return p.Where + ": " + p.Msg }

// problem notes a mistake that does not stop the top level, so that Loaded
// reports every one of them at once; after the top level it raises.
func (m *Module) problem(L *lua.LState, p Problem) {
	if m.loaded {
		L.RaiseError("%s", p.Msg)
	}
	m.problems = append(m.problems, p)
}

// menuSettings are the ivr.defaults and ivr.menu keys that are not 8x8
// parameters: what every menu answers, and how it counts and repeats.
var menuSettings = []string{"other", "no_input", "tries", "on_too_many", "repeat_key"}

// setDefaults is ivr.defaults{…}: the parameters every action and menu gets
// unless it sets its own. At load every mistake in it is noted and the rest
// is set, so that one wrong key hides neither the others nor the menus.
func (m *Module) setDefaults(L *lua.LState) int {
	at := where(L)
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		m.mistake(L, "ivr.defaults", 1, at, "a table expected, such as ivr.defaults { voiceProfile = \"en-US-BenjaminRUS\" }; got "+L.Get(1).Type().String())
		return 0
	}
	if m.loaded && !m.eventDefaults { // a handler's defaults are its event's (see Answer)
		m.defaults, m.setAt, m.eventDefaults = maps.Clone(m.defaults), maps.Clone(m.setAt), true
	}
	var set map[string]bool // the parameters this call sets, to check them (NewAtLoad)
	if m.vet {
		set = map[string]bool{}
	}
	m.entries(t, func(k, v lua.LValue) {
		name, _ := k.(lua.LString)
		if msg := DefaultsKeyProblem(lua.LVAsString(k)); msg != "" || name == "" {
			if msg == "" {
				msg = fmt.Sprintf("keys are setting names; got the %s %s", k.Type(), k)
			}
			m.mistake(L, "ivr.defaults", 1, at, msg)
			return
		}
		if contains(menuSettings, string(name)) {
			if err := CheckSetting(string(name), v); err != nil {
				m.mistake(L, "ivr.defaults", 1, at, err.Error())
				return
			}
			m.setAt[string(name)] = at
		}
		m.defaults[string(name)] = v
		if m.vet {
			set[string(name)] = true
		}
	})
	if !m.vet {
		return 0
	}
	if err := m.checkDefaults(set); err != nil {
		m.problem(L, Problem{Where: at, Msg: "ivr.defaults: " + err.Error()})
	}
	return 0
}

// checkDefaults applies 8x8's rules to the parameters one ivr.defaults call
// set, as every action that takes them would carry them, so that speed = 3 is
// reported at the ivr.defaults that says it, not at the first ivr.say.
func (m *Module) checkDefaults(set map[string]bool) error {
	for _, action := range []string{callflow.Say, callflow.SayAndCapture, callflow.PlayFile, callflow.MakeCall} {
		params := map[string]any{}
		for p, v := range placeholders[action] {
			params[p] = v
		}
		budget := luaconv.Budget{Limits: replyLimits}
		for _, p := range callflow.ParamNames(action) {
			if v, ok := m.defaults[p]; ok {
				gv, err := budget.FromLua(v, p)
				if err != nil {
					return tooLarge(err)
				}
				params[p] = gv
			}
		}
		if err := valueProblem(callflow.Action{Name: action, Params: params}, set); err != nil {
			return err
		}
	}
	return nil
}

// placeholders complete an action around parameters checked on their own.
var placeholders = map[string]map[string]any{
	callflow.Say:           {"text": "x", "voiceProfile": "en-US-BenjaminRUS"},
	callflow.SayAndCapture: {"promptMessage": "x", "voiceProfile": "en-US-BenjaminRUS"},
	callflow.PlayFile:      {"fileUrl": "https://example.com/a.mp3"},
	callflow.MakeCall:      {"source": "+6568332048", "destination": "+6531589338"},
}

// betweenParams are 8x8's codes for rules between capture settings (minDigits
// needs maxDigits, …): a setting checked on its own may be completed later.
var betweenParams = []int{-1003, -1005, -1006, -1008}

// valueProblem is what is wrong with the values of a's parameters in set,
// worded about one action; nil when nothing is.
func valueProblem(a callflow.Action, set map[string]bool) error {
	var ps []callflow.Problem
	for _, p := range callflow.Validate([]callflow.Action{a}, callflow.AsReply) {
		_, name, _ := strings.Cut(p.Path, ".params.")
		if set[name] && !slices.Contains(betweenParams, p.Code) {
			ps = append(ps, p)
		}
	}
	if ps == nil {
		return nil
	}
	return errors.New(ofOneAction(ps))
}

// where is the script line of the Lua code that called the running Go
// function: "app.lua:12".
func where(L *lua.LState) string { return strings.TrimSuffix(L.Where(1), ":") }

// DefaultsKeyProblem is what is wrong with key in an ivr.defaults table; ""
// when ivr.defaults takes it.
func DefaultsKeyProblem(key string) string {
	known := slices.Concat(allParams(), menuSettings)
	if contains(known, key) {
		return ""
	}
	if key == callflow.SensitiveParam {
		return "sensitive is not a default: mark the captures whose keys are a secret (sensitive = true on ivr.say_and_capture or ivr.menu), or their positions with ivr.sensitive { \"pin\" }"
	}
	if near := spelling.Closest(key, known); near != "" {
		return fmt.Sprintf("unknown setting %s: did you mean %s?", luaconv.Quote(key), near)
	}
	return fmt.Sprintf("unknown setting %s; ivr.defaults takes 8x8 parameter names (%s) and %s",
		luaconv.Quote(key), strings.Join(allParams(), ", "), strings.Join(menuSettings, ", "))
}

// IsSetting reports whether name is a menu setting (other, no_input, tries,
// on_too_many, repeat_key) rather than an 8x8 parameter.
func IsSetting(name string) bool { return contains(menuSettings, name) }

// CheckSetting checks the value of a menu setting (see menuSettings) where it
// is written.
func CheckSetting(name string, v lua.LValue) error {
	switch name {
	case "tries":
		n, ok := v.(lua.LNumber)
		if !ok || n < 1 || n > 100 || n != lua.LNumber(int(n)) {
			return fmt.Errorf("tries is how many wrong or missing answers a caller may give at a menu before on_too_many: a whole number from 1 to 100, got %s", shown(v))
		}
	case "repeat_key":
		s, ok := v.(lua.LString)
		if !ok || !digitKey.MatchString(string(s)) {
			return fmt.Errorf("repeat_key is the key that says a menu again, such as \"*\"; got %s", shown(v))
		}
	default: // other, no_input, on_too_many: an answer
		return checkOption(v)
	}
	return nil
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
			luaconv.ArgError(L, fname, 1, fmt.Sprintf("%s (a string) or a table of parameters expected, got %s", main, L.Get(1).Type()))
		}
		if L.GetTop() >= 2 {
			more, ok := L.Get(2).(*lua.LTable)
			if !ok {
				luaconv.ArgError(L, fname, 2, "a table of parameters expected, got "+L.Get(2).Type().String())
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

// handWritten is what is wrong with an action a script wrote as a table that
// ivr.defaults would have completed: the builders apply the defaults, a table
// is sent as written. (A builder's action without a voice is refused where it
// is built, so a spoken action without one here was written by hand.)
func handWritten(a callflow.Action, path string) error {
	if a.Name != callflow.Say && a.Name != callflow.SayAndCapture {
		return nil
	}
	if _, ok := a.Params["voiceProfile"]; ok {
		return nil
	}
	return fmt.Errorf("%s: %s", path, HandWrittenVoice(a.Name))
}

// HandWrittenVoice says that a spoken action written as a table has no voice,
// and why ivr.defaults did not give it one.
func HandWrittenVoice(action string) string {
	return fmt.Sprintf("this %s action has no voiceProfile: an action table written by hand ({ action = %q, params = … }) does not receive ivr.defaults; "+
		"build it with ivr.%s(…), which applies them, or give it params.voiceProfile", action, action, snake(action))
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

func checkTable(L *lua.LState, fn string, n int) *lua.LTable {
	t, ok := L.Get(n).(*lua.LTable)
	if !ok {
		luaconv.ArgError(L, fn, n, "table expected, got "+L.Get(n).Type().String())
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
			luaconv.ArgError(L, fn, n, fmt.Sprintf("more than %d parameters; 8x8's actions take at most 12", maxParams))
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

// allParams is every 8x8 parameter name ivr.defaults takes, worked out once.
var allParams = sync.OnceValue(func() []string {
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
})

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Values are the Lua values the module holds for the tree the top level
// declared (menus, their options and settings, defaults, ivr.on answers, the
// root): what a snapshot of a state that serves many events must cover
// besides what the script's globals reach (sandbox.Take's roots).
func (m *Module) Values() []lua.LValue {
	var vs []lua.LValue
	add := func(v lua.LValue) {
		if v != nil {
			vs = append(vs, v)
		}
	}
	for _, v := range m.defaults {
		add(v)
	}
	for _, mn := range m.menus {
		add(mn.table)
		add(mn.OnEnter)
		for _, group := range []map[string]lua.LValue{mn.Params, mn.Options, mn.Settings} {
			for _, v := range group {
				add(v)
			}
		}
	}
	for t := range m.byTable {
		add(t)
	}
	for _, p := range m.positions {
		add(p.answer)
	}
	add(m.root)
	return vs
}
