package pattern

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// stuck are calls that gopher-lua's matcher backtracks through for minutes
// or more: every kind of repetition, captures, anchors, %b, back-references,
// %f, and the loops of gmatch and gsub.
var stuck = []struct{ name, src string }{
	{"lazy dots", `string.find(string.rep("a", 1e5), ".-.-.-.-x")`},
	{"lazy captures", `string.match(string.rep("a", 1e5), "(.-)(.-)(.-)x")`},
	{"nested lazy", `string.find(string.rep("a", 1e5), "a-a-a-a-a-b")`},
	{"greedy", `string.find(string.rep("a", 1e5), ".*.*.*x")`},
	{"anchored", `string.match(string.rep("a", 1e5), "^(.-)(.-)(.-)(.-)x$")`},
	{"optional", `string.find(string.rep("a", 1e5), string.rep("a?", 100) .. "b")`},
	{"balance", `string.find(string.rep("(", 1e5), "%b()")`},
	{"back-reference", `string.find(string.rep("a", 1e5), "(a*)%1b")`},
	{"frontier", `string.find(string.rep("a", 1e5), "%f[a]a-a-a-b")`},
	{"plus", `string.find(string.rep("a", 1e5), "a+a+a+a+b")`},
	{"long literal", `string.find(string.rep("a", 1e6), string.rep("a", 5e5) .. "%d")`},
	{"long back-reference", `string.find(string.rep("a", 1e6), "(" .. string.rep("a", 4e5) .. ")%1%d")`},
	{"sets", `string.find(string.rep("ab", 5e4), "[ab]-[^x]-[%a]-x")`},
	{"gmatch loop", `for _ in string.rep("a", 1e5):gmatch(".-.-.-x") do end`},
	{"gsub", `string.rep("a", 1e5):gsub(".-.-.-x", "")`},
	{"gsub with a function", `string.rep("ab", 5e4):gsub("(a-)(.-)b-x", function() end)`},
	{"in a coroutine", `coroutine.wrap(function() string.find(string.rep("a", 1e5), ".-.-.-.-x") end)()`},
}

// newState is a state with this package's pattern functions, stopped by check.
func newState(t *testing.T, check func(*lua.LState) error) *lua.LState {
	L := lua.NewState()
	t.Cleanup(L.Close)
	str := L.GetGlobal("string").(*lua.LTable)
	for name, fn := range Functions(check, 1<<20) {
		str.RawSetString(name, L.NewFunction(fn))
	}
	return L
}

// runBounded runs src in L and returns its error; it fails the test if src
// has not returned within 10 s, far more than any stopped match needs.
func runBounded(t *testing.T, L *lua.LState, src string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- L.DoString(src) }()
	bound := time.NewTimer(10 * time.Second)
	defer bound.Stop()
	select {
	case err := <-done:
		return err
	case <-bound.C:
		t.Fatalf("%s did not stop within 10 s of its deadline", src)
		return nil
	}
}

// A pathological match stops with the context's error once the context ends.
func TestStopsAtTheDeadline(t *testing.T) {
	t.Parallel()
	for _, tt := range stuck {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			L := newState(t, ContextErr)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			L.SetContext(ctx)
			err := runBounded(t, L, tt.src)
			if err == nil || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
				t.Fatalf("err = %v, want the context's error", err)
			}
		})
	}
}

// The check runs within checkEvery steps of any loop: a check that fails at
// once stops each pathological match at its first check, and is not asked
// again.
func TestStopsAtTheFirstCheck(t *testing.T) {
	t.Parallel()
	for _, tt := range stuck {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stop := errors.New("stopped by the check")
			calls := 0
			L := newState(t, func(*lua.LState) error { calls++; return stop })
			err := runBounded(t, L, tt.src)
			if err == nil || !strings.Contains(err.Error(), stop.Error()) {
				t.Fatalf("err = %v, want the check's error", err)
			}
			if calls != 1 {
				t.Fatalf("the check was called %d times, want once", calls)
			}
		})
	}
}

// Where the check stops a match, Lua sees an error it can catch, raised at
// the script's line, and the state goes on working.
func TestStoppedMatchIsALuaError(t *testing.T) {
	t.Parallel()
	stop := errors.New("stopped by the check")
	L := newState(t, func(*lua.LState) error { return stop })
	err := runBounded(t, L, `
		local ok, err = pcall(string.find, string.rep("a", 1e5), ".-.-.-.-x")
		assert(not ok and err:find("stopped by the check", 1, true), tostring(err))
		assert(("hello"):match("l+") == "ll")`)
	if err != nil {
		t.Fatal(err)
	}
	err = runBounded(t, L, "\n\nlocal x = string.match(string.rep('a', 1e5), '(.-)(.-)(.-)x')")
	if err == nil || !strings.Contains(err.Error(), ":3: stopped by the check") {
		t.Fatalf("err = %v, want the error at line 3", err)
	}
}

// Reading a pattern of a megabyte takes long enough to count: it stops at the
// check too, though matching it against a short subject would take no time.
func TestHugePatternStops(t *testing.T) {
	t.Parallel()
	stop := errors.New("stopped by the check")
	L := newState(t, func(*lua.LState) error { return stop })
	for _, src := range []string{
		`string.find("b", string.rep("[a]", 3e5))`,
		`string.find("b", string.rep("a", 1e6) .. ".")`,
		`string.gsub("b", string.rep("%a", 5e5), "")`,
	} {
		if err := runBounded(t, L, src); err == nil || !strings.Contains(err.Error(), stop.Error()) {
			t.Errorf("%s: err = %v, want the check's error", src, err)
		}
	}
}
