package badgerstore

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// group is the group commit of SyncWrites: a commit, once written, waits
// for a sync that started after its write, and commits that wait together
// share it. One sync runs at a time; while it runs the commits written
// meanwhile gather, and the first of them starts the next sync for all.
// Under load a sync covers as many commits as were written during the last
// one, so the disk flushes per second stay about constant while the events
// per second grow.
//
// A sync runs in a goroutine of its own and counts as a write handed to
// Badger (stall.go): an fsync that hangs stalls the folder, and the commits
// waiting on it stop waiting then, instead of leaving their callers in
// silence.
type group struct {
	syncFn func() error
	stall  *stall

	mu      sync.Mutex
	written uint64        // commits written so far
	synced  uint64        // commits the last finished sync covers
	running chan struct{} // closed when the running sync ends; nil when none runs
	err     error         // of the last sync, for the commits it covered

	syncs, covered uint64 // for the commits-per-sync figure (Store.GroupStats)
}

func newGroup(syncFn func() error, st *stall) *group {
	return &group{syncFn: syncFn, stall: st}
}

// sync returns once a sync covers the commit just written, with that
// sync's error, or the stall's once the folder stalls.
func (g *group) sync() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.written++
	mine := g.written
	for g.synced < mine {
		if g.running == nil {
			g.start() // for every commit written so far
		}
		running := g.running
		g.mu.Unlock()
		var stalled bool
		select {
		case <-running:
		case <-g.stall.stalled():
			stalled = true
		}
		g.mu.Lock()
		if stalled && g.synced < mine {
			return g.stall.failure()
		}
	}
	return g.err
}

// start runs a sync for every commit written so far; g.mu is held.
func (g *group) start() {
	done := make(chan struct{})
	g.running = done
	upTo := g.written
	g.stall.handed.Add(1)
	g.stall.syncing.Store(time.Now().UnixNano())
	go func() {
		err := g.syncFn()
		g.stall.syncing.Store(0)
		g.stall.answered.Add(1)
		g.mu.Lock()
		g.running = nil
		g.syncs++
		g.covered += upTo - g.synced
		g.synced, g.err = upTo, err
		g.mu.Unlock()
		close(done)
	}()
}

// GroupStats is how many syncs the group commit of SyncWrites ran and how
// many commits they covered (both 0 without SyncWrites).
func (s *Store) GroupStats() (syncs, commits uint64) {
	if s.group == nil {
		return 0, 0
	}
	return s.group.stats()
}

// stats is how many syncs ran and how many commits they covered.
func (g *group) stats() (syncs, commits uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.syncs, g.covered
}

// syncLogs makes what Badger wrote durable, kv writes included (an event's
// come before its commit, whose sync covers them): db.Sync fsyncs the memtable's
// write-ahead log and the value log file being written, and the write-ahead
// logs of memtables set aside since (still waiting to be flushed into a
// table, which Badger syncs) and the previous value log file are synced
// here, since a commit may have gone to them before Badger moved on.
func syncLogs(db *badger.DB, dir string) error {
	if err := db.Sync(); err != nil {
		return err
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var vlogs []string
	for _, n := range names {
		switch {
		case strings.HasSuffix(n.Name(), ".mem"):
			if err := fsync(filepath.Join(dir, n.Name())); err != nil {
				return err
			}
		case strings.HasSuffix(n.Name(), ".vlog"):
			vlogs = append(vlogs, n.Name())
		}
	}
	slices.Sort(vlogs) // zero-padded numbers: the last is the newest
	if len(vlogs) >= 2 {
		return fsync(filepath.Join(dir, vlogs[len(vlogs)-2]))
	}
	return nil
}

// fsync syncs one file; a file gone meanwhile (a memtable flushed, its
// log removed) needs none.
func fsync(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
