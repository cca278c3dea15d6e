package lint

import (
	"strconv"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/yuin/gopher-lua/ast"
)

// file is one parsed file and what walking it found: every use of a global
// and of a library field, the parameters its builder calls and action tables
// spell out, and its definitions. Scopes follow gopher-lua's compiler, so a
// name is local here exactly where it is local when the script runs.
type file struct {
	requires []required // literal require("…") names
	family   []*file    // the modules it requires
	missing  []required // the requires of modules the folder does not have
	// dynamic is set when the file reaches globals by computed names
	// (_G[name], rawset, require(name)): what it defines is not known.
	dynamic bool
	defs    *names // globals and library fields it sets, globals it reads

	globals     []access
	fields      []fieldUse
	params      []paramUse
	compares    []compare
	days        []dayCompare // weekdays compared with a name time never gives
	mismatches  []mismatch   // numbers compared with text
	sessions    []sessionUse
	returns     []multiReturn
	nilReturns  []nilReturn  // return, return nil
	returnCalls []returnCall // return f(…)
	unused      []discard
	menuCalls   []menuCall
	decls       []declaration // ivr.menu{…} and ivr.defaults{…} tables
	topDefs     []topDef
	topLocals   []topDef         // locals the top level declares
	locals      map[string][]int // lines where each local name is declared

	// options are the function literals given to ivr.menu and ivr.on:
	// they receive (session, digits).
	options map[*ast.FunctionExpr]bool
	// listed are the calls a table literal lists beside a literal
	// clientActionId: the position of the action they build.
	listed      map[*ast.FuncCallExpr]string
	optionAt    map[*ast.FunctionExpr]string     // the literal id of the menu or ivr.on an option is given to
	listedAt    []listedPosition                 // the literal entries of ivr.sensitive{…}
	kvStores    []kvStore                        // kv.set(…, keys)
	guards      []string                         // the positions of the ifs around: if session.action_id == "pin"
	enters      map[*ast.FunctionExpr]bool       // the options that are a menu's on_enter: they answer nothing
	boundGlobal map[*ast.FunctionExpr]string     // the global a function literal is assigned to
	inTable     map[*ast.FunctionExpr]tableField // the table a function is a field of: function states.day(…)
	globalFuncs map[string]*ast.FunctionExpr     // the function each global holds, when the script writes one
	scopes      []map[string]*local
	fn          *function // the function being walked; nil at the top level
}

// required is a require of a literal name.
type required struct {
	name string
	line int
}

// access is one use of a global name.
type access struct {
	name   string
	line   int
	write  bool
	called bool
	fn     *function // innermost function around it; nil at the top level
}

// fieldUse is a read of lib.field where lib is a global.
type fieldUse struct {
	lib, field string
	line       int
	called     bool
}

// paramUse is an 8x8 action's parameters written out in the script: a
// builder's table (ivr.say("…", { speed = 1 })) or an action table.
type paramUse struct {
	what   string // "ivr.say", "the say action"
	action string
	line   int
	params map[string]any // constants, or callflow.Unknown{}
	lines  map[string]int // where each is written
	// position is the literal clientActionId of the list the builder call
	// is an element of; "" when there is none.
	position string
}

// compare is the second parameter of a function compared with a number:
// digits == 1, a mistake when the function is on_dtmf or a menu's option.
type compare struct {
	name, op, number string
	line             int
	param            *local
}

// sessionUse is a read of a field of a function's first parameter:
// session.vars, a mistake when the function is a handler or an option and
// the session has no such field.
type sessionUse struct {
	field string
	line  int
	param *local
}

// multiReturn is a return of several values: a handler's reply is the first.
type multiReturn struct {
	line, n int
	fn      *function
}

// nilReturn is a return of nothing: from a handler that must answer, the
// caller hears silence.
type nilReturn struct {
	line int
	fn   *function
}

// tableField is a function's place in a table: states.day.
type tableField struct{ table, field string }

// fieldOf is the place obj.key names, when obj is a name.
func fieldOf(obj, key ast.Expr) (tableField, bool) {
	t := idName(obj)
	k, ok := key.(*ast.StringExpr)
	if t == "" || !ok {
		return tableField{}, false
	}
	return tableField{t, k.Value}, true
}

