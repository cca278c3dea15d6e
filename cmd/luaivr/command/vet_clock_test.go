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
)

// Hot reload's vetting explores both sides of the clock as check does: a
// version whose open side is broken is refused though the vetting's first
// call is made while closed.
func TestVettingSeesBothSidesOfTheClock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
function on_call(s)
  if time.is_open({ weekdays = "09:00-12:00" }, { zone = "Asia/Singapore" }) then
    return ivr.say_and_capture("Open. Press 1.", { speed = 3 })
  end
  return { ivr.say("Closed."), ivr.hangup() }
end`
	if err := os.WriteFile(filepath.Join(dir, "morning.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	scripts, errs := engine.Load(dir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	v := newVetter(context.Background(), engine.Options{Deadline: 100 * time.Millisecond}, &engine.Stats{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	err := v.vet(scripts, "morning")
	if err == nil || !strings.Contains(err.Error(), "morning.lua:4: error: ivr.say_and_capture: -1009") {
		t.Fatalf("vetting: %v, want the open side's speed refused", err)
	}
}
