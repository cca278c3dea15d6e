package lint

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/spelling"
	"github.com/yuin/gopher-lua/ast"
)

// A capture that asks for what looks like a PIN or a card number and is not
// marked sensitive: its digits would be kept in clear in the transcript, the
// reply cache and the log. It looks like one when it collects 4 to 6 or 12
// to 19 digits (PINs, passcodes, card and account numbers), or when its
// prompt names a PIN, a passcode, a card or an account and it may collect
// more than 3 (a menu offering "1 for your account" collects one). A capture
// is marked by sensitive = true on it, by a menu's sensitive = true, or by
// its position in ivr.sensitive's list; sensitive = false is a decision too,
// and silences the warning. What lint cannot read (a prompt built at run
// time, a list entry that is not a literal) is not guessed at.
//
// Two more mistakes keep such digits in clear though the capture is marked:
// an ivr.sensitive entry that names no position of the app (a typo: the
// capture it meant is not marked), and kv.set of the keys a handler got at
// a sensitive capture (kv keeps what it is given, for every call).

// secretWords are what a prompt that asks for a secret names.
var secretWords = regexp.MustCompile(`(?i)\b(pins?|pass ?codes?|passwords?|pass ?phrases?|secret|(?:security|access|verification|one[- ]time) codes?|otp|cvv2?|cvc2?|csc|cards?|accounts?)\b`)

// sensitiveList records the literal positions of ivr.sensitive{…}.
func (f *file) sensitiveList(e *ast.FuncCallExpr) {
	t, ok := firstArg(e).(*ast.TableExpr)
	if !ok {
		f.defs.someSensitive = true
		return
	}
	for _, fl := range t.Fields {
		if s, ok := fl.Value.(*ast.StringExpr); ok && fl.Key == nil {
			f.defs.sensitive[s.Value] = true
			f.listedAt = append(f.listedAt, listedPosition{id: s.Value, line: s.Line()})
		} else {
			f.defs.someSensitive = true
		}
	}
}

// defaultMaxDigits records the maxDigits an ivr.defaults table sets.
func (f *file) defaultMaxDigits(t *ast.TableExpr) {
	v := literal(t, "maxDigits")
	if v == nil {
		return
	}
	n, ok := constant(luaValue(v)).(float64)
	if !ok || f.defs.maxDigits != 0 && f.defs.maxDigits != n {
		f.defs.someMax = true
		return
	}
	f.defs.maxDigits = n
}

// listedPosition is a literal entry of ivr.sensitive{…}.
type listedPosition struct {
	id   string
	line int
}

// actionID records the clientActionId a table or an assignment sets.
func (f *file) actionID(v ast.Expr) {
	if id, ok := v.(*ast.StringExpr); ok {
		f.defs.actionIDs[id.Value] = true
	} else if _, none := v.(*ast.NilExpr); !none && v != nil {
		f.defs.someActionIDs = true
	}
}

// listPosition notes the calls a table literal lists beside a literal
// clientActionId: { clientActionId = "pin", ivr.say_and_capture(…) }.
func (f *file) listPosition(t *ast.TableExpr) {
	v := literal(t, "clientActionId")
	if v == nil {
		return
	}
	f.actionID(v)
	id, ok := v.(*ast.StringExpr)
	if !ok {
		return
	}
	for _, fl := range t.Fields {
		if call, ok := fl.Value.(*ast.FuncCallExpr); ok && fl.Key == nil {
			f.listed[call] = id.Value
		}
	}
}

