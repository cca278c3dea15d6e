package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/sandbox"
	"github.com/luaivr/luaivr/stdlib/ivr"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Handler names, as scripts define them.
const (
	OnCall    = "on_call"
	OnDTMF    = "on_dtmf"
	OnTimeout = "on_timeout"
	OnStatus  = "on_status"
	OnEnd     = "on_end"
)

// Handlers are the handler names, in the order of an event's life.
var Handlers = []string{OnCall, OnDTMF, OnTimeout, OnStatus, OnEnd}

// App is one script of the folder, compiled once and probed: what its top level
// declares is known before any call arrives.
type App struct {
	Name string // file stem: restaurant.lua → restaurant
	File string // path relative to the script folder
	// Handlers maps each handler the script defines to its Lua type ("function",
	// or "table"/"string" for on_call = <menu>).
	Handlers map[string]string
	// Numbers are the called numbers the script claims (global `numbers`), digits only.
	Numbers []string
	// Fallback is the script's global `fallback`, checked at load; nil when the
	// script has none and the server's is used.
	Fallback *callflow.Reply
	// Menus are what the script declares with ivr.menu, in order.
	Menus []MenuInfo
	// Positions are the ivr.on position ids the script declares, sorted.
	Positions []string

	// Sum is the content hash of the script's source.
	Sum [sha256.Size]byte
	// ID identifies this version of the app: the content hash of its script
	// and of every module of the folder, since a require may come at any
	// event and name any module. A change in either is a new version.
	ID      [sha256.Size]byte
	version string // Version: ID's first bytes in hex, worked out once (every event names it)

	// pure: its top level reads nothing from outside the script (see
	// outside), so running it again builds the same values. Only then are
	// answers worked out, and events run on warm states (warm.go).
	pure bool
	// readsAtEvents: a warm state's own run of the top level read from
	// outside, which the probe's run did not (a top level whose course
	// depends on pairs order or an address): it is not pure after all, and
	// every event runs it again from then on (see warm).
	readsAtEvents atomic.Bool
	// Reads is what made the top level not pure, zero when it is.
	Reads Outside
	// sensitive are the positions the script declares sensitive
	// (ivr.Module.SensitivePositions): digits answered there are redacted.
	sensitive map[string]bool
	// answers are the replies its menu tree gives without Lua; nil unless
	// pure. fingerprint is theirs (ivr.Answers.Fingerprint), and
	// answersDiffer says another run of the top level (the second at load,
	// or a warm state's) built another tree or other replies (an address in
	// a prompt): events are answered by Lua from then on (see runAgain,
	// warmState).
	answers       *ivr.Answers
	fingerprint   []byte
	answersDiffer atomic.Bool

	proto *lua.FunctionProto
	set   *Scripts
}

// newApp is an app before its probe: what its source and folder say.
func newApp(name, file string, sum, id [sha256.Size]byte, proto *lua.FunctionProto, set *Scripts) *App {
	return &App{Name: name, File: file, Sum: sum, ID: id, version: hex.EncodeToString(id[:8]), proto: proto, set: set}
}

// warm reports whether the app's events run on warm states and its menu
// answers are worked out at load: its top level is pure, as far as every
// run of it so far showed.
func (a *App) warm() bool { return a.pure && !a.readsAtEvents.Load() }

// answering reports whether the app's menu answers worked out at load are
// served: while its top level is pure and every warm state's run of it
// built the same answers.
func (a *App) answering() bool { return a.answers != nil && a.warm() && !a.answersDiffer.Load() }

// encodeAnswer is how a reply worked out at load is encoded, as the script's
// path encodes it.
func encodeAnswer(r callflow.Reply) ([]byte, error) { return r.MarshalJSON() }

// IsPosition reports whether id is a position of the app's menu tree (a menu
// or an ivr.on position): digits answered there go to the tree.
func (a *App) IsPosition(id string) bool {
	if id == "" {
		return false
	}
	for _, m := range a.Menus {
		if m.ID == id {
			return true
		}
	}
	return slices.Contains(a.Positions, id)
}

// MenuInfo is a menu as the script declares it.
type MenuInfo struct {
	ID     string
	Prompt string
	Keys   []string // the keys it offers, sorted
	Where  string   // script:line
	Tries  int      // wrong or missing answers in a row it takes before on_too_many (0: no limit)
}

