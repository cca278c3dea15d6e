// Package explore walks an app's call tree without a phone: from on_call, it
// presses every key each prompt offers (a menu's options, or every keypad key
// for a hand-written on_dtmf), an invalid key and no input, to a bounded
// depth, replaying each path on a simulated line. What it finds feeds
// `luaivr check` (errors, invalid callflows, dead ends, calls that never end,
// menus nobody reaches) and `luaivr graph` (the tree itself).
package explore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/phone"
	"github.com/luaivr/luaivr/store/badgerstore"
)

// Options bound the exploration.
type Options struct {
	Depth     int // inputs along one path (default 10)
	MaxStates int // distinct prompts expanded (default 300)
	Deadline  engine.Options
}

// Severity of a Problem.
const (
	Error   = "error"
	Warning = "warning"
)

// Problem is something check reports.
type Problem struct {
	Severity string
	App      string
	Where    string // script:line when known
	Path     string // the inputs that lead to it, e.g. "call, 1, 2"
	Message  string
}

func (p Problem) String() string {
	where := p.App
	if p.Where != "" {
		where = p.Where
	}
	s := fmt.Sprintf("%s: %s: %s", where, p.Severity, p.Message)
	if p.Path != "" {
		s += " (after: " + p.Path + ")"
	}
	return s
}

// Node is a place in the call: a prompt waiting for keys, a connected
// call, or an end.
type Node struct {
	ID    string
	Kind  string // "prompt", "bridge", "end"
	Label string // the prompt, the number, or the last words before the end
	Menu  string // the clientActionId of a prompt, if any
}

// Edge is what an input at From leads to.
type Edge struct {
	From, To string
	Keys     []string // the inputs that take this edge
}

// Result is an app's exploration.
type Result struct {
	App      string
	Root     string
	Nodes    []*Node
	Edges    []*Edge
	Problems []Problem
	Paths    int
}

type input struct {
	label string
	kind  int // press, noInput, partyHangsUp
	keys  string
}

const (
	press = iota
	noInput
	partyHangsUp
)

// Explore walks app. Script folders with errors should be reported from
// engine.Load first; Explore looks at behaviour.
func Explore(ctx context.Context, scripts *engine.Scripts, app string, opts Options) (*Result, error) {
	if opts.Depth <= 0 {
		opts.Depth = 10
	}
	if opts.MaxStates <= 0 {
		opts.MaxStates = 300
	}
	a := scripts.Apps[app]
	if a == nil {
		return nil, fmt.Errorf("no app %q (apps: %s)", app, strings.Join(scripts.Names(), ", "))
	}
	st, err := badgerstore.Open(badgerstore.Options{InMemory: true})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	engOpts := opts.Deadline
	engOpts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	line, err := phone.NewLine(scripts, st, engOpts)
	if err != nil {
		return nil, err
	}
	x := &explorer{ctx: ctx, line: line, app: a, opts: opts, res: &Result{App: app},
		nodes: map[string]*Node{}, edges: map[[2]string]*Edge{}, seen: map[string]bool{}, reported: map[string]bool{}}
	x.run()
	return x.res, nil
}

type explorer struct {
	ctx      context.Context
	line     *phone.Line
	app      *engine.App
	opts     Options
	res      *Result
	nodes    map[string]*Node
	edges    map[[2]string]*Edge
	seen     map[string]bool // prompts expanded
	reported map[string]bool
	visited  map[string]bool // menu ids reached
}

type frontier struct {
	path []input
	node string
}

