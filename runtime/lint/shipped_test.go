package lint_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/lint"
)

var env = lint.Env{Globals: engine.Globals(), Handlers: engine.Handlers, Session: engine.SessionFields()}

// The shipped apps, examples and bench apps check clean: lint has no false
// positive on them.
func TestShippedAppsClean(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"../../scripts", "../../examples", "../../examples/bench/apps"} {
		var apps []string
		names, _ := filepath.Glob(filepath.Join(dir, "*.lua"))
		for _, n := range names {
			if rel := filepath.Base(n); engine.IsApp(rel) {
				apps = append(apps, rel)
			}
		}
		if len(apps) < 2 {
			t.Fatalf("%s: %d apps, want the shipped ones", dir, len(apps))
		}
		for _, f := range lint.Apps(os.DirFS(dir), apps, env) {
			t.Errorf("%s/%s", dir, f)
		}
	}
}

// Idioms a script may use, each right, check clean: locals declared before
// they are defined, recursion, methods, setup functions run at load, globals
// of a module, a library extended by the script, names reached through _G;
// handlers assigned from tables, pcall, setmetatable (idioms); and a bank line
// and a clinic written by a newcomer, with opening hours, a PIN lockout and a
// hand-written on_dtmf beside menus (bankline).
func TestNoFalsePositives(t *testing.T) {
	t.Parallel()
	for dir, files := range map[string][]string{
		"clean":    {"clinic.lua", "dynamic.lua", "lib/util.lua", "lib/hours.lua"},
		"idioms":   {"fp.lua", "fp2.lua", "lib/common.lua"},
		"bankline": {"lionbank.lua", "clinic.lua", "lib/bankhours.lua"},
	} {
		dir := filepath.Join("testdata", dir)
		var apps []string
		// Each file compiles: lint skips one that does not, which would make this test pass for nothing.
		for _, rel := range files {
			if _, err := engine.Compile(filepath.Join(dir, rel), rel); err != nil {
				t.Fatal(err)
			}
			if engine.IsApp(rel) {
				apps = append(apps, rel)
			}
		}
		for _, f := range lint.Apps(os.DirFS(dir), apps, env) {
			t.Errorf("%s: %s", dir, f)
		}
	}
}