// unmarkedSecrets warns at each capture, built or a menu, that looks like a
// PIN or card entry and is not marked sensitive.
func (c *checker) unmarkedSecrets() {
	if c.defined.someSensitive {
		return
	}
	for _, u := range c.file.params {
		if u.action != callflow.SayAndCapture || strings.HasPrefix(u.what, "ivr.") && c.defined.globals["ivr"] {
			continue // the script's own ivr is not luaivr's
		}
		if _, decided := u.params[callflow.SensitiveParam]; decided || c.defined.sensitive[u.position] {
			continue
		}
		prompt, _ := u.params["promptMessage"].(string)
		maxDigits, set := u.params["maxDigits"]
		if why := c.looksSecret(prompt, maxDigits, set); why != "" {
			c.report(u.line, Warning, "this prompt asks for what looks like a PIN or a card number (%s), and is not marked sensitive: "+
				"its digits would be kept in clear in the transcript and the log. Mark it: %s(…, { sensitive = true }), or list its position in ivr.sensitive { \"pin\" } "+
				"(sensitive = false says the digits may be kept)", why, u.what)
		}
	}
	for _, d := range c.decls {
		if d.what != "ivr.menu" || literal(d.table, callflow.SensitiveParam) != nil {
			continue
		}
		id, _ := literal(d.table, "id").(*ast.StringExpr)
		if id == nil || c.defined.sensitive[id.Value] {
			continue
		}
		prompt, _ := literal(d.table, "prompt").(*ast.StringExpr)
		text := ""
		if prompt != nil {
			text = prompt.Value
		}
		var maxDigits any
		v := literal(d.table, "maxDigits")
		if v != nil {
			maxDigits = constant(luaValue(v))
		}
		if why := c.looksSecret(text, maxDigits, v != nil); why != "" {
			c.report(d.line, Warning, "menu %q asks for what looks like a PIN or a card number (%s), and is not marked sensitive: "+
				"its digits would be kept in clear in the transcript and the log. Mark it: ivr.menu { id = %q, sensitive = true, … } "+
				"(sensitive = false says the digits may be kept)", id.Value, why, id.Value)
		}
	}
}

// looksSecret says why a capture with this prompt and maxDigits (set: the
// capture sets one, a constant or not) looks like a PIN or card entry; ""
// when it does not, or lint cannot tell.
func (c *checker) looksSecret(prompt string, maxDigits any, set bool) string {
	if !set {
		maxDigits, set = c.defined.maxDigits, c.defined.maxDigits != 0 || c.defined.someMax
		if c.defined.someMax {
			maxDigits = callflow.Unknown{}
		}
	}
	n, known := maxDigits.(float64)
	if known && (4 <= n && n <= 6 || 12 <= n && n <= 19) {
		return fmt.Sprintf("it collects up to %g digits", n)
	}
	if word := secretWords.FindString(prompt); word != "" && (!set || known && n >= 3) { // a CVV has 3
		return fmt.Sprintf("its prompt says %q", word)
	}
	return ""
}

// unknownSensitive warns at an ivr.sensitive entry that is no menu's id, no
// ivr.on position and no clientActionId the app sets: the position it
// meant is not marked.
func (c *checker) unknownSensitive() {
	d := c.defined
	if d.someIDs || d.someActionIDs || d.dynamic {
		return
	}
	for _, l := range c.listedAt {
		if d.menus[l.id] || d.positions[l.id] || d.actionIDs[l.id] {
			continue
		}
		var known []string
		for _, m := range []map[string]bool{d.menus, d.positions, d.actionIDs} {
			for id := range m {
				known = append(known, id)
			}
		}
		sort.Strings(known)
		hint := "list the id of the menu, or the clientActionId of the reply, that asks for the digits"
		if best := spelling.Closest(l.id, known); best != "" {
			hint = fmt.Sprintf("did you mean %q?", best)
		}
		c.report(l.line, Warning, "ivr.sensitive lists %q, but no menu, ivr.on or clientActionId of the app is %q: "+
			"the capture it is meant for is not marked, and its digits would be kept in clear; %s", l.id, l.id, hint)
	}
}

// kvStore is kv.set(…, value) where value is made of the keys a function
// receives (its second parameter), inside the ifs guards names.
type kvStore struct {
	line  int
	param *local
	guard string // the position an if around it compares session.action_id with; "" for none
}

// kvSet records kv.set(key, value) whose value is made of a function's keys.
func (f *file) kvSet(fn *ast.AttrGetExpr, e *ast.FuncCallExpr) {
	key, ok := fn.Key.(*ast.StringExpr)
	if !ok || key.Value != "set" || f.lib(fn.Object) != "kv" || len(e.Args) < 2 {
		return
	}
	if l := f.keysIn(e.Args[1]); l != nil {
		guard := ""
		if len(f.guards) > 0 {
			guard = f.guards[len(f.guards)-1]
		}
		f.kvStores = append(f.kvStores, kvStore{line: e.Line(), param: l, guard: guard})
	}
}

