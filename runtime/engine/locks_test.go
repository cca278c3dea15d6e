package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/store"
)

// ttlStore records the ttl of each Begin.
type ttlStore struct {
	store.Store
	mu   sync.Mutex
	ttls []time.Duration
}

func (s *ttlStore) Begin(ctx context.Context, id, key string, ttl time.Duration) (store.Begun, error) {
	s.mu.Lock()
	s.ttls = append(s.ttls, ttl)
	s.mu.Unlock()
	return s.Store.Begin(ctx, id, key, ttl)
}

// An event's lease lasts longer than twice the deadline plus the store
// timeout, and not much more (it is renewed while the event runs): the
// session of an instance killed mid-event is free again after about that,
// not after seconds of silence for the caller.
func TestLeaseTTL(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"shop.lua": voice + `
function on_call(session) return ivr.say_and_capture("Welcome.", { maxDigits = 1 }) end`})
	for _, deadline := range []time.Duration{100 * time.Millisecond, 2 * time.Second} {
		h := newHarness(t, dir, engine.Options{})
		rec := &ttlStore{Store: h.st}
		eng, err := engine.New(h.eng.Scripts(), engine.Options{Store: rec, Deadline: deadline})
		if err != nil {
			t.Fatal(err)
		}
		c := newCall(shapeEventDataDTMF, true)
		ev, err := webhook.Parse(c.start())
		if err != nil {
			t.Fatal(err)
		}
		eng.Handle(context.Background(), ev, "shop")
		least := 2*deadline + store.DefaultTimeout
		if len(rec.ttls) == 0 || rec.ttls[0] <= least || rec.ttls[0] > least+time.Second/2 {
			t.Errorf("with --deadline %v the lease's ttl is %v, want more than %v and at most %v", deadline, rec.ttls, least, least+time.Second/2)
		}
	}
}
