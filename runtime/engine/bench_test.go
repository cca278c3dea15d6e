package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/store"
)

// BenchmarkWebhook is one CALL_ACTION of the restaurant end to end in
// process, as most of a call's events are: the caller presses a key at the
// main menu of a call in progress (calls of 8 events, the first of each a
// new call; each event its own id). Parse, session read, the menu's answer,
// encode, commit to Badger (in memory). BenchmarkBaseline is the part no IVR server can skip (parse the
// webhook, encode a fixed reply), for ratios.
func BenchmarkWebhook(b *testing.B) { benchWebhook(b, "restaurant", "main_menu", 8) }

// BenchmarkWebhookNewCall is the same for the first event of a call the
// store does not know yet: a session read that finds nothing, one written.
func BenchmarkWebhookNewCall(b *testing.B) { benchWebhook(b, "restaurant", "main_menu", 0) }

// BenchmarkWebhookDTMF is BenchmarkWebhook with a hand-written on_dtmf
// (simple_ivr) instead of the menu router: a warm Lua state runs it.
func BenchmarkWebhookDTMF(b *testing.B) { benchWebhook(b, "simple_ivr", "", 8) }

// BenchmarkWebhookNoStore is BenchmarkWebhook with a store that writes
// nothing (sessions and their last reply in a map, no transcript, no
// Badger): what an event costs besides its store, for the store's share.
func BenchmarkWebhookNoStore(b *testing.B) {
	scripts, errs := engine.Load("../../scripts")
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	eng, err := engine.New(scripts, engine.Options{Store: &discardStore{sessions: map[string]discarded{}}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	playWebhooks(b, eng, "restaurant", "main_menu", 8)
}

// benchWebhook plays events of app at position, in calls of perCall events
// (0: each event a new call).
func benchWebhook(b *testing.B, app, position string, perCall int) {
	playWebhooks(b, newHarness(b, "../../scripts", engine.Options{}).eng, app, position, perCall)
}

func playWebhooks(b *testing.B, eng *engine.Engine, app, position string, perCall int) {
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		call := i
		if perCall > 0 {
			call = i / perCall
		}
		body := []byte(fmt.Sprintf(`{"eventType":"CALL_ACTION","payload":{"sessionId":"bench-%d","eventId":"e%d","callStatus":"ACTION_COMPLETED","clientActionId":%q,"eventData":{"dtmf":"1"}}}`, call, i, position))
		ev, err := webhook.Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		eng.Handle(ctx, ev, app)
	}
}

func BenchmarkBaseline(b *testing.B) {
	reply := callflow.Reply{ClientActionID: "reservations", Callflow: []callflow.Action{{Name: callflow.SayAndCapture,
		Params: map[string]any{"promptMessage": "Press 1", "voiceProfile": "en-US-BenjaminRUS", "maxDigits": 1.0}}}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		body := []byte(fmt.Sprintf(`{"eventType":"CALL_ACTION","payload":{"sessionId":"bench-%d","eventId":"e","callStatus":"ACTION_COMPLETED","clientActionId":"main_menu","eventData":{"dtmf":"1"}}}`, i))
		if _, err := webhook.Parse(body); err != nil {
			b.Fatal(err)
		}
		if _, err := reply.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

// discardStore keeps each session and its last reply in a map and writes
// nothing else anywhere: no transcript, nothing that survives the process.
// For BenchmarkWebhookNoStore only.
type discardStore struct {
	store.LocalLeases
	mu       sync.Mutex
	sessions map[string]discarded
}

type discarded struct {
	s     store.Session
	key   string
	reply []byte
}

func (d *discardStore) Session(_ context.Context, id string) (store.Session, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.sessions[id]
	return s.s, ok, nil
}

func (d *discardStore) Begin(ctx context.Context, id, key string, ttl time.Duration) (store.Begun, error) {
	d.mu.Lock()
	s, ok := d.sessions[id]
	d.mu.Unlock()
	if ok && key != "" && s.key == key {
		return store.Begun{Replied: true, Reply: s.reply}, nil
	}
	l, err := d.Acquire(ctx, id, ttl)
	return store.Begun{Lease: l, Session: s.s, Known: ok}, err
}

func (d *discardStore) Commit(ctx context.Context, c store.Commit) error {
	sess, _ := c.Numbered()
	d.mu.Lock()
	d.sessions[sess.ID] = discarded{sess, c.ReplyKey, c.Reply}
	d.mu.Unlock()
	return d.Release(ctx, c.Lease)
}

func (d *discardStore) Register(_ context.Context, s store.Session) (store.Session, error) {
	return s, nil
}
func (d *discardStore) Transcript(context.Context, string) ([]store.Entry, error) { return nil, nil }
func (d *discardStore) Sessions(context.Context, func(store.Session) bool) error  { return nil }
func (d *discardStore) Close() error                                              { return nil }
func (d *discardStore) KVGet(context.Context, string, string) ([]byte, bool, error) {
	return nil, false, nil
}
func (d *discardStore) KVDelete(context.Context, string, string) error { return nil }
func (d *discardStore) KVSet(context.Context, string, string, []byte, time.Duration, store.KVQuota) error {
	return nil
}
func (d *discardStore) KVIncr(_ context.Context, _, _ string, delta float64, _ time.Duration, _ store.KVQuota) (float64, error) {
	return delta, nil
}
func (d *discardStore) KVList(context.Context, string, string, int, int) ([]store.KVPair, error) {
	return nil, nil
}
