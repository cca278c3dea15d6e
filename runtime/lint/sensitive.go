package lint

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/luaivr/luaivr/runtime/callflow"
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

// secretWords are what a prompt that asks for a secret names.
var secretWords = regexp.MustCompile(`(?i)\b(pins?|passcodes?|passwords?|cvv|cards?|accounts?)\b`)

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

// listPosition notes the calls a table literal lists beside a literal
// clientActionId: { clientActionId = "pin", ivr.say_and_capture(…) }.
func (f *file) listPosition(t *ast.TableExpr) {
	id, ok := literal(t, "clientActionId").(*ast.StringExpr)
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
	if word := secretWords.FindString(prompt); word != "" && (!set || known && n > 3) {
		return fmt.Sprintf("its prompt says %q", word)
	}
	return ""
}