// returnCall is a return of what a named function returns: return bye("…"),
// or a function of a table picked at run time: return states[step](…).
type returnCall struct {
	callee string // the function's name; "" when picked from table
	table  string
	line   int
	fn     *function
}

// discard is a builder called as a statement: the action it builds is lost.
type discard struct {
	what string
	line int
}

// menuCall is a call of a local that holds a menu: menus are not functions.
type menuCall struct {
	name       string
	line, decl int
	menu       *local
}

// topDef is a definition of a global by a statement of the top level.
type topDef struct {
	name string
	line int
}

// function is a function literal, and what it is bound to when defined.
type function struct {
	expr   *ast.FunctionExpr
	name   string // f in `function f`, `local function f`, `f = function`; "" otherwise
	called bool   // called where it is written: (function() … end)()
}

// local is a local variable in scope.
type local struct {
	lib     string            // the library it holds: local ivr = require("ivr")
	fn      *ast.FunctionExpr // the function it holds: local function f
	keys    *function         // set on the second parameter of fn: the keys of on_dtmf or an option
	session *function         // set on the first parameter of fn: the session of a handler or an option
	written bool              // assigned after its declaration
	menu    int               // the line of the ivr.menu{…} it holds, 0 for none
	clock   string            // what it holds of the time library: "parts", "weekday" or ""
	kind    string            // "number" or "text" when its declaration says so
	picked  string            // the table it holds a field of, picked at run time: local step = states[id]
}

func (f *file) walk(chunk []ast.Stmt) {
	f.globalFuncs = map[string]*ast.FunctionExpr{}
	f.options = map[*ast.FunctionExpr]bool{}
	f.enters = map[*ast.FunctionExpr]bool{}
	f.listed = map[*ast.FuncCallExpr]string{}
	f.optionAt = map[*ast.FunctionExpr]string{}
	f.boundGlobal = map[*ast.FunctionExpr]string{}
	f.inTable = map[*ast.FunctionExpr]tableField{}
	f.locals = map[string][]int{}
	f.push()
	f.block(chunk, true)
	f.pop()
}

func (f *file) push() { f.scopes = append(f.scopes, map[string]*local{}) }
func (f *file) pop()  { f.scopes = f.scopes[:len(f.scopes)-1] }

func (f *file) declare(name string, line int) *local {
	l := &local{}
	f.scopes[len(f.scopes)-1][name] = l
	f.locals[name] = append(f.locals[name], line)
	return l
}

// resolve is the local name refers to here, nil for a global.
func (f *file) resolve(name string) *local {
	for i := len(f.scopes) - 1; i >= 0; i-- {
		if l, ok := f.scopes[i][name]; ok {
			return l
		}
	}
	return nil
}

func (f *file) block(list []ast.Stmt, top bool) {
	for _, s := range list {
		f.stmt(s, top)
	}
}

func (f *file) scoped(list []ast.Stmt) {
	f.push()
	f.block(list, false)
	f.pop()
}

