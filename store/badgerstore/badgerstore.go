// Package badgerstore is the embedded store.Store, kept in a Badger database in
// a local folder (or in memory).
//
// Layout (records in store's compact form, see store/record.go):
//
//	s/<sessionID>                    store.Session
//	t/<sessionID>/<seq, 8 bytes BE>  the event: its store.Entry and the reply sent (event.go; big-endian so keys sort by Seq)
//	r/<sessionID>/<8-byte hash>      the seq of the event that answered a reply key (event.go)
//	u/<^updated, 8 bytes BE><id>     no value: sessions, most recently updated first
//	m/<name>                         the store's own marks (m/sessions-index: u/ is complete)
//
// An event is one transaction: its two records (session, event), the few
// bytes naming its reply, and the move of its index key. A redelivery is
// answered from the event's value, so a reply is kept once, beside its
// transcript entry.
//
// Nothing is ever deleted explicitly: every key carries a Badger TTL, and
// expired keys are dropped by compaction and value-log GC.
//
// A data folder is a thing that fails: it fills up, is deleted, is damaged.
// health.go watches it while the store runs (refusing writes, and telling
// Ready, before Badger could fault), damage.go checks it before Badger opens
// it; no Badger panic in a caller's goroutine gets past the store.
package badgerstore

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/luaivr/luaivr/store"
)

// Options configure Open. The zero value of every field but Dir is usable.
//
// Durability: Commit returns once Badger has written the transaction to its
// write-ahead log, a memory-mapped file. With SyncWrites false that write sits
// in the OS page cache, so an acknowledged commit survives a crash of the
// luaivr process (the kernel still writes the pages out) but not a crash or
// power loss of the machine. SyncWrites true fsyncs the logs before Commit
// returns, which survives both; commits that wait together share one fsync
// (group commit, sync.go), so the cost is a disk flush per batch of events,
// not per event.
type Options struct {
	Dir      string // data folder; created if missing, ignored when InMemory
	InMemory bool   // keep everything in memory (tests, throwaway runs); lost on exit
	// SessionTTL is how long a session and its transcript live after its last
	// commit. Default 24h.
	SessionTTL time.Duration
	// ReplyTTL is how long a sent reply is kept to answer redeliveries.
	// Default 24h.
	ReplyTTL   time.Duration
	SyncWrites bool
	// GCInterval is how often value-log GC runs, reclaiming space held by
	// expired values. Default 5m; negative disables it.
	GCInterval time.Duration
	// Logger receives Badger's warnings and errors; nil discards them.
	Logger *slog.Logger
	// MinFree is the free space, in bytes, to keep on the data folder's disk:
	// a running store below it refuses writes and is not Ready until space is
	// freed, and Open refuses to start below it and the reserve (a quarter
	// of it, see space.go). Default 256 MiB; negative turns the check off.
	MinFree int64
	// Repair opens a damaged data folder (see damage.go): what cannot be read
	// is moved aside and logged. Without it Open refuses with a DamageError.
	Repair bool
	// StallAfter is how long writes handed to Badger may go unanswered
	// before the folder is called stalled (stall.go): callers waiting get
	// an error, and so the fallback, instead of silence. Default
	// store.DefaultTimeout, the engine's bound on a store operation.
	StallAfter time.Duration
}

// Badger's sizes that the store's room for it depends on (space.go).
const (
	memtableSize = 16 << 20
	valueLogSize = 16 << 20
)

// healthInterval is how often the data folder is checked: a check is a few
// system calls, and the sooner a disk filling up is seen, the less of it
// Badger may need (space.go).
const healthInterval = 20 * time.Millisecond

// DefaultMinFree is Options.MinFree unless set: room for what Badger writes
// after the store stops writing (flushing two 16 MiB memtables, compactions of
// tables of 512 KiB, one value-log file rewritten by GC, 16 MiB), and for a
// few seconds of events at full load before the monitor notices.
const DefaultMinFree = 256 << 20

// Store is a store.Store on Badger. Create it with Open.
//
// One process at a time opens a data folder (Badger locks it), so the
// sessions' leases live in the process (store.LocalLeases) and hold for every
// engine sharing the Store; commits check them and the session's version
// inside the Badger transaction that writes.
type Store struct {
	store.LocalLeases // Renew, Release and Begin's lease: leases kept in the process
	db                db
	h                 *health
	group             *group // with SyncWrites: the fsync commits wait for
	sessionTTL        time.Duration
	replyTTL          time.Duration
	log               *slog.Logger
	live              live    // the sessions as this process last wrote them
	kv                kvCache // the kv keys and usage as this process last read or wrote them

	closeOnce sync.Once
	stop      chan struct{} // ends GC and the health monitor
	done      sync.WaitGroup
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Readier = (*Store)(nil)
	_ store.Sizer   = (*Store)(nil)
)

