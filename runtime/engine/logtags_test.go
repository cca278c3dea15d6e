package engine_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
)

// withCounter is a slog handler that counts WithAttrs: attributes formatted
// ahead of any line.
type withCounter struct {
	slog.Handler
	withs *atomic.Int64
}

func (h withCounter) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.withs.Add(1)
	return withCounter{h.Handler.WithAttrs(attrs), h.withs}
}

// A script's log lines carry its app and session, and those are formatted
// when a line is written: an event that logs nothing formats nothing.
func TestLogTagsOnlyWhenWritten(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"quiet.lua": voice + `
function on_call(session) return ivr.say_and_capture("press a key", { maxDigits = 1 }) end
function on_dtmf(session, digits)
  log.info("caller pressed", { digits = digits })
  return ivr.hangup()
end`})
	h := newHarness(t, dir, engine.Options{})
	scripts, _ := engine.Load(dir)
	var withs atomic.Int64
	logs := &syncBuffer{}
	eng, err := engine.New(scripts, engine.Options{Store: h.st, Logger: slog.New(withCounter{slog.NewTextHandler(logs, nil), &withs})})
	if err != nil {
		t.Fatal(err)
	}
	c := newCall(shapeDTMF, true)
	post := func(body []byte) {
		t.Helper()
		ev, err := webhook.Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		c.remember(eng.Handle(context.Background(), ev, "quiet").Body)
	}
	post(c.start())
	if n := withs.Load(); n != 0 {
		t.Errorf("an event that logged nothing formatted attributes %d times (logger.With per event)", n)
	}
	post(c.keys("5"))
	line := logs.String()
	if !strings.Contains(line, `msg="caller pressed" app=quiet session=`+c.session+" digits=5") {
		t.Errorf("the script's line does not carry its app and session:\n%s", line)
	}
}