func (f *file) stmt(s ast.Stmt, top bool) {
	switch s := s.(type) {
	case *ast.AssignStmt:
		for i, e := range s.Rhs {
			name := ""
			if i < len(s.Lhs) {
				if id, ok := s.Lhs[i].(*ast.IdentExpr); ok {
					name = id.Value
				}
			}
			f.named(e, name)
		}
		for i, lhs := range s.Lhs {
			var rhs ast.Expr
			if i < len(s.Rhs) {
				rhs = s.Rhs[i]
			}
			if a, ok := lhs.(*ast.AttrGetExpr); ok { // states.day = function(…) … end
				if fe, ok := rhs.(*ast.FunctionExpr); ok {
					if tf, ok := fieldOf(a.Object, a.Key); ok {
						f.inTable[fe] = tf
					}
				}
			}
			f.assign(lhs, rhs, top)
		}
	case *ast.LocalAssignStmt:
		if len(s.Names) == 1 && len(s.Exprs) == 1 {
			if fe, ok := s.Exprs[0].(*ast.FunctionExpr); ok { // local function f: f is in scope in its body
				if top {
					f.topLocals = append(f.topLocals, topDef{name: s.Names[0], line: s.Line()})
				}
				f.declare(s.Names[0], s.Line()).fn = fe
				f.function(fe, s.Names[0], false)
				return
			}
		}
		for i, e := range s.Exprs {
			name := ""
			if i < len(s.Names) {
				name = s.Names[i]
			}
			f.named(e, name)
		}
		clocks, kinds := make([]string, len(s.Exprs)), make([]string, len(s.Exprs)) // read in the scope before the names
		for i, e := range s.Exprs {
			clocks[i], kinds[i] = f.declared(e)
		}
		for i, name := range s.Names {
			if top {
				f.topLocals = append(f.topLocals, topDef{name: name, line: s.Line()})
			}
			l := f.declare(name, s.Line())
			if i < len(s.Exprs) {
				l.lib = f.requireOf(s.Exprs[i])
				l.menu = f.menuAt(s.Exprs[i])
				l.clock, l.kind = clocks[i], kinds[i]
				l.picked = f.pickedFrom(s.Exprs[i])
				f.tableFields(name, s.Exprs[i])
			}
		}
	case *ast.FuncCallStmt:
		if call, ok := s.Expr.(*ast.FuncCallExpr); ok {
			f.discarded(call)
		}
		if call, ok := s.Expr.(*ast.FuncCallExpr); ok && top {
			switch fn := call.Func.(type) {
			case nil: // obj:setup()
				f.defs.topCalls[call.Method] = true
			case *ast.IdentExpr:
				f.defs.topCalls[fn.Value] = true
			case *ast.AttrGetExpr: // helpers.setup()
				if k, ok := fn.Key.(*ast.StringExpr); ok {
					f.defs.topCalls[k.Value] = true
				}
			case *ast.FunctionExpr: // (function() … end)() runs at load
				f.function(fn, "", false).called = true
				f.list(call.Args)
				return
			}
		}
		f.expr(s.Expr)
	case *ast.DoBlockStmt:
		f.scoped(s.Stmts)
	case *ast.WhileStmt:
		f.expr(s.Condition)
		f.scoped(s.Stmts)
	case *ast.RepeatStmt:
		f.push()
		f.block(s.Stmts, false)
		f.expr(s.Condition) // until sees the body's locals
		f.pop()
	case *ast.IfStmt:
		f.expr(s.Condition)
		guard := f.guard(s.Condition)
		if guard != "" {
			f.guards = append(f.guards, guard)
		}
		f.scoped(s.Then)
		if guard != "" {
			f.guards = f.guards[:len(f.guards)-1]
		}
		f.scoped(s.Else)
	case *ast.NumberForStmt:
		f.expr(s.Init)
		f.expr(s.Limit)
		if s.Step != nil {
			f.expr(s.Step)
		}
		f.push()
		f.declare(s.Name, s.Line())
		f.block(s.Stmts, false)
		f.pop()
	case *ast.GenericForStmt:
		f.list(s.Exprs)
		f.push()
		for _, n := range s.Names {
			f.declare(n, s.Line())
		}
		f.block(s.Stmts, false)
		f.pop()
	case *ast.FuncDefStmt:
		f.funcDef(s, top)
	case *ast.ReturnStmt:
		f.list(s.Exprs)
		if f.fn == nil {
			return
		}
		switch len(s.Exprs) {
		case 0:
			f.nilReturns = append(f.nilReturns, nilReturn{line: s.Line(), fn: f.fn})
		case 1:
			switch e := s.Exprs[0].(type) {
			case *ast.NilExpr:
				f.nilReturns = append(f.nilReturns, nilReturn{line: s.Line(), fn: f.fn})
			case *ast.FuncCallExpr:
				rc := returnCall{line: s.Line(), fn: f.fn, table: f.pickedFrom(e.Func)}
				if id, ok := e.Func.(*ast.IdentExpr); ok {
					rc.callee = id.Value
					if l := f.resolve(id.Value); l != nil && l.picked != "" {
						rc.callee, rc.table = "", l.picked
					}
				}
				if rc.callee != "" || rc.table != "" {
					f.returnCalls = append(f.returnCalls, rc)
				}
			}
		default:
			f.returns = append(f.returns, multiReturn{line: s.Line(), n: len(s.Exprs), fn: f.fn})
		}
	}
}