func init() {
	store.RegisterScheme("badger", func(u *url.URL, o store.Options) (store.Store, error) {
		dir := u.Host + u.Path // badger:///abs/path, badger://relative/path
		if u.Opaque != "" {
			dir = u.Opaque // badger:relative
		}
		opts := Options{Dir: dir, SessionTTL: o.SessionTTL, ReplyTTL: o.ReplyTTL, SyncWrites: o.SyncWrites,
			MinFree: o.MinFree, Repair: o.Repair, Logger: o.Logger}
		if o.Brief {
			opts.GCInterval = -1
		}
		return Open(opts)
	})
}

// tableBlockSize is the size of the blocks of Badger's tables (see Open's
// options). A table's blocks are found from its index, whatever their size,
// so tables of other sizes (4 KiB before 2026-12-01) read as well.
const tableBlockSize = 32 << 10

// sessionLocks make the commits and Registers of one session in this process
// take turns, by a hash of its id: a read-check-write without Badger
// refusing one of two that overlap. Only this process opens the folder.
var sessionLocks [64]sync.Mutex

func sessionLock(id string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(id))
	return &sessionLocks[h.Sum32()%uint32(len(sessionLocks))]
}

// Open opens (creating if needed) the database in opts.Dir, or an in-memory
// one, and starts value-log GC and the health monitor. It refuses a disk with
// less than MinFree bytes free and a damaged folder (unless Repair). Close it
// when done.
func Open(opts Options) (*Store, error) {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 24 * time.Hour
	}
	if opts.ReplyTTL <= 0 {
		opts.ReplyTTL = 24 * time.Hour
	}
	if opts.GCInterval == 0 {
		opts.GCInterval = 5 * time.Minute
	}
	if opts.MinFree == 0 {
		opts.MinFree = DefaultMinFree
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if !opts.InMemory && opts.Dir == "" {
		return nil, errors.New("badgerstore: no data folder given; set one (--data) or use the in-memory store")
	}
	if opts.StallAfter <= 0 {
		opts.StallAfter = store.DefaultTimeout
	}
	h := &health{minFree: uint64(max(opts.MinFree, 0)), log: opts.Logger, stall: newStall(), stallAfter: opts.StallAfter}
	if !opts.InMemory {
		h.dir = opts.Dir
		if err := prepareFolder(opts, h); err != nil {
			return nil, err
		}
	}

	dir := opts.Dir
	if opts.InMemory {
		dir = "" // Badger refuses a Dir in memory mode.
	}
	bopts := badger.DefaultOptions(dir).
		WithInMemory(opts.InMemory).
		// SyncWrites is the store's group commit (sync.go), not Badger's
		// fsync of each transaction.
		WithSyncWrites(false).
		// The store's locks order the writes of a key (see db), and its
		// reads see the newest version, so there is nothing to detect.
		WithDetectConflicts(false).
		WithLogger(badgerLogger{opts.Logger.With("component", "badger")}).
		// Damage found while running is an error, not silently wrong data:
		// check each table block read from disk and each value read from a
		// value log (both CRC-32C, cheap next to the read).
		WithChecksumVerificationMode(options.OnBlockRead).
		WithVerifyValueChecksum(true).
		// luaivr writes about a KiB per webhook and shares a small (2-core)
		// machine, so trade Badger's throughput-oriented defaults (64 MiB
		// memtables ×5, 256 MiB block cache, 1 GiB value-log files,
		// 4 compactors) for a footprint of tens of MiB.
		//
		// The choices below were measured as CPU time (user+sys, which the
		// load of a shared machine disturbs less than wall time) of 30,000
		// commits from 32 goroutines (BenchmarkCommitParallel), three runs
		// of each variant interleaved, against these options (2.92 s):
		// 16 MiB memtables 2.33 s (0.80×: fewer flushes and level-0
		// compactions; 4 MiB was the choice before); no compression
		// 3.60 s (1.23×: twice the bytes to flush and compact, and twice
		// the data per call in BenchmarkCallSize), ZSTD level 1 half the
		// commit rate in BenchmarkCallSize for 0.82× the data; no
		// conflict detection 3.20 s, a value threshold of 64 KiB 3.05 s,
		// 8 tables of level 0 before a stall 2.8 s (all within the noise);
		// 2 MiB tables 3.47 s (1.19×).
		//
		// Table blocks of 32 KiB, not Badger's 4 KiB: a block holds several
		// calls' records, which repeat each other's ids and numbers where a
		// record's own compression (dictionary.go) cannot see them, and
		// fewer, bigger blocks cost less to build and to index. Measured in
		// serve, 200,000 restaurant calls flat out, the data folder after
		// Close and serve's CPU time over the run (/proc/PID/stat), one build
		// after another (2026-12-01). With random (version 4) UUIDs for each
		// session, leg and event: 4 KiB 1,644 bytes a call and 282 s; 32 KiB
		// 1,134 bytes, 237 s. With ids in sequence (bench before that day):
		// 4 KiB 1,090 bytes and 190 s; 16 KiB 701 bytes, 176–188 s; 32 KiB
		// 605 bytes, 149–164 s; ZSTD (level 1) over 16 KiB blocks 517 bytes
		// but 204 s. A block is read whole, and reads are rare: an event
		// reads its session from memory (live).
		//
		// Two 16 MiB memtables: one taking writes while the other is flushed.
		WithMemTableSize(memtableSize).
		WithNumMemtables(2).
		// Compact level 0 early (2 tables) and stall writers at 4, so few
		// overlapping tables pile up to be searched and held in memory.
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		// Caches sized for a working set of live calls, not a whole dataset.
		// Compressed tables need a block cache.
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(4 << 20).
		// Values over 1 KiB (typically transcript entries carrying event and
		// reply bodies) go to the value log, keeping memtables and LSM tables
		// small; sessions and small entries stay in the LSM tree. 16 MiB log
		// files let GC reclaim expired values in small steps, and are what
		// the store allocates ahead of writing (space.go).
		WithValueThreshold(1 << 10).
		WithValueLogFileSize(valueLogSize).
		// The fewest compactors Badger allows besides none: one per core.
		WithNumCompactors(2).
		// Compaction builds each output table in memory, several at once;
		// with Badger's default the tables double in size at every level, so
		// that memory grew with the data (measured: a heap of 429 MiB after
		// 256k events). Small tables of one size keep it flat (77 MiB).
		WithBaseTableSize(512 << 10).
		WithBlockSize(tableBlockSize)
	bopts.TableSizeMultiplier = 1
	if opts.InMemory {
		// In memory there is no value log: Badger refuses values over the
		// threshold instead of moving them there. Keep everything in the tree
		// (a value must also fit a write batch, 15% of a memtable).
		bopts = bopts.WithValueThreshold(1 << 20).WithMemTableSize(8 << 20)
	}

	bdb, err := openBadger(bopts)
	for try := 0; isInUse(err) && try < 20; try++ {
		time.Sleep(50 * time.Millisecond) // held for a moment, as lockFolder waits for
		bdb, err = openBadger(bopts)
	}
	if err != nil {
		if isInUse(err) {
			return nil, errInUse(opts.Dir)
		}
		if opts.InMemory {
			return nil, fmt.Errorf("badgerstore: open in-memory database: %w", err)
		}
		return nil, fmt.Errorf("cannot open data folder %s (it must be a writable folder holding a luaivr database, or not exist yet): %w", opts.Dir, err)
	}

	s := &Store{
		db:         db{DB: bdb, h: h, version: new(atomic.Uint64), order: newTurn(), commit: commitAt},
		h:          h,
		sessionTTL: opts.SessionTTL,
		replyTTL:   opts.ReplyTTL,
		log:        opts.Logger,
		stop:       make(chan struct{}),
	}
	// Writes go on from the newest version; older ones than a key's newest
	// may be dropped from the start (compaction before the first write).
	s.db.version.Store(bdb.MaxVersion())
	bdb.SetDiscardTs(s.db.version.Load())
	if opts.SyncWrites && !opts.InMemory {
		s.group = newGroup(func() error { return s.h.call("syncing", func() error { return syncLogs(bdb, opts.Dir) }) }, h.stall)
	}
	h.probe = s.probe
	if !opts.InMemory {
		h.holdRoom()
	}
	if err := s.indexSessions(); err != nil {
		s.Close()
		return nil, fmt.Errorf("data folder %s: listing sessions by time: %w", opts.Dir, err)
	}
	// In memory there is no value log to collect, nor a folder to watch.
	if !opts.InMemory {
		if opts.GCInterval > 0 {
			s.done.Go(func() { s.runGC(opts.GCInterval) })
		}
		s.done.Go(func() { h.watch(healthInterval, s.stop) })
		s.done.Go(func() { h.watchStalls(healthInterval, s.stop) })
	}
	return s, nil
}

