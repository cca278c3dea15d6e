// Package explore walks an app's call tree without a phone: from on_call, it
// presses every key each prompt offers (a menu's options, or every keypad key
// for a hand-written on_dtmf), an invalid key and no input, to a bounded
// depth, replaying each path on a simulated line. What it finds feeds
// `luaivr check` (errors, invalid callflows, dead ends, calls that never end,
// menus nobody reaches) and `luaivr graph` (the tree itself).
package explore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/phone"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/memstore"
)

// Options bound the exploration.
type Options struct {
	Depth     int // inputs along one path (default 10)
	MaxStates int // distinct prompts expanded (default 300)
	Deadline  engine.Options
	// Work bounds the time spent playing calls (0: no bound). Exploration
	// stops there and says so with a warning: what it found is reported.
	Work time.Duration
	// Pace, when set, is called before each call is played with the time the
	// previous one took; an error stops the exploration. serve's vetting
	// paces itself with a Pacer so that it never takes the CPU live calls need.
	Pace func(ctx context.Context, took time.Duration) error
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
	Paths    int // calls played
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
// engine.Load first; Explore looks at behaviour. A failure of the explorer
// itself is returned as an error, never a crash of the caller: serve vets
// apps with it.
func Explore(ctx context.Context, scripts *engine.Scripts, app string, opts Options) (res *Result, err error) {
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
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("exploring %s (%s) failed inside luaivr, not in the script: %v\n%s", app, a.File, p, debug.Stack())
		}
	}()
	st := memstore.New(store.Options{}) // nothing of a test or an exploration is kept
	engOpts := opts.Deadline
	engOpts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	line, err := phone.NewLine(scripts, st, engOpts)
	if err != nil {
		return nil, err
	}
	x := &explorer{ctx: ctx, line: line, app: a, opts: opts, res: &Result{App: app},
		nodes: map[string]*Node{}, edges: map[[2]string]*Edge{}, seen: map[string]bool{},
		reported: map[string]bool{}, visited: map[string]bool{}, tries: map[string]int{}}
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
	tries    map[string]int  // replays of a frontier that went elsewhere

	worked  time.Duration // time spent playing calls
	last    time.Duration // the last call's
	stopped bool          // the work budget, the context or the pacer ended it
}

// frontier is a node to expand and a path that led to it: nodes[i] is where
// the call was before path[i], and nodes[len(path)] is the node itself.
type frontier struct {
	path  []input
	nodes []string
}

func (f frontier) node() string { return f.nodes[len(f.nodes)-1] }

// maxTries bounds the replays of one frontier that go elsewhere.
const maxTries = 3

// run explores breadth first. Nothing here assumes that two replays of the
// same inputs agree: an app may decide with kv, the clock, http or chance,
// and a handler may time out on one replay and not the next. Every replay is
// a real call; what it shows is recorded, and a replay that goes another way
// than the path it follows is a new frontier, not a contradiction.
func (x *explorer) run() {
	_, _, queue := x.walk(frontier{}, nil)
	if x.res.Root == "" {
		return // the call could not start: reported
	}
	for len(queue) > 0 && len(x.seen) < x.opts.MaxStates && !x.stopped {
		f := queue[0]
		queue = queue[1:]
		if x.seen[f.node()] || len(f.path) >= x.opts.Depth {
			continue
		}
		base, followed, more := x.walk(f, queue)
		queue = more
		if base == nil {
			continue
		}
		if !followed { // this time the call went elsewhere: try f again later
			queue = x.diverged(f, queue)
			continue
		}
		if base.Ended() {
			continue
		}
		x.seen[f.node()] = true
		for _, in := range x.inputs(base) {
			if x.stopped {
				break
			}
			next := frontier{path: append(append([]input{}, f.path...), in), nodes: f.nodes}
			_, _, queue = x.walk(next, queue)
		}
	}
	x.checkMenus()
	ended := false
	for _, n := range x.res.Nodes {
		ended = ended || n.Kind == "end" || n.Kind == "bridge"
	}
	if !ended && !x.stopped && len(x.res.Problems) == 0 {
		x.problem(Warning, "", "", fmt.Sprintf("no path of up to %d inputs ends the call or transfers it: can a caller ever leave?", x.opts.Depth))
	}
	x.finish()
}