// funcDef walks `function name() … end`, `function lib.name()`, `function obj:method()`.
func (f *file) funcDef(s *ast.FuncDefStmt, top bool) {
	if s.Name.Func == nil { // function obj:method(): self is its first parameter
		f.expr(s.Name.Receiver)
		if id, ok := s.Name.Receiver.(*ast.IdentExpr); ok && f.resolve(id.Value) == nil {
			f.defs.fields[id.Value+"."+s.Name.Method] = true
		}
		f.function(s.Func, s.Name.Method, true)
		return
	}
	switch fn := s.Name.Func.(type) {
	case *ast.IdentExpr:
		f.function(s.Func, fn.Value, false)
		f.assign(fn, s.Func, top)
	case *ast.AttrGetExpr:
		name := ""
		if k, ok := fn.Key.(*ast.StringExpr); ok {
			name = k.Value
		}
		f.function(s.Func, name, false)
		if tf, ok := fieldOf(fn.Object, fn.Key); ok {
			f.inTable[s.Func] = tf
		}
		f.assign(fn, s.Func, top)
	}
}

// pickedFrom is the table e picks a field of by a value known only at run
// time (states[session.action_id]); "" for anything else.
func (f *file) pickedFrom(e ast.Expr) string {
	a, ok := e.(*ast.AttrGetExpr)
	if !ok {
		return ""
	}
	if _, named := a.Key.(*ast.StringExpr); named {
		return ""
	}
	return idName(a.Object)
}

// tableFields records the function literals of a table literal assigned to
// name: local states = { dob = function(session, digits) … end }.
func (f *file) tableFields(name string, e ast.Expr) {
	t, ok := e.(*ast.TableExpr)
	if !ok || name == "" {
		return
	}
	for _, fl := range t.Fields {
		k, named := fl.Key.(*ast.StringExpr)
		if fe, ok := fl.Value.(*ast.FunctionExpr); ok && named {
			f.inTable[fe] = tableField{name, k.Value}
		}
	}
}

// assign records an assignment to lhs of rhs (nil when there is none).
func (f *file) assign(lhs, rhs ast.Expr, top bool) {
	switch lhs := lhs.(type) {
	case *ast.IdentExpr:
		if l := f.resolve(lhs.Value); l != nil {
			l.written = true
			return
		}
		if fe, isFunc := rhs.(*ast.FunctionExpr); isFunc {
			f.globalFuncs[lhs.Value] = fe
			f.boundGlobal[fe] = lhs.Value
		}
		f.defs.globals[lhs.Value] = true
		f.globals = append(f.globals, access{name: lhs.Value, line: lhs.Line(), write: true, fn: f.fn})
		if top {
			f.topDefs = append(f.topDefs, topDef{name: lhs.Value, line: lhs.Line()})
		}
	case *ast.AttrGetExpr:
		if k, ok := lhs.Key.(*ast.StringExpr); ok && k.Value == "clientActionId" { // reply.clientActionId = "pin"
			f.actionID(rhs)
		}
		if l := f.resolve(idName(lhs.Object)); l != nil {
			if k, ok := lhs.Key.(*ast.StringExpr); ok && l.lib != "" { // local ivr = require "ivr"; ivr.x = …
				f.defs.fields[l.lib+"."+k.Value] = true
			} else if ok && l.session != nil { // session.step = …: the script's own field
				f.defs.fields[sessionTable+"."+k.Value] = true
			}
		}
		if id, ok := lhs.Object.(*ast.IdentExpr); ok && f.resolve(id.Value) == nil {
			if k, ok := lhs.Key.(*ast.StringExpr); ok {
				if id.Value == globalTable { // _G.name = …
					f.assign(&ast.IdentExpr{ExprBase: ast.ExprBase{Node: lhs.Node}, Value: k.Value}, rhs, top)
					return
				}
				f.defs.fields[id.Value+"."+k.Value] = true
			}
			f.read(id, false)
		} else {
			f.expr(lhs.Object)
		}
		f.expr(lhs.Key)
	}
}

// named walks e, bound to name when it is a function literal.
func (f *file) named(e ast.Expr, name string) {
	if fe, ok := e.(*ast.FunctionExpr); ok {
		f.function(fe, name, false)
		return
	}
	f.expr(e)
}

func (f *file) list(es []ast.Expr) {
	for _, e := range es {
		f.expr(e)
	}
}

// globalTable is the name of the table of globals.
const globalTable = "_G"