// ErrInUse is wrapped by Open's error for a data folder another process holds.
var ErrInUse = errors.New("in use by another luaivr process")

func errInUse(dir string) error {
	return fmt.Errorf("data folder %s is %w (Badger holds a lock); stop it or use --data to pick another folder", dir, ErrInUse)
}

// prepareFolder creates the data folder if needed and checks it before
// Badger opens it: free space, then damage (repaired if opts.Repair), while
// holding the folder's lock so that no other process writes to it meanwhile.
func prepareFolder(opts Options, h *health) error {
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return fmt.Errorf("cannot create data folder %s: %w", opts.Dir, err)
	}
	if err := h.startRoom(); err != nil {
		return fmt.Errorf("cannot start: %w; free some space first (or lower --min-free)", err)
	}
	unlock, err := lockFolder(opts.Dir)
	if errors.Is(err, errLocked) {
		return errInUse(opts.Dir)
	} else if err != nil {
		return fmt.Errorf("cannot open data folder %s: %w", opts.Dir, err)
	}
	defer unlock() // Badger takes the lock again
	damages, verified, err := inspect(opts.Dir)
	if err != nil {
		return fmt.Errorf("cannot read data folder %s: %w", opts.Dir, err)
	}
	if len(damages) > 0 && !opts.Repair {
		return &DamageError{Dir: opts.Dir, Damages: damages}
	}
	if len(damages) == 0 && opts.Repair {
		opts.Logger.Info("repair: the data folder has no damage", "dir", opts.Dir)
	}
	if len(damages) > 0 {
		if err := repair(opts.Dir, damages, opts.Logger); err != nil {
			return fmt.Errorf("data folder %s: %w", opts.Dir, err)
		}
	}
	if err := writeChecked(opts.Dir, verified); err != nil {
		return fmt.Errorf("data folder %s: %w", opts.Dir, err)
	}
	h.folder, err = os.Stat(opts.Dir)
	return err
}

