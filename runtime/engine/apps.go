package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
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

	// Sum identifies this version of the script's source.
	Sum [sha256.Size]byte

	proto *lua.FunctionProto
	set   *Scripts
}

// MenuInfo is a menu as the script declares it.
type MenuInfo struct {
	ID     string
	Prompt string
	Keys   []string // the keys it offers, sorted
	Where  string   // script:line
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

// probeTimeout bounds a script's top level at load.
const probeTimeout = 2 * time.Second

// Load compiles every .lua file under dir and probes each app. Apps that fail
// are left out and reported; the rest are served.
func Load(dir string) (*Scripts, []error) {
	s := &Scripts{Dir: dir, Apps: map[string]*App{}, modules: map[string]*lua.FunctionProto{}}
	var errs []error
	var apps []string
	sums := map[string][sha256.Size]byte{}
	libs := sha256.New()
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
		src, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, &ScriptError{File: rel, Err: err})
			return nil
		}
		if IsApp(rel) {
			sums[rel] = sha256.Sum256(src)
		} else {
			fmt.Fprintf(libs, "%s\x00%d\x00%s", rel, len(src), src)
		}
		proto, err := compileSource(src, rel)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		s.modules[strings.ReplaceAll(strings.TrimSuffix(rel, ".lua"), "/", ".")] = proto
		if IsApp(rel) {
			apps = append(apps, rel)
		}
		return nil
	})
	copy(s.libSum[:], libs.Sum(nil))
	if walkErr != nil {
		s.index()
		return s, append(errs, fmt.Errorf("script folder %s: %w", dir, walkErr))
	}
	// Probing runs each script's top level: in parallel, since a folder can
	// hold a hundred apps and serve should answer within a blink.
	probed := make([]*App, len(apps))
	probeErrs := make([]error, len(apps))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				rel := apps[i]
				name := strings.TrimSuffix(rel, ".lua")
				app := &App{Name: name, File: rel, Sum: sums[rel], proto: s.modules[name], set: s}
				if err := app.probe(); err != nil {
					probeErrs[i] = &ScriptError{File: rel, Err: err}
					continue
				}
				probed[i] = app
			}
		})
	}
	for i := range apps {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, app := range probed {
		if app == nil {
			errs = append(errs, probeErrs[i])
			continue
		}
		s.Apps[app.Name] = app
	}
	return s, append(errs, s.index()...)
}

// index maps the numbers apps claim to the apps.
func (s *Scripts) index() []error {
	var errs []error
	s.byNumber = map[string]*App{}
	for _, name := range s.Names() {
		app := s.Apps[name]
		for _, n := range app.Numbers {
			if other, taken := s.byNumber[n]; taken {
				errs = append(errs, &ScriptError{File: app.File, Err: fmt.Errorf("number +%s is also claimed by %s; calls to it go to %s", n, other.File, other.Name)})
				continue
			}
			s.byNumber[n] = app
		}
	}
	return errs
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

func compileSource(src []byte, name string) (*lua.FunctionProto, error) {
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
func (a *App) probe() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("loading the script failed: %v", p)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	mod := ivr.New()
	L := sandbox.New(a.set, loadLibs.open(mod, a.Name, discardLogger)...)
	defer L.Close()
	L.SetContext(ctx)
	L.Push(L.NewFunctionFromProto(a.proto))
	if err := L.PCall(0, 0, nil); err != nil {
		return fmt.Errorf("running the script's top level: %s", luaError(ctx, err))
	}
	a.Handlers = map[string]string{}
	for _, h := range []string{OnCall, OnDTMF, OnTimeout, OnStatus, OnEnd} {
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
		a.Menus = append(a.Menus, MenuInfo{ID: m.ID, Prompt: m.Prompt, Keys: m.Keys(), Where: m.Where})
	}
	if err := a.readNumbers(L.G.Global.RawGetString("numbers")); err != nil {
		return err
	}
	if fb := L.G.Global.RawGetString("fallback"); fb != lua.LNil {
		r, err := mod.Reply(fb)
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