// keysIn is the keys parameter e is made of (digits, "x" .. digits,
// { pin = digits }, tostring(digits), digits:sub(1, 4)); nil when none.
func (f *file) keysIn(e ast.Expr) *local {
	var found *local
	var in func(e ast.Expr)
	in = func(e ast.Expr) {
		switch e := e.(type) {
		case *ast.IdentExpr:
			if l := f.resolve(e.Value); l != nil && l.keys != nil && found == nil {
				found = l
			}
		case *ast.StringConcatOpExpr:
			in(e.Lhs)
			in(e.Rhs)
		case *ast.ArithmeticOpExpr:
			in(e.Lhs)
			in(e.Rhs)
		case *ast.LogicalOpExpr:
			in(e.Lhs)
			in(e.Rhs)
		case *ast.UnaryMinusOpExpr:
			in(e.Expr)
		case *ast.TableExpr:
			for _, fl := range e.Fields {
				in(fl.Value)
			}
		case *ast.FuncCallExpr:
			in(e.Receiver)
			for _, a := range e.Args {
				in(a)
			}
		}
	}
	in(e)
	return found
}

// guard is the position an if's condition names: session.action_id == "pin",
// alone or with and.
func (f *file) guard(cond ast.Expr) string {
	if l, ok := cond.(*ast.LogicalOpExpr); ok && l.Operator == "and" {
		if g := f.guard(l.Lhs); g != "" {
			return g
		}
		return f.guard(l.Rhs)
	}
	r, ok := cond.(*ast.RelationalOpExpr)
	if !ok || r.Operator != "==" {
		return ""
	}
	a, s := r.Lhs, r.Rhs
	if _, ok := a.(*ast.StringExpr); ok {
		a, s = s, a
	}
	get, ok := a.(*ast.AttrGetExpr)
	id, isString := s.(*ast.StringExpr)
	if !ok || !isString {
		return ""
	}
	k, ok := get.Key.(*ast.StringExpr)
	if l := f.resolve(idName(get.Object)); !ok || k.Value != "action_id" || l == nil || l.session == nil {
		return ""
	}
	return id.Value
}

// storedSecrets warns at kv.set of the keys a handler got at a sensitive
// capture: at a guarded position that is sensitive, in an option of a
// sensitive menu or ivr.on position, or in on_dtmf unguarded when the app
// asks for sensitive keys that on_dtmf answers.
func (c *checker) storedSecrets() {
	for _, s := range c.kvStores {
		fn := s.param.keys
		at, where := s.guard, ""
		switch {
		case s.param.written:
			continue
		case at == "" && c.options[fn.expr]:
			at = c.optionAt[fn.expr]
		case at == "" && c.boundGlobal[fn.expr] == "on_dtmf":
			where = c.answeredSecret()
		}
		if at != "" && c.sensitivePosition(at) {
			where = fmt.Sprintf("at %q", at)
		}
		if where == "" {
			continue
		}
		c.report(s.line, Warning, "kv.set stores the keys of a sensitive capture (%s): kv keeps them in clear in the data folder, for every call, "+
			"where the transcript has •; keep what the keys told you (kv.set(key, true)), not the keys", where)
	}
}

// sensitivePosition reports whether the digits answered at position are a
// sensitive capture's: ivr.sensitive lists it, it is a sensitive menu, or
// a capture marked sensitive = true is listed with it.
func (c *checker) sensitivePosition(position string) bool {
	if c.defined.sensitive[position] || c.defined.sensitiveMenus[position] {
		return true
	}
	for _, u := range c.file.params {
		if u.action == callflow.SayAndCapture && u.params[callflow.SensitiveParam] == true && u.position == position {
			return true
		}
	}
	return false
}

// answeredSecret names a sensitive capture of the file whose keys reach
// on_dtmf (a builder's capture marked sensitive = true or listed in
// ivr.sensitive, at a position no menu or ivr.on answers); "" for none.
func (c *checker) answeredSecret() string {
	for _, u := range c.file.params {
		marked := u.params[callflow.SensitiveParam] == true || c.defined.sensitive[u.position] && u.params[callflow.SensitiveParam] != false
		if u.action != callflow.SayAndCapture || !marked || c.defined.menus[u.position] || c.defined.positions[u.position] {
			continue
		}
		return fmt.Sprintf("on_dtmf gets those of line %d", u.line)
	}
	return ""
}