// openBadger opens Badger managed (the store gives each write its version:
// see db), with a panic in this goroutine made an error.
func openBadger(o badger.Options) (db *badger.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("badger failed: %s", firstLine(fmt.Sprint(p)))
		}
	}()
	return badger.OpenManaged(o)
}

// runGC collects the value log every interval until Close, except while
// the folder cannot take writes (GC rewrites values). Each RunValueLogGC
// call rewrites at most one log file, so it loops until Badger reports
// there is nothing more worth rewriting (ErrNoRewrite).
func (s *Store) runGC(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for s.h.ready() == nil {
			err := s.h.call("collecting the value log", func() error { return s.db.RunValueLogGC(0.5) })
			if err == nil {
				continue
			}
			if !errors.Is(err, badger.ErrNoRewrite) {
				s.log.Warn("badger value-log GC failed", "err", err)
			}
			break
		}
	}
}

// Close stops GC and the monitor and closes the database. Later calls do
// nothing and return nil.
//
// Badger's Close flushes what it holds in memory and retries that forever
// if it cannot (the folder is gone, the disk is full): Close gives up after
// a while, with an error, so that a server can still stop.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		s.done.Wait()
		closed := make(chan error, 1)
		go func() { closed <- s.h.call("closing", s.db.Close) }()
		wait := 10 * time.Second
		if s.h.refuseWrites() != nil {
			wait = time.Second
		}
		select {
		case err = <-closed:
		case <-time.After(wait):
			err = fmt.Errorf("the data folder did not close within %s: what the database held in memory is lost", wait)
			if why := s.h.ready(); why != nil {
				err = fmt.Errorf("%w (%w)", err, why)
			}
		}
	})
	return err
}

// Ready implements store.Store: nil while the store can take events.
func (s *Store) Ready() error {
	if s.db.IsClosed() {
		return errors.New("the data folder is closed")
	}
	return s.h.ready()
}

// probe is a small write, for health to learn whether writes work again.
func (s *Store) probe() error {
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry([]byte("m/probe"), nil).WithTTL(time.Minute))
	})
}

// Session implements store.Store.
func (s *Store) Session(ctx context.Context, id string) (store.Session, bool, error) {
	var sess store.Session
	ok, err := s.get(ctx, sessionKey(id), func(v []byte) (err error) {
		sess, _, err = decodeSessionValue(v)
		return err
	})
	if err != nil {
		return store.Session{}, false, fmt.Errorf("badgerstore: session %q: %w", id, err)
	}
	return sess, ok, nil
}