func (x *explorer) run() {
	x.visited = map[string]bool{}
	c, err := x.replay(nil)
	if err != nil {
		x.problem(Error, "", "call", err.Error())
		return
	}
	root := x.classify(c, 0, "call")
	x.res.Root = root
	queue := []frontier{{nil, root}}
	ended := false
	for len(queue) > 0 && len(x.seen) < x.opts.MaxStates {
		f := queue[0]
		queue = queue[1:]
		if x.seen[f.node] || len(f.path) >= x.opts.Depth {
			continue
		}
		x.seen[f.node] = true
		base, err := x.replay(f.path)
		if err != nil || base.Ended() {
			continue
		}
		for _, in := range x.inputs(base) {
			path := append(append([]input{}, f.path...), in)
			c, err := x.replay(path)
			if err != nil {
				x.problem(Error, "", pathString(path), err.Error())
				continue
			}
			mark := x.markAfter(path)
			to := x.classify(c, mark, pathString(path))
			x.edge(f.node, to, in.label)
			switch x.nodes[to].Kind {
			case "end", "bridge":
				ended = true
			}
			if !c.Ended() && !x.seen[to] {
				queue = append(queue, frontier{path, to})
			}
		}
	}
	x.checkMenus()
	if !ended && len(x.res.Problems) == 0 {
		x.problem(Warning, "", "", fmt.Sprintf("no path of up to %d inputs ends the call or transfers it: can a caller ever leave?", x.opts.Depth))
	}
	x.finish()
}

