package badgerstore

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// health knows whether the data folder can take events, and is the guard
// every Badger call goes through.
//
// Badger writes its logs and tables through memory-mapped files: when the
// disk is full, a write into a new page kills the process with SIGBUS, which
// no Go code can recover. So the store keeps room (space.go): a monitor
// looks at the free space every interval and refuses writes below MinFree,
// early enough that what Badger still does in the background (flushing the
// memtables it holds, compacting) fits. The same monitor notices a data
// folder that was deleted or replaced, or whose MANIFEST was deleted, while
// the store was using it: writes would go to files nobody can read after a
// restart.
//
// Badger can also fail in ways it does not report: a panic in a caller's
// goroutine (seen after the folder was deleted) comes back as an error and
// marks the store broken until a restart. And a write that Badger itself
// refused marks the store failing until a write succeeds again; while
// failing, the monitor retries a small write, so a store that recovers
// becomes ready even when /readyz has turned traffic away from it.
type health struct {
	dir     string      // "" in memory: nothing to watch
	folder  os.FileInfo // the data folder as opened, to notice a replacement
	minFree uint64
	log     *slog.Logger

	room          room                  // the monitor's alone
	stalledAt     time.Time             // the stall monitor's alone: when the stall began,
	stallTold     time.Time             // and when it was last logged
	folderProblem atomic.Pointer[error] // what the monitor last found; writes are refused
	broken        atomic.Pointer[error] // a panic inside Badger: until a restart
	failing       atomic.Pointer[error] // the last write failed
	probe         func() error          // a small write, to learn when failing ends

	stall      *stall        // writes handed to Badger and not answered (stall.go)
	stallAfter time.Duration // how long they may wait before the folder is stalled
}

// errOf returns what p holds, or nil.
func errOf(p *atomic.Pointer[error]) error {
	if e := p.Load(); e != nil {
		return *e
	}
	return nil
}

func setErr(p *atomic.Pointer[error], err error) {
	if err == nil {
		p.Store(nil)
		return
	}
	p.Store(&err)
}

// ready is nil when the store can take events, else why not.
func (h *health) ready() error {
	if err := errOf(&h.broken); err != nil {
		return err
	}
	if err := errOf(&h.folderProblem); err != nil {
		return err
	}
	if err := h.stall.why(); err != nil {
		return err
	}
	return errOf(&h.failing)
}

// refuseWrites is why writes are not even tried: they would fault Badger or
// go to a folder that is gone, or start while older ones may still land
// after them (a stall).
func (h *health) refuseWrites() error {
	if err := errOf(&h.broken); err != nil {
		return err
	}
	if err := errOf(&h.folderProblem); err != nil {
		return err
	}
	return h.stall.why()
}

// call runs fn, turning a panic inside Badger into an error.
func (h *health) call(what string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("badger failed while %s (%v): the data folder may be damaged or gone; restart luaivr, with --repair if it then reports damage", what, p)
			if h.broken.CompareAndSwap(nil, &err) {
				h.log.Error("data folder unusable: luaivr stops saving events and callers get the fallback until it is restarted",
					"err", err, "stack", string(debug.Stack()))
			}
		}
	}()
	return fn()
}

// wrote records the outcome of a write: err is Badger's, not the caller's.
func (h *health) wrote(err error) {
	if err == nil {
		if h.failing.Load() != nil {
			h.failing.Store(nil)
			h.log.Warn("data folder takes events again: writes succeed")
		}
		return
	}
	if h.failing.Load() == nil {
		h.log.Error("data folder refuses writes: events are not saved and callers get the fallback", "err", err)
	}
	setErr(&h.failing, fmt.Errorf("writes to the data folder fail: %w", err))
}