// Begin implements store.Store: the lease is taken in the process, then the
// session is read (from what this process last wrote, or Badger) and, for a
// redelivery, the event that answered it.
func (s *Store) Begin(ctx context.Context, id, key string, ttl time.Duration) (store.Begun, error) {
	lease, err := s.LocalLeases.Acquire(ctx, id, ttl)
	if err != nil {
		return store.Begun{}, err
	}
	var b store.Begun
	now := uint64(time.Now().Unix())
	if v := s.live.get(id, now); v != nil {
		b.Session, b.Known = v.copySession(), true
		if key != "" {
			err = s.replied(nil, id, key, v, now, &b)
		}
	} else {
		err = s.db.View(func(txn *badger.Txn) error {
			sess, v, ok, err := s.readSession(txn, id)
			if err != nil || !ok {
				return err
			}
			b.Session, b.Known = sess, true
			if key == "" {
				return nil
			}
			return s.replied(txn, id, key, &v, now, &b)
		})
	}
	if err != nil || b.Replied {
		s.LocalLeases.Release(ctx, lease)
	}
	if err != nil {
		return store.Begun{}, fmt.Errorf("badgerstore: session %q: %w", id, err)
	}
	if !b.Replied {
		b.Lease = lease
	}
	return b, nil
}

// replied sets b to the reply of the event named by key, if the session
// (its value v) answered it: found by its mark in v, or, for an event
// whose mark v no longer holds, under its own key. txn nil: one is opened
// only when a key must be read.
func (s *Store) replied(txn *badger.Txn, id, key string, v *sessionValue, now uint64, b *store.Begun) error {
	seq, ok := v.find(key, now)
	if !ok && !v.spilled && !v.legacy {
		return nil
	}
	if txn == nil {
		return s.db.View(func(txn *badger.Txn) error { return s.replied(txn, id, key, v, now, b) })
	}
	if !ok {
		item, err := txn.Get(repliedKey(id, replyHash(key)))
		if errors.Is(err, badger.ErrKeyNotFound) {
			if !v.legacy {
				return nil
			}
			return s.legacyReply(txn, key, b)
		} else if err != nil {
			return err
		}
		if err := item.Value(func(v []byte) error {
			var n int
			if seq, n = binary.Uvarint(v); n <= 0 {
				return errShort
			}
			return nil
		}); err != nil {
			return err
		}
	}
	item, err := txn.Get(entryKey(id, int(seq)))
	if errors.Is(err, badger.ErrKeyNotFound) { // its entry expired first
		return nil
	} else if err != nil {
		return err
	}
	return item.Value(func(v []byte) error {
		_, reply, err := decodeEvent(v)
		if err == nil && reply != nil {
			*b = store.Begun{Replied: true, Reply: reply}
		}
		return err
	})
}

