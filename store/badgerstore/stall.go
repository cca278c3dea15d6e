package badgerstore

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// A stall is a data folder that stopped finishing writes without failing
// them: a drive that hangs, a network volume that went away, a kernel
// stuck writing back. Badger then never answers the writes it was handed
// (it does not look at a context once it has one), and every caller
// waiting on one would be a caller left in silence.
//
// So the store counts the writes it hands to Badger (commits and the
// syncs of SyncWrites) and the answers that come back. When writes are
// outstanding and none was answered for stallAfter, or a sync has run that
// long, the health monitor declares the folder stalled: the writers waiting stop with errStalled
// (their callers get the fallback, and the store forgets what it cached
// of the keys they wrote), new writes are refused, and Ready says why.
// The stall ends once Badger has answered every write it was handed, so
// that no write starts while an older one may still land after it.
//
// What a stall does not cover: a read that blocks in the kernel (Badger
// reads tables through memory maps, and a page fault cannot be
// interrupted), and, once Badger's queue of 1,000 writes is full, the one
// write waiting to join it.
//
// A write that stopped waiting may still land once the disk answers, so
// what the store caches of the keys it wrote must not outlive it: a
// session's live value is forgotten (reads go to Badger, and the sessions'
// live values are kept only by writes), and a kv write stays in flight for
// the kv cache, which keeps no read meanwhile, until Badger answers it;
// then the cache forgets the key.
type stall struct {
	handed   atomic.Uint64 // writes and syncs handed to Badger
	answered atomic.Uint64 // those Badger answered
	// syncing is when the running sync of SyncWrites started (Unix
	// nanoseconds; 0: none runs). Badger answers commits in the order they
	// came, so one that waits long holds up all after it and answered stops
	// moving; a sync runs beside them, and commits answered meanwhile say
	// nothing of it.
	syncing atomic.Int64
	// signal is closed while the folder is stalled; a new one replaces it
	// when the stall ends.
	signal atomic.Pointer[chan struct{}]
	err    atomic.Pointer[error] // why, while stalled

	// The monitor's alone (check).
	seen  uint64    // answered, when last looked at
	since time.Time // when answered last moved, or nothing was outstanding
}

// errStalled is what a write waiting on a stalled folder returns.
var errStalled = errors.New("the data folder stopped finishing writes")

// A stalledWrite is the error of a write handed to Badger that stopped
// waiting for its answer: what kept a cache of the keys it wrote waits on
// answer, since the write may still land.
type stalledWrite struct {
	err    error
	answer <-chan error // Badger's answer, once it comes
}

func (e *stalledWrite) Error() string { return e.err.Error() }
func (e *stalledWrite) Unwrap() error { return e.err }

func newStall() *stall {
	s := &stall{}
	ch := make(chan struct{})
	s.signal.Store(&ch)
	return s
}

// stalled is closed while the folder is stalled: a writer waits on it
// beside its answer.
func (s *stall) stalled() <-chan struct{} { return *s.signal.Load() }

// why is nil unless the folder is stalled.
func (s *stall) why() error { return errOf(&s.err) }

// failure is what a write that stopped waiting on the stall returns: why,
// or errStalled if the stall ended meanwhile.
func (s *stall) failure() error {
	if err := s.why(); err != nil {
		return err
	}
	return errStalled
}

// check is the monitor's look at the writes, at now: whether a stall
// began or ended since the last look, and for how long writes had waited.
func (s *stall) check(now time.Time, after time.Duration) (began, ended bool, waited time.Duration) {
	if s.since.IsZero() {
		s.since = now
	}
	answered := s.answered.Load() // before handed: never more answered than handed
	outstanding := s.handed.Load() - answered
	stalled := s.err.Load() != nil
	switch {
	case outstanding == 0:
		s.seen, s.since = answered, now
		if stalled {
			ch := make(chan struct{})
			s.signal.Store(&ch)
			s.err.Store(nil)
			return false, true, 0
		}
	case stalled:
	default:
		if answered != s.seen {
			s.seen, s.since = answered, now
		}
		waited, what := now.Sub(s.since), fmt.Sprintf("%d writes handed to Badger got no answer", outstanding)
		if at := s.syncing.Load(); at != 0 && now.Sub(time.Unix(0, at)) > waited {
			waited, what = now.Sub(time.Unix(0, at)), "a sync of the data folder has not finished"
		}
		if waited < after {
			break
		}
		err := fmt.Errorf("%w: %s for %s (is the disk hung, or a network volume gone?); events get the fallback until they are answered",
			errStalled, what, waited.Round(time.Millisecond))
		s.err.Store(&err)
		close(*s.signal.Load())
		return true, false, waited
	}
	return false, false, 0
}

// A turn is a lock taken by writes that stop waiting for it when the
// folder stalls (its holder may be stuck inside Badger).
type turn chan struct{}

func newTurn() turn { return make(turn, 1) }

// take waits for the turn, or until stalled is closed (errStalled).
func (t turn) take(stalled <-chan struct{}) error {
	select {
	case t <- struct{}{}:
		return nil
	default:
	}
	select {
	case t <- struct{}{}:
		return nil
	case <-stalled:
		return errStalled
	}
}

// give lets the next writer take the turn.
func (t turn) give() { <-t }