// Scripts is one load of a script folder: its apps and the modules they may require.
type Scripts struct {
	Dir  string
	Apps map[string]*App
	// Retired are apps whose file was removed: they no longer take new calls,
	// but finish the calls they were serving.
	Retired  map[string]*App
	modules  map[string]*lua.FunctionProto // "lib.hours" → code
	libSum   [sha256.Size]byte             // of every non-app module, to see a change in any
	byNumber map[string]*App
	// sources are the files of this load, compiled: the next load compiles
	// only the files whose content changed.
	sources map[string]source
	// refused are the app versions that failed to load or to pass vet: the
	// next load of the same source with the same modules refuses them again
	// without running or reporting them.
	refused map[string]refusal
	// loading is set while serve's first load is under way (see Engine.Scripts).
	loading *loading
	// rolledBack are the apps Engine.Rollback serves an earlier version of,
	// until their file changes.
	rolledBack map[string]rollback
}

// RolledBack reports whether the app serves an earlier version than its
// file's, by Engine.Rollback, until the file changes.
func (s *Scripts) RolledBack(name string) bool {
	_, ok := s.rolledBack[name]
	return ok
}

// Refused reports whether the app's file, as it is now, is a version that was
// refused (it failed to load or to pass vet): while it is, the app serves its
// previous version, if any.
func (s *Scripts) Refused(name string) bool {
	_, ok := s.refused[name]
	return ok
}

// source is one file of the folder, compiled.
type source struct {
	sum   [sha256.Size]byte // of the content, or of why it could not be read
	proto *lua.FunctionProto
	err   error // why it cannot be used
}

// refusal is why one version of an app is not served.
type refusal struct {
	sum, libSum [sha256.Size]byte
	err         error
}

// Module resolves require(name) within the folder.
func (s *Scripts) Module(name string) (*lua.FunctionProto, error) {
	if p, ok := s.modules[name]; ok {
		return p, nil
	}
	return nil, sandbox.ErrNoModule
}

