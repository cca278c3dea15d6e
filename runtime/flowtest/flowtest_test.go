package flowtest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/flowtest"
)

// The flow tests shipped beside the apps and examples pass, and press every
// menu option.
func TestShippedFlowTests(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"../../scripts", "../../examples"} {
		var out bytes.Buffer
		res, err := flowtest.Run(flowtest.Options{Dir: dir, Out: &out})
		if err != nil || !res.OK() || res.Passed == 0 {
			t.Fatalf("%s: %v\n%s", dir, err, out.String())
		}
		for app, missing := range res.Unreached {
			if len(missing) > 0 {
				t.Errorf("%s: no flow test presses %v", app, missing)
			}
		}
	}
}

func TestFailuresAndFilter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("app.lua", `ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1 }
main = ivr.menu { id = "main", prompt = "Press 1", ["1"] = { ivr.say("one"), ivr.hangup() }, ["2"] = { ivr.hangup() } }
on_call = main`)
	write("app_test.lua", `
function test_passes(t)
  local call = t:call("app")
  call:press("1")
  call:hears("one")
  call:ended()
end

function test_fails(t)
  local call = t:call("app")
  call:hears("zebra")
end

function test_colon(t)
  local call = t:call("app")
  call.press("1")
end`)
	var out bytes.Buffer
	res, err := flowtest.Run(flowtest.Options{Dir: dir, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if res.Passed != 1 || res.Failed != 2 || res.OK() {
		t.Fatalf("passed %d failed %d\n%s", res.Passed, res.Failed, text)
	}
	for _, want := range []string{
		"--- FAIL: test_fails", `app_test.lua:11: the caller did not hear "zebra"`, "asks           Press 1 [main, 1 key]",
		"--- FAIL: test_colon", "use call:press(…) with a colon", "FAIL\tapp_test.lua",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if got := res.Unreached["app"]; len(got) != 1 || !strings.HasPrefix(got[0], "main[2]") {
		t.Errorf("unreached = %v", got)
	}

	out.Reset()
	res, _ = flowtest.Run(flowtest.Options{Dir: dir, Out: &out, Run: regexp.MustCompile("pass"), Verbose: true})
	if res.Passed != 1 || res.Failed != 0 || !strings.Contains(out.String(), "=== RUN   test_passes") {
		t.Fatalf("-run pass: %+v\n%s", res, out.String())
	}
}
