package explore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/explore"
)

// The restaurant's tree, drawn without invalid keys, is the advanced guide's
// diagram: the golden file was checked against it by eye.
func TestRestaurantGraph(t *testing.T) {
	t.Parallel()
	scripts, errs := engine.Load("../../scripts")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	res, err := explore.Explore(context.Background(), scripts, "restaurant", explore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) > 0 {
		t.Fatalf("the shipped restaurant has problems: %v", res.Problems)
	}
	var got bytes.Buffer
	res.Mermaid(&got, explore.GraphOptions{NoOther: true})
	want, _ := os.ReadFile("testdata/restaurant.mmd")
	if got.String() != string(want) {
		t.Fatalf("graph changed:\n%s", got.String())
	}
	got.Reset()
	res.DOT(&got, explore.GraphOptions{})
	for _, s := range []string{`main_menu -> reservations [label="1"]`, `shape=parallelogram, label="connect to +6531589338"`, `label="other, no input"`} {
		if !strings.Contains(got.String(), s) {
			t.Errorf("DOT lacks %s:\n%s", s, got.String())
		}
	}
}

func TestFindsProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	apps := map[string]string{
		"badflow.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_call(s) return ivr.say_and_capture("Press 1", { maxDigits = 1 }) end
function on_dtmf(s, d)
  if d == "1" then return { action = "say", params = { text = "raw", voiceProfile = "en-US-BenjaminRUS", speed = 9 } } end
  return ivr.hangup()
end
function on_timeout(s) return ivr.hangup() end`,
		"crash.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
on_call = ivr.menu { id = "main", prompt = "1 or 2", ["1"] = function(s) return s.vars.x.y end, ["2"] = { ivr.hangup() } }`,
		"deadend.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
local loop = ivr.menu { id = "loop", prompt = "You are stuck.", other = "loop", no_input = "loop" }
ivr.menu { id = "orphan", prompt = "Nobody comes here", ["1"] = { ivr.hangup() } }
on_call = ivr.menu { id = "main", prompt = "Press 1", ["1"] = loop, ["2"] = { ivr.hangup() }, ["22"] = { ivr.hangup() } }`,
		"noend.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_call(s) return ivr.say("hello") end
function on_timeout(s) return ivr.say("still here") end`,
	}
	for name, src := range apps {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scripts, errs := engine.Load(dir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := map[string][]string{
		"badflow": {"error: on_dtmf (badflow.lua:3) returned a callflow 8x8 would reject: -1009", "params.speed: must have a maximum value of 2 (after: call, 1)"},
		"crash":   {"error: crash.lua:2: attempt to index a non-table object(nil) with key 'y' (after: call, 1)"},
		"deadend": {`deadend.lua:4: error: menu "main" offers "22", but its prompt collects 1 to 1 digits`,
			`deadend.lua:3: warning: menu "orphan" is never reached from on_call`,
			`warning: dead end: no key and no timeout leads anywhere from the prompt "You are stuck."`},
		"noend": {"error: the call never ends"},
	}
	for app, lines := range want {
		res, err := explore.Explore(context.Background(), scripts, app, explore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, p := range res.Problems {
			all = append(all, p.String())
		}
		text := strings.Join(all, "\n")
		for _, l := range lines {
			if !strings.Contains(text, l) {
				t.Errorf("%s: problems lack %q:\n%s", app, l, text)
			}
		}
	}
}