// Names returns the app names in order.
func (s *Scripts) Names() []string {
	names := make([]string, 0, len(s.Apps))
	for n := range s.Apps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Loading names the apps of a Scan that are not loaded yet, in order.
func (s *Scripts) Loading() []string {
	var names []string
	for rel, src := range s.sources {
		if name := strings.TrimSuffix(rel, ".lua"); IsApp(rel) && src.err == nil && s.Apps[name] == nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// ScriptError is a script that cannot be served, with where and why.
type ScriptError struct {
	File string
	Line int // 0 when the problem is not at one line
	Err  error
}

func (e *ScriptError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return e.File + ": " + e.Err.Error()
}
func (e *ScriptError) Unwrap() error { return e.Err }

// IsApp reports whether a file in the script folder is an app: a top-level
// *.lua file that is not a flow test.
func IsApp(rel string) bool {
	return !strings.ContainsRune(rel, '/') && strings.HasSuffix(rel, ".lua") && !strings.HasSuffix(rel, "_test.lua")
}

// The bounds of loading. An app's top level runs again at the start of every
// event, under the event's deadline, so it must be quick; at load it runs once
// more to learn what the app declares, in parallel, one app per core.
const (
	// firstTry is each app's first run: a folder of good apps loads in one
	// pass however many slow ones it also holds, since those are put off to
	// a second pass.
	firstTry = 50 * time.Millisecond
	// topLevelBudget is the second run, for the apps that needed more. Past
	// it, or past twice it in work the deadline cannot interrupt, the app is
	// refused.
	topLevelBudget = time.Second
	// loadBudget bounds one load of the folder: an app whose run has not
	// started by then is left for the next load.
	loadBudget = 10 * time.Second
)

// Load compiles every .lua file under dir and probes each app. Apps that fail
// are left out and reported; the rest are served. A number claimed by two
// apps goes to the first by name; the other is refused.
func Load(dir string) (*Scripts, []error) {
	s, errs := load(dir, nil, nil)
	return s, append(errs, s.claimNumbers(nil)...)
}

// Scan compiles every .lua file under dir without running any: serve answers
// calls while its apps load (Engine.Reload loads them; Loading names them
// until then).
func Scan(dir string) (*Scripts, []error) {
	s, _, errs := scan(dir, nil)
	s.loading = &loading{done: make(chan struct{}), until: time.Now().Add(loadWait)}
	return s, errs
}

// load reads the folder again after prev (nil the first time). It compiles
// only the files that changed and runs only the apps whose source or modules
// changed: an app prev served is the same *App, and a version prev refused is
// refused again, unreported. watch, when set, is told how the load goes.
func load(dir string, prev *Scripts, watch *progress) (*Scripts, []error) {
	s, apps, errs := scan(dir, prev)
	var todo []*App
	for _, rel := range apps {
		name := strings.TrimSuffix(rel, ".lua")
		sum := s.sources[rel].sum
		app := newApp(name, rel, sum, versionID(sum, s.libSum), s.modules[name], s)
		if prev != nil {
			if old := prev.Apps[name]; old != nil && old.ID == app.ID {
				s.Apps[name] = old
				continue
			}
			if rb, ok := prev.rolledBack[name]; ok && rb.file.ID == app.ID { // the file a rollback set aside, unchanged
				s.Apps[name] = rb.file
				continue
			}
			if r, ok := prev.refused[name]; ok && r.sum == app.Sum && r.libSum == s.libSum {
				s.refused[name] = r
				continue
			}
		}
		todo = append(todo, app)
	}
	for _, p := range probeAll(todo, watch) {
		switch {
		case p.app != nil:
			s.Apps[p.app.Name] = p.app
		case p.final:
			s.refused[p.name] = refusal{sum: p.sum, libSum: s.libSum, err: p.err}
			fallthrough
		default:
			if joined, ok := p.err.(interface{ Unwrap() []error }); ok { // each mistake of the menu tree at its line
				errs = append(errs, joined.Unwrap()...)
			} else {
				errs = append(errs, p.err)
			}
		}
	}
	return s, errs
}

// scan reads and compiles every .lua file under dir, reusing prev's work on
// files whose content is the same, and reports the files that fail, unless
// they failed the same way in prev. Files are read through the folder's
// resolved path: a link that leads out of the folder is refused, so no app
// and no require can reach outside it. It returns the apps that compiled.
func scan(dir string, prev *Scripts) (s *Scripts, apps []string, errs []error) {
	s = &Scripts{Dir: dir, Apps: map[string]*App{}, modules: map[string]*lua.FunctionProto{},
		sources: map[string]source{}, refused: map[string]refusal{}}
	libs := sha256.New()
	f, err := openFolder(dir)
	if err != nil {
		return s, nil, []error{fmt.Errorf("script folder %s: %w", dir, err)}
	}
	defer f.root.Close()
	walkErr := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if !strings.HasSuffix(rel, ".lua") || strings.HasSuffix(rel, "_test.lua") {
			return nil
		}
		src := f.compile(rel, prev)
		s.sources[rel] = src
		if !IsApp(rel) {
			fmt.Fprintf(libs, "%s\x00%x\n", rel, src.sum)
		}
		if src.err != nil {
			if old, ok := prev.source(rel); !ok || old.sum != src.sum {
				errs = append(errs, src.err)
			}
			return nil
		}
		s.modules[strings.ReplaceAll(strings.TrimSuffix(rel, ".lua"), "/", ".")] = src.proto
		if IsApp(rel) {
			apps = append(apps, rel)
		}
		return nil
	})
	copy(s.libSum[:], libs.Sum(nil))
	if walkErr != nil {
		errs = append(errs, fmt.Errorf("script folder %s: %w", dir, walkErr))
	}
	return s, apps, errs
}

// versionID is an app version's identity: its script's sum and the sum of
// the folder's modules.
func versionID(script, modules [sha256.Size]byte) [sha256.Size]byte {
	return sha256.Sum256(append(script[:], modules[:]...))
}

func (s *Scripts) source(rel string) (source, bool) {
	if s == nil {
		return source{}, false
	}
	src, ok := s.sources[rel]
	return src, ok
}

// folder reads files of a script folder, and only of it.
type folder struct {
	dir, real string // as given, and with every link resolved
	root      *os.Root
}

func openFolder(dir string) (*folder, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(real)
	if err != nil {
		return nil, err
	}
	return &folder{dir: dir, real: real, root: root}, nil
}

// read reads a file of the folder by its resolved path. A link may point
// anywhere inside the folder, but not out of it; os.Root refuses a link
// changed to point out between the check and the read.
func (f *folder) read(rel string) ([]byte, error) {
	real, err := filepath.EvalSymlinks(filepath.Join(f.dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	inside, err := filepath.Rel(f.real, real)
	if err != nil || inside == ".." || strings.HasPrefix(inside, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("it is a link to %s, outside the script folder: apps and the modules they require are read only from inside it (copy the file into the folder instead)", real)
	}
	file, err := f.root.Open(inside)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	// Read one byte past the limit, so that compileSource can say how far
	// over a file is without a huge file being read whole.
	return io.ReadAll(io.LimitReader(file, MaxScriptBytes+1))
}

// compile reads and compiles one file, or takes prev's compilation of the
// same content.
func (f *folder) compile(rel string, prev *Scripts) source {
	content, err := f.read(rel)
	if err != nil {
		return source{sum: sha256.Sum256([]byte(err.Error())), err: &ScriptError{File: rel, Err: err}}
	}
	sum := sha256.Sum256(content)
	if old, ok := prev.source(rel); ok && old.sum == sum {
		return old
	}
	proto, err := compileSource(content, rel)
	return source{sum: sum, proto: proto, err: err}
}

// topLevelsRun counts the top levels run at load, so that a test can prove
// that a load runs only what changed.
var topLevelsRun atomic.Int64

// probed is how one app's load ended.
type probed struct {
	name string
	sum  [sha256.Size]byte
	app  *App  // nil when it did not load
	err  error // why not
	// final is set when the failure is the app's own, so that the same
	// version is not run again; a load out of time is tried again next time.
	final bool
}

// probeAll runs the top level of apps, one per core at a time: first each
// within firstTry, then those that needed more within topLevelBudget, all
// within loadBudget. A run still stuck after its first try is waited for in
// the second pass, not run twice. watch, when set, is told of each app that
// loads, from the goroutine that loaded it, and of the end of the first pass.
func probeAll(apps []*App, watch *progress) []probed {
	out := make([]probed, len(apps))
	stuck := make([]*run, len(apps)) // first runs still going at the end of their try
	until := time.Now().Add(loadBudget)
	pass := func(todo []int, budget time.Duration) (slow []int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		next := make(chan int)
		for range min(runtime.GOMAXPROCS(0), len(todo)) {
			wg.Go(func() {
				for i := range next {
					t := apps[i]
					out[i] = probed{name: t.Name, sum: t.Sum}
					if stuck[i] == nil && time.Now().After(until) {
						out[i].err = &ScriptError{File: t.File, Err: fmt.Errorf("not loaded yet: loading the folder took all of its %s; it is tried again at the next reload", loadBudget)}
						continue
					}
					r := stuck[i]
					if r == nil {
						r = t.start(budget)
					}
					res, over := r.wait()
					if over && res.timedOut && r.budget < budget { // slow in Go work, then stopped: run it again
						r = t.start(budget)
						res, over = r.wait()
					}
					switch {
					case over && res.err == nil:
						out[i].app = r.app
						if watch != nil {
							watch.loaded(r.app)
						}
					case budget < topLevelBudget && (!over || res.timedOut):
						if !over {
							stuck[i] = r
						}
						mu.Lock()
						slow = append(slow, i)
						mu.Unlock()
					default:
						out[i].err, out[i].final = res.err, true
						if !errors.As(res.err, new(*ScriptError)) {
							out[i].err = &ScriptError{File: t.File, Err: res.err}
						}
					}
				}
			})
		}
		for _, i := range todo {
			next <- i
		}
		close(next)
		wg.Wait()
		sort.Ints(slow)
		return slow
	}
	all := make([]int, len(apps))
	for i := range all {
		all[i] = i
	}
	slow := pass(all, firstTry)
	if watch != nil {
		watch.tried()
	}
	pass(slow, topLevelBudget)
	return out
}

// progress is told how a load goes: serve's first load serves each app as it
// loads, and stops holding events once every app had its first try.
type progress struct {
	loaded func(*App)
	tried  func()
}

// run is one run of an app's top level at load, in a goroutine of its own,
// so that work the deadline cannot interrupt (Go code such as a huge pattern
// match) can be given up while it ends on its own.
type run struct {
	app    *App // a copy of its own: a run given up may still write to it
	budget time.Duration
	began  time.Time
	done   chan runResult
}

type runResult struct {
	err      error
	timedOut bool // the budget ended it, or it is still going past twice the budget
}

// start runs t's top level within budget.
func (t *App) start(budget time.Duration) *run {
	r := &run{app: newApp(t.Name, t.File, t.Sum, t.ID, t.proto, t.set),
		budget: budget, began: time.Now(), done: make(chan runResult, 1)}
	go func() {
		stopped, stop := context.WithCancelCause(context.Background())
		defer stop(nil)
		defer loadGuard().watch(stop)() // a top level that piles up memory is stopped as a handler is
		ctx, cancel := context.WithTimeout(stopped, budget)
		defer cancel()
		err := r.app.probe(ctx)
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			where := ""
			if w := scriptLine.FindString(err.Error()); w != "" {
				where = " (at " + strings.TrimSuffix(w, ":") + ")"
			}
			r.done <- runResult{fmt.Errorf("its top level ran past the %s it may take at load%s: it runs again at every event, within the event's deadline, so it must be quick (an endless loop?)", budget, where), true}
			return
		}
		if err == nil && r.app.pure {
			// The second run has a budget of its own: wait allows the two.
			again, cancel := context.WithTimeout(stopped, budget)
			defer cancel()
			r.app.runAgain(again)
		}
		r.done <- runResult{err: err}
	}()
	return r
}

// wait waits for the run until twice topLevelBudget after it began when it
// had the whole budget, else twice its own budget; over is false when it is
// still going then.
func (r *run) wait() (res runResult, over bool) {
	limit := 2 * r.budget
	if r.budget < topLevelBudget && time.Since(r.began) >= limit { // waited for again in the second pass
		limit = 2 * topLevelBudget
	}
	t := time.NewTimer(time.Until(r.began.Add(limit)))
	defer t.Stop()
	select {
	case res = <-r.done:
		r.done <- res // for a second wait
		return res, true
	case <-t.C:
		return runResult{fmt.Errorf("its top level did not return within %s: stuck in Go code that does not stop at the deadline (a store or network call that hangs)", limit), true}, false
	}
}

// claimNumbers gives each number to one app and refuses the others that
// claim it, since a number's calls can go to one app only: the app that
// answered it in old keeps it, so that a new app never takes another's calls;
// otherwise the first by name. A refused app's version in old serves on; an
// app old did not serve is not served.
func (s *Scripts) claimNumbers(old *Scripts) []error {
	var errs []error
	for {
		owner := map[string]*App{}
		if old != nil {
			for n, was := range old.byNumber {
				if now := s.Apps[was.Name]; now != nil && slices.Contains(now.Numbers, n) {
					owner[n] = now
				}
			}
		}
		var loser, holder *App
		var number string
	apps:
		for _, name := range s.Names() {
			app := s.Apps[name]
			for _, n := range app.Numbers {
				if o, taken := owner[n]; taken && o != app {
					loser, holder, number = app, o, n
					break apps
				}
				owner[n] = app
			}
		}
		if loser == nil {
			s.byNumber = owner
			return errs
		}
		what := loser.Name + " is not served"
		if prev := old.served(loser.Name); prev != nil && prev != loser {
			s.Apps[loser.Name] = prev
			what = "its previous version serves on"
		} else {
			delete(s.Apps, loser.Name)
		}
		errs = append(errs, &refusedError{&ScriptError{File: loser.File, Err: fmt.Errorf(
			"number +%s is answered by %s (%s), and a number has one app: remove it from one of them", number, holder.Name, holder.File)}, what})
	}
}

func (s *Scripts) served(name string) *App {
	if s == nil {
		return nil
	}
	return s.Apps[name]
}

// Compile compiles a Lua file; name is how errors and tracebacks call it.
// Failures are *ScriptError, with the line of a syntax error.
func Compile(path, name string) (*lua.FunctionProto, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &ScriptError{File: name, Err: err}
	}
	return compileSource(src, name)
}

// MaxScriptBytes bounds a script or module. gopher-lua compiles in time that
// grows with the square of a file's size (a list of 100,000 numbers, 589 KB,
// took 37 s; 64 KiB of them 0.7 s), and every file is compiled before serve
// listens and again whenever it changes. The shipped apps are 3 KB.
const MaxScriptBytes = 64 << 10

func compileSource(src []byte, name string) (*lua.FunctionProto, error) {
	if len(src) > MaxScriptBytes {
		return nil, &ScriptError{File: name, Err: fmt.Errorf("the file is over the %d KiB a script or module may be (compiling a larger one would hold up loading): keep data in kv, or split the code into modules under lib/", MaxScriptBytes>>10)}
	}
	proto, err := sandbox.Compile(bytes.NewReader(src), name)
	var perr *parse.Error
	if errors.As(err, &perr) {
		near := ""
		if perr.Token != "" {
			near = fmt.Sprintf(" near '%s'", perr.Token)
		}
		return nil, &ScriptError{File: name, Line: max(perr.Pos.Line, 0), Err: fmt.Errorf("%s%s", perr.Message, near)}
	} else if err != nil {
		return nil, &ScriptError{File: name, Err: err}
	}
	return proto, nil
}

// probe runs the script's top level once in a scratch state to learn what it
// declares, and checks its fallback against 8x8's rules. Nothing a script
// does may crash the server: a panic here is the script's failure to load.
func (a *App) probe(ctx context.Context) (err error) {
	topLevelsRun.Add(1)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("loading the script failed: %v", p)
		}
	}()
	mod := ivr.NewAtLoad()
	L, reads, err := a.runTopLevel(ctx, loadLibs.open(mod, a.Name, discardLogger))
	if err != nil {
		return fmt.Errorf("running the script's top level: %s", luaError(ctx, err))
	}
	defer L.Close()
	if ps := mod.Loaded(); len(ps) > 0 {
		return errors.Join(treeErrors(a, ps)...)
	}
	a.Handlers = map[string]string{}
	for _, h := range Handlers {
		v := L.G.Global.RawGetString(h) // raw: a script's own _G metatable must not run here
		switch v.Type() {
		case lua.LTNil:
			continue
		case lua.LTFunction:
		case lua.LTTable, lua.LTString:
			if h != OnCall {
				return fmt.Errorf("%s must be a function, got a %s", h, v.Type())
			}
		default:
			return fmt.Errorf("%s must be a function, got a %s", h, v.Type())
		}
		a.Handlers[h] = v.Type().String()
	}
	for _, m := range mod.Menus() {
		a.Menus = append(a.Menus, MenuInfo{ID: m.ID, Prompt: m.Prompt, Keys: m.Keys(), Where: m.Where, Tries: mod.Tries(m)})
	}
	a.Positions = mod.Positions()
	if err := a.readNumbers(L.G.Global.RawGetString("numbers")); err != nil {
		return err
	}
	a.sensitive = mod.SensitivePositions()
	a.Reads = reads
	if a.pure = a.Reads == (Outside{}); a.pure {
		a.answers = mod.Answers(L.G.Global.RawGetString(OnCall), encodeAnswer)
		a.fingerprint = a.answers.Fingerprint()
	}
	if fb := L.G.Global.RawGetString("fallback"); fb != lua.LNil {
		r, err := mod.Reply(L, fb)
		if err == nil {
			err = callflow.Check(r.Callflow, callflow.AsReply)
		}
		if err != nil {
			return fmt.Errorf("fallback: %w", err)
		}
		a.Fallback = &r
	}
	return nil
}

