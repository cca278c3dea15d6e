package explore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	res, err := explore.Explore(context.Background(), scripts, "restaurant", explore.Options{Deadline: slowMachine})
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
		// A PIN kept across events in vars: saved redacted, and check says so.
		"pinvars.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_call(s) return { clientActionId = "pin", ivr.say_and_capture("Your PIN.", { maxDigits = 4, sensitive = true }) } end
function on_dtmf(s, d) s.vars.pin = d return ivr.hangup() end
function on_timeout(s) return ivr.hangup() end`,
		"noend.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_call(s) return ivr.say("hello") end
function on_timeout(s) return ivr.say("still here") end`,
		// Top levels that read from outside run again for every event; one
		// that only names the libraries does not.
		"clocktop.lua": `local time, log = time, log
local morning = time.parts(time.now()).hour < 12
function on_call(s) return ivr.hangup() end`,
		"dicetop.lua": `local n
n = math.random(1, 6)
function on_call(s) return ivr.hangup() end`,
		"namedtop.lua": `local time, log, kv, now = time, log, kv, time.now
function on_call(s) log.info("at", { hour = time.parts(now()).hour }) return ivr.hangup() end`,
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
		"crash":   {"crash.lua:2: error: attempt to index a non-table object(nil) with key 'y' (after: call, 1)"},
		"deadend": {`deadend.lua:4: error: menu "main" offers "22", but its prompt collects 1 to 1 digits`,
			`deadend.lua:3: warning: menu "orphan" is never reached from on_call`,
			`warning: dead end: no key and no timeout leads anywhere from the prompt "You are stuck."`},
		"noend":    {"error: the call never ends"},
		"pinvars":  {"pinvars.lua:3: warning: on_dtmf kept the digits of a sensitive capture in session.vars.pin: they are saved as •"},
		"clocktop": {"clocktop.lua:2: warning: the top level calls time.now, so every event runs the whole top level again in a new Lua state"},
		"dicetop":  {"dicetop.lua:2: warning: the top level calls math.random, so every event"},
		"namedtop": {},
	}
	for app, lines := range want {
		res, err := explore.Explore(context.Background(), scripts, app, explore.Options{Deadline: slowMachine})
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, p := range res.Problems {
			all = append(all, p.String())
		}
		text := strings.Join(all, "\n")
		if len(lines) == 0 && text != "" {
			t.Errorf("%s: problems found in an app that has none:\n%s", app, text)
		}
		for _, l := range lines {
			if !strings.Contains(text, l) {
				t.Errorf("%s: problems lack %q:\n%s", app, l, text)
			}
		}
	}
}

