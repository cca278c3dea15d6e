package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/explore"
	"github.com/luaivr/luaivr/runtime/flowtest"
	"github.com/luaivr/luaivr/runtime/phone"
	"github.com/luaivr/luaivr/store"
)

// DevOptions configure the dev phone.
type DevOptions struct {
	// Line plays the page's calls; its engine also answers the webhooks, and
	// Dev reloads it when the folder changes.
	Line *phone.Line
	// Check returns what `luaivr check` finds in the script folder, in its
	// order (the command's own function, so the page shows the same text).
	Check func(ctx context.Context) []explore.Problem
	// Tests configures the flow tests the page runs (Dir is the folder).
	Tests flowtest.Options
	// Deadline is a handler's time per event while exploring for the graph.
	Deadline time.Duration
	// ReloadEvery is how often the folder is looked at (default 250 ms).
	ReloadEvery time.Duration
	Logger      *slog.Logger
}

// Dev is the dev phone: the pages of `luaivr dev` and what they show. Each
// app has one call at a time, played on the line. Checking the folder and
// exploring an app for its graph run in the background: an app that takes
// long to explore does not hold up the page.
type Dev struct {
	opts    DevOptions
	ctx     context.Context // the background work's
	changes *changes
	checks  chan struct{} // a check of the folder is wanted

	mu       sync.Mutex
	findings []explore.Problem
	checking bool                   // findings are of an older version of the folder
	notes    map[string]string      // app → what its last save did
	calls    map[string]*phone.Call // app → the page's call
	graphs   map[string]*graphJob   // app → its exploration, for this version of the folder
	tests    *testRun               // the last run of the flow tests
}

// graphJob is an app's exploration, done or under way.
type graphJob struct {
	done  bool
	res   *explore.Result
	err   error
	ready chan struct{} // closed when done (dev's jobs)
}

// NewDev returns the dev phone; Run keeps it current until ctx ends.
func NewDev(ctx context.Context, opts DevOptions) *Dev {
	if opts.ReloadEvery <= 0 {
		opts.ReloadEvery = 250 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &Dev{opts: opts, ctx: ctx, changes: newChanges(), checks: make(chan struct{}, 1), checking: true,
		notes: map[string]string{}, calls: map[string]*phone.Call{}, graphs: map[string]*graphJob{}}
	d.checks <- struct{}{}
	return d
}

// Run checks the folder and reloads it whenever it changes: the page's calls
// go on with the new version at their next event, or with the previous one
// when the new one is refused (the page says which).
func (d *Dev) Run() {
	go d.checkLoop()
	engine.Watch(d.ctx, d.opts.Line.Engine.Scripts().Dir, d.opts.ReloadEvery, d.reload)
}

// checkLoop runs check whenever one is wanted; saves made while it runs are
// checked together after.
func (d *Dev) checkLoop() {
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-d.checks:
		}
		findings := d.opts.Check(d.ctx)
		d.mu.Lock()
		d.findings, d.checking = findings, len(d.checks) > 0
		d.mu.Unlock()
		d.changes.bump()
	}
}

func (d *Dev) reload() {
	changed, refused := d.opts.Line.Engine.Reload(nil)
	if len(changed) == 0 && len(refused) == 0 {
		return
	}
	at := time.Now().Format(time.TimeOnly)
	d.mu.Lock()
	shown := d.graphs
	d.graphs, d.checking = map[string]*graphJob{}, true
	for _, name := range changed {
		app, removed := strings.CutSuffix(name, " (removed)")
		if removed {
			d.notes[app] = fmt.Sprintf("%s: %s.lua was removed; the call in progress finishes with the version it had", at, app)
		} else {
			d.notes[app] = fmt.Sprintf("%s: %s.lua reloaded; the call in progress goes on with the new version from its next event", at, app)
		}
	}
	for _, err := range refused {
		var se *engine.ScriptError
		if errors.As(err, &se) {
			app := strings.TrimSuffix(se.File, ".lua")
			d.notes[app] = fmt.Sprintf("%s: your edit is not served: %v", at, err)
		}
	}
	d.mu.Unlock()
	// The graphs the pages show are drawn again first, and check runs after
	// them: on a busy machine the two would share the time a save should
	// take to reach the page.
	var redraw []*graphJob
	for app := range shown {
		if d.opts.Line.Engine.Scripts().Apps[app] != nil {
			redraw = append(redraw, d.graphJob(app))
		}
	}
	go func() {
		for _, job := range redraw {
			select {
			case <-job.ready:
			case <-d.ctx.Done():
				return
			}
		}
		select {
		case d.checks <- struct{}{}:
		default: // one is wanted already
		}
	}()
	d.opts.Logger.Info("scripts reloaded", "changed", changed, "refused", len(refused))
	d.changes.bump()
}

