package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/explore"
	"github.com/luaivr/luaivr/runtime/lint"
	"github.com/luaivr/luaivr/stdlib/vcc"
	"github.com/urfave/cli/v2"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "compile every app in DIR, lint its Lua and explore its menus for errors, invalid callflows and dead ends",
		ArgsUsage: "[DIR]",
		Description: "Reads every app and the modules it requires for mistakes without running them (undefined names,\n" +
			"os/io/debug, misspelt handlers and 8x8 parameters, …). Then, from on_call, presses every key each prompt\n" +
			"offers, an invalid key and no input, to --depth, and validates every callflow against 8x8's rules.\n" +
			"The clock is an input: where a handler asks the time module, the call is played again at moments\n" +
			"where the answer differs (open and closed, each kind of day, holidays). --input adds keys a caller\n" +
			"knows (a PIN), as does a check_inputs table in the script. Exits 1 on errors; warnings do not fail it.",
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "depth", Value: 10, Usage: "inputs along one path"},
			atFlag, inputFlag,
		}, offlineScriptFlags()...),
		Action: check,
	}
}

func check(c *cli.Context) error {
	dir, err := scriptsDir(c, true)
	if err != nil {
		return err
	}
	engOpts, err := engineOptions(c, nil)
	if err != nil {
		return err
	}
	out := c.App.Writer
	opts := explore.Options{Depth: c.Int("depth"), Deadline: engOpts}
	if err := exploreFrom(c, &opts); err != nil {
		return err
	}
	problems, apps := checkDir(c.Context, dir, opts)
	errors, warnings := 0, 0
	for _, p := range problems {
		fmt.Fprintln(out, p)
		if p.Severity == explore.Error {
			errors++
		} else {
			warnings++
		}
	}
	fmt.Fprintf(out, "checked %d apps (%s): %d errors, %d warnings\n", len(apps), strings.Join(apps, ", "), errors, warnings)
	if errors > 0 {
		return cli.Exit("", 1)
	}
	return nil
}

// checkDir is check's work: what compiling and exploring every app in dir
// finds. serve's hot reload uses it to refuse a broken script.
func checkDir(ctx context.Context, dir string, opts explore.Options) ([]explore.Problem, []string) {
	scripts, loadErrs := engine.Load(dir)
	var problems []explore.Problem
	for _, err := range loadErrs {
		p := explore.Problem{Severity: explore.Error, Message: err.Error()}
		var se *engine.ScriptError
		if asScriptError(err, &se) {
			p.App, p.Message, p.Where = strings.TrimSuffix(se.File, ".lua"), se.Err.Error(), se.File
			if se.Line > 0 {
				p.Where = fmt.Sprintf("%s:%d", se.File, se.Line)
			}
		}
		problems = append(problems, p)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	for _, name := range scripts.Names() {
		res, err := explore.Explore(ctx, scripts, name, opts)
		if err != nil {
			problems = append(problems, explore.Problem{Severity: explore.Error, App: name, Message: err.Error()})
			continue
		}
		problems = append(problems, res.Problems...)
	}
	var apps []string // every app file, loaded or not: lint says more of one that fails
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() && engine.IsApp(e.Name()) {
			apps = append(apps, e.Name())
		}
	}
	names := make([]string, len(apps)) // loaded or not: an app that fails to load was checked too
	for i, file := range apps {
		names[i] = strings.TrimSuffix(file, ".lua")
	}
	found, kept := lintApps(dir, apps, problems)
	return append(found, kept...), names
}

// lintEnv is what lint knows scripts may use: the sandbox's environment.
var lintEnv = sync.OnceValue(func() lint.Env {
	return lint.Env{Globals: engine.Globals(), Handlers: engine.Handlers, Session: engine.SessionFields()}
})

// lintApps lints apps (files of dir) and the modules they require, as
// problems, with what loading or exploring reported (reported) that lint does
// not say better. A finding that loading or exploring already reports at its
// line (a builder's mistake on a path that runs) is left to that report; a
// mistake in an ivr.menu or ivr.defaults table, which lint finds at its key,
// is said by lint, and loading's report of it at the table's line is dropped;
// and a problem at a line where lint found a mistake of the same severity is
// said once, by lint. check and reload vetting both report through it.
func lintApps(dir string, apps []string, reported []explore.Problem) (found, kept []explore.Problem) {
	root, err := os.OpenRoot(dir) // no link leads lint out of the folder
	if err != nil {
		return nil, reported
	}
	defer root.Close()
	findings := lint.Apps(root.FS(), apps, lintEnv())
	said := map[string][]string{} // table line → what lint said of its keys
	for _, f := range findings {
		if f.Same != "" {
			decl := fmt.Sprintf("%s:%d", f.File, f.Decl)
			said[decl] = append(said[decl], f.Same)
		}
	}
	for _, p := range reported {
		if !sameAtKeys(p, said[p.Where]) {
			kept = append(kept, p)
		}
	}
	for _, f := range findings {
		where := fmt.Sprintf("%s:%d", f.File, f.Line)
		if f.Same == "" && slices.ContainsFunc(kept, func(p explore.Problem) bool {
			return strings.Contains(p.Where+": "+p.Message, where) && strings.Contains(p.Message, f.Message)
		}) {
			continue
		}
		severity := explore.Warning
		if f.Severity == lint.Error {
			severity = explore.Error
		}
		found = append(found, explore.Problem{Severity: severity, App: strings.TrimSuffix(f.File, ".lua"), Where: where, Message: f.Message})
	}
	kept = slices.DeleteFunc(kept, func(p explore.Problem) bool { // said once, by lint, at its line
		return p.At() != "" && slices.ContainsFunc(found, func(f explore.Problem) bool { return f.Where == p.At() && f.Severity == p.Severity })
	})
	return found, kept
}