// replay places a new call and plays path on it.
func (x *explorer) replay(path []input) (*phone.Call, error) {
	x.res.Paths++
	c, err := x.line.Start(x.ctx, phone.CallOptions{App: x.app.Name})
	if err != nil {
		return nil, err
	}
	for _, in := range path {
		if c.Ended() {
			break
		}
		switch in.kind {
		case press:
			err = c.Press(x.ctx, in.keys)
		case noInput:
			// 8x8 retries the prompt noOfTries times; give up each time.
			for i := 0; i < 10 && c.Waiting() != nil && !c.Ended(); i++ {
				err = c.Timeout(x.ctx)
			}
		case partyHangsUp:
			err = c.Timeout(x.ctx)
		}
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

// markAfter is where the last input's consequences start in a replay of path.
// Replays are deterministic, so it is the length of the heard list of path
// without its last input, plus the input itself.
func (x *explorer) markAfter(path []input) int {
	c, _ := x.replay(path[:len(path)-1])
	return len(c.Heard)
}

// inputs are what to try at the call's current state.
func (x *explorer) inputs(c *phone.Call) []input {
	if c.Bridged() {
		return []input{{label: "transfer ends", kind: partyHangsUp}}
	}
	w := c.Waiting()
	if w == nil {
		return nil
	}
	var out []input
	menu := x.menu(c.Position())
	_, ownDTMF := x.app.Handlers[engine.OnDTMF]
	if menu != nil && !ownDTMF {
		for _, k := range menu.Keys {
			out = append(out, input{label: k, kind: press, keys: k})
		}
		out = append(out, input{label: "other", kind: press, keys: invalidKey(menu.Keys, maxDigits(w.Params))})
	} else {
		for _, k := range keypad(maxDigits(w.Params), minDigits(w.Params)) {
			out = append(out, input{label: k, kind: press, keys: k})
		}
	}
	return append(out, input{label: "no input", kind: noInput})
}

func (x *explorer) menu(id string) *engine.MenuInfo {
	for i := range x.app.Menus {
		if x.app.Menus[i].ID == id {
			return &x.app.Menus[i]
		}
	}
	return nil
}

func maxDigits(p map[string]any) int {
	if f, ok := p["maxDigits"].(float64); ok && f > 0 {
		return int(f)
	}
	return 25
}

// keypad is what to press at a hand-written on_dtmf prompt: every key when it
// takes one, else a few typical entries, one of them as long as the prompt
// needs (an account number of six digits).
func keypad(most, least int) []string {
	if most == 1 {
		return []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#"}
	}
	return []string{"1", "2", "0", strings.Repeat("1", min(most, max(least, 4))), "9#"}
}

func minDigits(p map[string]any) int {
	if f, ok := p["minDigits"].(float64); ok && f > 0 {
		return int(f)
	}
	return 1
}

// invalidKey is a key the menu does not offer.
func invalidKey(offered []string, max int) string {
	for _, k := range []string{"9", "8", "7", "0", "*", "6", "5", "4"} {
		if !contains(offered, k) {
			return k
		}
	}
	return strings.Repeat("9", min(max, 3))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// classify names the state the call is in after heard[mark:], records any
// errors heard on the way, and returns its node id.
func (x *explorer) classify(c *phone.Call, mark int, path string) string {
	var last string
	for _, h := range c.Heard[mark:] {
		switch h.Kind {
		case phone.Say, phone.Play:
			last = h.Text
		case phone.Error:
			x.problem(Error, "", path, h.Text)
		case phone.Warning:
			x.problem(Warning, "", path, h.Text)
		}
	}
	switch {
	case c.Ended():
		return x.node("end:"+last, "end", last, "")
	case c.Bridged():
		for i := len(c.Heard) - 1; i >= mark; i-- {
			if c.Heard[i].Kind == phone.Bridge {
				return x.node("bridge:"+c.Heard[i].Text, "bridge", c.Heard[i].Text, "")
			}
		}
	case c.Waiting() != nil:
		prompt, _ := c.Waiting().Params["promptMessage"].(string)
		pos := c.Position()
		if pos != "" {
			x.visited[pos] = true
			x.checkKeys(pos, c.Waiting().Params)
			return x.node(pos, "prompt", prompt, pos)
		}
		return x.node("prompt:"+prompt, "prompt", prompt, "")
	}
	return x.node("end:?", "end", "the call stops here", "")
}

func (x *explorer) node(id, kind, label, menu string) string {
	if x.nodes[id] == nil {
		n := &Node{ID: id, Kind: kind, Label: label, Menu: menu}
		x.nodes[id] = n
		x.res.Nodes = append(x.res.Nodes, n)
	}
	return id
}

func (x *explorer) edge(from, to, key string) {
	k := [2]string{from, to}
	e := x.edges[k]
	if e == nil {
		e = &Edge{From: from, To: to}
		x.edges[k] = e
		x.res.Edges = append(x.res.Edges, e)
	}
	e.Keys = append(e.Keys, key)
}

func (x *explorer) problem(sev, where, path, msg string) {
	key := sev + "|" + msg
	if x.reported[key] {
		return
	}
	x.reported[key] = true
	x.res.Problems = append(x.res.Problems, Problem{Severity: sev, App: x.app.Name, Where: where, Path: path, Message: msg})
}

// checkMenus reports menus no path reached and options no caller can press.
func (x *explorer) checkMenus() {
	for _, m := range x.app.Menus {
		if !x.visited[m.ID] {
			x.problem(Warning, m.Where, "", fmt.Sprintf("menu %q is never reached from on_call", m.ID))
		}
	}
	// A prompt where every key leads back to itself handles nothing.
	for _, n := range x.res.Nodes {
		if n.Kind != "prompt" {
			continue
		}
		out := 0
		for _, e := range x.res.Edges {
			if e.From == n.ID && e.To != n.ID {
				out++
			}
		}
		if out == 0 && x.seen[n.ID] {
			x.problem(Warning, "", "", fmt.Sprintf("dead end: no key and no timeout leads anywhere from the prompt %q", clip(n.Label, 60)))
		}
	}
}

// checkKeys reports options of a menu that its own prompt cannot collect.
func (x *explorer) checkKeys(pos string, params map[string]any) {
	m := x.menu(pos)
	if m == nil {
		return
	}
	max := maxDigits(params)
	minD := 1
	if f, ok := params["minDigits"].(float64); ok {
		minD = int(f)
	}
	for _, k := range m.Keys {
		if n := len(strings.TrimSuffix(k, "#")); n > max || n < minD {
			x.problem(Error, m.Where, "", fmt.Sprintf("menu %q offers %q, but its prompt collects %d to %d digits: no caller can press it", m.ID, k, minD, max))
		}
	}
}

// finish sorts what was found so output is stable.
func (x *explorer) finish() {
	sort.SliceStable(x.res.Problems, func(i, j int) bool {
		return x.res.Problems[i].Severity == Error && x.res.Problems[j].Severity != Error
	})
}

func pathString(path []input) string {
	parts := []string{"call"}
	for _, in := range path {
		parts = append(parts, in.label)
	}
	return strings.Join(parts, ", ")
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