// legacyReply finds the reply a luaivr before the compact records kept under
// its own key (d/<key>, until its --reply-ttl), so that an event answered
// before an upgrade and redelivered after it gets the same reply, not a new
// run of the script.
func (s *Store) legacyReply(txn *badger.Txn, key string, b *store.Begun) error {
	item, err := txn.Get(legacyReplyKey(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	return item.Value(func(v []byte) error {
		if len(v) > 0 {
			*b = store.Begun{Replied: true, Reply: bytes.Clone(v)}
		}
		return nil
	})
}

// legacyReplyKey is where a luaivr before the compact records kept a reply.
func legacyReplyKey(key string) []byte { return []byte("d/" + key) }

// get passes the value of key to fn, which must not keep it; ok is false when
// the key is missing or expired.
func (s *Store) get(ctx context.Context, key []byte, fn func([]byte) error) (ok bool, err error) {
	return s.getItem(ctx, key, func(item *badger.Item) error { return item.Value(fn) })
}

// getItem passes key's item to fn, which must not keep it; ok is false when
// the key is missing or expired.
func (s *Store) getItem(ctx context.Context, key []byte, fn func(*badger.Item) error) (ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		return fn(item)
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Commit implements store.Store: the session and the event record (entry
// and reply) are written in one Badger transaction, after checking the
// lease and the version on the session as stored (taking turns with the
// session's Registers and other commits: sessionLock).
// Each commit gives the session key a fresh SessionTTL; the event keeps the
// TTL of its own write, so a long call's oldest entries can expire shortly
// before its session does. With SyncWrites it returns once a sync covers it.
func (s *Store) Commit(ctx context.Context, c store.Commit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sess, entry := c.Numbered()
	write := func(txn *badger.Txn, prev *sessionValue) (*sessionValue, error) {
		events := 0
		if prev != nil {
			events = prev.session.Events
		}
		if c.Lease.SessionID != sess.ID || !s.Holds(c.Lease) || events != c.Read {
			return nil, fmt.Errorf("it read %d events, %d are stored: %w", c.Read, events, store.ErrConflict)
		}
		return s.write(txn, prev, sess, entry, c.ReplyKey, c.Reply)
	}
	err := s.update(sess.ID, write)
	if err != nil {
		return fmt.Errorf("badgerstore: commit event %d of session %q: %w", entry.Seq, sess.ID, err)
	}
	s.LocalLeases.Release(ctx, c.Lease)
	return nil
}

// Register implements store.Store: a read and a write in one transaction,
// taking turns with the session's commits (sessionLock).
func (s *Store) Register(ctx context.Context, sess store.Session) (store.Session, error) {
	if err := ctx.Err(); err != nil {
		return store.Session{}, err
	}
	var merged store.Session
	err := s.update(sess.ID, func(txn *badger.Txn, v *sessionValue) (*sessionValue, error) {
		var prev *store.Session
		if v != nil {
			old := v.copySession()
			prev = &old
		}
		var entry store.Entry
		merged, entry = store.Registered(prev, sess)
		return s.write(txn, v, merged, entry, "", nil)
	})
	if err != nil {
		return store.Session{}, fmt.Errorf("badgerstore: register session %q: %w", sess.ID, err)
	}
	return merged, nil
}

// update runs fn, a change to session id, in a read-write transaction,
// with the session's value as stored (nil: unknown or expired), and keeps
// the value fn wrote as the session's live one. With SyncWrites it then waits
// for a sync that covers it (after letting go of the session, so that the
// next event of the call may write meanwhile: its reply waits for its own
// sync).
func (s *Store) update(id string, fn func(txn *badger.Txn, prev *sessionValue) (*sessionValue, error)) error {
	writing.Add(1)
	defer writing.Add(-1)
	mu := sessionLock(id)
	mu.Lock()
	var wrote *sessionValue
	err := s.db.Update(func(txn *badger.Txn) error {
		prev := s.live.get(id, uint64(time.Now().Unix()))
		if prev == nil {
			v, ok, err := s.readValue(txn, id)
			if err != nil {
				return err
			}
			if ok {
				prev = &v
			}
		}
		var err error
		wrote, err = fn(txn, prev)
		return err
	})
	if err != nil {
		wrote = nil // what Badger holds now is read from it again
	}
	s.live.put(id, wrote)
	mu.Unlock()
	if err != nil || s.group == nil {
		return err
	}
	return s.group.sync()
}

// readSession is the session id as txn sees it, with its value; ok false
// when unknown or expired.
func (s *Store) readSession(txn *badger.Txn, id string) (sess store.Session, v sessionValue, ok bool, err error) {
	item, err := txn.Get(sessionKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return store.Session{}, v, false, nil
	} else if err != nil {
		return store.Session{}, v, false, err
	}
	err = item.Value(func(b []byte) (err error) {
		sess, v, err = decodeSessionValue(b)
		return err
	})
	v.expires = item.ExpiresAt()
	return sess, v, err == nil, err
}

// readValue is readSession without decoding the session for the caller.
func (s *Store) readValue(txn *badger.Txn, id string) (sessionValue, bool, error) {
	_, v, ok, err := s.readSession(txn, id)
	return v, ok, err
}

// write puts a session (its record and reply marks), the value of its new
// event (entry and reply), a reply mark pushed out of the session under its
// own key, and, when it moves, the session's index key; it returns the
// session's new value.
func (s *Store) write(txn *badger.Txn, prev *sessionValue, sess store.Session, entry store.Entry, key string, reply []byte) (*sessionValue, error) {
	if key == "" {
		reply = nil
	}
	// One clock reading, so session and entry expire in the same second
	// (Badger's Entry.WithTTL would read the clock for each).
	now := time.Now()
	expires := func(ttl time.Duration) uint64 { return uint64(now.Add(ttl).Unix()) }
	set := func(key, value []byte, expiresAt uint64) error {
		return txn.SetEntry(&badger.Entry{Key: key, Value: value, ExpiresAt: expiresAt})
	}
	var was sessionValue
	if prev != nil {
		was = *prev
	}
	// A reply lives in its event's value: its mark no longer than that.
	next, out := was.next(store.AppendSession(make([]byte, 0, 128+len(sess.Vars)), sess), sess, key, uint64(entry.Seq),
		expires(min(s.replyTTL, s.sessionTTL)), uint64(now.Unix()))
	next.expires = expires(s.sessionTTL)
	// The index key moves only when the update leaves its step, or the
	// session would outlive it (see indexStep).
	next.indexed, next.indexExpires = was.indexed, was.indexExpires
	if prev == nil || sess.Updated.Before(was.indexed) || !sess.Updated.Before(was.indexed.Add(indexStep)) || next.expires > was.indexExpires {
		if prev != nil && !was.indexed.Equal(sess.Updated) {
			if err := txn.Delete(indexKey(was.indexed, sess.ID)); err != nil {
				return nil, err
			}
		}
		next.indexed, next.indexExpires = sess.Updated, next.expires+uint64(indexStep/time.Second)
		if err := set(indexKey(next.indexed, sess.ID), nil, next.indexExpires); err != nil {
			return nil, err
		}
	}
	if err := set(sessionKey(sess.ID), appendSessionValue(make([]byte, 0, len(next.record)+32+len(next.marks)*14), &next), next.expires); err != nil {
		return nil, err
	}
	next.record = nil // kept decoded
	value, packFailed := encodeEvent(entry, reply)
	if packFailed != nil {
		s.log.Error("an event's record could not be compressed: it is stored whole", "session", sess.ID,
			"seq", entry.Seq, "err", packFailed.Error(), "stack", string(packFailed.stack))
	}
	if err := set(entryKey(sess.ID, entry.Seq), value, next.expires); err != nil {
		return nil, err
	}
	if out != nil {
		if err := set(repliedKey(sess.ID, out.hash), binary.AppendUvarint(nil, out.seq), out.expires); err != nil {
			return nil, err
		}
	}
	return &next, nil
}

// Transcript implements store.Store.
func (s *Store) Transcript(ctx context.Context, sessionID string) ([]store.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prefix := transcriptPrefix(sessionID)
	var entries []store.Entry
	err := s.scan(prefix, func(key, v []byte) error {
		// Skip the entries of a session whose id extends this one past a
		// slash ("a" and "a/b" share the prefix "t/a/").
		if len(key) != len(prefix)+8 {
			return nil
		}
		e, _, err := decodeEvent(v)
		if err != nil {
			return fmt.Errorf("decode %q: %w", key, err)
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("badgerstore: transcript of %q: %w", sessionID, err)
	}
	return entries, nil
}

// Sessions implements store.Store. It walks the u/ index, newest first, a
// page at a time, so listing the last few sessions reads only those and the
// sessions updated within indexStep of them (measured: 5,000 sessions
// updated a millisecond apart, all read to list the first, in 56 ms). A
// session's index key is at a time at most indexStep before its last
// update, so a session read from the index waits, its time and id only, in
// order, until the walk has passed every key that could hold a session
// updated after it; it is read again to be listed. A key whose time is not
// its session's is passed over. fn runs outside any transaction and may call
// the Store.
func (s *Store) Sessions(ctx context.Context, fn func(store.Session) bool) error {
	const pageSize = 64
	var from []byte // the last index key read
	var waiting listing
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		done := true
		var reached time.Time // the time of the last index key read that names its session
		err := s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(indexPrefix)}) // keys only
			defer it.Close()
			if from == nil {
				it.Seek([]byte(indexPrefix))
			} else if it.Seek(from); it.Valid() && bytes.Equal(it.Item().Key(), from) {
				it.Next() // read on the last page
			}
			for n := 0; it.Valid(); it.Next() {
				if n == pageSize {
					done = false
					return nil
				}
				n++
				from = it.Item().KeyCopy(from[:0])
				indexed, id := parseIndexKey(from)
				sess, v, ok, err := s.readSession(txn, id)
				if err != nil {
					return fmt.Errorf("decode session %q: %w", id, err)
				}
				if ok && updatedKey(v.indexed) == indexed {
					heap.Push(&waiting, waitingSession{sess.Updated, id})
					reached = v.indexed
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("badgerstore: list sessions: %w", err)
		}
		// What is left to read was updated before reached+indexStep.
		var ready []string
		for waiting.Len() > 0 && (done || !reached.IsZero() && !waiting[0].updated.Before(reached.Add(indexStep))) {
			ready = append(ready, heap.Pop(&waiting).(waitingSession).id)
		}
		more, err := s.list(ready, fn)
		if err != nil {
			return fmt.Errorf("badgerstore: list sessions: %w", err)
		}
		if !more || done {
			return nil
		}
	}
}

// list calls fn for each of the sessions ids still stored, read a few at a
// time, until fn returns false (more false).
func (s *Store) list(ids []string, fn func(store.Session) bool) (more bool, err error) {
	for batch := range slices.Chunk(ids, 16) {
		page := make([]store.Session, 0, len(batch))
		if err := s.db.View(func(txn *badger.Txn) error {
			for _, id := range batch {
				sess, _, ok, err := s.readSession(txn, id)
				if err != nil {
					return fmt.Errorf("decode session %q: %w", id, err)
				}
				if ok {
					page = append(page, sess)
				}
			}
			return nil
		}); err != nil {
			return false, err
		}
		for _, sess := range page {
			if !fn(sess) {
				return false, nil
			}
		}
	}
	return true, nil
}

// indexStep is how far a session's last update may be past the time of its
// index key: the key is rewritten when an update leaves the step (or the
// session would outlive the key), not at every event, so most events write
// two keys (session and transcript entry) instead of four (with the old
// index key's deletion). The price is in listing: the newest sessions wait
// for those updated within indexStep of them to be read.
const indexStep = 15 * time.Second

// listing is a heap of sessions waiting to be listed, the most recently
// updated first (then by id, as the index sorts them).
type listing []waitingSession

type waitingSession struct {
	updated time.Time
	id      string
}

func (l listing) Len() int { return len(l) }
func (l listing) Less(i, j int) bool {
	if !l[i].updated.Equal(l[j].updated) {
		return l[i].updated.After(l[j].updated)
	}
	return l[i].id < l[j].id
}
func (l listing) Swap(i, j int) { l[i], l[j] = l[j], l[i] }
func (l *listing) Push(x any)   { *l = append(*l, x.(waitingSession)) }
func (l *listing) Pop() any {
	old := *l
	x := old[len(old)-1]
	*l = old[:len(old)-1]
	return x
}

// indexSessions writes the u/ index of the sessions of a data folder made
// before it existed, once.
func (s *Store) indexSessions() error {
	mark := []byte("m/sessions-index")
	if ok, err := s.get(context.Background(), mark, func([]byte) error { return nil }); err != nil || ok {
		return err
	}
	var keys []*badger.Entry
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("s/"), PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			var sess store.Session
			if err := item.Value(func(v []byte) (err error) { sess, _, err = decodeSessionValue(v); return err }); err != nil {
				return fmt.Errorf("decode %q: %w", item.Key(), err)
			}
			keys = append(keys, &badger.Entry{Key: indexKey(sess.Updated, sess.ID), ExpiresAt: item.ExpiresAt()})
		}
		return nil
	})
	if err != nil {
		return err
	}
	keys = append(keys, badger.NewEntry(mark, nil))
	for batch := range slices.Chunk(keys, 1000) {
		if err := s.db.Update(func(txn *badger.Txn) error {
			for _, e := range batch {
				if err := txn.SetEntry(e); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// scan calls fn, in key order, for each live key with this prefix and its
// value; fn must not keep either.
func (s *Store) scan(prefix []byte, fn func(key, value []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			if err := item.Value(func(v []byte) error { return fn(item.Key(), v) }); err != nil {
				return err
			}
		}
		return nil
	})
}

func sessionKey(id string) []byte { return []byte("s/" + id) }

const indexPrefix = "u/"

// indexKey is u/, then the session's last update inverted (so that the most
// recent sorts first), then its id.
func indexKey(updated time.Time, id string) []byte {
	return append(binary.BigEndian.AppendUint64([]byte(indexPrefix), updatedKey(updated)), id...)
}

func updatedKey(t time.Time) uint64 {
	if t.Before(time.Unix(0, 0)) {
		return ^uint64(0)
	}
	return ^uint64(t.UnixNano())
}

func parseIndexKey(k []byte) (updated uint64, id string) {
	k = k[len(indexPrefix):]
	return binary.BigEndian.Uint64(k), string(k[8:])
}

func transcriptPrefix(id string) []byte { return []byte("t/" + id + "/") }

func entryKey(id string, seq int) []byte {
	return binary.BigEndian.AppendUint64(transcriptPrefix(id), uint64(seq))
}

// badgerLogger passes Badger's warnings and errors to slog and drops its
// chatty info and debug lines (table counts, replay progress, …).
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, args ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(f, args...)))
}

// Warningf logs Badger's warnings, but for its judgement of its own caches:
// every minute it warns when blocks leave the block cache within 10 s and
// fewer than 40% of reads hit it. luaivr sizes the cache on purpose (an
// event reads its session from memory, see live): the reads left are of the
// sessions of calls that start (ids spread them over every table) and of
// transcripts, which a cache of any bounded size would not keep. With random
// ids that warning came every minute of a long run, with nothing for an
// operator to do, so it is kept for the debug level.
func (b badgerLogger) Warningf(f string, args ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(f, args...))
	if strings.Contains(msg, " might be too small. Metrics: ") || strings.HasPrefix(msg, "Cache life expectancy") {
		b.l.Debug(msg)
		return
	}
	b.l.Warn(msg)
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}

// Size is the data folder's size: the LSM tree and the value log, in bytes.
func (s *Store) Size() (lsm, vlog int64) {
	_ = s.h.call("measuring", func() error { lsm, vlog = s.db.Size(); return nil })
	return lsm, vlog
}

// isInUse reports whether Badger refused to open because another process
// holds the folder's lock. Badger wraps the flock error into plain text; its
// message is the only way to recognise it.
func isInUse(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Another process is using this Badger database")
}
