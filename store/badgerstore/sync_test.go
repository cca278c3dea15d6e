package badgerstore

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/storetest"
)

// With SyncWrites, no commit returns (so no reply is sent) before a sync
// that started after its write has finished; and commits that wait
// together share one sync.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	s := openT(t, Options{Dir: t.TempDir(), SyncWrites: true, GCInterval: -1})
	if s.group == nil {
		t.Fatal("SyncWrites without a group commit")
	}
	var mu sync.Mutex
	var syncs int
	gate := make(chan struct{}) // a sync finishes when the test lets it
	real := s.group.syncFn
	s.group.syncFn = func() error {
		<-gate
		mu.Lock()
		syncs++
		mu.Unlock()
		return real()
	}

	const commits = 8
	returned := make(chan int, commits)
	for i := range commits {
		go func() {
			c := store.Commit{Session: store.Session{ID: fmt.Sprintf("call-%d", i), App: "shop", Updated: time.Now()},
				Entry: store.Entry{EventType: "CALL_ACTION"}, ReplyKey: fmt.Sprintf("e%d", i), Reply: []byte(`{"callflow":[]}`)}
			if err := storetest.Commit(t.Context(), s, c); err != nil {
				t.Error(err)
			}
			returned <- i
		}()
	}
	// Every commit is written and waits: none may return before a sync.
	waitFor(t, "the commits to wait for a sync", func() bool {
		s.group.mu.Lock()
		defer s.group.mu.Unlock()
		return s.group.written == commits
	})
	select {
	case i := <-returned:
		t.Fatalf("commit %d returned before any sync finished: its reply would be sent before it is durable", i)
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	for range commits {
		<-returned
	}
	// The first sync started with one commit written; the others, written
	// while it ran, share the next.
	if mu.Lock(); syncs > 2 {
		t.Errorf("%d commits that waited together took %d syncs, want at most 2", commits, syncs)
	}
	mu.Unlock()
	if n, c := s.group.stats(); c != commits || n != uint64(syncs) {
		t.Errorf("group stats: %d syncs covering %d commits, want %d covering %d", n, c, syncs, commits)
	}
}

// A failed sync fails the commits it covered: their replies must not be
// sent as if saved.
func TestGroupCommitSyncFails(t *testing.T) {
	t.Parallel()
	s := openT(t, Options{Dir: t.TempDir(), SyncWrites: true, GCInterval: -1})
	s.group.syncFn = func() error { return fmt.Errorf("input/output error") }
	c := store.Commit{Session: store.Session{ID: "call-1", Updated: time.Now()}, Entry: store.Entry{EventType: "CALL_ACTION"}}
	if err := storetest.Commit(t.Context(), s, c); err == nil {
		t.Error("a commit whose sync failed returned nil")
	}
}
