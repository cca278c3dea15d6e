// Package lint reads an IVR app's Lua without running it and reports, at
// their lines, the mistakes that running it finds only on the path that hits
// them, or never: a global that nothing defines (notify_crm() is "attempt to
// call a non-function object" in the middle of a call), a library luaivr does
// not offer (os, io, debug), a function a library does not have (ivr.sya), a
// field a session does not have (session.var), a handler luaivr never calls
// because its name is misspelt (on_dmtf) or it is local, a handler defined
// twice, a module the folder does not have, a global set in a handler (gone
// at the next event), digits compared with a number, a number compared with
// text and a weekday with a name time never gives (values.go), a global read
// at load before its definition, a reply built and thrown away (ivr.say("Hi")
// without return, return a, b, a menu called), a handler or option that
// returns nothing, 8x8 parameters written in a builder's or an action's table
// that 8x8 does not take (digitTimout) or would refuse, and the mistakes of
// ivr.menu and ivr.defaults tables at their keys (menus.go).
//
// It knows what a script may use from the environment the sandbox really
// gives scripts (Env), so a library added to the stdlib is known here at once.
// An app is read with the modules it requires (by a literal name), and the
// globals any of them defines count as defined in all of them, since they
// share one state. What a script computes (a name built at run time, _G[x])
// is not followed: lint reports only what is certain from the text, so that a
// shipped app checks clean.
//
// Errors are mistakes that fail the call or read nil when the line runs (an
// undefined name, a missing function or field, a parameter 8x8 refuses);
// warnings are mistakes in what the script means that Lua does not stop (a
// handler that never runs, a global that does not survive the event, a
// comparison that is never true).
package lint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/luaivr/luaivr/runtime/sandbox"
	"github.com/yuin/gopher-lua/parse"
)

// Severity of a Finding.
const (
	Error   = "error"
	Warning = "warning"
)

// Finding is one mistake, at its line.
type Finding struct {
	File     string // path in the script folder
	Line     int
	Severity string
	Message  string
	// Decl and Same are set on a mistake in an ivr.menu or ivr.defaults
	// table, reported at its key: loading the script reports the same
	// mistake at Decl, the line where the table opens, in words holding Same.
	Decl int
	Same string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Severity, f.Message)
}

// Env is what the runtime gives every script.
type Env struct {
	// Globals are the names a script's environment starts with; for a
	// library table, the names of its fields (engine.Globals).
	Globals map[string][]string
	// Handlers are the global functions the engine calls (engine.Handlers).
	Handlers []string
	// Session are the fields of the session handlers and menu options
	// receive (engine.SessionFields).
	Session []string
}

// MaxFileBytes bounds a file lint reads, as the engine bounds what it
// compiles: a larger one is refused there, and not read here.
const MaxFileBytes = 64 << 10

