package badgerstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/storetest"
)

// answerWithin is the test's bound on a write that must come back while
// Badger does not answer: far above StallAfter, far below a hang.
const answerWithin = 10 * time.Second

// A data folder that stops finishing writes (Badger applies them, or not,
// but never answers) gives every writer waiting an error once StallAfter
// has passed, never a caller left in silence: commits, commits of a
// session queued behind a stuck one, kv writes, and commits waiting for
// their sync. New writes are refused and Ready says why until Badger has
// answered everything it was handed; then the store takes events again
// and what it holds is consistent.
func TestStalledFolderAnswersWriters(t *testing.T) {
	t.Parallel()
	for _, fsync := range []bool{false, true} {
		t.Run(fmt.Sprintf("fsync=%v", fsync), func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			s := openT(t, Options{Dir: t.TempDir(), SyncWrites: fsync, GCInterval: -1, StallAfter: 100 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(logs, nil))})
			ctx := context.Background()
			for k := range 3 {
				if err := storetest.Commit(ctx, s, commitOf(fmt.Sprint("call-", k), 0)); err != nil {
					t.Fatal(err)
				}
			}

			// From now on Badger's answers wait for the gate: a disk that hangs.
			gate := make(chan struct{})
			var handed atomic.Int32 // writes that reached Badger
			if fsync {
				real := s.group.syncFn
				s.group.syncFn = func() error { <-gate; return real() }
				s.db.commit = func(txn *badger.Txn, v uint64, done func(error)) error {
					handed.Add(1)
					return commitAt(txn, v, done)
				}
			} else {
				s.db.commit = func(txn *badger.Txn, v uint64, done func(error)) error {
					handed.Add(1)
					return commitAt(txn, v, func(err error) { go func() { <-gate; done(err) }() })
				}
			}
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			write := func(name string, fn func() error) {
				wg.Go(func() {
					returned := make(chan error, 1)
					go func() { returned <- fn() }()
					select {
					case err := <-returned:
						if err == nil {
							err = fmt.Errorf("%s: nil", name)
						}
						errs <- fmt.Errorf("%s: %w", name, err)
					case <-time.After(answerWithin):
						t.Errorf("%s: no answer within %s of a stalled folder: the caller is left in silence", name, answerWithin)
					}
				})
			}
			for k := range 3 { // the next event of each call
				write(fmt.Sprintf("commit of call-%d", k), func() error { return commitNext(s, fmt.Sprint("call-", k)) })
			}
			write("commit of a new call", func() error { return storetest.Commit(ctx, s, commitOf("call-new", 0)) })
			// Calls whose commits take turns with call-0's (sessionLock).
			for _, id := range sharingLock("call-0", 2) {
				write("commit of "+id, func() error { return storetest.Commit(ctx, s, commitOf(id, 0)) })
			}
			if !fsync { // with SyncWrites a kv write waits for no sync: the event's commit covers it
				write("kv.set", func() error { return s.KVSet(ctx, "shop", "k", []byte("1"), 0, store.KVQuota{}) })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if !strings.Contains(err.Error(), "stopped finishing writes") {
					t.Errorf("%v\nwant the stall's error", err)
				}
			}
			if err := s.Ready(); err == nil || !strings.Contains(err.Error(), "is the disk hung") {
				t.Errorf("Ready while stalled: %v", err)
			}
			// A write now could land before the ones Badger still holds.
			before := handed.Load()
			if err := storetest.Commit(ctx, s, commitOf("call-later", 0)); err == nil || !strings.Contains(err.Error(), "stopped finishing writes") {
				t.Errorf("a commit while stalled: %v, want it refused", err)
			}
			if handed.Load() != before {
				t.Error("a commit while stalled was handed to Badger: it may land before older writes")
			}
			waitFor(t, "the stall to be logged", func() bool { return strings.Contains(logs.String(), "data folder stalled") })

			// The disk comes back: Badger answers what it was handed.
			close(gate)
			waitFor(t, "the stall to end", func() bool { return s.Ready() == nil })
			waitFor(t, "the end of the stall to be logged", func() bool { return strings.Contains(logs.String(), "the stall is over") })
			if !fsync { // the kv write that stopped waiting landed once answered
				if v, ok, err := s.KVGet(ctx, "shop", "k"); err != nil || !ok || string(v) != "1" {
					t.Errorf("kv.get after the stall: %q %v %v, want the value the stalled kv.set wrote", v, ok, err)
				}
			}
			for _, id := range []string{"call-0", "call-1", "call-new"} {
				if err := commitNext(s, id); err != nil {
					t.Fatalf("a commit of %s after the stall: %v", id, err)
				}
				sess, ok, err := s.Session(ctx, id)
				if err != nil || !ok {
					t.Fatalf("session %s after the stall: %v %v", id, ok, err)
				}
				entries, err := s.Transcript(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if len(entries) != sess.Events {
					t.Errorf("%s after the stall: %d events counted, %d in its transcript", id, sess.Events, len(entries))
				}
			}
		})
	}
}

// sharingLock is n session ids whose commits take turns with id's.
func sharingLock(id string, n int) []string {
	var ids []string
	for k := 0; len(ids) < n; k++ {
		if other := fmt.Sprint("other-", k); sessionLock(other) == sessionLock(id) {
			ids = append(ids, other)
		}
	}
	return ids
}

// commitNext commits the next event of session id, after what the store
// holds of it.
func commitNext(s *Store, id string) error {
	ctx := context.Background()
	b, err := s.Begin(ctx, id, "", 30*time.Second)
	if err != nil {
		return err
	}
	c := commitOf(id, b.Session.Events)
	c.Lease, c.Read = b.Lease, b.Session.Events
	if err := s.Commit(ctx, c); err != nil {
		s.Release(ctx, c.Lease)
		return err
	}
	return nil
}

// With SyncWrites, a sync that hangs stalls the folder even while other
// events keep coming: each of their commits is answered by Badger's writer
// (its logs are memory-mapped: it does not touch the disk) before it waits
// for the sync, so answers keep coming and say nothing of the sync.
func TestHungSyncStallsUnderTraffic(t *testing.T) {
	t.Parallel()
	s := openT(t, Options{Dir: t.TempDir(), SyncWrites: true, GCInterval: -1, StallAfter: 100 * time.Millisecond})
	ctx := context.Background()
	if err := storetest.Commit(ctx, s, commitOf("warm", 0)); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	real := s.group.syncFn
	s.group.syncFn = func() error { <-gate; return real() }
	defer close(gate)

	first := make(chan error, 1)
	go func() { first <- storetest.Commit(ctx, s, commitOf("caller-0", 0)) }()
	tick := time.NewTicker(20 * time.Millisecond) // the other calls' events, 50 a second
	defer tick.Stop()
	give := time.After(answerWithin)
	var wg sync.WaitGroup
	defer wg.Wait()
	for k := 1; ; k++ {
		select {
		case err := <-first:
			if err == nil || !strings.Contains(err.Error(), "a sync of the data folder has not finished") {
				t.Errorf("the commit waiting for the hung sync: %v, want the stall's error", err)
			}
			return
		case <-give:
			t.Fatalf("a sync hung for %s while events kept coming, and the commit waiting for it has no answer: Ready says %v", answerWithin, s.Ready())
		case <-tick.C:
			wg.Go(func() { storetest.Commit(ctx, s, commitOf(fmt.Sprint("caller-", k), 0)) })
		}
	}
}
