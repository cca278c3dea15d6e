package ivr

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/luaivr/luaivr/stdlib/luaconv"

	"github.com/luaivr/luaivr/runtime/callflow"
	lua "github.com/yuin/gopher-lua"
)

// Answers are the replies of an app's menu tree that need no Lua: an option,
// a wrong key, a no input or ivr.on answer that the top level built as a
// value (an action, a list, a menu) rather than a function. They are worked
// out once, when the script loads, from what its top level declared; an event
// whose answer is one of them is answered from here without a Lua state, the
// top level or a handler running.
//
// That is sound only when running the top level again would build the same
// values: the engine makes Answers only for a top level that read nothing from
// outside the script (no clock, kv, http, vcc, random numbers, no log lines
// of its own), and answers from here only what the Lua path would answer
// without running a function: no option function, no on_enter of a menu the
// caller arrives at. Everything else falls through to the script.
type Answers struct {
	mod     *Module
	byValue map[lua.LValue]*Answer // answer values → their reply; nil: needs the script
	onCall  lua.LValue             // on_call when it is a menu, not a function
	// froms holds what Route reports for each menu and choice (from); a
	// choice is an option the menu declares or one of its settings, so it
	// holds at most a few per option.
	froms sync.Map
}

// Answer is one reply worked out at load.
type Answer struct {
	Reply callflow.Reply
	// Body is the reply encoded as sent.
	Body []byte
	// first is the first menu the reply says ("" when none): the call's root
	// when it has none yet, as Reply makes it.
	first string
	// enters are the menus of the reply with an on_enter, which runs when the
	// caller arrives from another position.
	enters []string
}

// Answers works out the tree's answers after the top level ran (Loaded);
// onCall is the script's on_call global. encode turns a reply into the body
// sent (the engine's, so that a body from here is byte for byte the one the
// script's path sends). A value whose reply is not valid is left to the
// script, which reports it on the call as it would without Answers.
func (m *Module) Answers(onCall lua.LValue, encode func(callflow.Reply) ([]byte, error)) *Answers {
	a := &Answers{mod: m, byValue: map[lua.LValue]*Answer{}}
	if _, fn := onCall.(*lua.LFunction); !fn && onCall != lua.LNil {
		a.onCall = onCall
		a.add(onCall, encode)
	}
	for _, id := range m.order {
		mn := m.menus[id]
		a.add(mn.table, encode)
		for _, v := range mn.Options {
			a.add(v, encode)
		}
		for _, name := range []string{"other", "no_input", "on_too_many"} {
			if v := m.setting(mn, name); v != nil {
				a.add(v, encode)
			}
		}
	}
	for _, p := range m.positions {
		a.add(p.answer, encode)
	}
	return a
}

func (a *Answers) add(v lua.LValue, encode func(callflow.Reply) ([]byte, error)) {
	if _, done := a.byValue[v]; done {
		return
	}
	a.byValue[v] = nil
	if _, fn := v.(*lua.LFunction); fn || v == lua.LNil {
		return
	}
	r := callflow.Reply{}
	c := collector{budget: luaconv.Budget{Limits: replyLimits}}
	if err := a.mod.render(&r, v, "answer", &c); err != nil || len(r.Callflow) == 0 {
		return
	}
	if callflow.Check(r.Callflow, callflow.AsReply) != nil {
		return
	}
	body, err := encode(r)
	if err != nil {
		return
	}
	ans := &Answer{Reply: r, Body: body}
	for _, mn := range c.menus {
		if ans.first == "" {
			ans.first = mn.ID
		}
		if mn.OnEnter != nil {
			ans.enters = append(ans.enters, mn.ID)
		}
	}
	a.byValue[v] = ans
}

// Route is the answer to digits (has false: no input) at position, what
// the tree remembers after it, and what chose it, as the script's path names
// it (`option ["1"] of menu "main" (app.lua:12)`), when no Lua is needed for
// it; ok is false otherwise (the position is no menu or ivr.on position, the
// answer is a function, or a menu the caller arrives at has an on_enter).
func (a *Answers) Route(position, digits string, has bool, mem Memory) (ans *Answer, after Memory, from string, ok bool) {
	after = Memory{Root: mem.Root, Tries: maps.Clone(mem.Tries)}
	if after.Tries == nil {
		after.Tries = map[string]int{}
	}
	var v lua.LValue
	pick := func(mn *Menu) {
		opt, c := a.mod.pick(mn, digits, has, after.Tries)
		if v = opt; v == nil {
			v, c = mn.table, choice{} // the menu again: its repeat key, or a setting it lacks
		}
		from = a.from(mn, c)
	}
	if mn := a.mod.menus[position]; mn != nil {
		pick(mn)
	} else if p, on := a.mod.positions[position]; on {
		v, from = p.answer, fmt.Sprintf("ivr.on %q (%s)", position, p.where)
	} else if root := a.root(mem); position == "" && root != nil {
		pick(root)
	} else {
		return nil, mem, "", false // the script says what it does with an unknown position
	}
	ans, after, ok = a.answer(v, position, after)
	return ans, after, from, ok
}