// watch checks the data folder every interval until stop is closed.
func (h *health) watch(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var since, told time.Time // when the current problem began; when it was last logged
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		err := h.check()
		if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
			continue // out of file descriptors (a flood the listener is shedding): nothing learnt about the folder
		}
		was := errOf(&h.folderProblem)
		setErr(&h.folderProblem, err)
		now := time.Now()
		same := was != nil && err != nil && (err.Error() == was.Error() || errors.Is(err, errLowSpace) && errors.Is(was, errLowSpace))
		switch {
		case err != nil && (!same || now.Sub(told) >= time.Minute):
			if was == nil {
				since = now
			}
			told = now
			h.log.Error("data folder cannot take events: nothing is saved and callers get the fallback", "err", err, "since", since.Format(time.RFC3339))
		case err == nil && was != nil:
			h.log.Warn("data folder takes events again", "was", was.Error(), "for", now.Sub(since).Round(time.Second).String())
		}
		if err == nil && h.failing.Load() != nil {
			h.probe() // a write through db.Update, which records how it went
		}
	}
}

// watchStalls looks at the writes Badger has not answered every interval
// until stop is closed. It is a loop of its own, apart from watch, because
// watch's checks touch the disk, and on a hung disk they hang too.
func (h *health) watchStalls(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			h.checkStall(now)
		}
	}
}

// checkStall looks at the writes Badger has not answered (stall.go), and
// logs a stall as it begins and ends.
func (h *health) checkStall(now time.Time) {
	began, ended, waited := h.stall.check(now, h.stallAfter)
	switch {
	case began:
		h.stalledAt, h.stallTold = now, now
		h.log.Error("data folder stalled: writes are not finishing, callers get the fallback until they do",
			"err", h.stall.why(), "waited", waited.Round(time.Millisecond).String())
	case h.stall.why() != nil && now.Sub(h.stallTold) >= time.Minute:
		h.stallTold = now
		h.log.Error("data folder still stalled: writes are not finishing, callers get the fallback until they do",
			"err", h.stall.why(), "since", h.stalledAt.Format(time.RFC3339))
	case ended:
		h.log.Warn("data folder finishes writes again: the stall is over", "for", now.Sub(h.stalledAt).Round(time.Millisecond).String())
	}
}

// check looks at the data folder: still the one opened, its MANIFEST and
// the logs being written still there, enough space free.
func (h *health) check() error {
	fi, err := os.Stat(h.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("data folder %s was deleted while luaivr was using it: what it held is gone and nothing more can be saved; restart luaivr to begin a new one", h.dir)
	case err != nil:
		return fmt.Errorf("data folder %s: %w", h.dir, err)
	case !os.SameFile(fi, h.folder):
		return fmt.Errorf("data folder %s was replaced by another folder while luaivr was using it: luaivr would keep writing to the old one, which is gone; restart luaivr to use the new one", h.dir)
	}
	if _, err := os.Stat(filepath.Join(h.dir, manifestFile)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s was deleted while luaivr was using it: what is saved now could not be read after a restart; restart luaivr with --repair (it says what it drops)", filepath.Join(h.dir, manifestFile))
	}
	h.allocateLogs()
	for _, name := range h.room.inUse() {
		if _, err := os.Stat(filepath.Join(h.dir, name)); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s was deleted while luaivr was writing to it: what is saved now would be lost at a restart; stop luaivr (SIGTERM saves what it holds in memory), and restore the file or start with --repair", filepath.Join(h.dir, name))
		}
	}
	return h.checkSpace()
}

// db is Badger behind the store's guard: a panic inside Badger comes back as
// an error, and writes are refused while the folder cannot take them. Every
// transaction of the store, kv's included, goes through View and Update.
//
// Badger runs managed: a write's version is the next of a counter, and reads
// see the newest version of each key. Badger's own versions cost every
// transaction four trips through its watermark goroutines, and made each
// new transaction wait until every write before it reached the memtable:
// under load the commits queued there (a trace at 6,000 events a second: 13
// s of goroutines blocked in NewTransaction for 6 s of time). The order that
// Badger's conflict detection kept is kept by the store's locks instead (the
// writes of one session take turns, as do those of one app's kv): two
// writes of a key never race, so their versions follow their order; and
// writes reach Badger's writer in the order of their versions.
type db struct {
	*badger.DB
	h       *health
	version *atomic.Uint64 // of the last write
	order   turn           // hands writes to Badger in the order of their versions
	// commit hands a transaction to Badger's writer, which calls done once
	// it is applied (Txn.CommitAt); tests put a writer that does not
	// answer in its place.
	commit func(txn *badger.Txn, version uint64, done func(error)) error
}