// Handler serves the pages: / (the apps and their findings), /apps/{app}
// (phone, graph, tests), their JSON and actions, /events, /static/. They
// answer only requests addressed to an IP address or localhost: a web page
// elsewhere that points its own name at 127.0.0.1 (DNS rebinding) gets
// nothing.
func (d *Dev) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", static())
	mux.HandleFunc("GET /{$}", d.index)
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) { events(w, r, d.changes.next) })
	mux.HandleFunc("GET /apps/{app}", d.appPage)
	mux.HandleFunc("GET /apps/{app}/state", func(w http.ResponseWriter, r *http.Request) { d.reply(w, r, nil) })
	for _, action := range []string{"call", "press", "timeout", "parted", "hangup", "clock"} {
		mux.HandleFunc("POST /apps/{app}/"+action, d.act)
	}
	mux.HandleFunc("POST /apps/{app}/tests", d.runTests)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host != "localhost" && net.ParseIP(strings.Trim(host, "[]")) == nil {
			http.Error(w, "luaivr dev answers requests to an IP address or localhost, not "+r.Host+": open http://127.0.0.1:PORT/", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// appFindings is one app's part of what check finds.
type appFindings struct {
	App      string
	Findings []string
	Errors   int
}

// byApp groups the findings per app, apps by name; findings of no app
// (a number two apps claim) come first, under "".
func (d *Dev) byApp() (apps []appFindings, checking bool) {
	d.mu.Lock()
	findings, checking := d.findings, d.checking
	d.mu.Unlock()
	index := map[string]int{}
	var out []appFindings
	add := func(app string) int {
		if i, ok := index[app]; ok {
			return i
		}
		index[app] = len(out)
		out = append(out, appFindings{App: app})
		return len(out) - 1
	}
	for _, name := range d.opts.Line.Engine.Scripts().Names() {
		add(name)
	}
	for _, p := range findings {
		i := add(p.App)
		out[i].Findings = append(out[i].Findings, p.String())
		if p.Severity == explore.Error {
			out[i].Errors++
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].App < out[j].App })
	return out, checking
}

func (d *Dev) index(w http.ResponseWriter, r *http.Request) {
	version := d.changes.current()
	apps, checking := d.byApp()
	render(w, "index.html", map[string]any{"Dir": d.opts.Line.Engine.Scripts().Dir, "Apps": apps, "Checking": checking, "Version": version})
}

func (d *Dev) appPage(w http.ResponseWriter, r *http.Request) {
	app := param(r, "app")
	render(w, "app.html", map[string]any{"App": app, "Keys": strings.Split("1 2 3 4 5 6 7 8 9 * 0 #", " ")})
}

func render(w http.ResponseWriter, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

// act carries out what the caller did on the page, then answers the state.
func (d *Dev) act(w http.ResponseWriter, r *http.Request) {
	app := param(r, "app")
	action := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	ctx := r.Context()
	d.mu.Lock()
	call := d.calls[app]
	var err error
	switch action {
	case "call":
		if call != nil {
			call.Hangup(ctx)
		}
		if d.opts.Line.Engine.Scripts().Apps[app] == nil {
			err = fmt.Errorf("no app %q is served: see its findings on the app list", app)
			break
		}
		call, err = d.opts.Line.Start(ctx, phone.CallOptions{App: app})
		if err == nil {
			d.calls[app] = call
		}
	case "clock":
		var at time.Time
		at, err = time.ParseInLocation("2006-01-02T15:04", r.FormValue("at"), time.UTC)
		if err != nil {
			err = fmt.Errorf("the clock takes a date and time like 2026-01-05T10:00 (UTC): %v", err)
		} else {
			d.opts.Line.SetNow(at)
		}
	default:
		if call == nil {
			err = errors.New("no call: press Call first")
			break
		}
		switch action {
		case "press":
			err = call.Press(ctx, strings.Clone(r.FormValue("keys")))
		case "timeout":
			if call.Bridged() {
				err = errors.New("the caller is connected to another party: use \"other party hangs up\"")
			} else {
				err = call.Timeout(ctx)
			}
		case "parted":
			if !call.Bridged() {
				err = errors.New("the caller is not connected to another party")
			} else {
				err = call.Timeout(ctx)
			}
		case "hangup":
			call.Hangup(ctx)
		}
	}
	d.mu.Unlock()
	d.changes.bump() // see runTests
	d.reply(w, r, err)
}

// heardLine is one line of the transcript: as simulate prints it, and what
// the browser speaks.
type heardLine struct {
	Line  string `json:"line"`
	Kind  string `json:"kind"`
	Spoke string `json:"spoken,omitempty"`
}

type callState struct {
	Session    string          `json:"session"`
	Position   string          `json:"position"`
	Waiting    bool            `json:"waiting"`
	Bridged    bool            `json:"bridged"`
	Ended      bool            `json:"ended"`
	MaxDigits  int             `json:"max_digits"` // of the prompt waiting; 0: up to #
	Transcript []heardLine     `json:"transcript"`
	Vars       json.RawMessage `json:"vars"`
	KV         []kvEntry       `json:"kv"`
}

type kvEntry struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

type state struct {
	Version   uint64       `json:"version"`
	App       string       `json:"app"`
	Served    bool         `json:"served"`
	Findings  []string     `json:"findings"`
	Checking  bool         `json:"checking"` // findings are of an older version
	Note      string       `json:"note,omitempty"`
	Error     string       `json:"error,omitempty"`
	Clock     string       `json:"clock"`
	Call      *callState   `json:"call,omitempty"`
	Graph     string       `json:"graph"`
	Exploring bool         `json:"exploring"` // the graph is being drawn
	Tests     *testRun     `json:"tests,omitempty"`
	Untested  []untestedOp `json:"untested,omitempty"`
}

// kvShown bounds the app's kv on the page.
const kvShown, kvShownBytes = 100, 64 << 10

func (d *Dev) reply(w http.ResponseWriter, r *http.Request, actErr error) {
	app := param(r, "app")
	ctx := r.Context()
	st := state{Version: d.changes.current(), App: app, Served: d.opts.Line.Engine.Scripts().Apps[app] != nil,
		Clock: d.opts.Line.Now().UTC().Format("2006-01-02T15:04")}
	if actErr != nil {
		st.Error = actErr.Error()
	}
	apps, checking := d.byApp()
	st.Checking = checking
	for _, f := range apps {
		if f.App == app {
			st.Findings = f.Findings
		}
	}
	d.mu.Lock()
	st.Note, st.Tests = d.notes[app], d.tests
	call := d.calls[app]
	var heard []phone.Heard
	if call != nil {
		st.Call = &callState{Session: call.Session(), Position: call.Position(), Waiting: call.Waiting() != nil,
			Bridged: call.Bridged(), Ended: call.Ended()}
		if p := call.Waiting(); p != nil {
			if n, ok := p.Params["maxDigits"].(float64); ok {
				st.Call.MaxDigits = int(n)
			}
		}
		heard = append(heard, call.Heard...)
	}
	d.mu.Unlock()
	if st.Call != nil {
		for _, h := range heard {
			l := heardLine{Line: h.String(), Kind: h.Kind}
			if h.Kind == phone.Say || h.Kind == phone.Prompt {
				l.Spoke = h.Text
			}
			st.Call.Transcript = append(st.Call.Transcript, l)
		}
		if s, ok, err := d.opts.Line.Store.Session(ctx, st.Call.Session); err == nil && ok {
			st.Call.Vars = s.Vars
		}
		if kv, ok := d.opts.Line.Store.(store.KV); ok {
			pairs, _ := kv.KVList(ctx, app, "", kvShown, kvShownBytes)
			for _, p := range pairs {
				st.Call.KV = append(st.Call.KV, kvEntry{Key: p.Key, Value: p.Value})
			}
		}
	}
	if st.Tests != nil {
		st.Untested = st.Tests.Untested[app]
	}
	if st.Served {
		res, done, err := d.graph(app)
		switch {
		case !done:
			st.Exploring = true
		case err != nil:
			st.Error = strings.TrimSpace(st.Error + "\ngraph: " + err.Error())
		default:
			st.Graph = drawing(res, heard, st.Call != nil && st.Call.Ended, st.Untested)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(st)
}

// graph is app's exploration as `luaivr graph` does it, once per version of
// the folder; done is false while it is under way (the pages hear when it
// is done).
func (d *Dev) graph(app string) (res *explore.Result, done bool, err error) {
	job := d.graphJob(app)
	d.mu.Lock()
	defer d.mu.Unlock()
	return job.res, job.done, job.err
}

// graphJob returns app's exploration for this version of the folder,
// starting it when none is under way.
func (d *Dev) graphJob(app string) *graphJob {
	d.mu.Lock()
	defer d.mu.Unlock()
	job := d.graphs[app]
	if job == nil {
		job = &graphJob{ready: make(chan struct{})}
		d.graphs[app] = job
		scripts := d.opts.Line.Engine.Scripts()
		go func() {
			res, err := explore.Explore(d.ctx, scripts, app, explore.Options{Deadline: engine.Options{Deadline: d.opts.Deadline}})
			d.mu.Lock()
			job.done, job.res, job.err = true, res, err
			d.mu.Unlock()
			close(job.ready)
			d.changes.bump()
		}()
	}
	return job
}

// drawing is the graph command's Mermaid with the call on it: the nodes the
// caller reached (class visited) and the edges between them (solid blue), the
// prompt waiting now (class current), and the menu options no flow test
// pressed (dashed red).
func drawing(res *explore.Result, heard []phone.Heard, ended bool, untested []untestedOp) string {
	opts := explore.GraphOptions{NoOther: true}
	var b strings.Builder
	res.Mermaid(&b, opts)
	ids, edges := res.Drawn(opts)
	// reached is the node a moment of the call is at, by Node.ID: a prompt
	// (by its menu, or its text when it has none), a transfer, or an end (by
	// the words said before the hangup).
	reached := func(i int) string {
		h := heard[i]
		for _, n := range res.Nodes {
			switch {
			case h.Kind == phone.Prompt && n.Kind == "prompt" && (h.Menu != "" && n.Menu == h.Menu || n.Label == h.Text),
				h.Kind == phone.Bridge && n.Kind == "bridge" && n.Label == h.Text:
				return n.ID
			case h.Kind == phone.Hangup && n.Kind == "end":
				said := ""
				if i > 0 && heard[i-1].Kind == phone.Say {
					said = heard[i-1].Text
				}
				if n.Label == said {
					return n.ID
				}
			}
		}
		return ""
	}
	b.WriteString("  classDef visited fill:#e3f2fd,stroke:#1565c0,stroke-width:2px\n")
	b.WriteString("  classDef current fill:#ffe082,stroke:#e65100,stroke-width:4px\n")
	current, seen, taken := "", map[string]bool{}, map[[2]string]bool{}
	for i := range heard {
		id := reached(i)
		if id == "" {
			continue
		}
		if current != "" {
			taken[[2]string{current, id}] = true
		}
		if !seen[id] {
			seen[id] = true
			fmt.Fprintf(&b, "  class %s visited\n", ids[id])
		}
		current = id
	}
	if current != "" && !ended && heard[len(heard)-1].Kind != phone.Hangup {
		fmt.Fprintf(&b, "  class %s current\n", ids[current])
	}
	menuOf := map[string]string{}
	for _, n := range res.Nodes {
		menuOf[n.ID] = n.Menu
	}
	var dashed, path []string
	for i, e := range edges {
		if taken[[2]string{e.From, e.To}] {
			path = append(path, fmt.Sprint(i))
			continue
		}
		for _, u := range untested {
			if menuOf[e.From] == u.Menu && slices.Contains(e.Keys, u.Key) {
				dashed = append(dashed, fmt.Sprint(i))
				break
			}
		}
	}
	if len(dashed) > 0 {
		fmt.Fprintf(&b, "  linkStyle %s stroke:#c62828,stroke-width:3px,stroke-dasharray:6 4\n", strings.Join(dashed, ","))
	}
	if len(path) > 0 {
		fmt.Fprintf(&b, "  linkStyle %s stroke:#0d47a1,stroke-width:4px\n", strings.Join(path, ","))
	}
	return b.String()
}

// testRun is the outcome of the flow tests run from the page.
type testRun struct {
	At       string                  `json:"at"`
	Passed   int                     `json:"passed"`
	Failed   int                     `json:"failed"`
	Output   string                  `json:"output"` // as `luaivr test` prints it
	Untested map[string][]untestedOp `json:"-"`
}

// untestedOp is a menu option no flow test pressed.
type untestedOp struct {
	Menu  string `json:"menu"`
	Key   string `json:"key"`
	Where string `json:"where"`
}

func (d *Dev) runTests(w http.ResponseWriter, r *http.Request) {
	var out bytes.Buffer
	opts := d.opts.Tests
	opts.Out = &out
	res, err := flowtest.Run(opts)
	run := &testRun{At: time.Now().Format(time.TimeOnly), Passed: res.Passed, Failed: res.Failed, Untested: map[string][]untestedOp{}}
	if err != nil {
		fmt.Fprintln(&out, err)
	}
	apps := make([]string, 0, len(res.Unreached))
	for app := range res.Unreached {
		apps = append(apps, app)
	}
	sort.Strings(apps)
	for _, app := range apps {
		ops := res.Unreached[app]
		if len(ops) > 0 {
			fmt.Fprintf(&out, "menu options no test pressed in %s: %s\n", app, strings.Join(ops, ", "))
		}
		for _, op := range ops {
			if u, ok := parseUnreached(op); ok {
				run.Untested[app] = append(run.Untested[app], u)
			}
		}
	}
	run.Output = out.String()
	d.mu.Lock()
	d.tests = run
	d.mu.Unlock()
	// Every page shows the run, this one included: a state the page asked
	// for while the tests ran (after a save, say) may be answered with the
	// run before and reach it after this reply, which the page then drops
	// as older; the bump makes it ask again.
	d.changes.bump()
	d.reply(w, r, nil)
}

// parseUnreached reads flowtest's "menu[key] (file:line)".
func parseUnreached(s string) (untestedOp, bool) {
	at := strings.LastIndex(s, " (")
	if at < 0 || !strings.HasSuffix(s, ")") {
		return untestedOp{}, false
	}
	head := s[:at]
	open := strings.LastIndexByte(head, '[')
	if open < 0 || !strings.HasSuffix(head, "]") {
		return untestedOp{}, false
	}
	return untestedOp{Menu: head[:open], Key: head[open+1 : len(head)-1], Where: s[at+2 : len(s)-1]}, true
}