// Apps lints the apps (paths in fsys, the script folder) and the modules they
// require, each file once, and returns the findings in file and line order.
// A file that cannot be read or parsed is skipped: loading reports it.
func Apps(fsys fs.FS, apps []string, env Env) []Finding {
	files := map[string]*file{}
	var read func(rel string) *file
	read = func(rel string) *file {
		if f, ok := files[rel]; ok {
			return f
		}
		files[rel] = nil // a require cycle reads each file once
		f := parseFile(fsys, rel)
		if f == nil {
			return nil
		}
		files[rel] = f
		for _, req := range f.requires {
			if _, lib := env.Globals[req.name]; lib || !sandbox.IsModuleName(req.name) {
				continue
			}
			path := modulePath(req.name)
			if _, err := fs.Stat(fsys, path); errors.Is(err, fs.ErrNotExist) {
				f.missing = append(f.missing, req)
			} else if m := read(path); m != nil {
				f.family = append(f.family, m)
			}
		}
		return f
	}
	var roots []*file
	for _, rel := range apps {
		if f := read(rel); f != nil {
			roots = append(roots, f)
		}
	}
	// What counts as defined in a file: what it, the app that requires it
	// and every module of that app define.
	shared := map[*file]*names{}
	for _, app := range roots {
		family := closure(app)
		union := newNames()
		for _, f := range family {
			union.add(f.defs)
			union.dynamic = union.dynamic || f.dynamic
		}
		for _, f := range family {
			if shared[f] == nil {
				shared[f] = newNames()
			}
			shared[f].add(union)
		}
	}
	definers := map[string]int{} // how many files define each global
	for _, f := range files {
		if f != nil {
			for name := range f.defs.globals {
				definers[name]++
			}
		}
	}
	var out []Finding
	for rel, f := range files {
		if f == nil || shared[f] == nil {
			continue
		}
		out = append(out, f.check(rel, env, shared[f], definers)...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out
}

// modulePath is the file require(name) loads: "lib.prices" → lib/prices.lua.
func modulePath(name string) string {
	return strings.ReplaceAll(name, ".", "/") + ".lua"
}

// closure is f and every module it requires, directly or not.
func closure(f *file) []*file {
	seen := map[*file]bool{}
	var out []*file
	var walk func(*file)
	walk = func(f *file) {
		if seen[f] {
			return
		}
		seen[f] = true
		out = append(out, f)
		for _, m := range f.family {
			walk(m)
		}
	}
	walk(f)
	return out
}

func parseFile(fsys fs.FS, rel string) *file {
	r, err := fsys.Open(rel)
	if err != nil {
		return nil
	}
	defer r.Close()
	src, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil || len(src) > MaxFileBytes {
		return nil
	}
	chunk, err := parse.Parse(bytes.NewReader(src), rel)
	if err != nil {
		return nil
	}
	f := &file{defs: newNames()}
	f.walk(chunk)
	return f
}

// names are the globals files define and read, the library fields they set
// and the functions their top levels call.
type names struct {
	globals map[string]bool
	reads   map[string]bool
	fields  map[string]bool // "string.trim"
	// topCalls are the functions a top level calls by name (setup(),
	// helpers.setup()): they run at load.
	topCalls map[string]bool
	// dynamic is set when some file sets or reads globals by computed names.
	dynamic bool
	// menus and positions are the literal ids of ivr.menu and ivr.on;
	// someIDs is set when some id is not a literal, so lint cannot know them all.
	menus, positions map[string]bool
	someIDs          bool
	// tooMany is set when an ivr.defaults may set on_too_many (or its table
	// is not a literal): a menu's tries then need none of their own.
	tooMany bool
	// sensitive are the literal positions ivr.sensitive lists; someSensitive
	// is set when an entry is not a literal.
	sensitive     map[string]bool
	someSensitive bool
	// actionIDs are the literal clientActionIds the app's tables set;
	// someActionIDs is set when one is not a literal. sensitiveMenus are
	// the ids of the menus marked sensitive = true.
	actionIDs      map[string]bool
	someActionIDs  bool
	sensitiveMenus map[string]bool
	// maxDigits is ivr.defaults' literal maxDigits (0: none); someMax is set
	// when an ivr.defaults sets one that is not a literal.
	maxDigits float64
	someMax   bool
}

func newNames() *names {
	return &names{globals: map[string]bool{}, reads: map[string]bool{}, fields: map[string]bool{}, topCalls: map[string]bool{},
		menus: map[string]bool{}, positions: map[string]bool{}, sensitive: map[string]bool{}, actionIDs: map[string]bool{}, sensitiveMenus: map[string]bool{}}
}

func (n *names) add(o *names) {
	n.dynamic = n.dynamic || o.dynamic
	n.someIDs = n.someIDs || o.someIDs
	n.tooMany = n.tooMany || o.tooMany
	n.someSensitive = n.someSensitive || o.someSensitive
	n.someActionIDs = n.someActionIDs || o.someActionIDs
	n.someMax = n.someMax || o.someMax || n.maxDigits != 0 && o.maxDigits != 0 && n.maxDigits != o.maxDigits
	n.maxDigits = max(n.maxDigits, o.maxDigits)
	for _, m := range [][2]map[string]bool{{n.globals, o.globals}, {n.reads, o.reads}, {n.fields, o.fields}, {n.topCalls, o.topCalls},
		{n.menus, o.menus}, {n.positions, o.positions}, {n.sensitive, o.sensitive}, {n.actionIDs, o.actionIDs}, {n.sensitiveMenus, o.sensitiveMenus}} {
		for k := range m[1] {
			m[0][k] = true
		}
	}
}

// listNames lists names for a message, sorted.
func listNames(names []string) string {
	names = append([]string(nil), names...)
	sort.Strings(names)
	return strings.Join(names, ", ")
}