// runTopLevel runs the app's top level under ctx in a new state with libs,
// the outside ones watched for that run only (watchOutside), and gives what
// it read from outside (zero: nothing). Every run of a top level goes
// through it: the probe's and the second at load, and each warm state's.
// The caller closes L.
func (a *App) runTopLevel(ctx context.Context, libs []sandbox.Lib) (*lua.LState, Outside, error) {
	watch := &outsideWatch{active: true}
	L := sandbox.New(a.set, watchOutside(libs, watch)...)
	L.SetContext(ctx)
	err := callProtected(L, func(L *lua.LState) {
		L.Push(L.NewFunctionFromProto(a.proto))
		L.Call(0, 0)
	})
	watch.active = false
	if err != nil {
		L.Close()
		return nil, Outside{}, err
	}
	return L, watch.read(L), nil
}

// runAgain runs the top level of an app the probe found pure a second
// time, in a state of its own: a top level may read nothing from outside
// and still take another course, or build other values, in another run (an
// address in a prompt), and a second run shows most of them before any
// event is answered (warmState compares every later run). One that reads
// from outside now is not pure; one that builds other answers, or does not
// finish this time, keeps none worked out at load.
func (a *App) runAgain(ctx context.Context) {
	mod := ivr.New()
	L, reads, err := a.runTopLevel(ctx, loadLibs.open(mod, a.Name, discardLogger))
	if err != nil {
		a.answersDiffer.Store(true)
		return
	}
	defer L.Close()
	mod.Loaded()
	if reads != (Outside{}) {
		a.pure, a.Reads, a.answers, a.fingerprint = false, reads, nil, nil
		return
	}
	if !bytes.Equal(mod.Answers(L.G.Global.RawGetString(OnCall), encodeAnswer).Fingerprint(), a.fingerprint) {
		a.answersDiffer.Store(true)
	}
}