// diverged requeues a frontier whose replay went another way, a few times.
func (x *explorer) diverged(f frontier, queue []frontier) []frontier {
	key := pathString(f.path)
	x.tries[key]++
	if x.tries[key] == 1 {
		x.problem(Warning, "", key, "the same inputs led to different places on different calls (the app decides with kv, time, http or chance, or a handler ran out of time): check reports what it saw")
	}
	if x.tries[key] < maxTries {
		queue = append(queue, f)
	}
	return queue
}

// walk plays f's path on a new call, records the edge of every input that
// leaves f's way, and queues where it leads: a call that goes elsewhere than
// f says is as true as f. It returns the call and whether it followed f to
// f's last node; a frontier whose last node is still open (an input just
// added) is never followed, it is discovered.
func (x *explorer) walk(f frontier, queue []frontier) (*phone.Call, bool, []frontier) {
	c, at, err := x.start()
	if err != nil {
		if !errors.Is(err, errStopped) {
			x.problem(Error, "", "call", err.Error())
		}
		return nil, false, queue
	}
	if x.res.Root == "" {
		x.res.Root = at
	}
	nodes := []string{at}
	if len(f.nodes) == 0 || at != f.nodes[0] { // where a call starts is a frontier too
		if !c.Ended() && !x.seen[at] {
			queue = append(queue, frontier{nodes: nodes})
		}
		return c, false, queue
	}
	for i, in := range f.path {
		if c.Ended() || !applies(c, in) {
			return c, false, queue
		}
		path := f.path[:i+1]
		to, err := x.play(c, in, pathString(path))
		if err != nil {
			x.problem(Error, "", pathString(path), err.Error())
			return c, false, queue
		}
		nodes = append(nodes, to)
		at = to
		if i+1 < len(f.nodes) && to == f.nodes[i+1] {
			continue // on f's way
		}
		x.edge(nodes[i], to, in.label)
		if !c.Ended() && !x.seen[to] {
			queue = append(queue, frontier{path: path, nodes: nodes})
		}
		return c, false, queue
	}
	return c, true, queue
}

// start places a new call, when the budget allows, and names where it is.
func (x *explorer) start() (*phone.Call, string, error) {
	if x.stopped || !x.pace() {
		return nil, "", errStopped
	}
	began := time.Now()
	defer func() { x.last = time.Since(began); x.worked += x.last }()
	x.res.Paths++
	c, err := x.line.Start(x.ctx, phone.CallOptions{App: x.app.Name})
	if err != nil {
		return nil, "", err
	}
	return c, x.classify(c, 0, "call"), nil
}

var errStopped = errors.New("exploration stopped")

// pace keeps to the work budget and the pacer; false stops the exploration.
func (x *explorer) pace() bool {
	stop := func(why string) bool {
		x.stopped = true
		x.problem(Warning, "", "", fmt.Sprintf("exploration stopped after %d calls (%s): what is reported is what those calls showed", x.res.Paths, why))
		return false
	}
	if x.opts.Work > 0 && x.worked >= x.opts.Work {
		return stop(fmt.Sprintf("its work budget of %s is used up", x.opts.Work))
	}
	if err := x.ctx.Err(); err != nil {
		return stop(err.Error())
	}
	if x.opts.Pace != nil && x.res.Paths > 0 {
		if err := x.opts.Pace(x.ctx, x.last); err != nil {
			return stop(err.Error())
		}
	}
	return true
}

// applies reports whether the call is in a state that takes the input.
func applies(c *phone.Call, in input) bool {
	if in.kind == partyHangsUp {
		return c.Bridged()
	}
	return c.Waiting() != nil
}

// play gives the call one input and names where it leads, from what was
// heard in this call after the input: a position in the call's own record,
// never in another replay's.
func (x *explorer) play(c *phone.Call, in input, path string) (string, error) {
	mark := len(c.Heard)
	var err error
	switch in.kind {
	case press:
		err = c.Press(x.ctx, in.keys)
	case noInput:
		// 8x8 retries the prompt noOfTries times; give up each time.
		for i := 0; i < 10 && c.Waiting() != nil && !c.Ended() && err == nil; i++ {
			err = c.Timeout(x.ctx)
		}
	case partyHangsUp:
		err = c.Timeout(x.ctx)
	}
	if err != nil {
		return "", err
	}
	return x.classify(c, mark, path), nil
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
	if !contains(e.Keys, key) {
		e.Keys = append(e.Keys, key)
	}
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
