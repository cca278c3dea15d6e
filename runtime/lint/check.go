package lint

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/sandbox"
	"github.com/luaivr/luaivr/runtime/spelling"
	"github.com/luaivr/luaivr/stdlib/ivr"
)

// unavailable says what to use instead of what Lua has and luaivr scripts do
// not: the sandbox removes them (runtime/sandbox), and a script that names
// one fails when the line runs.
var unavailable = map[string]string{
	"os":             "use time (time.now, time.format, time.parts) for the clock; a script has no files, environment or process to reach",
	"io":             "a script reads and writes no files: keep data in kv, write lines with log.info",
	"debug":          "trace with log.debug; error(\"…\") stops a handler with a message",
	"load":           "code is not compiled at run time: put shared code in a module under lib/ and require(\"lib.name\") it",
	"loadstring":     "code is not compiled at run time: put shared code in a module under lib/ and require(\"lib.name\") it",
	"loadfile":       "require(\"lib.name\") loads lib/name.lua from the script folder",
	"dofile":         "require(\"lib.name\") loads lib/name.lua from the script folder",
	"module":         "a module is a file under lib/ that returns a table: local M = {} … return M",
	"package":        "require(\"lib.name\") loads lib/name.lua from the script folder",
	"coroutine":      "a handler runs to its end and returns the reply: each step of a call is an event of its own, and what steps share goes in session.vars",
	"collectgarbage": "luaivr drops each event's Lua state after the event",
	"getfenv":        "a function's environment cannot be changed",
	"setfenv":        "a function's environment cannot be changed",
	"newproxy":       "use a table with a metatable",
}

// check reports what walking f found, with defined the names its app and
// the app's modules define and read,
// and definers how many files of the folder define each global.
func (f *file) check(rel string, env Env, defined *names, definers map[string]int) []Finding {
	c := checker{file: f, rel: rel, env: env, defined: defined, definers: definers, seen: map[string]bool{}, hints: map[string]string{}}
	c.globals()
	c.fields()
	c.handlers()
	c.twice()
	c.setInFunctions()
	c.params()
	c.compares()
	c.values()
	c.declarations()
	c.unmarkedSecrets()
	c.unknownSensitive()
	c.storedSecrets()
	c.order()
	c.silences()
	c.sessions()
	c.replies()
	c.modules()
	c.localHandlers()
	if c.left > 0 { // said after the last line shown
		last := 0
		for _, f := range c.out {
			last = max(last, f.Line)
		}
		c.out = append(c.out, Finding{File: rel, Line: last, Severity: Warning,
			Message: fmt.Sprintf("and at least %d more findings in this file, not shown: fix these first", c.left)})
	}
	return c.out
}

type checker struct {
	*file
	rel        string
	env        Env
	defined    *names
	definers   map[string]int
	out        []Finding
	seen       map[string]bool   // line and message, reported once
	left       int               // findings past maxFindings
	hints      map[string]string // "did you mean" by undefined name
	candidates []string          // the names an undefined one may be meant as
}

// maxFindings bounds what one file reports: past it, one more finding says
// how many were left out, and the time lint takes stays bounded.
const maxFindings = 100

func (c *checker) report(line int, severity, format string, args ...any) {
	if c.full() {
		c.left++
		return
	}
	msg := fmt.Sprintf(format, args...)
	key := fmt.Sprint(line, msg)
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	c.out = append(c.out, Finding{File: c.rel, Line: line, Severity: severity, Message: msg})
}

func (c *checker) full() bool { return len(c.out) >= maxFindings }

// known reports whether a global name is something when the script runs.
func (c *checker) known(name string) bool {
	_, lib := c.env.Globals[name]
	return lib || c.defined.globals[name]
}

// globals reports the globals read or called that nothing defines.
func (c *checker) globals() {
	for _, a := range c.file.globals {
		if a.write || c.known(a.name) {
			continue
		}
		if advice, ok := unavailable[a.name]; ok {
			c.report(a.line, Error, "%s is not available in luaivr scripts: %s", a.name, advice)
			continue
		}
		if c.defined.dynamic {
			continue // it may be defined by a name computed at run time
		}
		what := "is read, but nothing defines it (it is nil)"
		if a.called {
			what = "is called, but nothing defines it"
		}
		c.report(a.line, Error, "%s %s: no local, global or library has that name%s", a.name, what, c.hint(a))
	}
}