// outside are the libraries through which a top level can build something
// else each time it runs (the clock, kv, the network) or do something each
// time (log lines).
var outside = []string{"time", "kv", "http", "vcc", "log", "print"}

// Outside is a top level's first read from outside its script: the call of
// an outside library or the random draw ("time.now", "math.random"), and
// the script and line that made it.
type Outside struct{ What, Where string }

// outsideWatch is what watchOutside notes: while active, the first call of
// an outside library.
type outsideWatch struct {
	active bool
	first  Outside
}

// read is the first read from outside the watched run of a top level in L
// made: an outside call, else a random draw; zero for none.
func (w *outsideWatch) read(L *lua.LState) Outside {
	if w.first != (Outside{}) {
		return w.first
	}
	what, where := sandbox.Random(L)
	return Outside{what, where}
}

// watchOutside is libs with every function of the outside libraries set to
// note, in w, the first that ran while w is active. A top level that called
// none of them and drew no random number is pure: running it again for an
// event builds the same tree, and the answers worked out from this run are
// the ones the event would get. Naming a library is not reading from it: a top level
// that keeps `local time, log = time, log`, or `local now = time.now`, for
// its handlers stays pure (measured: a 300-line app with that first line
// went from a new state and its top level for every event to warm states).
func watchOutside(libs []sandbox.Lib, w *outsideWatch) []sandbox.Lib {
	watched := slices.Clone(libs)
	for i, lib := range watched {
		if !slices.Contains(outside, lib.Name) {
			continue
		}
		open := lib.Open
		watched[i].Open = func(L *lua.LState) lua.LValue {
			mark := func(what string, v lua.LValue) lua.LValue {
				f, ok := v.(*lua.LFunction)
				if !ok || f.GFunction == nil {
					return v
				}
				return L.NewFunction(func(L *lua.LState) int {
					if w.active && w.first == (Outside{}) {
						w.first = Outside{what, sandbox.Where(L)}
					}
					return f.GFunction(L)
				})
			}
			v := open(L)
			t, ok := v.(*lua.LTable)
			if !ok {
				return mark(lib.Name, v) // print
			}
			t.ForEach(func(k, f lua.LValue) { t.RawSet(k, mark(lib.Name+"."+lua.LVAsString(k), f)) })
			return t
		}
	}
	return watched
}

// treeErrors are the mistakes of an app's menu tree as script errors, each at
// its line.
func treeErrors(a *App, ps []ivr.Problem) []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		file, line := p.SplitWhere()
		errs[i] = &ScriptError{File: file, Line: line, Err: errors.New(p.Msg)}
		if file == "" || line == 0 {
			errs[i] = &ScriptError{File: a.File, Err: p}
		}
	}
	return errs
}

func (a *App) readNumbers(v lua.LValue) error {
	if v == lua.LNil {
		return nil
	}
	g, err := luaconv.FromLua(v, "numbers")
	list, ok := g.([]any)
	if err != nil || !ok {
		return errors.New(`numbers must be a list of phone numbers, e.g. numbers = { "+6568332048" }`)
	}
	for i, n := range list {
		s, ok := n.(string)
		if !ok || digitsOf(s) == "" {
			return fmt.Errorf("numbers[%d] must be a phone number string like \"+6568332048\"", i+1)
		}
		a.Numbers = append(a.Numbers, digitsOf(s))
	}
	return nil
}

// digitsOf keeps the digits of a phone number, so "+65 6833 2048" and
// "6568332048" name the same line.
func digitsOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
