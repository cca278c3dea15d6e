// Package explore walks an app's call tree without a phone: from on_call, it
// presses every key each prompt offers (a menu's options, or every keypad key
// for a hand-written on_dtmf, and the seed inputs it is given for a PIN or an
// account number), an invalid key and no input, to a bounded depth, replaying
// each path on a simulated line. The clock is an input too: when a handler
// reads it, the path is played again at the moments where the answer it got
// could differ (see clock.Watch), so the branches behind "open" and "closed"
// are explored alike. So is what earlier callers left in kv (kv.go), and a
// handler that runs out of time is played again before it is blamed
// (deadline.go). What it finds feeds `luaivr check` (errors, invalid
// callflows, dead ends, calls that never end, menus nobody reaches) and
// `luaivr graph` (the tree itself).
package explore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/phone"
	clock "github.com/luaivr/luaivr/stdlib/time"
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
	// Start is when the first call starts (zero: phone.DefaultStart); calls
	// at other moments follow where the app reads the clock.
	Start time.Time
	// Inputs are keys to try at a position (a clientActionId or menu id)
	// besides the keypad: the PIN or account number a menu waits behind.
	// The script's own check_inputs table adds to them.
	Inputs map[string][]string
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
	Clock    string // when the call of Path started, for an app that reads the clock
	Message  string
}

func (p Problem) String() string {
	where := p.App
	if p.Where != "" {
		where = p.Where
	}
	s := fmt.Sprintf("%s: %s: %s", where, p.Severity, p.Message)
	switch {
	case p.Clock != "":
		s += " (after: " + p.Path + ", at " + p.Clock + ")"
	case p.Path != "":
		s += " (after: " + p.Path + ")"
	}
	return s
}

// At is the script line the problem is at, "app.lua:12": Where when it has a
// line, else the first line the message names ("on_dtmf (app.lua:3) returned
// …"); "" when none.
func (p Problem) At() string {
	if w := scriptWhere(p.Where + ":"); w != "" {
		return w
	}
	return scriptNamed.FindString(p.Message)
}

// scriptNamed is a script line named anywhere: "(app.lua:3)" too.
var scriptNamed = regexp.MustCompile(`[\w./-]+\.lua:\d+`)

// Node is a place in the call: a prompt waiting for keys, a connected
// call, or an end.
type Node struct {
	ID    string
	Kind  string // "prompt", "bridge", "end"; "start" when calls start in several places
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
	times int    // the input given in a row while the call stays where it is (0: one)
	name  string // a repeated input's label, before how many times it was given
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
	engOpts.Logger = slog.New(slog.DiscardHandler) // disabled: no app log line is even formatted
	line, err := phone.NewLine(scripts, st, engOpts)
	if err != nil {
		return nil, err
	}
	deadline := engOpts.Deadline
	if deadline <= 0 {
		deadline = engine.DefaultDeadline
	}
	engOpts.Deadline = slowDeadline(deadline)
	slow, err := phone.NewLine(scripts, st, engOpts) // the same store: kv goes on counting
	if err != nil {
		return nil, err
	}
	if opts.Start.IsZero() {
		opts.Start = phone.DefaultStart
	}
	x := &explorer{base: ctx, ctx: ctx, store: st, line: line, slow: slow, deadline: deadline, proven: map[string]bool{}, app: a, opts: opts, res: &Result{App: app},
		nodes: map[string]*Node{}, edges: map[[2]string]*Edge{}, seen: map[string]bool{},
		reported: map[string]bool{}, visited: map[string]bool{}, tries: map[string]int{},
		moved: map[string]bool{}, seeds: map[string][]string{}, wide: map[string][]string{}, hinted: map[string]bool{}, hint: -1, seedAt: map[string]string{}, zone: time.UTC}
	if loc, err := clock.LoadZone(opts.Deadline.Zone); err == nil {
		x.zone = loc
	}
	x.readSeeds(x.readSource(scripts))
	x.run()
	return x.res, nil
}

