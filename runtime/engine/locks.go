package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/luaivr/luaivr/store"
)

// keyedMutex serialises work per key (a session id) while different keys run in
// parallel. Entries live only while someone holds or waits for them.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*refMutex
}

type refMutex struct {
	sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*refMutex{}
	}
	m := k.locks[key]
	if m == nil {
		m = &refMutex{}
		k.locks[key] = m
	}
	m.refs++
	k.mu.Unlock()

	m.Lock()
	return func() {
		m.Unlock()
		k.mu.Lock()
		if m.refs--; m.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

// leaseTTL is how long an event's lease on its session lasts unrenewed: the
// script's longest run (the watchdog, twice the deadline) and one store
// operation at its timeout, with a margin. keepLease renews it while the
// event waits for a script slot, runs and commits, so it need not cover
// them; what it bounds is how long the session of an instance that was
// killed or froze stays blocked (about 1.5 s with the defaults). Were this
// engine paused past it, another could take the session, and this event's
// commit would be refused.
func (e *Engine) leaseTTL() time.Duration {
	return 2*e.opts.Deadline + e.opts.StoreTimeout + leaseMargin
}

// leaseMargin is the slack of leaseTTL, for a renewal late on busy cores.
const leaseMargin = 250 * time.Millisecond

// longestHold is how long a live event may keep its lease, renewing it:
// waiting for a script slot, running to the watchdog, and its store
// operations at their timeout.
func (e *Engine) longestHold() time.Duration {
	return e.slotWait() + 2*e.opts.Deadline + 4*e.opts.StoreTimeout
}

// begin starts an event of the session (store.Store's Begin): its lease,
// its session, or the reply already sent for it; waiting while another
// event holds the lease, at most longestHold, after which the holder is
// stuck, or dead and its lease expired.
func (e *Engine) begin(ctx context.Context, sessionID, replyKey string) (store.Begun, error) {
	ttl := e.leaseTTL()
	deadline := time.Now().Add(e.longestHold())
	pause := time.Millisecond
	for {
		op, cancel := e.storeOp(ctx)
		begun, err := e.opts.Store.Begin(op, sessionID, replyKey, ttl)
		cancel()
		if !errors.Is(err, store.ErrLocked) {
			return begun, err
		}
		if time.Now().Add(pause).After(deadline) {
			return store.Begun{}, fmt.Errorf("another event of session %s held its lease for over %s: %w", sessionID, e.longestHold(), err)
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return store.Begun{}, ctx.Err()
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// renewals are the leases of the events in progress, each renewed every
// half of its time while its event lasts, by one goroutine that runs while
// any is held (a timer per event cost five allocations and two timer-heap
// changes for events that are nearly all over long before their first
// renewal).
type renewals struct {
	mu      sync.Mutex
	due     map[store.Lease]time.Time // when each lease is renewed next
	running bool
}

// keepLease renews l every half of its time until dropLease; a renewal the
// store did not answer is tried again sooner.
func (e *Engine) keepLease(l store.Lease) {
	r := &e.renewals
	r.mu.Lock()
	if r.due == nil {
		r.due = make(map[store.Lease]time.Time)
	}
	r.due[l] = time.Now().Add(e.leaseTTL() / 2)
	if !r.running {
		r.running = true
		go e.renewLeases()
	}
	r.mu.Unlock()
}

// dropLease stops renewing l: its event ended.
func (e *Engine) dropLease(l store.Lease) {
	e.renewals.mu.Lock()
	delete(e.renewals.due, l)
	e.renewals.mu.Unlock()
}

// renewLeases renews the leases due, every eighth of a lease's time, until
// none is held.
func (e *Engine) renewLeases() {
	r := &e.renewals
	ttl := e.leaseTTL()
	tick := time.NewTicker(ttl / 8)
	defer tick.Stop()
	for range tick.C {
		now := time.Now()
		r.mu.Lock()
		if len(r.due) == 0 {
			r.running = false
			r.mu.Unlock()
			return
		}
		for l, at := range r.due {
			if now.Before(at) {
				continue
			}
			r.due[l] = now.Add(ttl) // while its renewal is under way
			go e.renew(l, ttl)
		}
		r.mu.Unlock()
	}
}

// renew renews one lease, and says when it is due again.
func (e *Engine) renew(l store.Lease, ttl time.Duration) {
	op, cancel := context.WithTimeout(context.Background(), e.opts.StoreTimeout)
	err := e.opts.Store.Renew(op, l, ttl)
	cancel()
	r := &e.renewals
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, held := r.due[l]; !held { // the event ended meanwhile (its commit released the lease)
		return
	}
	switch {
	case errors.Is(err, store.ErrConflict):
		e.log.Warn("store: the event's lease was lost before it ended; its commit will be refused", "session", l.SessionID, "err", err)
		delete(r.due, l)
	case err != nil: // the store did not answer: try again before the lease runs out
		e.log.Warn("store: renewing an event's lease failed; trying again", "session", l.SessionID, "err", err)
		r.due[l] = time.Now().Add(ttl / 8)
	default:
		r.due[l] = time.Now().Add(ttl / 2)
	}
}

// release gives up a lease that no commit released.
func (e *Engine) release(l store.Lease) {
	op, cancel := context.WithTimeout(context.Background(), e.opts.StoreTimeout)
	defer cancel()
	if err := e.opts.Store.Release(op, l); err != nil {
		e.log.Warn("store: releasing an event's lease failed; the session waits for it to expire", "session", l.SessionID, "err", err)
	}
}

// storeOp bounds one store operation by the store timeout: a store that
// does not answer means the fallback, never a caller left in silence.
func (e *Engine) storeOp(ctx context.Context) (context.Context, context.CancelFunc) {
	return newOpContext(ctx, e.opts.StoreTimeout)
}
