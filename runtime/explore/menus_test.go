package explore_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/explore"
)

// An app with a hand-written on_dtmf and menus: check presses each menu's
// keys at the menu, they reach its options, and no menu is reported as one
// that can never receive digits.
func TestMenusBesideOnDTMF(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
local bye = { ivr.say("Goodbye."), ivr.hangup() }
local sales = ivr.menu { id = "sales", prompt = "Sales: 1 to hang up, 9 back.", ["1"] = bye, ["9"] = "main" }
ivr.menu { id = "main", prompt = "1 sales, 0 the operator.", ["1"] = sales, ["0"] = function()
  return ivr.say_and_capture("Operator: press any key.")
end }
function on_call(session) return "main" end
function on_dtmf(session, digits) return bye end
function on_timeout(session) return bye end`
	if err := os.WriteFile(filepath.Join(dir, "clinic.lua"), []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	scripts, errs := engine.Load(dir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	res, err := explore.Explore(context.Background(), scripts, "clinic", busy)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) > 0 {
		t.Fatalf("problems: %v", res.Problems)
	}
	for _, want := range [][3]string{{"main", "sales", "1"}, {"sales", "main", "9"}} {
		found := false
		for _, e := range res.Edges {
			found = found || e.From == want[0] && e.To == want[1] && slices.Contains(e.Keys, want[2])
		}
		if !found {
			t.Errorf("no edge %s --%s--> %s; edges: %v", want[0], want[2], want[1], edges(res))
		}
	}
}

func edges(res *explore.Result) []string {
	var out []string
	for _, e := range res.Edges {
		out = append(out, e.From+" -"+e.Keys[0]+"-> "+e.To)
	}
	return out
}

// A menu's tries are used up like an option is pressed, so that what
// on_too_many answers is checked too.
func TestTooManyTriesExplored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
local bye = { ivr.say("Goodbye."), ivr.hangup() }
on_call = ivr.menu { id = "main", prompt = "Press 1.", ["1"] = bye, no_input = bye,
  tries = 3, on_too_many = function(session)
    return { action = "say", params = { text = "Too many.", voiceProfile = "en-US-BenjaminRUS", speed = 9 } }
  end }`
	if err := os.WriteFile(filepath.Join(dir, "strict.lua"), []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	scripts, errs := engine.Load(dir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	res, err := explore.Explore(context.Background(), scripts, "strict", busy)
	if err != nil {
		t.Fatal(err)
	}
	want := `strict: error: menu: on_too_many of menu "main" (strict.lua:4) returned a callflow 8x8 would reject: -1009 Invalid call flow entry provided. $.callflow[0].params.speed: must have a maximum value of 2 (after: call, other ×3)`
	for _, p := range res.Problems {
		if p.String() == want {
			return
		}
	}
	t.Fatalf("problems %v\nwant %s", res.Problems, want)
}

// busy gives handlers time on a loaded machine: these tests are about where
// keys go, not about the deadline.
var busy = explore.Options{Deadline: engine.Options{Deadline: 5 * time.Second}}
