package explore

import (
	"fmt"
	"sort"
	"strings"

	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// Seed inputs are what a caller knows and the explorer cannot guess: the PIN
// or the account number a menu waits behind. They come from Options.Inputs
// (`check --input pin=4321`) and from a global table in the script,
//
//	check_inputs = { pin = { "4321", "0000" }, account = "12345678#" }
//
// keyed by the position (clientActionId or menu id) whose prompt takes them.
// The table is read from the source, not run: it must be written with
// literal strings (or numbers), so that reading it needs no call.

// readSeeds gathers the seeds of the exploration from the options and from
// the script's source, src.
func (x *explorer) readSeeds(src []byte) {
	for pos, keys := range x.opts.Inputs {
		x.seeds[pos] = append(x.seeds[pos], keys...)
	}
	if !strings.Contains(string(src), "check_inputs") {
		return
	}
	chunk, err := parse.Parse(strings.NewReader(string(src)), x.app.File)
	if err != nil {
		return // the load reported it
	}
	for _, st := range chunk {
		as, ok := st.(*ast.AssignStmt)
		if !ok {
			continue
		}
		for i, lhs := range as.Lhs {
			if id, ok := lhs.(*ast.IdentExpr); ok && id.Value == "check_inputs" && i < len(as.Rhs) {
				x.seedTable(as.Rhs[i], st.Line())
			}
		}
	}
}

// seedTable reads check_inputs = { position = "keys" or { "keys", … } }.
func (x *explorer) seedTable(e ast.Expr, line int) {
	where := fmt.Sprintf("%s:%d", x.app.File, line)
	bad := func(what string) {
		x.problem(Warning, where, "", "check_inputs"+what+": check reads this table without running the script, so it takes literal keys: check_inputs = { pin = { \"4321\", \"0000\" } }")
	}
	t, ok := e.(*ast.TableExpr)
	if !ok {
		bad(" is not a table")
		return
	}
	for _, f := range t.Fields {
		pos, ok := f.Key.(*ast.StringExpr)
		if !ok {
			bad(" has a key that is not a position name")
			continue
		}
		x.seedAt[pos.Value] = where
		var keys []ast.Expr
		if list, ok := f.Value.(*ast.TableExpr); ok {
			for _, k := range list.Fields {
				if k.Key != nil {
					bad("." + pos.Value + " has a key; it is a list")
				}
				keys = append(keys, k.Value)
			}
		} else {
			keys = []ast.Expr{f.Value}
		}
		for i, k := range keys {
			var v string
			switch k := k.(type) {
			case *ast.StringExpr:
				v = k.Value
			case *ast.NumberExpr:
				v = k.Value
			default:
				bad(fmt.Sprintf(".%s[%d] is not a literal string", pos.Value, i+1))
				continue
			}
			if v == "" || strings.Trim(v, "0123456789*#") != "" {
				x.problem(Warning, where, "", fmt.Sprintf("check_inputs.%s[%d] is %q: a caller presses 0-9, * and #", pos.Value, i+1, v))
				continue
			}
			x.seeds[pos.Value] = append(x.seeds[pos.Value], v)
		}
	}
}

// checkSeeds reports prompts that take several digits where every key tried
// went the same way as a wrong one: asked again, or the same place as no
// input. A PIN or an account number the explorer does not know looks like
// that, and what it guards is not explored.
func (x *explorer) checkSeeds() {
	x.checkSeedPositions()
	for _, n := range x.res.Nodes {
		if _, ok := x.wide[n.ID]; !ok || !x.seen[n.ID] || len(x.seeds[n.Menu]) > 0 {
			continue
		}
		targets := map[string]bool{}
		noInput, tried := "", 0
		for _, e := range x.res.Edges {
			if e.From != n.ID {
				continue
			}
			for _, k := range e.Keys {
				switch {
				case k == "no input":
					noInput = e.To
				case contains(x.wide[n.ID], k): // a key given many times in a row is no guess
					targets[e.To] = true
					tried++
				}
			}
		}
		if len(targets) != 1 || tried < 3 {
			continue
		}
		var to string
		for t := range targets {
			to = t
		}
		if to != n.ID && to != noInput {
			continue
		}
		how := "give the prompt a clientActionId, then --input ID=KEYS"
		if n.Menu != "" {
			how = fmt.Sprintf("--input %s=KEYS, or check_inputs = { %s = { \"KEYS\" } } in %s", n.Menu, luaKey(n.Menu), x.app.File)
		}
		x.hinted[n.ID] = true
		before := len(x.res.Problems)
		x.problem(Warning, "", "", fmt.Sprintf("every key check tried at the prompt %q (%s) went the way a wrong one does: if it waits for a PIN or an account number, give check one so that what follows is explored: %s",
			clip(n.Label, 60), strings.Join(x.wide[n.ID], ", "), how))
		if x.hint < 0 && len(x.res.Problems) > before {
			x.hint = before
		}
	}
}

// luaKey writes a position as a table key.
func luaKey(s string) string {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return fmt.Sprintf("[%q]", s)
		}
	}
	return s
}

// checkSeedPositions reports check_inputs positions no prompt waited at: a
// misspelt id gives check nothing to type.
func (x *explorer) checkSeedPositions() {
	if x.stopped || x.callFailed { // on_call's error is why, and is reported
		return
	}
	positions := make([]string, 0, len(x.seedAt))
	for pos := range x.seedAt {
		positions = append(positions, pos)
	}
	sort.Strings(positions)
	for _, pos := range positions {
		if !x.visited[pos] {
			x.problem(Warning, x.seedAt[pos], "", fmt.Sprintf("check_inputs.%s: no prompt waits at %q on any path check took (a clientActionId or menu id, spelt as the script sets it)", pos, pos))
		}
	}
}