// commitAt is db.commit outside tests.
func commitAt(txn *badger.Txn, version uint64, done func(error)) error {
	return txn.CommitAt(version, done)
}

func (d db) View(fn func(txn *badger.Txn) error) error {
	return d.h.call("reading", func() error {
		txn := d.DB.NewTransactionAt(math.MaxUint64, false)
		defer txn.Discard()
		return fn(txn)
	})
}

// hand gives txn its version and hands it to Badger's writer, which
// answers into w once it is applied (a panic in Badger lets go of the
// order too). It waits for its turn only until the folder stalls.
func (d db) hand(txn *badger.Txn, w *commitWait) (uint64, error) {
	if err := d.order.take(d.h.stall.stalled()); err != nil {
		return 0, d.h.stall.failure()
	}
	defer d.order.give()
	v := d.version.Add(1)
	w.stall = d.h.stall
	d.h.stall.handed.Add(1)
	handed := false
	defer func() {
		if !handed { // a panic in Badger: no answer will come
			d.h.stall.answered.Add(1)
		}
	}()
	d.commit(txn, v, w.done) // with a callback, CommitAt answers through it
	handed = true
	return v, nil
}

// A commitWait is how a write learns that Badger applied it: reused, as
// every event makes one.
type commitWait struct {
	result chan error
	done   func(error)
	stall  *stall // counts the answer
}

var waits = sync.Pool{New: func() any {
	w := &commitWait{result: make(chan error, 1)}
	w.done = func(err error) {
		w.stall.answered.Add(1)
		w.result <- err
	}
	return w
}}

// Update refuses to write while the folder cannot take writes, and tells
// health whether Badger accepted the write. Errors of fn itself say nothing
// about the folder, nor does a write that stopped waiting on a stall (the
// stall is health's own state).
func (d db) Update(fn func(txn *badger.Txn) error) error {
	if err := d.h.refuseWrites(); err != nil {
		return err
	}
	var fnErr error
	err := d.h.call("writing", func() error {
		txn := d.DB.NewTransactionAt(math.MaxUint64, true)
		defer txn.Discard()
		if fnErr = fn(txn); fnErr != nil {
			return fnErr
		}
		// A write's version is taken as it is handed to Badger's writer,
		// in one step, so that writes land in the order of their versions
		// (Badger's value-log GC counts on it: a delete that landed
		// before an older write could be dropped with the value it hid).
		w := waits.Get().(*commitWait)
		v, err := d.hand(txn, w)
		if err != nil {
			waits.Put(w)
			return err
		}
		if err := d.answer(w); err != nil {
			return err
		}
		// Versions older than a key's newest are never read again:
		// compaction may drop them.
		d.DB.SetDiscardTs(v)
		return nil
	})
	if fnErr == nil && !errors.Is(err, errStalled) {
		d.h.wrote(err)
	}
	return err
}

// answer is Badger's answer to a write handed to it, or, once the folder
// stalls, a *stalledWrite (the write may still land later: w is then
// Badger's to answer into, not the pool's).
func (d db) answer(w *commitWait) (err error) {
	select {
	case err = <-w.result:
	case <-d.h.stall.stalled():
		select {
		case err = <-w.result: // it came as the stall was declared
		default:
			return &stalledWrite{err: d.h.stall.failure(), answer: w.result}
		}
	}
	waits.Put(w) // only once its answer is read (not after a panic in Badger)
	return err
}
