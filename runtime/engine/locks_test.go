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

// slowCommits takes longer than a lease's time to commit, and counts the
// renewals meanwhile.
type slowCommits struct {
	store.Store
	wait     time.Duration
	mu       sync.Mutex
	renewals int
}

func (s *slowCommits) Commit(ctx context.Context, c store.Commit) error {
	time.Sleep(s.wait)
	return s.Store.Commit(context.Background(), c)
}

func (s *slowCommits) Renew(ctx context.Context, l store.Lease, ttl time.Duration) error {
	s.mu.Lock()
	s.renewals++
	s.mu.Unlock()
	return s.Store.Renew(ctx, l, ttl)
}

// An event that lasts longer than its lease's time keeps its session: the
// lease is renewed while it runs, so its commit is not refused (without
// renewals, the lease would have expired and the event's changes been lost).
func TestLeaseRenewedWhileTheEventLasts(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"shop.lua": voice + `
function on_call(session) return ivr.say_and_capture("Welcome.", { maxDigits = 1 }) end`})
	h := newHarness(t, dir, engine.Options{})
	opts := engine.Options{Deadline: 100 * time.Millisecond, StoreTimeout: 300 * time.Millisecond}
	slow := &slowCommits{Store: h.st}
	eng, err := engine.New(h.eng.Scripts(), engine.Options{Store: slow, Deadline: opts.Deadline, StoreTimeout: opts.StoreTimeout})
	if err != nil {
		t.Fatal(err)
	}
	slow.wait = 2 * (2*opts.Deadline + opts.StoreTimeout + 250*time.Millisecond) // twice the lease's time
	ev, err := webhook.Parse(newCall(shapeEventDataDTMF, true).start())
	if err != nil {
		t.Fatal(err)
	}
	got := eng.Handle(context.Background(), ev, "shop")
	if got.Reason != "" {
		t.Fatalf("the slow event fell back (%s): %v", got.Reason, got.Err)
	}
	sess, ok, err := h.st.Session(context.Background(), ev.SessionID)
	if err != nil || !ok || sess.Events != 1 {
		t.Fatalf("the slow event's session: %+v, %v, %v; want its one event saved", sess, ok, err)
	}
	slow.mu.Lock()
	defer slow.mu.Unlock()
	if slow.renewals < 2 {
		t.Errorf("the lease was renewed %d times while the event lasted twice its time, want at least 2", slow.renewals)
	}
}