// sessionTable is how the fields a script sets on a session are kept among
// the fields it sets (a name no library can have).
const sessionTable = "(session)"

func (f *file) read(id *ast.IdentExpr, called bool) {
	if f.resolve(id.Value) != nil {
		return
	}
	if id.Value == globalTable || id.Value == "rawset" {
		f.dynamic = true
	}
	f.defs.reads[id.Value] = true
	f.globals = append(f.globals, access{name: id.Value, line: id.Line(), called: called, fn: f.fn})
}

func (f *file) expr(e ast.Expr) {
	switch e := e.(type) {
	case *ast.IdentExpr:
		f.read(e, false)
	case *ast.AttrGetExpr:
		f.attr(e, false)
	case *ast.TableExpr:
		f.listPosition(e)
		for _, fl := range e.Fields {
			if _, ok := fl.Key.(*ast.StringExpr); !ok && fl.Key != nil {
				f.expr(fl.Key)
			}
			f.expr(fl.Value)
		}
		f.actionTable(e)
	case *ast.FuncCallExpr:
		f.call(e)
	case *ast.LogicalOpExpr:
		f.expr(e.Lhs)
		f.expr(e.Rhs)
	case *ast.RelationalOpExpr:
		f.expr(e.Lhs)
		f.expr(e.Rhs)
		f.compare(e)
		f.values(e)
	case *ast.StringConcatOpExpr:
		f.expr(e.Lhs)
		f.expr(e.Rhs)
	case *ast.ArithmeticOpExpr:
		f.expr(e.Lhs)
		f.expr(e.Rhs)
	case *ast.UnaryMinusOpExpr:
		f.expr(e.Expr)
	case *ast.UnaryNotOpExpr:
		f.expr(e.Expr)
	case *ast.UnaryLenOpExpr:
		f.expr(e.Expr)
	case *ast.FunctionExpr:
		f.function(e, "", false)
	}
}

// requireOf is the name e requires when it is require("name"), "" otherwise.
func (f *file) requireOf(e ast.Expr) string {
	call, ok := e.(*ast.FuncCallExpr)
	if !ok {
		return ""
	}
	fn, ok := call.Func.(*ast.IdentExpr)
	if !ok || fn.Value != "require" || f.resolve("require") != nil {
		return ""
	}
	name, _ := firstArg(call).(*ast.StringExpr)
	if name == nil {
		return ""
	}
	return name.Value
}

// lib is the library obj names: a global, or a local that holds a
// required one; "" for anything else.
func (f *file) lib(obj ast.Expr) string {
	id, ok := obj.(*ast.IdentExpr)
	if !ok {
		return ""
	}
	if l := f.resolve(id.Value); l != nil {
		return l.lib
	}
	return id.Value
}

// attr walks obj.key, a read of a library's field when obj is a global.
func (f *file) attr(e *ast.AttrGetExpr, called bool) {
	id, isIdent := e.Object.(*ast.IdentExpr)
	key, isString := e.Key.(*ast.StringExpr)
	if l := f.resolve(idName(e.Object)); isIdent && isString && l != nil && l.lib != "" {
		f.fields = append(f.fields, fieldUse{lib: l.lib, field: key.Value, line: key.Line(), called: called})
		return
	} else if isIdent && isString && l != nil && l.session != nil {
		f.sessions = append(f.sessions, sessionUse{field: key.Value, line: key.Line(), param: l})
	}
	if isIdent && isString && f.resolve(id.Value) == nil {
		if id.Value == globalTable { // _G.name is the global name
			f.read(&ast.IdentExpr{ExprBase: ast.ExprBase{Node: id.Node}, Value: key.Value}, called)
			return
		}
		f.read(id, false)
		f.fields = append(f.fields, fieldUse{lib: id.Value, field: key.Value, line: key.Line(), called: called})
		return
	}
	f.expr(e.Object)
	f.expr(e.Key)
}

// builders are the ivr functions that build one action, and the parameter
// their first argument is when it is a string.
var builders = map[string]struct{ action, main string }{
	"say":             {callflow.Say, "text"},
	"say_and_capture": {callflow.SayAndCapture, "promptMessage"},
	"play_file":       {callflow.PlayFile, "fileUrl"},
	"make_call":       {callflow.MakeCall, "destination"},
}