// sameAtKeys reports whether loading's problem p, at the line where a table
// opens, says only what lint said at its keys (same): every mistake it names
// is one of them, and no 8x8 parameter's problem is left over.
func sameAtKeys(p explore.Problem, same []string) bool {
	rest, matched := p.Message, false
	for _, s := range same {
		if strings.Contains(rest, s) {
			rest, matched = strings.Replace(rest, s, "", 1), true
		}
	}
	return matched && !strings.Contains(rest, "params.")
}

// How serve vets an app: in the background of live calls, one app at a time.
const (
	// vetShare and vetBusyShare are the parts of one core vetting may use,
	// while no live event is handled and while some are.
	vetShare, vetBusyShare = 0.5, 0.05
	// vetWork bounds the time one app's vetting spends playing calls; check
	// explores further.
	vetWork = 500 * time.Millisecond
	// vetSlack stretches the handlers' deadline while vetting: vetting runs
	// at low priority, so a handler slowed down by live calls is not taken
	// for one that ran away. An endless loop is found all the same.
	vetSlack = 4
)

// vetter is hot reload's gate (a new version of an app is served only when
// check finds no error in it) and serve's report of what check finds in the
// apps it starts with. It explores one app at a time, paced so that it never
// takes the CPU that live calls need (explore.Pacer); the gate goes first,
// since an edit waits for it, and a report it interrupts starts over after.
type vetter struct {
	ctx   context.Context
	opts  engine.Options // serve's: the app is vetted in the environment it will serve in
	stats *engine.Stats  // live events, to pace by
	log   *slog.Logger

	mu      sync.Mutex   // one app at a time
	gates   atomic.Int32 // gate vettings waiting for mu
	events  int64        // live events seen at the last call played
	yielded bool         // the report in progress stopped for a gate
}

// newVetter vets with serve's engine options, less what exploring must not
// do: write to serve's store, or reach the contact center.
func newVetter(ctx context.Context, opts engine.Options, stats *engine.Stats, log *slog.Logger) *vetter {
	opts.Store, opts.Logger, opts.VCC = nil, nil, vcc.Options{}
	opts.Deadline *= vetSlack
	opts.MemoryLimit = engine.SoftMemoryLimit()
	return &vetter{ctx: ctx, opts: opts, stats: stats, log: log}
}

// vet is the gate: the errors check finds in app, which refuse it.
func (v *vetter) vet(s *engine.Scripts, app string) error {
	v.gates.Add(1)
	v.mu.Lock()
	v.gates.Add(-1)
	defer v.mu.Unlock()
	return v.explore(s, app, false)
}

// report is the same for an app already served, whose problems are only
// said: it waits while gates are waiting, and starts over when one comes.
func (v *vetter) report(s *engine.Scripts, app string) error {
	for v.ctx.Err() == nil {
		for v.gates.Load() > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		v.mu.Lock()
		err := v.explore(s, app, true)
		yielded := v.yielded
		v.mu.Unlock()
		if !yielded {
			return err
		}
	}
	return nil
}

var errYield = errors.New("a reload is waiting")

// explore explores app as check does and returns the errors check would
// report. A failure of luaivr's own while exploring is logged and returns no
// error: vetting is a safety net, not a reason to keep a fix from serving.
func (v *vetter) explore(s *engine.Scripts, app string, yields bool) (err error) {
	file := app + ".lua"
	defer func() {
		if p := recover(); p != nil {
			v.log.Error("vetting failed inside luaivr; the app is served unvetted", "app", app, "file", file, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = nil
		}
	}()
	v.yielded = false
	pacer := explore.Pacer{Share: vetShare, BusyShare: vetBusyShare, Busy: v.busy}
	pace := func(ctx context.Context, took time.Duration) error {
		if yields && v.gates.Load() > 0 {
			v.yielded = true
			return errYield
		}
		return pacer.Pace(ctx, took)
	}
	res, err := explore.Explore(v.ctx, s, app, explore.Options{Deadline: v.opts, Work: vetWork, Pace: pace})
	if err != nil {
		v.log.Error("vetting failed inside luaivr; the app is served unvetted", "app", app, "file", file, "err", err)
		return nil
	}
	var errs []string
	found, kept := lintApps(s.Dir, []string{file}, res.Problems)
	for _, p := range append(found, kept...) {
		if p.Severity == explore.Error {
			errs = append(errs, p.String())
		}
	}
	if len(errs) > 0 { // a ScriptError: the reload says what serves instead
		return &engine.ScriptError{File: file, Err: fmt.Errorf("fails check: %s", strings.Join(errs, "; "))}
	}
	return nil
}

// busy reports whether live events were handled since the last call vetting
// played.
func (v *vetter) busy() bool {
	n := v.stats.Events.Load()
	busy := n != v.events
	v.events = n
	return busy
}
