package lint_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/lint"
)

// Two apps (and a module) holding every mistake lint knows: all are found in
// one run, each at its line, with its severity and what to do; no line without
// a mistake is reported. A mistake is marked on its line: --! severity: words.
func TestEveryMistakeAtItsLine(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "mistakes")
	want := map[string]string{} // file:line → "severity: words"
	for _, rel := range []string{"bank.lua", "clinic.lua", "grab.lua", "lib/helpers.lua"} {
		fh, err := os.Open(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for n := 1; sc.Scan(); n++ {
			if _, mark, ok := strings.Cut(sc.Text(), "--! "); ok {
				want[rel+":"+strconv.Itoa(n)] = mark
			}
		}
		fh.Close()
	}
	for _, rel := range []string{"bank.lua", "clinic.lua", "grab.lua", "lib/helpers.lua"} { // lint skips a file that does not compile
		if _, err := engine.Compile(filepath.Join(dir, rel), rel); err != nil {
			t.Fatal(err)
		}
	}
	if len(want) < 20 {
		t.Fatalf("%d marked mistakes, want the whole list", len(want))
	}
	got := lint.Apps(os.DirFS(dir), []string{"bank.lua", "clinic.lua", "grab.lua"}, env)
	seen := map[string]bool{}
	for _, f := range got {
		at := f.File + ":" + strconv.Itoa(f.Line)
		mark, ok := want[at]
		severity, words, _ := strings.Cut(mark, ": ")
		switch {
		case !ok:
			t.Errorf("not a mistake, reported: %s", f)
		case seen[at]:
			t.Errorf("reported twice at %s: %s", at, f)
		case f.Severity != severity || !strings.Contains(f.Message, words):
			t.Errorf("at %s\n got %s: %s\nwant %s", at, f.Severity, f.Message, mark)
		}
		seen[at] = true
	}
	for at, mark := range want {
		if !seen[at] {
			t.Errorf("not found: %s: %s", at, mark)
		}
	}
}

// A file full of mistakes reports the first hundred and how many more there
// are, and looks for the name meant only for those it reports: what lint does
// per file is bounded however many names a script makes up.
func TestFindingsBounded(t *testing.T) {
	t.Parallel()
	var src strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&src, "local name%04d = 1\n", i)
	}
	src.WriteString("function on_call(session)\n")
	for i := range 1500 {
		fmt.Fprintf(&src, "  namf%04d()\n", i)
	}
	src.WriteString("end\n")
	if src.Len() > lint.MaxFileBytes {
		t.Fatalf("the script is %d bytes, over what lint reads", src.Len())
	}
	got := lint.Apps(fstest.MapFS{"many.lua": {Data: []byte(src.String())}}, []string{"many.lua"}, env)
	if len(got) != 101 {
		t.Fatalf("%d findings, want 100 and a note", len(got))
	}
	if last := got[100]; !strings.Contains(last.Message, "and at least 1400 more findings in this file, not shown") {
		t.Errorf("the note: %s", last)
	}
	if !strings.Contains(got[0].Message, "did you mean name0000?") {
		t.Errorf("the first finding: %s", got[0])
	}
}

// Whatever a file holds, lint returns: it runs in serve's reload.
func FuzzLint(f *testing.F) {
	for _, name := range []string{"testdata/mistakes/bank.lua", "testdata/mistakes/clinic.lua", "testdata/clean/clinic.lua", "../../scripts/restaurant.lua"} {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		lint.Apps(fstest.MapFS{"app.lua": {Data: src}, "lib/x.lua": {Data: src}}, []string{"app.lua"}, env)
	})
}