// from is Route's account of what answered at mn (Handled.Where), made once
// for each menu and choice (none: the menu again): every event answered
// without Lua reports one.
func (a *Answers) from(mn *Menu, c choice) string {
	k := fromKey{mn, c}
	if s, ok := a.froms.Load(k); ok {
		return s.(string)
	}
	s := answeredBy(mn, c, c.decl) // an answer worked out at load is no function: declared where the menu says
	a.froms.Store(k, s)
	return s
}

type fromKey struct {
	mn *Menu
	c  choice
}

// root is the root menu as rootMenu finds it, or nil.
func (a *Answers) root(mem Memory) *Menu {
	for _, v := range []lua.LValue{a.mod.root, a.onCall, lua.LString(mem.Root)} {
		if v == nil {
			continue
		}
		if mn := a.mod.menuOf(v); mn != nil {
			return mn
		}
	}
	return nil
}

// Call is on_call's answer when on_call is a menu; position is the one the
// call is at (a call we placed may have one).
func (a *Answers) Call(position string, mem Memory) (ans *Answer, after Memory, ok bool) {
	if a.onCall == nil {
		return nil, mem, false
	}
	return a.answer(a.onCall, position, Memory{Root: mem.Root, Tries: maps.Clone(mem.Tries)})
}

func (a *Answers) answer(v lua.LValue, position string, mem Memory) (*Answer, Memory, bool) {
	ans := a.byValue[v]
	if ans == nil {
		return nil, mem, false
	}
	for _, id := range ans.enters {
		if id != position {
			return nil, mem, false
		}
	}
	if mem.Root == "" {
		mem.Root = ans.first
	}
	return ans, mem, true
}

// Fingerprint is everything Route and Call answer from, as bytes: the
// tree's menus in order with what picks an option (keys, tries, repeat
// key, settings, on_enter) and the reply of each value they may answer
// with, the positions and the root. Two runs of a top level that give the
// same fingerprint give the same answers to every event. A top level may
// read nothing from outside and still build other values in another run
// (an address in a prompt, pairs order over a table Go filled): the engine
// compares each warm state's fingerprint with the load's, and answers from
// here only while they agree.
func (a *Answers) Fingerprint() []byte {
	var b bytes.Buffer
	ref := func(what string, v lua.LValue) {
		b.WriteString(what)
		switch ans := a.byValue[v]; {
		case v == nil || v == lua.LNil:
			b.WriteString(" none\n")
		case ans == nil:
			b.WriteString(" script\n") // a function, or a value the script reports
		default:
			fmt.Fprintf(&b, " first=%q enters=%q %s\n", ans.first, ans.enters, ans.Body)
		}
	}
	m := a.mod
	ref("on_call", a.onCall)
	if mn := m.menuOf(m.root); m.root != nil && mn != nil {
		fmt.Fprintf(&b, "root %q\n", mn.ID)
	}
	for _, id := range m.order {
		mn := m.menus[id]
		fmt.Fprintf(&b, "menu %q %s tries=%d repeat=%q sensitive=%v on_enter=%v\n",
			mn.ID, mn.Where, m.Tries(mn), m.RepeatKey(mn), mn.Sensitive, mn.OnEnter != nil)
		ref("  itself", mn.table)
		for _, k := range mn.Keys() {
			ref(fmt.Sprintf("  [%q]", k), mn.Options[k])
		}
		for _, name := range []string{"other", "no_input", "on_too_many"} {
			ref("  "+name+" ("+m.settingAt(mn, name)+")", m.setting(mn, name))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(m.positions)) {
		p := m.positions[id]
		ref(fmt.Sprintf("ivr.on %q (%s)", id, p.where), p.answer)
	}
	return b.Bytes()
}