// Apps that decide with chance or a handler that sometimes runs out of
// time answer the same keys differently on different calls (with kv, they
// would if it were kept between calls). Exploring them
// reports what it saw and never assumes two replays agree (it used to index
// one replay's transcript with another's length, and crashed serve).
func TestAppsThatAnswerDifferently(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	apps := map[string]string{
		// How many announcements, and which menu, depend on how many called before.
		"counter.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
function on_call(s)
  local n = kv.incr("calls")
  local out = { clientActionId = n % 2 == 0 and "even" or "odd" }
  for i = 1, (n * 7) % 11 do out[#out + 1] = ivr.say("announcement " .. i) end
  out[#out + 1] = ivr.say_and_capture("Press 1 (" .. out.clientActionId .. ")")
  return out
end
function on_dtmf(s, d)
  local n = kv.incr("keys")
  if n % 3 == 0 then return ivr.hangup() end
  local out = { clientActionId = "m" .. n % 5 }
  for i = 1, n % 4 do out[#out + 1] = ivr.say("note " .. i) end
  out[#out + 1] = ivr.say_and_capture("Menu " .. n % 5)
  return out
end
function on_timeout(s) return ivr.hangup() end`,
		"dice.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
function on_call(s)
  local r = math.random(1, 3)
  return { clientActionId = "m" .. r, ivr.say_and_capture("Menu " .. r) }
end
function on_dtmf(s, d)
  local r = math.random(1, 4)
  if r == 1 then return { ivr.say("bye"), ivr.hangup() } end
  return { clientActionId = "m" .. r, ivr.say_and_capture("Menu " .. r) }
end
function on_timeout(s) return ivr.hangup() end`,
		// Every other call's key press runs out of time: a fallback on one
		// replay, a menu on the next.
		"flaky.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
function on_call(s) return { clientActionId = "main", ivr.say_and_capture("Main") } end
function on_dtmf(s, d)
  if kv.incr("k") % 2 == 0 then while true do end end
  return { clientActionId = "next", ivr.say_and_capture("Next") }
end
function on_timeout(s) return ivr.hangup() end`,
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
	for _, app := range scripts.Names() {
		// Only flaky is meant to run out of time; the others get a deadline
		// that a loaded machine does not reach.
		deadline := 2 * time.Second
		if app == "flaky" {
			deadline = 20 * time.Millisecond
		}
		for run := range 3 {
			res, err := explore.Explore(context.Background(), scripts, app, explore.Options{Depth: 4, Deadline: engine.Options{Deadline: deadline}})
			if err != nil {
				t.Fatalf("%s, run %d: %v", app, run, err)
			}
			nodes := map[string]bool{}
			for _, n := range res.Nodes {
				nodes[n.ID] = true
			}
			if !nodes[res.Root] {
				t.Fatalf("%s: the root %q is not a node", app, res.Root)
			}
			for _, e := range res.Edges {
				if !nodes[e.From] || !nodes[e.To] {
					t.Fatalf("%s: edge %s → %s between nodes never seen", app, e.From, e.To)
				}
			}
			// Each explored call of a pass starts from the same kv: what
			// calls counted before does not make the same inputs lead elsewhere.
			if app == "counter" && strings.Contains(fmt.Sprint(res.Problems), "led to different places on different calls") {
				t.Errorf("counter: replays of the same inputs differ, so kv was kept between explored calls: %v", res.Problems)
			}
		}
	}
}

// A work budget and a pacer bound what exploring costs: serve vets apps
// with both, beside live calls.
func TestExplorationIsBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Every key leads to a new prompt: thousands of states to 8 keys deep.
	src := `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
function on_call(s) s.vars.keys = "" return ivr.say_and_capture("Enter a key") end
function on_dtmf(s, d)
  s.vars.keys = s.vars.keys .. d
  if #s.vars.keys >= 8 then return ivr.hangup() end
  return ivr.say_and_capture("You entered " .. s.vars.keys .. ", next key")
end
function on_timeout(s) return ivr.hangup() end`
	if err := os.WriteFile(filepath.Join(dir, "keypad.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	scripts, errs := engine.Load(dir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	paced := 0
	res, err := explore.Explore(context.Background(), scripts, "keypad", explore.Options{
		Work: 200 * time.Millisecond,
		Pace: func(ctx context.Context, took time.Duration) error { paced++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	// Stopped by the budget, before the exploration's own end (how many
	// calls fit in 200 ms depends on the machine: the whole exploration is
	// the bound to stay under).
	full, err := explore.Explore(context.Background(), scripts, "keypad", explore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(res.Problems), "its work budget of 200ms is used up") || res.Paths >= full.Paths {
		t.Fatalf("the work budget did not stop the exploration: %d calls of the whole exploration's %d: %v", res.Paths, full.Paths, res.Problems)
	}
	if paced != res.Paths-1 {
		t.Fatalf("the pacer was asked %d times for %d calls played: want before each but the first", paced, res.Paths)
	}
	stop := errors.New("the server is shutting down")
	res, err = explore.Explore(context.Background(), scripts, "keypad", explore.Options{
		Pace: func(context.Context, time.Duration) error { return stop }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Paths != 1 || !strings.Contains(fmt.Sprint(res.Problems), stop.Error()) {
		t.Fatalf("a pacer's error did not stop the exploration: %d calls, %v", res.Paths, res.Problems)
	}
}

// The pacer sleeps so that exploring uses at most its share of one core,
// less while live calls are handled.
func TestPacerShare(t *testing.T) {
	t.Parallel()
	busy := false
	p := explore.Pacer{Share: 0.5, BusyShare: 0.1, Busy: func() bool { return busy }}
	for _, c := range []struct {
		busy bool
		took time.Duration
		rest time.Duration
	}{
		{false, 10 * time.Millisecond, 10 * time.Millisecond},
		{true, 10 * time.Millisecond, 90 * time.Millisecond},
		{true, 0, 0},
	} {
		busy = c.busy
		if got := p.Rest(c.took); got != c.rest {
			t.Errorf("busy %v, a call of %s: rest %s, want %s", c.busy, c.took, got, c.rest)
		}
	}
}

// slowMachine is the handlers' deadline in tests that assert exactly what
// is found: a handler slowed down by a busy machine is not what they test.
var slowMachine = engine.Options{Deadline: 2 * time.Second}
