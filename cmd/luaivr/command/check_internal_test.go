package command

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/explore"
)

// An app whose mistakes sit where exploring does not go (on_end, a helper no
// key reaches) loads and explores clean; lint finds them at their lines.
const unexploredMistakes = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
local function transfer()
  return ivr.make_call { source = "+6568332048", destination = "91234567" }
end
function on_call(session) return { ivr.say("Hello."), ivr.hangup() } end
function on_end(session, summary)
  log.inf("ended", { caller = session.source })
  notify_crm(session.source)
end
`

func writeApp(t *testing.T, name, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// check reports lint's findings with the others, file:line first.
func TestCheckDirLints(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, "bank.lua", unexploredMistakes)
	problems, _ := checkDir(context.Background(), dir, explore.Options{Depth: 4, Deadline: engine.Options{Deadline: 2 * time.Second}})
	var report []string
	for _, p := range problems {
		report = append(report, p.String())
	}
	got := strings.Join(report, "\n")
	for _, want := range []string{
		`bank.lua:3: error: ivr.make_call: -1017 params.destination is "91234567", a local number without a country code`,
		"bank.lua:7: error: log.inf is called, but the log library has no inf: did you mean log.info?",
		"bank.lua:8: error: notify_crm is called, but nothing defines it",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("check's report lacks %q:\n%s", want, got)
		}
	}
}

// Hot reload's vetting refuses a version that lint finds errors in, and
// serves one it finds none in.
func TestVetLints(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		src, want string
	}{
		{unexploredMistakes, "bank.lua: fails check: bank.lua:3: error: ivr.make_call: -1017"},
		{`ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_call(session) return { ivr.say("Hello."), ivr.hangup() } end
function on_end(session, summary) log.info("ended") end`, ""},
	} {
		dir := writeApp(t, "bank.lua", tt.src)
		scripts, errs := engine.Load(dir)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		v := newVetter(context.Background(), engine.Options{Deadline: time.Second}, &engine.Stats{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		err := v.vet(scripts, "bank")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("vet refused a clean app: %v", err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "bank.lua:8: error: notify_crm")):
			t.Errorf("vet = %v, want it to hold %q and the other errors", err, tt.want)
		}
	}
}

// A mistake in an ivr.menu or ivr.defaults table is reported once, at its
// key's line: lint says it there, and loading's report of it at the line
// where the table opens is dropped.
func TestMenuMistakesAtTheirKeys(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, "bank.lua", `ivr.defaults {
  voiceProfile = "en-US-BenjaminRUS", maxDigits = 1,
  noOfTry = 2,
}
local main = ivr.menu {
  id = "main",
  prompt = "Press 1.",
  speed = 3,
  on_to_many = "main",
  ["1"] = "mian",
  tries = 2,
}
function on_call(session) return main end
`)
	problems, _ := checkDir(context.Background(), dir, explore.Options{Depth: 4, Deadline: engine.Options{Deadline: 2 * time.Second}})
	var got []string
	for _, p := range problems {
		if p.Where != "" && !strings.Contains(p.Message, "never reached") {
			got = append(got, p.String())
		}
	}
	want := []string{
		`bank.lua:3: error: ivr.defaults: unknown setting "noOfTry": did you mean noOfTries?`,
		`bank.lua:8: error: ivr.menu "main": -1009 Invalid call flow entry provided. params.speed: must have a maximum value of 2`,
		`bank.lua:9: error: ivr.menu: menu key "on_to_many": did you mean on_too_many?`,
		`bank.lua:10: error: ivr.menu "main" option ["1"] is "mian", but no menu has that id; did you mean "main"?`,
		`bank.lua:11: error: ivr.menu "main" allows 2 tries but says nothing after them`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

// A mistake lint finds and loading or exploring finds again, in its own
// words, at the same line, is said once: by lint, at its line.
func TestCheckSaysAMistakeOnce(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, "bank.lua", `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
local hours = require("lib/hours")
function on_call(session) return { ivr.say("Hello."), ivr.hangup() } end`)
	problems, _ := checkDir(context.Background(), dir, explore.Options{Depth: 4, Deadline: engine.Options{Deadline: 2 * time.Second}})
	if len(problems) != 1 || problems[0].Where != "bank.lua:2" {
		t.Errorf("want one finding at bank.lua:2, got %v", problems)
	}
}