// hint says what an undefined name may have been meant as: a local declared
// after the line that uses it, or a name that is defined.
func (c *checker) hint(a access) string {
	for _, line := range c.locals[a.name] {
		if line > a.line {
			return fmt.Sprintf("; the local %s declared at line %d is not seen here: declare it before the code that uses it (local %s at the top, assigned later)", a.name, line, a.name)
		}
	}
	if h, ok := c.hints[a.name]; ok || c.full() {
		return h
	}
	if c.candidates == nil {
		for name := range c.env.Globals {
			c.candidates = append(c.candidates, name)
		}
		for name := range c.defined.globals {
			c.candidates = append(c.candidates, name)
		}
		for name := range c.locals {
			c.candidates = append(c.candidates, name)
		}
		slices.Sort(c.candidates)
	}
	if meant := spelling.Closest(a.name, c.candidates); meant != "" {
		c.hints[a.name] = "; did you mean " + meant + "?"
	}
	return c.hints[a.name]
}

// fields reports lib.name where lib is one of luaivr's libraries and has no
// such field, unless the script sets it.
func (c *checker) fields() {
	for _, u := range c.file.fields {
		have, isLib := c.env.Globals[u.lib]
		if !isLib || len(have) == 0 || c.defined.globals[u.lib] || slices.Contains(have, u.field) || c.defined.fields[u.lib+"."+u.field] {
			continue
		}
		what := "is read"
		if u.called {
			what = "is called"
		}
		hint := ""
		if meant := spelling.Closest(u.field, have); meant != "" {
			hint = "did you mean " + u.lib + "." + meant + "? "
		}
		c.report(u.line, Error, "%s.%s %s, but the %s library has no %s: %s(%s has %s)", u.lib, u.field, what, u.lib, u.field, hint, u.lib, listNames(public(have)))
	}
}

// public leaves out a library's metamethods (string.__index).
func public(fields []string) []string {
	var out []string
	for _, f := range fields {
		if !strings.HasPrefix(f, "__") {
			out = append(out, f)
		}
	}
	return out
}

// handlers reports a global that looks like a handler and is not one: it is
// never called, by luaivr or by the script.
func (c *checker) handlers() {
	for _, a := range c.file.globals {
		if !a.write || slices.Contains(c.env.Handlers, a.name) || c.defined.reads[a.name] || c.defined.dynamic {
			continue
		}
		meant := spelling.Closest(a.name, c.env.Handlers)
		if meant == "" && !strings.HasPrefix(a.name, "on_") {
			continue
		}
		hint := ""
		if meant != "" {
			hint = "did you mean " + meant + "? "
		}
		c.report(a.line, Warning, "%s is not a handler luaivr calls, and nothing in the script uses it, so it never runs: %s(handlers: %s)",
			a.name, hint, strings.Join(c.env.Handlers, ", "))
	}
}

// twice reports a handler that the top level defines again: luaivr calls
// handlers after the top level has run, so only the last definition is used.
func (c *checker) twice() {
	first := map[string]topDef{}
	for _, d := range c.topDefs {
		if !slices.Contains(c.env.Handlers, d.name) {
			continue
		}
		if prev, again := first[d.name]; again {
			c.report(d.line, Warning, "the handler %s is defined again here: the definition at line %d is never used (the last one wins); merge them into one",
				d.name, prev.line)
		}
		first[d.name] = d
	}
}

// setInFunctions reports globals set inside a function that runs during a
// call: the next event starts from the script again, so the value is gone.
func (c *checker) setInFunctions() {
	type key struct {
		name string
		fn   *function
	}
	done := map[key]bool{}
	for _, a := range c.file.globals {
		if !a.write || a.fn == nil || a.fn.called || (a.fn.name != "" && c.defined.topCalls[a.fn.name]) || done[key{a.name, a.fn}] {
			continue
		}
		done[key{a.name, a.fn}] = true
		c.report(a.line, Warning, "%s is a global set inside a function: every event starts from what the top level built, so it is gone at the next event "+
			"(and no other call sees it); keep it in session.vars.%s for this call, or in kv for every call (declare it local if it is only needed here)",
			a.name, a.name)
	}
}

// params reports the 8x8 parameters a builder call or an action table
// writes out that 8x8 does not take or would refuse.
func (c *checker) params() {
	for _, u := range c.file.params {
		if strings.HasPrefix(u.what, "ivr.") && c.defined.globals["ivr"] {
			continue // the script's own ivr
		}
		if _, voiced := u.params["voiceProfile"]; !voiced && !strings.HasPrefix(u.what, "ivr.") &&
			(u.action == callflow.Say || u.action == callflow.SayAndCapture) {
			c.report(u.line, Error, "%s", ivr.HandWrittenVoice(u.action))
		}
		err := callflow.CheckParams(u.action, u.params)
		var inv *callflow.Invalid
		if !errors.As(err, &inv) {
			continue
		}
		for _, p := range inv.Problems {
			line := u.line
			if l := u.lines[strings.TrimPrefix(p.Path, "params.")]; l > 0 {
				line = l
			}
			c.report(line, Error, "%s: %s", u.what, p.Error())
		}
	}
}

