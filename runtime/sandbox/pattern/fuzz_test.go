package pattern

import (
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/stdlib/luaconv"
	lua "github.com/yuin/gopher-lua"
)

// FuzzPattern compares this package with gopher-lua's string library on
// random subjects, patterns and inits, through all four functions. Inputs
// are bounded, and an input this package needs more than a few tens of
// thousands of steps for is not given to gopher-lua, which could not be
// stopped. Inputs on which gopher-lua is known to be wrong (conformance_test.go
// lists each case) are left out.
//
//	go test -run '^$' -fuzz FuzzPattern -fuzztime 60s ./runtime/sandbox/pattern/
func FuzzPattern(f *testing.F) {
	for i, p := range patterns {
		f.Add(subjects[i%len(subjects)], p, 1)
		f.Add(subjects[(i+5)%len(subjects)], p, -3)
	}
	for _, p := range []string{`[]]`, `[^]]`, `[a-]`, `(a)%1`, `%b()*`, `a$*`, `^+1`, `[+--]+`, `(()a())`,
		`(a-)(a-)$`, `a**`, `(a`, `a)`, `[a`, `%`, `%1`, `%bx`, `(b$)`, `(^b)`, `[%]]`, `.-b-`} {
		f.Add("x(a(b)c) aab=-] 12", p, 2)
	}
	f.Fuzz(func(t *testing.T, subject, pat string, init int) {
		if len(subject) > 64 || len(pat) > 24 {
			t.Skip()
		}
		if gopherWrongOn(pat) {
			fuzzAgainstLua51(t, subject, pat, init)
			return
		}
		init = max(min(init, len(subject)+1), -len(subject)-2)
		tooLong := errors.New("too long for gopher-lua")
		checks := 0
		ours := newOracle(t, true, func(*lua.LState) error {
			if checks++; checks > 32 {
				return tooLong
			}
			return nil
		})
		gopher := newOracle(t, false, nil)
		s, p := luaconv.Literal(subject), luaconv.Literal(pat)
		calls := []struct{ fn, args string }{
			{"find", fmt.Sprintf("%s, %s, %d", s, p, init)},
			{"match", fmt.Sprintf("%s, %s, %d", s, p, init)},
			{"gmatch", s + ", " + p},
			{"gsub", s + ", " + p + `, "<%0|%1>"`},
		}
		for _, c := range calls {
			if c.fn == "find" && pat == "" {
				continue // gopher-lua ignores init for an empty pattern
			}
			checks = 0
			got := ours.run(c.fn, c.args)
			if strings.Contains(got, tooLong.Error()) {
				continue
			}
			theirs := gopher.run(c.fn, c.args)
			if c.fn == "match" && theirs == "()" {
				theirs = "(nil)" // gopher-lua returns nothing where Lua 5.1 returns nil
			}
			if got == theirs || errs(got) && errs(theirs) || onlyWeRefuse(got, theirs) || onlyGopherRefuses(c.fn, pat, got, theirs) {
				continue
			}
			if real, ok := lua51Says(t, c.fn, c.args); ok && real == got {
				continue // gopher-lua is wrong; a real Lua 5.1 agrees with us
			}
			t.Fatalf("string.%s(%s)\n    ours %s\ngopher-lua %s", c.fn, c.args, got, theirs)
		}
	})
}

// fuzzAgainstLua51 compares this package with a real Lua 5.1, where one is
// installed, on a pattern gopher-lua gets wrong; it leaves out what Lua 5.1
// does differently by design (Functions says what).
func fuzzAgainstLua51(t *testing.T, subject, pat string, init int) {
	if _, err := exec.LookPath("lua5.1"); err != nil || strings.ContainsRune(pat, 0) {
		t.Skip()
	}
	init = max(min(init, len(subject)+1), -len(subject)-2)
	ours := newOracle(t, true, noDeadline)
	s, p := luaconv.Literal(subject), luaconv.Literal(pat)
	for _, c := range []struct{ fn, args string }{
		{"find", fmt.Sprintf("%s, %s, %d", s, p, init)},
		{"match", fmt.Sprintf("%s, %s, %d", s, p, init)},
		{"gmatch", s + ", " + p},
		{"gsub", s + ", " + p + `, "<%0|%1>"`},
	} {
		if c.fn == "gmatch" && strings.HasPrefix(pat, "^") {
			continue
		}
		got := ours.run(c.fn, c.args)
		real, _ := lua51Says(t, c.fn, c.args)
		if got != real && !errs(got) { // Lua 5.1 refuses a malformed pattern only where it reaches it
			t.Fatalf("string.%s(%s)\n   ours %s\nLua 5.1 %s", c.fn, c.args, got, real)
		}
	}
}

// lua51Says runs one call through a real Lua 5.1, when one is installed.
func lua51Says(t *testing.T, fn, args string) (string, bool) {
	lua51, err := exec.LookPath("lua5.1")
	if err != nil {
		return "", false
	}
	out, err := exec.Command(lua51, "-e", harness+"print(RUN(\""+fn+"\", "+args+"))").Output()
	if err != nil {
		t.Fatalf("lua5.1: %v", err)
	}
	return withoutWhere(strings.TrimSuffix(string(out), "\n")), true
}

func errs(result string) bool {
	return strings.HasPrefix(result, "error: ") || strings.HasPrefix(result, "[error: ")
}

// badRange is a set with a range gopher-lua reads wrongly: one that starts
// or ends with a %-escape (it matches nothing), or ends with '-' ([0--B] is
// 0-- and B in Lua, 0-B in gopher-lua).
var badRange = regexp.MustCompile(`\[[^\]]*(%.-[^\]]|-%|--)`)

// backrefToPosition repeats a position capture, which gopher-lua matches as
// empty text.
var backrefToPosition = regexp.MustCompile(`\(\).*%[1-9]`)

// gopherWrongOn tells patterns on which gopher-lua is known to be wrong.
func gopherWrongOn(pat string) bool {
	return strings.Contains(pat, "%f") || badRange.MatchString(pat) || backrefToPosition.MatchString(pat)
}

// onlyWeRefuse allows the malformed patterns this package refuses on every
// call and gopher-lua does not refuse, or not before it reaches them.
func onlyWeRefuse(ours, theirs string) bool {
	if !errs(ours) || errs(theirs) {
		return false
	}
	for _, msg := range []string{"malformed pattern (ends with '%')", "unbalanced pattern", "invalid capture index"} {
		if strings.Contains(ours, msg) {
			return true
		}
	}
	return false
}

// onlyGopherRefuses allows gopher-lua's refusal of a ) in a string.find
// pattern that Lua 5.1 searches plainly, and its recursion limit.
func onlyGopherRefuses(fn, pat, ours, theirs string) bool {
	if errs(ours) || !errs(theirs) {
		return false
	}
	return fn == "find" && !strings.ContainsAny(pat, specials) || strings.Contains(theirs, "too complex")
}