type explorer struct {
	base     context.Context // the exploration's
	ctx      context.Context // the call's: base with the call's clock.Watch
	store    *memstore.Store
	world    map[string][]byte // kv every call starts with (kv.go): nil is empty
	left     map[string][]byte // what the first pass's calls left in kv, together
	line     *phone.Line       // calls are played on it, under the app's deadline
	slow     *phone.Line       // and played again on it when a handler ran out of time (deadline.go)
	deadline time.Duration
	proven   map[string]bool // handlers that ran out of time on slow too
	retries  int
	attempt  int       // the call being played: 0 on line, n for its nth time on slow
	played   []input   // the inputs the call being played was given
	playedAt time.Time // when it started
	app      *engine.App
	opts     Options
	res      *Result
	nodes    map[string]*Node
	edges    map[[2]string]*Edge
	seen     map[string]bool // prompts expanded
	reported map[string]bool
	visited  map[string]bool     // menu ids reached
	tries    map[string]int      // replays of a frontier that went elsewhere
	seeds    map[string][]string // position → keys to try there (Options.Inputs, check_inputs)
	seedAt   map[string]string   // position → the script line of its check_inputs entry
	wide     map[string][]string // prompts taking several digits → the keys tried there
	hinted   map[string]bool     // prompts reported as waiting for a seed
	hint     int                 // the first of those reports, in res.Problems; -1 when none

	callFailed bool // on_call failed on a call: what it hides is not reported

	// The clock: the call being played started at now; moved holds the
	// moves already queued (where, which input, to which moment), so a
	// decision is tried at each moment once.
	now         time.Time
	zone        *time.Location // reports give clocks in it
	moved       map[string]bool
	readsClock  bool        // a handler read the clock: problems say when
	clocks      []time.Time // when the call of each problem started
	clockRuns   int         // calls queued at moved clocks
	starts      []string    // the nodes calls started at, first the root
	startClocks []time.Time // a clock each started at
	dates       []time.Time // dates the script writes, tried where it reads the clock

	call    *phone.Call   // the last call placed: hung up before the next (handlers.go)
	worked  time.Duration // time spent playing calls
	last    time.Duration // the last call's
	stopped bool          // the work budget, the context or the pacer ended it

	digitsTo map[string]string // menu id → the handler that answered keys pressed at it (menus.go)
}

// frontier is a node to expand and a path that led to it: nodes[i] is where
// the call was before path[i], and nodes[len(path)] is the node itself; the
// call starts at clock. A frontier with no node for its last input is a
// replay at another clock: where it leads is discovered.
type frontier struct {
	path  []input
	nodes []string
	clock time.Time
}

func (f frontier) node() string { return f.nodes[len(f.nodes)-1] }

// maxTries bounds the replays of one frontier that go elsewhere.
const maxTries = 3

// maxClockRuns bounds, per prompt the exploration may expand, the calls
// played at moved clocks: a handler that reads the clock at every key (to log
// it, say) moves every path.
const maxClockRuns = 2

// run explores breadth first. Nothing here assumes that two replays of the
// same inputs agree: an app may decide with kv, http or chance, and a
// handler may time out on one replay and not the next (the clock is the
// frontier's, so it agrees). Every replay is
// a real call; what it shows is recorded, and a replay that goes another way
// than the path it follows is a new frontier, not a contradiction.
func (x *explorer) run() {
	if !x.explore() {
		return // the call could not start: reported
	}
	if x.laterCallers() {
		x.explore()
	}
	x.checkSeeds()
	x.checkMenus()
	x.checkTopLevel()
	x.checkMenuDigits()
	x.drawStarts()
	ended := false
	for _, n := range x.res.Nodes {
		ended = ended || n.Kind == "end" || n.Kind == "bridge"
	}
	if !ended && !x.stopped && len(x.hinted) == 0 && len(x.res.Problems) == 0 {
		x.problem(Warning, "", "", fmt.Sprintf("no path of up to %d inputs ends the call or transfers it: can a caller ever leave?", x.opts.Depth))
	}
	x.finish()
}

// explore is one pass over the tree, from kv as x.world holds it; false
// when the call could not start.
func (x *explorer) explore() bool {
	_, _, queue := x.walk(frontier{clock: x.opts.Start}, nil)
	if x.res.Root == "" {
		return false
	}
	for len(queue) > 0 && len(x.seen) < x.opts.MaxStates && !x.stopped {
		f := queue[0]
		queue = queue[1:]
		if len(f.nodes) == len(f.path) { // a replay at another clock
			_, _, queue = x.walk(f, queue)
			continue
		}
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
		inputs := x.inputs(base, f.node())
		for _, in := range inputs {
			queue = x.try(f, in, queue)
		}
		for _, in := range x.repeats(f.node(), inputs) { // where the prompt came back
			queue = x.try(f, in, queue)
		}
	}
	x.hangUp(x.call)
	x.call = nil
	x.keepKV()
	return true
}

