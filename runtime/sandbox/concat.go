package sandbox

import (
	"io"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// Lua's `..` is one VM instruction that joins all its operands in Go:
// `s .. s .. s` over 190 strings of 140 MiB asks for 26 GiB at once, and
// neither the deadline nor the memory guard can step in before it returns.
// gopher-lua has no allocation hook, so the bound comes from the code
// itself: BoundConcat rewrites every `a .. b .. c` of a script into a call
// of a Go function that adds up the operands' sizes first and raises a Lua
// error, at the script's line, when the result would pass MaxStringBytes.
// Every other way a script can make a string (string.rep, gsub, format,
// table.concat, the stdlib's own functions) has the same bound, so no string
// a script holds is larger than MaxStringBytes.

// concatGlobal names the bounded concatenation in every state. It is not a
// Lua identifier, so no script can declare a local that shadows it.
const concatGlobal = "luaivr concat"

// Compile parses and compiles a script for the states New makes, with its
// `..` bounded. Syntax errors come back as gopher-lua's *parse.Error, whose
// position the caller reports.
func Compile(src io.Reader, name string) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(src, name)
	if err != nil {
		return nil, err
	}
	BoundConcat(chunk)
	return lua.Compile(chunk, name)
}

// BoundConcat rewrites the `..` operators of a parsed chunk, in place, into
// calls of the state's bounded concatenation (Compile does it for every
// script the engine runs).
func BoundConcat(chunk []ast.Stmt) {
	stmts(chunk)
}

func stmts(list []ast.Stmt) {
	for _, s := range list {
		stmt(s)
	}
}

func stmt(s ast.Stmt) {
	switch s := s.(type) {
	case *ast.AssignStmt:
		exprs(s.Lhs)
		exprs(s.Rhs)
	case *ast.LocalAssignStmt:
		exprs(s.Exprs)
	case *ast.FuncCallStmt:
		s.Expr = expr(s.Expr)
	case *ast.DoBlockStmt:
		stmts(s.Stmts)
	case *ast.WhileStmt:
		s.Condition = expr(s.Condition)
		stmts(s.Stmts)
	case *ast.RepeatStmt:
		s.Condition = expr(s.Condition)
		stmts(s.Stmts)
	case *ast.IfStmt:
		s.Condition = expr(s.Condition)
		stmts(s.Then)
		stmts(s.Else)
	case *ast.NumberForStmt:
		s.Init, s.Limit = expr(s.Init), expr(s.Limit)
		if s.Step != nil {
			s.Step = expr(s.Step)
		}
		stmts(s.Stmts)
	case *ast.GenericForStmt:
		exprs(s.Exprs)
		stmts(s.Stmts)
	case *ast.FuncDefStmt:
		if s.Name != nil {
			s.Name.Func = expr(s.Name.Func)
			if s.Name.Receiver != nil {
				s.Name.Receiver = expr(s.Name.Receiver)
			}
		}
		stmts(s.Func.Stmts)
	case *ast.ReturnStmt:
		exprs(s.Exprs)
	}
}

func exprs(list []ast.Expr) {
	for i, e := range list {
		list[i] = expr(e)
	}
}

func expr(e ast.Expr) ast.Expr {
	switch e := e.(type) {
	case *ast.StringConcatOpExpr:
		// a .. b .. c parses as a .. (b .. c): one call takes the whole
		// chain, as the VM's single instruction did.
		call := &ast.FuncCallExpr{Func: &ast.IdentExpr{Value: concatGlobal}}
		var cur ast.Expr = e
		for {
			c, ok := cur.(*ast.StringConcatOpExpr)
			if !ok {
				call.Args = append(call.Args, expr(cur))
				break
			}
			call.Args = append(call.Args, expr(c.Lhs))
			cur = c.Rhs
		}
		call.SetLine(e.Line())
		call.SetLastLine(e.LastLine())
		call.Func.SetLine(e.Line())
		call.Func.SetLastLine(e.LastLine())
		return call
	case *ast.AttrGetExpr:
		e.Object, e.Key = expr(e.Object), expr(e.Key)
	case *ast.TableExpr:
		for _, f := range e.Fields {
			if f.Key != nil {
				f.Key = expr(f.Key)
			}
			f.Value = expr(f.Value)
		}
	case *ast.FuncCallExpr:
		if e.Func != nil {
			e.Func = expr(e.Func)
		}
		if e.Receiver != nil {
			e.Receiver = expr(e.Receiver)
		}
		exprs(e.Args)
	case *ast.LogicalOpExpr:
		e.Lhs, e.Rhs = expr(e.Lhs), expr(e.Rhs)
	case *ast.RelationalOpExpr:
		e.Lhs, e.Rhs = expr(e.Lhs), expr(e.Rhs)
	case *ast.ArithmeticOpExpr:
		e.Lhs, e.Rhs = expr(e.Lhs), expr(e.Rhs)
	case *ast.UnaryMinusOpExpr:
		e.Expr = expr(e.Expr)
	case *ast.UnaryNotOpExpr:
		e.Expr = expr(e.Expr)
	case *ast.UnaryLenOpExpr:
		e.Expr = expr(e.Expr)
	case *ast.FunctionExpr:
		stmts(e.Stmts)
	}
	return e
}

// concat is Lua 5.1's `..` over its arguments, with the result bounded.
// Strings and numbers join in one step; an operand of another type goes
// through its __concat metamethod, right to left, as in Lua.
func concat(L *lua.LState) int {
	n := L.GetTop()
	total, joinable := 0, true
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			total += len(v)
		case lua.LNumber:
			total += 24 // a number's text is never longer
		default:
			joinable = false
		}
	}
	if joinable {
		checkConcat(L, total)
		var b strings.Builder
		b.Grow(total)
		for i := 1; i <= n; i++ {
			b.WriteString(lua.LVAsString(L.Get(i)))
		}
		L.Push(lua.LString(b.String()))
		return 1
	}
	rhs := L.Get(n)
	for i := n - 1; i >= 1; i-- {
		lhs := lua.LValue(L.Get(i))
		if lua.LVCanConvToString(lhs) && lua.LVCanConvToString(rhs) {
			l, r := lua.LVAsString(lhs), lua.LVAsString(rhs)
			checkConcat(L, len(l)+len(r))
			rhs = lua.LString(l + r)
			continue
		}
		mm := L.GetMetaField(lhs, "__concat")
		if mm == lua.LNil {
			mm = L.GetMetaField(rhs, "__concat")
		}
		if _, ok := mm.(*lua.LFunction); !ok {
			L.RaiseError("cannot perform concat operation between %s and %s", lhs.Type(), rhs.Type())
		}
		L.Push(mm)
		L.Push(lhs)
		L.Push(rhs)
		L.Call(2, 1)
		rhs = L.Get(-1)
		L.Pop(1)
	}
	L.Push(rhs)
	return 1
}

func checkConcat(L *lua.LState, size int) {
	if size > MaxStringBytes {
		L.RaiseError("string concatenation (..): the result would be over the limit of %d bytes (keep large data out of strings)", MaxStringBytes)
	}
}
