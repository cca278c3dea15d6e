package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
)

const greeter = voice + `
function on_call(s) return ivr.say_and_capture("%s", { maxDigits = 1 }) end
function on_dtmf(s, d) return { ivr.say("%s " .. d), ivr.hangup() } end
`

func writeApp(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func greeterSrc(prompt, answer string) string {
	return strings.Replace(strings.Replace(greeter, "%s", prompt, 1), "%s", answer, 1)
}

// A changed script takes effect; a broken one is refused and the previous
// version serves on; a call in progress keeps its place across both.
func TestReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeApp(t, dir, "greet.lua", greeterSrc("v1 prompt", "v1 got"))
	h := newHarness(t, dir, engine.Options{})

	inProgress := newCall(shapeDTMF, true)
	if got := replyText(t, h.post(inProgress.start(), "greet")); got != "v1 prompt" {
		t.Fatal(got)
	}

	writeApp(t, dir, "greet.lua", greeterSrc("v2 prompt", "v2 got"))
	changed, refused := h.eng.Reload(nil)
	if len(refused) > 0 || strings.Join(changed, ",") != "greet" {
		t.Fatalf("changed %v refused %v", changed, refused)
	}
	if got := replyText(t, h.post(inProgress.keys("5"), "")); got != "v2 got 5" {
		t.Fatalf("the call in progress heard %q from the new version", got)
	}

	writeApp(t, dir, "greet.lua", "function on_call(s) return ivr.hangup( end") // syntax error
	changed, refused = h.eng.Reload(nil)
	if len(changed) != 0 || len(refused) != 1 || !strings.Contains(refused[0].Error(), "greet.lua:1:") {
		t.Fatalf("changed %v refused %v", changed, refused)
	}
	c := newCall(shapeDTMF, true)
	if got := replyText(t, h.post(c.start(), "greet")); got != "v2 prompt" {
		t.Fatalf("after a refused edit a new call heard %q", got)
	}

	writeApp(t, dir, "greet.lua", greeterSrc("v3 prompt", "v3 got"))
	vetErr := errors.New("check found an error")
	changed, refused = h.eng.Reload(func(*engine.Scripts, string) error { return vetErr })
	if len(changed) != 0 || len(refused) != 1 || !errors.Is(refused[0], vetErr) {
		t.Fatalf("a version vet refuses: changed %v refused %v", changed, refused)
	}

	// Removed: no new calls, but the call in progress finishes.
	mid := newCall(shapeDTMF, true)
	h.post(mid.start(), "greet")
	writeApp(t, dir, "other.lua", greeterSrc("other prompt", "other got"))
	if err := os.Remove(filepath.Join(dir, "greet.lua")); err != nil {
		t.Fatal(err)
	}
	changed, _ = h.eng.Reload(nil)
	if strings.Join(changed, ",") != "greet (removed),other" {
		t.Fatalf("changed %v", changed)
	}
	if got := replyText(t, h.post(mid.keys("1"), "")); got != "v2 got 1" {
		t.Fatalf("a call of a removed app heard %q", got)
	}
	fresh := newCall(shapeDTMF, true)
	if got := replyText(t, h.post(fresh.start(), "greet")); got != "other prompt" {
		t.Fatalf("a new call to a removed app heard %q (want the only app left)", got)
	}
}

func TestWatchSeesChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeApp(t, dir, "a.lua", "x = 1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int32
	go engine.Watch(ctx, dir, 5*time.Millisecond, func() { n.Add(1) })
	time.Sleep(20 * time.Millisecond)
	writeApp(t, dir, "b.lua", "x = 2")
	for i := 0; i < 400 && n.Load() == 0; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if n.Load() == 0 {
		t.Fatal("an added script was not noticed within 2s")
	}
}

// A script whose _G refuses unknown names ("strict globals") is refused at
// load, not a crash of the server.
func TestStrictGlobalsScriptIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeApp(t, dir, "good.lua", greeterSrc("good", "good got"))
	writeApp(t, dir, "strict.lua", `setmetatable(_G, { __index = function(_, k) error("undefined global " .. k) end })`)
	scripts, errs := engine.Load(dir)
	if scripts.Apps["good"] == nil {
		t.Fatal("the good app did not load beside the strict one")
	}
	for _, err := range errs {
		t.Logf("refused: %v", err)
	}
	// A strict script that defines its handlers loads and serves.
	writeApp(t, dir, "strict.lua", `on_call = function() return ivr.hangup() end
setmetatable(_G, { __index = function(_, k) error("undefined global " .. k) end })`)
	scripts, _ = engine.Load(dir)
	if scripts.Apps["strict"] == nil {
		t.Fatal("a strict script with on_call did not load")
	}
}