// compares reports the keys on_dtmf or a menu's option receives compared
// with a number: keys are text.
func (c *checker) compares() {
	for _, cmp := range c.file.compares {
		fn := cmp.param.keys
		if cmp.param.written || (fn.name != "on_dtmf" && !c.options[fn.expr]) {
			continue
		}
		never := "never true"
		if cmp.op == "~=" {
			never = "always true"
		}
		c.report(cmp.line, Warning, "%s %s %s is %s: the keys a caller presses are text (%q), never a number; compare with %q",
			cmp.name, cmp.op, cmp.number, never, cmp.number, cmp.number)
	}
}

// sessions reports a field a handler or an option reads from its session
// that the session does not have (session.var, session.caller), unless the
// script sets such a field itself.
func (c *checker) sessions() {
	if len(c.env.Session) == 0 {
		return
	}
	for _, u := range c.file.sessions {
		fn := u.param.session
		handler := slices.Contains(c.env.Handlers, fn.name)
		if u.param.written || (!handler && !c.options[fn.expr]) ||
			slices.Contains(c.env.Session, u.field) || c.defined.fields[sessionTable+"."+u.field] {
			continue
		}
		hint := ""
		if meant := spelling.Closest(u.field, c.env.Session); meant != "" {
			hint = "did you mean session." + meant + "? "
		}
		c.report(u.line, Error, "session.%s is read, but a session has no %s (it is nil): %s(a session has %s; what the script keeps goes in session.vars)",
			u.field, u.field, hint, strings.Join(c.env.Session, ", "))
	}
}

// replies reports what a script builds as a reply that never becomes one: a
// builder's action thrown away, values past the first a handler returns, and
// a menu called as if it were a function.
func (c *checker) replies() {
	for _, d := range c.unused {
		c.report(d.line, Warning, "%s(…) builds an action, and this line throws it away: nothing is sent to 8x8; return it (return %s(…)), or put it in the list the handler returns",
			d.what, d.what)
	}
	replied := c.replied()
	for _, r := range c.returns {
		if slices.Contains(c.env.Handlers, r.fn.name) || c.options[r.fn.expr] {
			c.report(r.line, Warning, "this returns %d values, but a reply is one: luaivr uses the first and drops the rest; return a list: return { a, b }", r.n)
		} else if via, ok := replied[r.fn.name]; ok && r.fn.name != "" {
			c.report(r.line, Warning, "this returns %d values, and %s returns what %s returns (line %d), but a reply is one: luaivr uses the first and drops the rest; return a list: return { a, b }",
				r.n, via.who, r.fn.name, via.line)
		}
	}
	for _, m := range c.menuCalls {
		if m.menu.written {
			continue // it holds something else by then, perhaps
		}
		c.report(m.line, Error, "%s is a menu (ivr.menu at line %d), not a function: calling it fails; return it as it is (return %s)", m.name, m.decl, m.name)
	}
}

// modules reports a require that no name or file answers: the name is not
// one require takes, or the folder has no such module.
func (c *checker) modules() {
	for _, req := range c.requires {
		if _, lib := c.env.Globals[req.name]; lib {
			continue
		}
		if !sandbox.IsModuleName(req.name) {
			c.report(req.line, Error, "require %q: a module is named with dots, like \"lib.hours\" for lib/hours.lua in the script folder", req.name)
		}
	}
	for _, req := range c.missing {
		c.report(req.line, Error, "require %q: there is no file %s in the script folder", req.name, modulePath(req.name))
	}
}

// localHandlers reports a handler the top level declares local: luaivr
// calls the handlers that are globals, so a local one never runs.
func (c *checker) localHandlers() {
	for _, d := range c.topLocals {
		if slices.Contains(c.env.Handlers, d.name) && !c.defined.globals[d.name] {
			c.report(d.line, Warning, "%s is a local: luaivr calls only global handlers, so this one never runs; remove local", d.name)
		}
	}
}

// answering are the handlers whose return value is the reply to 8x8.
var answering = []string{"on_call", "on_dtmf", "on_timeout"}

// answers says who fn is when what it returns is a reply: an answering
// handler, a menu option or ivr.on answer (not an on_enter), or a function
// of a table that one of those picks from and returns the result of
// (return states[step](session, digits)); "" otherwise.
func (c *checker) answers(fn *function) string {
	if who := c.answersItself(fn); who != "" {
		return who
	}
	if tf, ok := c.inTable[fn.expr]; ok {
		for _, rc := range c.returnCalls {
			if rc.table == tf.table {
				if who := c.answersItself(rc.fn); who != "" {
					return fmt.Sprintf("%s.%s, whose result %s returns (line %d),", tf.table, tf.field, who, rc.line)
				}
			}
		}
	}
	return ""
}

