// Package flowtest runs flow tests: Lua files named *_test.lua beside the apps,
// whose test_* functions place simulated calls and assert on what the caller
// hears, on the callflows, on session.vars and on the call ending.
//
//	function test_book_today(t)
//	  local call = t:call("restaurant")
//	  call:hears("Welcome to ABC Restaurant")
//	  call:press("1"); call:press("1"); call:press("1")
//	  call:hears("booked your table for today")
//	  call:ended()
//	end
//
// Each test gets its own simulated line (engine and in-memory store), so tests
// do not see each other's sessions, and its own stubs for the http and vcc
// modules (t:stub, t:requests), so apps that call business systems are tested
// without a network. Output and exit status follow `go test`.
package flowtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/sandbox"
	jsonmod "github.com/luaivr/luaivr/stdlib/json"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/memstore"
	lua "github.com/yuin/gopher-lua"
)

// Options configure a run.
type Options struct {
	Dir      string         // the script folder: apps and their *_test.lua
	Run      *regexp.Regexp // only tests whose name matches; nil runs all
	Verbose  bool
	Out      io.Writer
	Deadline time.Duration // per event, as in serve
	// Engine has the zone and --http-allow for the apps (Deadline and Logger
	// above win). No request leaves the process: the http and vcc modules
	// send through the test's stubs (t:stub), and the vcc module's URL, tenant
	// and token default to test values.
	Engine  engine.Options
	Timeout time.Duration // per test (default 10 s)
	Logger  *slog.Logger  // the apps' log lines; nil discards them
}

// Result is the outcome of a run.
type Result struct {
	Passed, Failed int
	// Unreached lists menu options no test pressed, per app, as "menu[key] (file:line)".
	Unreached map[string][]string
}

// OK reports whether every test passed and at least one ran.
func (r Result) OK() bool { return r.Failed == 0 }

// Run finds and runs the flow tests in opts.Dir.
func Run(opts Options) (Result, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	res := Result{Unreached: map[string][]string{}}
	files, err := filepath.Glob(filepath.Join(opts.Dir, "*_test.lua"))
	if err != nil {
		return res, err
	}
	if len(files) == 0 {
		return res, fmt.Errorf("no flow tests (*_test.lua) in %s", opts.Dir)
	}
	scripts, problems := engine.Load(opts.Dir)
	for _, p := range problems {
		fmt.Fprintf(opts.Out, "warning: %v\n", p)
	}
	cov := newCoverage(scripts)
	for _, file := range files {
		r := runFile(opts, scripts, file, cov)
		res.Passed += r.Passed
		res.Failed += r.Failed
	}
	res.Unreached = cov.unreached()
	return res, nil
}

func runFile(opts Options, scripts *engine.Scripts, file string, cov *coverage) Result {
	var res Result
	name := filepath.Base(file)
	start := time.Now()
	L := sandbox.New(scripts, sandbox.Lib{Name: "json", Open: jsonmod.Open})
	defer L.Close()
	proto, err := engine.Compile(file, name)
	if err == nil {
		L.Push(L.NewFunctionFromProto(proto))
		err = L.PCall(0, 0, nil)
	}
	if err != nil {
		fmt.Fprintf(opts.Out, "--- FAIL: %s\n    %v\nFAIL\t%s\n", name, err, name)
		res.Failed++
		return res
	}
	for _, test := range tests(L) {
		if opts.Run != nil && !opts.Run.MatchString(test.name) {
			continue
		}
		if opts.Verbose {
			fmt.Fprintf(opts.Out, "=== RUN   %s\n", test.name)
		}
		t0 := time.Now()
		failure, logs := runTest(opts, scripts, L, test.fn, cov)
		took := time.Since(t0).Seconds()
		if failure != "" {
			res.Failed++
			fmt.Fprintf(opts.Out, "--- FAIL: %s (%.2fs)\n", test.name, took)
			for _, l := range append(logs, failure) {
				fmt.Fprintf(opts.Out, "    %s\n", l)
			}
			continue
		}
		res.Passed++
		if opts.Verbose {
			for _, l := range logs {
				fmt.Fprintf(opts.Out, "    %s\n", l)
			}
			fmt.Fprintf(opts.Out, "--- PASS: %s (%.2fs)\n", test.name, took)
		}
	}
	status := "ok  "
	if res.Failed > 0 {
		status = "FAIL"
	}
	fmt.Fprintf(opts.Out, "%s\t%s\t%.3fs\n", status, name, time.Since(start).Seconds())
	return res
}

type test struct {
	name string
	fn   *lua.LFunction
	line int
}

// tests are the file's global test_* functions, in the order they are written.
func tests(L *lua.LState) []test {
	var out []test
	L.G.Global.ForEach(func(k, v lua.LValue) {
		name, ok := k.(lua.LString)
		fn, isFn := v.(*lua.LFunction)
		if ok && isFn && strings.HasPrefix(string(name), "test_") && fn.Proto != nil {
			out = append(out, test{name: string(name), fn: fn, line: fn.Proto.LineDefined})
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].line < out[j].line })
	return out
}

// runTest calls one test function with a fresh t; it returns the failure
// message ("" when it passed) and what the test logged.
func runTest(opts Options, scripts *engine.Scripts, L *lua.LState, fn *lua.LFunction, cov *coverage) (string, []string) {
	st := memstore.New(store.Options{}) // nothing of a test or an exploration is kept
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	defer cancel()
	tt := &tester{opts: opts, scripts: scripts, store: st, ctx: ctx, web: &web{}}
	L.SetContext(ctx)
	defer L.RemoveContext()
	L.Push(fn)
	L.Push(tt.table(L))
	err := L.PCall(1, 0, nil)
	for _, c := range tt.calls {
		cov.record(c)
	}
	logs := append(tt.logs, tt.web.notes()...)
	if err != nil {
		msg := err.Error()
		if ae, ok := err.(*lua.ApiError); ok {
			msg = ae.Object.String()
		}
		if ctx.Err() != nil {
			msg += fmt.Sprintf(" (the test ran past its %s limit)", opts.Timeout)
		}
		return msg, logs
	}
	return "", logs
}
