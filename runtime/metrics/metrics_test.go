package metrics

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The outcome label's closed set holds every fallback reason the engine
// declares: a reason added there and not here would be counted as "other".
func TestOutcomesHoldEveryReason(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../engine/*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(node ast.Node) bool {
			spec, ok := node.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range spec.Names {
				if !strings.HasPrefix(name.Name, "Reason") || i >= len(spec.Values) {
					continue
				}
				lit, ok := spec.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				v, _ := strconv.Unquote(lit.Value)
				n++
				if !outcomes[v] {
					t.Errorf("engine.%s = %q is not in metrics' outcomes: add it", name.Name, v)
				}
			}
			return true
		})
	}
	if n < 8 {
		t.Fatalf("found %d Reason constants in runtime/engine; the test no longer finds them", n)
	}
}