// try plays f's path and then in.
func (x *explorer) try(f frontier, in input, queue []frontier) []frontier {
	if x.stopped {
		return queue
	}
	next := frontier{path: append(append([]input{}, f.path...), in), nodes: f.nodes, clock: f.clock}
	_, _, queue = x.walk(next, queue)
	return queue
}

// diverged requeues a frontier whose replay went another way, a few times.
func (x *explorer) diverged(f frontier, queue []frontier) []frontier {
	key := pathString(f.path)
	x.tries[key]++
	if x.tries[key] == 1 {
		x.problem(Warning, "", key, "the same inputs led to different places on different calls (the app decides with kv, http or chance, or a handler ran out of time): check reports what it saw")
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
	c, followed, queue, again := x.walkOn(f, queue, 0)
	for try := 1; again; try++ { // a handler ran out of time: was it the machine? (deadline.go)
		x.call = nil // what it did wrong is not reported
		c, followed, queue, again = x.walkOn(f, queue, try)
	}
	return c, followed, queue
}

// walkOn is walk's try: 0 on the app's line, then on the slow line. It
// stops, asking to be played again, where a handler ran out of time
// (outOfTime).
func (x *explorer) walkOn(f frontier, queue []frontier, try int) (*phone.Call, bool, []frontier, bool) {
	watch := &clock.Watch{From: x.opts.Start}
	c, err := x.start(f.clock, watch, try)
	if err != nil {
		if !errors.Is(err, errStopped) {
			x.problem(Error, "", "call", err.Error())
		}
		return nil, false, queue, false
	}
	if x.outOfTime(c, 0, "call") {
		return c, false, queue, true
	}
	if len(c.Handled) > 0 && c.Handled[0].Err != nil {
		x.callFailed = true
	}
	at := x.classify(c, 0, "call")
	if x.res.Root == "" {
		x.res.Root = at
	}
	if !slices.Contains(x.starts, at) {
		x.starts = append(x.starts, at)
		x.startClocks = append(x.startClocks, f.clock)
	}
	queue = x.moves(watch, f, nil, "call", queue)
	nodes := []string{at}
	if len(f.nodes) == 0 || at != f.nodes[0] { // where a call starts is a frontier too
		if !c.Ended() && !x.seen[at] {
			queue = append(queue, frontier{nodes: nodes, clock: f.clock})
		}
		return c, false, queue, false
	}
	for i, in := range f.path {
		if c.Ended() || !applies(c, in) {
			return c, false, queue, false
		}
		path := f.path[:i+1]
		mark, seen := len(c.Heard), len(c.Handled)
		n, err := x.play(c, in)
		if err != nil {
			x.problem(Error, "", pathString(path), err.Error())
			return c, false, queue, false
		}
		if in.times > 1 { // a repeated entry says how often it was given
			path = append(path[:i:i], in)
			path[i].label = fmt.Sprintf("%s ×%d", in.name, n)
		}
		if x.outOfTime(c, seen, pathString(path)) {
			return c, false, queue, true
		}
		to := x.classify(c, mark, pathString(path))
		queue = x.moves(watch, f, nodes, nodes[i], queue)
		nodes = append(nodes, to)
		at = to
		if i+1 < len(f.nodes) && to == f.nodes[i+1] {
			continue // on f's way
		}
		x.edge(nodes[i], to, path[i].label)
		if !c.Ended() && !x.seen[to] {
			queue = append(queue, frontier{path: path, nodes: nodes, clock: f.clock})
		}
		return c, false, queue, false
	}
	return c, true, queue, false
}

// moves queues the replays at other clocks that what a handler asked of the
// clock calls for: the path so far (nodes are where the call was before each
// input) played again, starting as much earlier or later as the script's
// question must be moved. from and the input played name the decision, so
// that one asked on many paths is moved once per moment.
func (x *explorer) moves(w *clock.Watch, f frontier, nodes []string, from string, queue []frontier) []frontier {
	moves := x.withDates(w.Take())
	if len(moves) == 0 {
		return queue
	}
	if x.opts.Deadline.Zone == "" && x.zone == time.UTC {
		for _, m := range moves { // the app's zone is UTC: say clocks where the script reads them
			if m.Zone != time.UTC {
				x.zone = m.Zone
				break
			}
		}
	}
	x.readsClock = true
	path := f.path[:len(nodes)]
	label := "call"
	if len(path) > 0 {
		label = path[len(path)-1].label
	}
	for _, m := range moves {
		key := fmt.Sprintf("%s|%s|%d", from, label, m.Moment.Unix()/60)
		switch {
		case m.TopLevel: // asked at every event: moved once, where first seen
			key = fmt.Sprintf("top|%d", m.Moment.Unix()/60)
		case m.Site != "": // once for the line that asked
			key = fmt.Sprintf("%s|%d", m.Site, m.Moment.Unix()/60)
		}
		if x.moved[key] {
			continue
		}
		if x.clockRuns >= maxClockRuns*x.opts.MaxStates {
			x.problem(Warning, "", "", fmt.Sprintf("the clock was moved for %d calls, as far as check goes: the app reads it on every path (what is reported is what those calls showed)", x.clockRuns))
			break
		}
		x.moved[key] = true
		x.clockRuns++
		queue = append(queue, frontier{path: path, nodes: append([]string{}, nodes...), clock: f.clock.Add(m.Moment.Sub(m.Asked))})
	}
	return queue
}

// start places a new call at clock, when the budget allows, on the app's
// line for try 0, else on the slow one. The call reports what its handlers
// asked of the clock to watch.
func (x *explorer) start(at time.Time, watch *clock.Watch, try int) (*phone.Call, error) {
	if x.stopped || !x.pace() {
		return nil, errStopped
	}
	began := time.Now()
	defer func() { x.last = time.Since(began); x.worked += x.last }()
	x.hangUp(x.call)
	x.call = nil
	x.res.Paths++
	x.now, x.playedAt, x.played, x.attempt = at, at, nil, try
	x.ctx = clock.WithWatch(x.base, watch)
	c, err := x.place(at, try > 0)
	if err != nil {
		return nil, err
	}
	x.call = c
	return c, nil
}

// place starts a call at clock at on the slow line or the app's, with kv
// as the pass of the exploration holds it (kv.go).
func (x *explorer) place(at time.Time, slow bool) (*phone.Call, error) {
	x.keepKV()
	x.restoreKV()
	line, opts := x.line, phone.CallOptions{App: x.app.Name}
	if slow { // its own sessions, in the same store
		line, opts.SessionID = x.slow, fmt.Sprintf("slow-%d", x.res.Paths)
	}
	line.SetNow(at)
	return line.Start(x.ctx, opts)
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

// play gives the call one input, as many times in a row as it says while the
// call stays at the position it was given at, and returns how many times it
// was given. Where it leads is named from what was heard in this call after
// it (classify): a position in the call's own record, never in another
// replay's.
func (x *explorer) play(c *phone.Call, in input) (int, error) {
	x.played = append(x.played, in)
	if in.kind == partyHangsUp {
		return 1, c.Timeout(x.ctx)
	}
	at, n := c.Position(), 0
	for ; n < max(1, in.times) && c.Waiting() != nil && c.Position() == at; n++ {
		seen := len(c.Handled)
		if in.kind == press {
			if err := c.Press(x.ctx, in.keys); err != nil {
				return n, err
			}
			x.noteMenuDigits(c, seen)
			continue
		}
		// No input: 8x8 asks again noOfTries times, then tells the app,
		// whose answer is where the input leads; the next prompt is not
		// timed out too.
		for i := 0; i < maxNoInputTries && len(c.Handled) == seen && c.Waiting() != nil; i++ {
			if err := c.Timeout(x.ctx); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// repeats are the inputs to give again and again at node: a wrong entry (at
// a menu, its invalid key) and no input, when once brought the caller back
// to the same prompt. A
// hand-written handler may count them (in session.vars or kv) and lock the
// caller out after three, as a menu's tries do; giving each maxRepeats times
// in a row explores that. One wrong entry stands for all: they count alike.
func (x *explorer) repeats(node string, tried []input) []input {
	back := x.edges[[2]string{node, node}]
	if back == nil {
		return nil
	}
	var out []input
	pressed := false
	for _, in := range tried {
		if in.times > 1 { // a menu's tries: explored already
			return nil
		}
		option := in.kind == press && x.menu(node) != nil && in.label != "other" // a menu's wrong entry is its invalid key
		if in.kind == partyHangsUp || option || !contains(back.Keys, in.label) || (in.kind == press && pressed) {
			continue
		}
		pressed = pressed || in.kind == press
		in.name, in.times = in.label, maxRepeats
		in.label = fmt.Sprintf("%s ×%d", in.name, maxRepeats)
		out = append(out, in)
	}
	return out
}

// maxRepeats is how often repeats gives an input in a row.
const maxRepeats = 5

// maxNoInputTries bounds the timeouts of one prompt that one no input is:
// 8x8 asks again noOfTries times.
const maxNoInputTries = 10

// inputs are what to try at the call's current state, node.
func (x *explorer) inputs(c *phone.Call, node string) []input {
	if c.Bridged() {
		return []input{{label: "transfer ends", kind: partyHangsUp}}
	}
	w := c.Waiting()
	if w == nil {
		return nil
	}
	var out []input
	menu := x.menu(c.Position())
	if menu != nil { // a menu's keys go to the menu, on_dtmf or not
		for _, k := range menu.Keys {
			out = append(out, input{label: k, kind: press, keys: k})
		}
		out = append(out, input{label: "other", kind: press, keys: invalidKey(menu.Keys, maxDigits(w.Params))})
		out = append(out, tooMany(menu, out[len(out)-1])...)
	} else {
		keys := keypad(maxDigits(w.Params), minDigits(w.Params))
		for _, k := range keys {
			out = append(out, input{label: k, kind: press, keys: k})
		}
		if maxDigits(w.Params) > 1 {
			x.wide[node] = keys
		}
	}
	for _, k := range x.seeds[c.Position()] {
		if !slices.ContainsFunc(out, func(in input) bool { return in.keys == k }) {
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
// takes one, else a few typical entries as long as the prompt needs (an
// account number of six digits). A shorter entry is no entry: 8x8 asks again,
// then reports no input, which is tried on its own.
func keypad(most, least int) []string {
	if most == 1 {
		return []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#"}
	}
	n := min(most, max(least, 4))
	var out []string
	for _, k := range []string{"1", "2", "0", strings.Repeat("1", n), "9#", strings.Repeat("2", n), strings.Repeat("0", n) + "#"} {
		if len(strings.TrimSuffix(k, "#")) >= least && !contains(out, k) && len(out) < 5 {
			out = append(out, k)
		}
	}
	return out
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
			x.problem(Error, scriptWhere(h.Text), path, withoutWhere(h.Text))
		case phone.Warning:
			x.problem(Warning, scriptWhere(h.Text), path, withoutWhere(h.Text))
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
	if x.world != nil && path != "" {
		msg += " (with kv as the calls check played before left it)"
	}
	p := Problem{Severity: sev, App: x.app.Name, Where: where, Path: path, Message: strings.TrimSpace(msg)}
	x.res.Problems = append(x.res.Problems, p)
	x.clocks = append(x.clocks, x.now)
}

// checkTopLevel says what makes the app's top level run again for every
// event: a top level that reads from outside may build something else each
// time, so luaivr cannot keep a state whose top level has run.
func (x *explorer) checkTopLevel() {
	r := x.app.Reads
	if r.What == "" {
		return
	}
	x.problem(Warning, r.Where, "", fmt.Sprintf("the top level calls %s, so every event runs the whole top level again in a new Lua state "+
		"(several times the CPU of an app whose top level reads nothing); call it in the handlers that need it", r.What))
}

// checkMenus reports menus no path reached and options no caller can press.
// A menu behind a failing on_call, or behind a prompt check found no key
// for, is not said on its own: the error, or the hint, is the cause.
func (x *explorer) checkMenus() {
	var unreached []string
	for _, m := range x.app.Menus {
		switch {
		case x.visited[m.ID] || x.callFailed:
		case x.hint >= 0:
			unreached = append(unreached, fmt.Sprintf("%q (%s)", m.ID, m.Where))
		default:
			x.problem(Warning, m.Where, "", fmt.Sprintf("menu %q is never reached from on_call", m.ID))
		}
	}
	if len(unreached) > 0 {
		x.res.Problems[x.hint].Message += "; not reached, maybe behind it: menu " + strings.Join(unreached, ", ")
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
		if out == 0 && x.seen[n.ID] && !x.hinted[n.ID] {
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

// drawStarts adds, when calls start in different places at different
// clocks (open and closed), a node for the call's start with an edge to each,
// labelled with a clock it was seen at.
func (x *explorer) drawStarts() {
	if len(x.starts) < 2 {
		return
	}
	x.res.Root = x.node("start:call", "start", "call", "")
	for i, n := range x.starts {
		x.edge(x.res.Root, n, "at "+x.startClocks[i].In(x.zone).Format("Mon 15:04"))
	}
}

// finish sorts what was found so output is stable. The clock a call started
// at is said only for apps that read it.
func (x *explorer) finish() {
	for i := range x.res.Problems {
		if x.readsClock && x.res.Problems[i].Path != "" {
			x.res.Problems[i].Clock = x.clocks[i].In(x.zone).Format("Mon 2006-01-02 15:04 MST")
		}
	}
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