// answersItself is answers but for functions picked from a table.
func (c *checker) answersItself(fn *function) string {
	if name := c.boundGlobal[fn.expr]; slices.Contains(answering, name) {
		return name
	}
	if c.options[fn.expr] && !c.enters[fn.expr] {
		if fn.name != "" {
			return "the menu option " + fn.name
		}
		return "a menu option"
	}
	return ""
}

// replyVia is how a helper's result becomes a reply: who returns it, where.
type replyVia struct {
	who  string
	line int
}

// replied names the functions whose result a reply is made of, directly or
// through another (return bye("…") in on_dtmf, return goodbye() in bye).
func (c *checker) replied() map[string]replyVia {
	out := map[string]replyVia{}
	for changed := true; changed; {
		changed = false
		for _, rc := range c.returnCalls {
			if _, done := out[rc.callee]; done || rc.callee == "" {
				continue
			}
			via, ok := replyVia{who: c.answers(rc.fn), line: rc.line}, false
			if via.who != "" {
				ok = true
			} else if up, found := out[rc.fn.name]; found && rc.fn.name != "" {
				via, ok = replyVia{who: up.who, line: up.line}, true
			}
			if ok {
				out[rc.callee] = via
				changed = true
			}
		}
	}
	return out
}

// silences reports a handler or an option that returns nothing: the caller
// would hear silence, and luaivr answers with the app's fallback.
func (c *checker) silences() {
	for _, r := range c.nilReturns {
		who := c.answers(r.fn)
		if who == "" {
			continue
		}
		hint := ""
		if strings.Contains(who, "on_dtmf") || strings.Contains(who, "on_timeout") {
			hint = ", or hand the digits to the menus: return ivr.route(session, digits)"
		}
		c.report(r.line, Warning, "%s returns nothing here: the caller would hear silence, so luaivr answers with the app's fallback; return a reply (ivr.hangup(), a menu, a list of actions)%s", who, hint)
	}
}

// values reports comparisons that are never true: a number with text, a
// weekday with a name the time library never gives.
func (c *checker) values() {
	never := func(op string) string {
		if op == "~=" {
			return "always true"
		}
		return "never true"
	}
	for _, d := range c.days {
		if reassigned(d.locals) {
			continue
		}
		hint := ""
		if meant := meantDay(d.day); meant != "" {
			hint = fmt.Sprintf("; compare with %q", meant)
		}
		c.report(d.line, Warning, "a weekday %s %q is %s: time.weekday and time.parts(…).weekday give the whole name in lower case (\"monday\" … \"sunday\")%s",
			d.op, d.day, never(d.op), hint)
	}
	for _, m := range c.mismatches {
		if reassigned(m.locals) {
			continue
		}
		fix := "convert one side with tonumber(…) or tostring(…)"
		if n, err := strconv.ParseFloat(strings.Trim(m.text, `"`), 64); err == nil && strings.HasPrefix(m.text, `"`) {
			fix = fmt.Sprintf("compare with %s", strconv.FormatFloat(n, 'f', -1, 64))
		} else if _, err := strconv.ParseFloat(m.number, 64); err == nil {
			fix = fmt.Sprintf("compare with %q", m.number)
		}
		c.report(m.line, Warning, "%s %s %s is %s: %s is a number and %s is text, and Lua never finds a number equal to text; %s",
			m.lhs, m.op, m.rhs, never(m.op), m.number, m.text, fix)
	}
}

// order reports a global the top level reads before the statement that
// defines it, further down the same file: when the line runs it is nil
// (on_timeout = ask_again above function ask_again).
func (c *checker) order() {
	if c.defined.dynamic {
		return
	}
	first := map[string]int{}
	for _, d := range c.topDefs {
		if _, ok := first[d.name]; !ok {
			first[d.name] = d.line
		}
	}
	inFunction := map[string]bool{} // set by a function too: it may run first
	for _, a := range c.file.globals {
		if a.write && a.fn != nil {
			inFunction[a.name] = true
		}
	}
	for _, a := range c.file.globals {
		def, later := first[a.name]
		if a.write || a.fn != nil || !later || def <= a.line || inFunction[a.name] || c.definers[a.name] > 1 {
			continue
		}
		if _, lib := c.env.Globals[a.name]; lib {
			continue
		}
		c.report(a.line, Warning, "%s is read here, when the script loads, but line %d defines it only later: here it is still nil; define %s above this line",
			a.name, def, a.name)
	}
}
