package engine_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/store"
)

// failingStore is real Badger that can be made to refuse: unready (its disk
// full, say), or failing every commit while claiming to be ready.
type failingStore struct {
	store.Store
	unready, commitFails, readFails atomic.Bool
}

func (f *failingStore) Begin(ctx context.Context, id, key string, ttl time.Duration) (store.Begun, error) {
	if f.readFails.Load() {
		return store.Begun{}, errors.New("input/output error")
	}
	return f.Store.Begin(ctx, id, key, ttl)
}

func (f *failingStore) Ready() error {
	if f.unready.Load() {
		return errors.New("the disk is full")
	}
	return store.Ready(f.Store)
}

func (f *failingStore) Commit(ctx context.Context, c store.Commit) error {
	if f.commitFails.Load() {
		return errors.New("no space left on device")
	}
	return f.Store.Commit(ctx, c)
}

// When the store cannot save an event, the caller hears the app's fallback
// (never a reply that is then lost), the script does not run for nothing,
// and the event is counted with the reason store.
func TestStoreCannotSave(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"shop.lua": voice + `
fallback = { ivr.say("Please call back later."), ivr.hangup() }
function on_call(session)
  kv.incr("ran")
  return ivr.say_and_capture("Welcome.", { maxDigits = 1 })
end
function on_status(session, status) kv.incr("ran") end`})
	h := newHarness(t, dir, engine.Options{})
	fs := &failingStore{Store: h.st}
	scripts, _ := engine.Load(dir)
	var handled []engine.Handled
	eng, err := engine.New(scripts, engine.Options{Store: fs, Logger: slog.New(slog.NewTextHandler(h.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	post := func(body []byte) string {
		ev, err := webhook.Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		x := eng.Handle(context.Background(), ev, "shop")
		handled = append(handled, x)
		return string(x.Body)
	}
	ran := func() string {
		v, _, _ := h.st.KVGet(context.Background(), "shop", "ran")
		return string(v)
	}

	tests := []struct {
		name       string
		fail       *atomic.Bool
		scriptRuns bool // whether the script runs before the store fails
	}{
		{"unready", &fs.unready, false},
		{"commit fails", &fs.commitFails, true},
		{"session read fails", &fs.readFails, false},
	}
	for _, tt := range tests {
		tt.fail.Store(true)
		handled = nil
		c := newCall(shapeEventDataDTMF, true)
		want := "Please call back later." // the app's fallback
		if tt.fail == &fs.readFails {
			want = "We are sorry" // without its session the call has no app yet
		}
		if got := post(c.start()); !strings.Contains(got, want) {
			t.Errorf("%s: the caller heard %s, want %q", tt.name, got, want)
		}
		if got := post(envelope(webhook.CallStatus, c.payload("CALL_CONNECTED"))); got != "{}" {
			t.Errorf("%s: CALL_STATUS answered %s", tt.name, got)
		}
		if len(handled) != 2 || handled[0].Reason != engine.ReasonStore || handled[1].Reason != engine.ReasonStore {
			t.Errorf("%s: events handled %+v, want both with reason %q", tt.name, handled, engine.ReasonStore)
		}
		if _, ok, _ := h.st.Session(context.Background(), c.session); ok {
			t.Errorf("%s: the session was saved", tt.name)
		}
		if got := ran(); (got != "") != tt.scriptRuns {
			t.Errorf("%s: kv ran = %q: the script ran %v, want %v", tt.name, got, got != "", tt.scriptRuns)
		}
		tt.fail.Store(false)
		h.st.KVDelete(context.Background(), "shop", "ran")
	}
	if got := eng.Stats().StoreFails.Load(); got != 6 {
		t.Errorf("store failures counted: %d, want 6", got)
	}
	if !strings.Contains(h.logs.String(), "reason=store") || !strings.Contains(h.logs.String(), "the disk is full") {
		t.Errorf("the log does not say why:\n%s", h.logs)
	}

	// Once the store takes events again, calls are answered and saved.
	c := newCall(shapeEventDataDTMF, true)
	if got := post(c.start()); !strings.Contains(got, "Welcome.") {
		t.Fatalf("after recovery the caller heard %s", got)
	}
	if _, ok, _ := h.st.Session(context.Background(), c.session); !ok {
		t.Error("after recovery the session was not saved")
	}
}

// stalledStore never answers the operation named by stall: it waits for the
// caller's context, as a store whose server stopped answering does.
type stalledStore struct {
	store.Store
	stall string
}

func (s stalledStore) wait(ctx context.Context, op string) error {
	if s.stall != op {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s stalledStore) Begin(ctx context.Context, id, key string, ttl time.Duration) (store.Begun, error) {
	if err := s.wait(ctx, "Begin"); err != nil {
		return store.Begun{}, err
	}
	return s.Store.Begin(ctx, id, key, ttl)
}

func (s stalledStore) Commit(ctx context.Context, c store.Commit) error {
	if err := s.wait(ctx, "Commit"); err != nil {
		return err
	}
	return s.Store.Commit(ctx, c)
}

// A store that stops answering any one operation of an event gives the
// caller a fallback after the store timeout, never silence.
func TestStalledStoreGivesFallback(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"shop.lua": voice + `
fallback = { ivr.say("Please call back later."), ivr.hangup() }
function on_call(session) return ivr.say_and_capture("Welcome.", { maxDigits = 1 }) end`})
	h := newHarness(t, dir, engine.Options{})
	scripts, _ := engine.Load(dir)
	for _, op := range []string{"Begin", "Commit"} {
		eng, err := engine.New(scripts, engine.Options{Store: stalledStore{h.st, op}, StoreTimeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := webhook.Parse(newCall(shapeDTMF, true).start())
		if err != nil {
			t.Fatal(err)
		}
		answered := make(chan []byte, 1)
		go func() { answered <- eng.Handle(context.Background(), ev, "shop").Body }()
		select {
		case got := <-answered:
			if text := replyText(t, got); text != "Please call back later." && !strings.HasPrefix(text, "We are sorry") {
				t.Errorf("%s stalled: the caller heard %q, want a fallback", op, text)
			}
		case <-time.After(10 * time.Second): // a bound on the test, far above the 50ms timeout
			t.Fatalf("%s stalled: no answer, the caller is left in silence", op)
		}
	}
}