func (f *file) call(e *ast.FuncCallExpr) {
	switch fn := e.Func.(type) {
	case nil: // obj:method(…)
		f.expr(e.Receiver)
	case *ast.IdentExpr:
		f.read(fn, true)
		if l := f.resolve(fn.Value); l != nil && l.menu > 0 {
			f.menuCalls = append(f.menuCalls, menuCall{name: fn.Value, line: fn.Line(), decl: l.menu, menu: l})
		}
		if fn.Value == "require" && f.resolve("require") == nil {
			if s, ok := firstArg(e).(*ast.StringExpr); ok {
				f.requires = append(f.requires, required{name: s.Value, line: fn.Line()})
			} else {
				f.dynamic = true
			}
		}
	case *ast.AttrGetExpr:
		f.attr(fn, true)
		f.builder(fn, e)
		f.menuOptions(fn, e)
		f.declaration(fn, e)
		f.kvSet(fn, e)
	default:
		f.expr(fn)
	}
	f.list(e.Args)
}

// idName is the name e is when it is a name, "" otherwise.
func idName(e ast.Expr) string {
	if id, ok := e.(*ast.IdentExpr); ok {
		return id.Value
	}
	return ""
}

func firstArg(e *ast.FuncCallExpr) ast.Expr {
	if len(e.Args) == 0 {
		return nil
	}
	return e.Args[0]
}

// menuAt is the line of e when it is an ivr.menu{…} call, 0 otherwise.
func (f *file) menuAt(e ast.Expr) int {
	call, ok := e.(*ast.FuncCallExpr)
	if !ok {
		return 0
	}
	fn, ok := call.Func.(*ast.AttrGetExpr)
	if !ok {
		return 0
	}
	if key, ok := fn.Key.(*ast.StringExpr); ok && key.Value == "menu" && f.lib(fn.Object) == "ivr" {
		return call.Line()
	}
	return 0
}

// discarded records a builder called as a statement: ivr.say("Hi") alone
// builds an action that nothing sends.
func (f *file) discarded(call *ast.FuncCallExpr) {
	fn, ok := call.Func.(*ast.AttrGetExpr)
	if !ok {
		return
	}
	key, ok := fn.Key.(*ast.StringExpr)
	if !ok || f.lib(fn.Object) != "ivr" {
		return
	}
	if _, builds := builders[key.Value]; builds || key.Value == "hangup" {
		f.unused = append(f.unused, discard{what: "ivr." + key.Value, line: call.Line()})
	}
}

// builder records the parameters of ivr.say(…) and the other builders that
// the call spells out.
func (f *file) builder(fn *ast.AttrGetExpr, e *ast.FuncCallExpr) {
	key, isString := fn.Key.(*ast.StringExpr)
	if !isString || f.lib(fn.Object) != "ivr" {
		return
	}
	b, ok := builders[key.Value]
	if !ok {
		return
	}
	use := paramUse{what: "ivr." + key.Value, action: b.action, line: e.Line(), params: map[string]any{}, lines: map[string]int{}, position: f.listed[e]}
	for i, arg := range e.Args {
		switch arg := arg.(type) {
		case *ast.StringExpr:
			if i == 0 {
				use.params[b.main], use.lines[b.main] = arg.Value, arg.Line()
			}
		case *ast.TableExpr:
			if i < 2 {
				fields(arg, use.params, use.lines)
			}
		}
	}
	if len(use.params) > 0 {
		f.params = append(f.params, use)
	}
}

// menuOptions marks the function literals an ivr.menu{…} or ivr.on(id, …)
// call is given as options.
func (f *file) menuOptions(fn *ast.AttrGetExpr, e *ast.FuncCallExpr) {
	key, isString := fn.Key.(*ast.StringExpr)
	if !isString || (key.Value != "menu" && key.Value != "on") || f.lib(fn.Object) != "ivr" {
		return
	}
	at := ""
	if id, ok := firstArg(e).(*ast.StringExpr); ok && key.Value == "on" {
		at = id.Value
	} else if t, ok := firstArg(e).(*ast.TableExpr); ok {
		if id, ok := literal(t, "id").(*ast.StringExpr); ok {
			at = id.Value
		}
	}
	for _, arg := range e.Args {
		if fe := f.functionOf(arg); fe != nil {
			f.options[fe], f.optionAt[fe] = true, at
		}
		if t, ok := arg.(*ast.TableExpr); ok {
			for _, fl := range t.Fields {
				fe := f.functionOf(fl.Value)
				if fe == nil {
					continue
				}
				f.options[fe], f.optionAt[fe] = true, at
				if k, ok := fl.Key.(*ast.StringExpr); ok && k.Value == "on_enter" {
					f.enters[fe] = true
				}
			}
		}
	}
}

