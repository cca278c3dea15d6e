package lint

import (
	"slices"
	"strconv"
	"strings"

	"github.com/yuin/gopher-lua/ast"
)

// A comparison whose sides lint can type, and that can never be true: a
// number with text (tonumber(digits) == "6", digits:sub(1, 1) == 9), or a
// weekday from the time library with a name it never gives ("Monday").

// mismatch is a comparison of a number with text.
type mismatch struct {
	line          int
	op, lhs, rhs  string // as the script writes them, shortened
	number, text  string
	numberOnRight bool
	locals        []*local // what is known of these holds only if none is assigned again
}

// dayCompare is a weekday from the time library compared with a name it
// never returns.
type dayCompare struct {
	line    int
	op, day string
	locals  []*local
}

// typed is what lint knows of a value: its type ("number", "text" or "")
// and the locals it knows it from.
type typed struct {
	kind   string
	locals []*local
}

// weekdays are the names time.weekday and time.parts(…).weekday return.
var weekdays = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// textMethods and numberMethods are the string functions whose result lint
// knows the type of, called as string.sub(s, …) or s:sub(…).
var (
	textMethods   = map[string]bool{"sub": true, "upper": true, "lower": true, "rep": true, "reverse": true, "format": true, "gsub": true, "char": true}
	numberMethods = map[string]bool{"len": true, "byte": true}
)

// values records the comparisons of e that are never true.
func (f *file) values(e *ast.RelationalOpExpr) {
	if e.Operator != "==" && e.Operator != "~=" {
		return
	}
	for _, pair := range [][2]ast.Expr{{e.Lhs, e.Rhs}, {e.Rhs, e.Lhs}} {
		s, ok := pair[1].(*ast.StringExpr)
		if !ok || slices.Contains(weekdays, s.Value) {
			continue
		}
		if day := f.weekday(pair[0]); day.kind != "" {
			f.days = append(f.days, dayCompare{line: e.Line(), op: e.Operator, day: s.Value, locals: day.locals})
			return
		}
	}
	lt, rt := f.kind(e.Lhs), f.kind(e.Rhs)
	if lt.kind == "" || rt.kind == "" || lt.kind == rt.kind {
		return
	}
	m := mismatch{line: e.Line(), op: e.Operator, lhs: shown(e.Lhs), rhs: shown(e.Rhs), numberOnRight: rt.kind == "number",
		locals: append(lt.locals, rt.locals...)}
	m.number, m.text = m.lhs, m.rhs
	if m.numberOnRight {
		m.number, m.text = m.rhs, m.lhs
	}
	f.mismatches = append(f.mismatches, m)
}

// kind is what lint knows of e's type: a constant, an operator's result, a
// call whose result type is fixed, or a local declared as one of those.
func (f *file) kind(e ast.Expr) typed {
	if id, ok := e.(*ast.IdentExpr); ok {
		if l := f.resolve(id.Value); l != nil && l.kind != "" {
			return typed{kind: l.kind, locals: []*local{l}}
		}
		return typed{}
	}
	return typed{kind: f.valueKind(e)}
}

// valueKind is "number" or "text" when e is sure to be one, "" otherwise.
func (f *file) valueKind(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.NumberExpr, *ast.ArithmeticOpExpr, *ast.UnaryLenOpExpr, *ast.UnaryMinusOpExpr:
		return "number"
	case *ast.StringExpr, *ast.StringConcatOpExpr:
		return "text"
	case *ast.FuncCallExpr:
		name := ""
		switch fn := e.Func.(type) {
		case nil: // s:sub(…)
			name = e.Method
		case *ast.IdentExpr:
			if f.resolve(fn.Value) == nil {
				switch fn.Value {
				case "tonumber":
					return "number"
				case "tostring":
					return "text"
				}
			}
			return ""
		case *ast.AttrGetExpr:
			k, ok := fn.Key.(*ast.StringExpr)
			if !ok {
				return ""
			}
			switch f.lib(fn.Object) {
			case "math":
				return "number"
			case "string":
				name = k.Value
			default:
				return ""
			}
		}
		switch {
		case textMethods[name]:
			return "text"
		case numberMethods[name]:
			return "number"
		}
	}
	return ""
}

// weekday is, when e is a weekday name from the time library
// (time.weekday(…), time.parts(…).weekday, a local holding one, the weekday
// of a local holding time.parts(…)), kind "weekday" and the locals involved.
func (f *file) weekday(e ast.Expr) typed {
	yes := typed{kind: "weekday"}
	switch e := e.(type) {
	case *ast.FuncCallExpr:
		if f.timeCall(e, "weekday") {
			return yes
		}
	case *ast.AttrGetExpr:
		k, ok := e.Key.(*ast.StringExpr)
		if !ok || k.Value != "weekday" {
			return typed{}
		}
		if call, ok := e.Object.(*ast.FuncCallExpr); ok && f.timeCall(call, "parts") {
			return yes
		}
		if l := f.resolve(idName(e.Object)); l != nil && l.clock == "parts" {
			return typed{kind: "weekday", locals: []*local{l}}
		}
	case *ast.IdentExpr:
		if l := f.resolve(e.Value); l != nil && l.clock == "weekday" {
			return typed{kind: "weekday", locals: []*local{l}}
		}
	}
	return typed{}
}

// declared is what lint knows of a local declared as e: what it holds of
// the time library ("parts", "weekday" or "") and its type.
func (f *file) declared(e ast.Expr) (clock, kind string) {
	if call, ok := e.(*ast.FuncCallExpr); ok && f.timeCall(call, "parts") {
		return "parts", ""
	}
	if f.weekday(e).kind != "" {
		return "weekday", "text"
	}
	return "", f.kind(e).kind
}

// reassigned reports whether one of ls is assigned after its declaration:
// what its declaration said of it may no longer hold.
func reassigned(ls []*local) bool {
	return slices.ContainsFunc(ls, func(l *local) bool { return l.written })
}

// timeCall reports whether e calls time.name(…).
func (f *file) timeCall(e *ast.FuncCallExpr, name string) bool {
	fn, ok := e.Func.(*ast.AttrGetExpr)
	if !ok {
		return false
	}
	k, ok := fn.Key.(*ast.StringExpr)
	return ok && k.Value == name && f.lib(fn.Object) == "time"
}

// shown is e as a finding quotes it: a constant as written, a call by its
// name, anything else as an ellipsis.
func shown(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StringExpr:
		return strconv.Quote(e.Value)
	case *ast.NumberExpr:
		return e.Value
	case *ast.IdentExpr:
		return e.Value
	case *ast.StringConcatOpExpr:
		return shown(e.Lhs) + " .. " + shown(e.Rhs)
	case *ast.UnaryLenOpExpr:
		return "#" + shown(e.Expr)
	case *ast.FuncCallExpr:
		switch fn := e.Func.(type) {
		case nil:
			return shown(e.Receiver) + ":" + e.Method + "(…)"
		case *ast.IdentExpr:
			return fn.Value + "(…)"
		case *ast.AttrGetExpr:
			if k, ok := fn.Key.(*ast.StringExpr); ok {
				return shown(fn.Object) + "." + k.Value + "(…)"
			}
		}
	}
	return "…"
}

// meantDay is the weekday name a wrong one was meant as ("" when none).
func meantDay(s string) string {
	low := strings.ToLower(s)
	for _, d := range weekdays {
		if low == d || (len(low) >= 3 && strings.HasPrefix(d, low)) {
			return d
		}
	}
	return ""
}
