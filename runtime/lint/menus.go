package lint

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/spelling"
	"github.com/luaivr/luaivr/stdlib/ivr"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
)

// The tables of ivr.menu{…} and ivr.defaults{…}, read at their keys: loading
// the script finds the same mistakes (stdlib/ivr, in the same words), but
// knows only the line where the table opens.

// declaration is an ivr.menu or ivr.defaults call with a table literal.
type declaration struct {
	what  string // "ivr.menu", "ivr.defaults"
	line  int
	table *ast.TableExpr
}

// declaration records ivr.menu{…} and ivr.defaults{…}, and the ids that
// ivr.menu and ivr.on declare.
func (f *file) declaration(fn *ast.AttrGetExpr, e *ast.FuncCallExpr) {
	key, ok := fn.Key.(*ast.StringExpr)
	if !ok || f.lib(fn.Object) != "ivr" {
		return
	}
	switch key.Value {
	case "sensitive":
		f.sensitiveList(e)
	case "on":
		if id, ok := firstArg(e).(*ast.StringExpr); ok {
			f.defs.positions[id.Value] = true
		} else {
			f.defs.someIDs = true
		}
	case "menu", "defaults":
		t, ok := firstArg(e).(*ast.TableExpr)
		if !ok {
			if key.Value == "menu" {
				f.defs.someIDs = true
			} else {
				f.defs.tooMany = true
			}
			return
		}
		if key.Value == "defaults" && literal(t, "on_too_many") != nil {
			f.defs.tooMany = true
		}
		if key.Value == "defaults" {
			f.defaultMaxDigits(t)
		}
		f.decls = append(f.decls, declaration{what: "ivr." + key.Value, line: e.Line(), table: t})
		if key.Value != "menu" {
			return
		}
		if id, ok := literal(t, "id").(*ast.StringExpr); ok {
			f.defs.menus[id.Value] = true
			if _, marked := literal(t, callflow.SensitiveParam).(*ast.TrueExpr); marked {
				f.defs.sensitiveMenus[id.Value] = true
			}
		} else {
			f.defs.someIDs = true
		}
	}
}

// literal is the value of t's field key; nil when t has none.
func literal(t *ast.TableExpr, key string) ast.Expr {
	for _, fl := range t.Fields {
		if k, ok := fl.Key.(*ast.StringExpr); ok && k.Value == key {
			return fl.Value
		}
	}
	return nil
}

// luaValue is a constant as Lua holds it; nil for anything else.
func luaValue(e ast.Expr) lua.LValue {
	switch e := e.(type) {
	case *ast.StringExpr:
		return lua.LString(e.Value)
	case *ast.NumberExpr:
		if n, err := strconv.ParseFloat(e.Value, 64); err == nil {
			return lua.LNumber(n)
		}
	case *ast.UnaryMinusOpExpr:
		if n, ok := luaValue(e.Expr).(lua.LNumber); ok {
			return -n
		}
	case *ast.TrueExpr:
		return lua.LTrue
	case *ast.FalseExpr:
		return lua.LFalse
	}
	return nil
}