// functionOf is the function literal e is or names: a function defined
// before, as in ivr.on("pin", check_pin); nil when lint does not know one.
func (f *file) functionOf(e ast.Expr) *ast.FunctionExpr {
	switch e := e.(type) {
	case *ast.FunctionExpr:
		return e
	case *ast.IdentExpr:
		if l := f.resolve(e.Value); l != nil {
			return l.fn
		}
		return f.globalFuncs[e.Value]
	}
	return nil
}

// actionTable records an action written as a table: { action = "say", params = { … } }.
func (f *file) actionTable(t *ast.TableExpr) {
	var action string
	var params *ast.TableExpr
	line := t.Line()
	for _, fl := range t.Fields {
		k, ok := fl.Key.(*ast.StringExpr)
		if !ok {
			continue
		}
		switch k.Value {
		case "action":
			if s, ok := fl.Value.(*ast.StringExpr); ok {
				action, line = s.Value, s.Line()
			}
		case "params":
			params, _ = fl.Value.(*ast.TableExpr)
		}
	}
	if action == "" || params == nil {
		return
	}
	use := paramUse{what: "the " + action + " action", action: action, line: line, params: map[string]any{}, lines: map[string]int{}}
	fields(params, use.params, use.lines)
	f.params = append(f.params, use)
}

// fields reads the named fields of a table literal: constants as their value,
// anything else as callflow.Unknown; nil is no field at all, as in Lua.
func fields(t *ast.TableExpr, into map[string]any, lines map[string]int) {
	for _, fl := range t.Fields {
		k, ok := fl.Key.(*ast.StringExpr)
		if !ok {
			continue
		}
		var v any = callflow.Unknown{}
		switch val := fl.Value.(type) {
		case *ast.NilExpr:
			continue
		case *ast.StringExpr:
			v = val.Value
		case *ast.TrueExpr:
			v = true
		case *ast.FalseExpr:
			v = false
		case *ast.NumberExpr:
			if n, err := strconv.ParseFloat(val.Value, 64); err == nil {
				v = n
			}
		case *ast.UnaryMinusOpExpr:
			if num, ok := val.Expr.(*ast.NumberExpr); ok {
				if n, err := strconv.ParseFloat(num.Value, 64); err == nil {
					v = -n
				}
			}
		}
		into[k.Value] = v
		lines[k.Value] = k.Line()
		if lines[k.Value] == 0 {
			lines[k.Value] = fl.Value.Line()
		}
	}
}

// compare records digits == 1 and digits ~= 1.
func (f *file) compare(e *ast.RelationalOpExpr) {
	if e.Operator != "==" && e.Operator != "~=" {
		return
	}
	id, num := e.Lhs, e.Rhs
	if _, ok := id.(*ast.NumberExpr); ok {
		id, num = num, id
	}
	ident, ok := id.(*ast.IdentExpr)
	n, isNum := num.(*ast.NumberExpr)
	if !ok || !isNum {
		return
	}
	if l := f.resolve(ident.Value); l != nil && l.keys != nil {
		f.compares = append(f.compares, compare{name: ident.Value, op: e.Operator, number: n.Value, line: e.Line(), param: l})
	}
}

// function walks a function literal bound to name; a method has self.
func (f *file) function(fe *ast.FunctionExpr, name string, method bool) *function {
	fn := &function{expr: fe, name: name}
	outer := f.fn
	f.fn = fn
	f.push()
	if method {
		f.declare("self", fe.Line())
	}
	for i, p := range fe.ParList.Names {
		l := f.declare(p, fe.Line())
		switch i { // if this is a handler or an option (known at check)
		case 0:
			l.session = fn
		case 1:
			l.keys = fn
		}
	}
	f.block(fe.Stmts, false)
	f.pop()
	f.fn = outer
	return fn
}