// declarations reports the mistakes of ivr.menu and ivr.defaults tables at
// the line of their key: a key the table does not take, a setting's value,
// an 8x8 parameter's value 8x8 refuses, a menu id that no menu declares.
func (c *checker) declarations() {
	for _, d := range c.decls {
		name := d.what
		id, _ := literal(d.table, "id").(*ast.StringExpr)
		if d.what == "ivr.menu" && id != nil {
			name = fmt.Sprintf("ivr.menu %q", id.Value)
		}
		say := func(line int, same, msg string) {
			c.reportSame(line, d.line, Error, same, msg)
		}
		params, lines := map[string]any{}, map[string]int{}
		for _, fl := range d.table.Fields {
			k, ok := fl.Key.(*ast.StringExpr)
			if !ok {
				continue
			}
			line := k.Line()
			if line == 0 {
				line = fl.Value.Line()
			}
			var problem string
			if d.what == "ivr.menu" {
				problem = ivr.MenuKeyProblem(k.Value)
			} else {
				problem = ivr.DefaultsKeyProblem(k.Value)
			}
			switch {
			case problem != "":
				say(line, problem, d.what+": "+problem)
			case d.what == "ivr.menu" && k.Value == "promptMessage":
				if literal(d.table, "prompt") == nil {
					menu := "menu"
					if id != nil {
						menu = fmt.Sprintf("menu %q", id.Value)
					}
					problem = ivr.PromptMessageProblem(menu)
					say(line, problem, "ivr.menu: "+problem)
				}
			case ivr.IsSetting(k.Value):
				v := luaValue(fl.Value)
				if v == nil {
					continue
				}
				if err := ivr.CheckSetting(k.Value, v); err != nil {
					say(line, err.Error(), d.what+": "+err.Error())
				} else if n, ok := v.(lua.LNumber); ok && k.Value == "tries" && d.what == "ivr.menu" && !c.defined.tooMany && literal(d.table, "on_too_many") == nil {
					problem := ivr.TriesProblem(int(n))
					say(line, problem, name+" "+problem)
				} else if s, ok := fl.Value.(*ast.StringExpr); ok && k.Value != "repeat_key" {
					c.menuID(say, line, name, k.Value, s.Value)
				}
			case d.what == "ivr.menu" && digitKey(k.Value):
				if s, ok := fl.Value.(*ast.StringExpr); ok {
					c.menuID(say, line, name, fmt.Sprintf("option [%q]", k.Value), s.Value)
				}
			case k.Value != "id" && k.Value != "prompt" && k.Value != "on_enter":
				if v := luaValue(fl.Value); v != nil {
					params[k.Value], lines[k.Value] = constant(v), line
				} else {
					params[k.Value], lines[k.Value] = callflow.Unknown{}, line
				}
			}
		}
		action := callflow.SayAndCapture
		if d.what == "ivr.defaults" {
			action = callflow.AnyAction
		}
		inv, _ := callflow.CheckParams(action, params).(*callflow.Invalid)
		if inv == nil {
			continue
		}
		for _, p := range inv.Problems {
			param := p.Path[len("params."):]
			say(lines[param], p.Error(), name+": "+p.Error())
		}
	}
}

// menuID reports an option or a setting naming a menu id that no ivr.menu
// of the app declares, when lint knows every id the app declares.
func (c *checker) menuID(say func(line int, same, msg string), line int, name, what, id string) {
	if c.defined.someIDs || c.defined.dynamic || c.defined.menus[id] || c.defined.positions[id] {
		return
	}
	same := fmt.Sprintf("%s is %s, but no menu has that id", what, luaconv.Quote(id))
	ids := make([]string, 0, len(c.defined.menus))
	for m := range c.defined.menus {
		ids = append(ids, m)
	}
	sort.Strings(ids)
	hint := fmt.Sprintf("; to speak text use ivr.say(%s)", luaconv.Quote(id))
	if best := spelling.Closest(id, ids); best != "" {
		hint = fmt.Sprintf("; did you mean %q?", best)
	}
	say(line, same, name+" "+same+hint)
}

// constant is a Lua constant as callflow checks it.
func constant(v lua.LValue) any {
	switch v := v.(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return float64(v)
	case lua.LBool:
		return bool(v)
	}
	return callflow.Unknown{}
}

// digitKey reports whether key is a menu's option key: keys a caller presses.
func digitKey(key string) bool {
	if key == "" || len(key) > 25 {
		return false
	}
	for _, r := range key {
		if (r < '0' || r > '9') && r != '*' && r != '#' {
			return false
		}
	}
	return true
}

// reportSame reports a mistake in a declaration's table at its key's line,
// with what lets check drop loading's report of it at the table's line.
func (c *checker) reportSame(line, decl int, severity, same, msg string) {
	n := len(c.out)
	c.report(line, severity, "%s", msg)
	if len(c.out) > n {
		c.out[n].Decl, c.out[n].Same = decl, same
	}
}
