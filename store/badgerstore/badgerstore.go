// Package badgerstore is the embedded store.Store, kept in a Badger database in
// a local folder (or in memory).
//
// Layout, all values JSON except replies:
//
//	s/<sessionID>                    store.Session
//	t/<sessionID>/<seq, 8 bytes BE>  store.Entry (big-endian so keys sort by Seq)
//	d/<replyKey>                     the raw reply body
//
// Nothing is ever deleted explicitly: every key carries a Badger TTL, and
// expired keys are dropped by compaction and value-log GC.
package badgerstore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/luaivr/luaivr/store"
)

// Options configure Open. The zero value of every field but Dir is usable.
//
// Durability: Commit returns once Badger has written the transaction to its
// write-ahead log, a memory-mapped file. With SyncWrites false that write sits
// in the OS page cache, so an acknowledged commit survives a crash of the
// luaivr process (the kernel still writes the pages out) but not a crash or
// power loss of the machine. SyncWrites true fsyncs before Commit returns,
// which survives both at the cost of a disk flush per event.
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
}

// Store is a store.Store on Badger. Create it with Open.
type Store struct {
	db         *badger.DB
	sessionTTL time.Duration
	replyTTL   time.Duration
	log        *slog.Logger

	closeOnce sync.Once
	stopGC    chan struct{}
	gcDone    sync.WaitGroup
}

var _ store.Store = (*Store)(nil)

// commitAttempts bounds retries on badger.ErrConflict. Commit only writes, and
// Badger reports conflicts on keys a transaction read, so a conflict should
// never happen; the retry is a cheap guard should that change.
const commitAttempts = 3

// Open opens (creating if needed) the database in opts.Dir, or an in-memory
// one, and starts value-log GC. Close it when done.
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
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if !opts.InMemory && opts.Dir == "" {
		return nil, errors.New("badgerstore: no data folder given; set one (--data) or use the in-memory store")
	}

	dir := opts.Dir
	if opts.InMemory {
		dir = "" // Badger refuses a Dir in memory mode.
	}
	bopts := badger.DefaultOptions(dir).
		WithInMemory(opts.InMemory).
		WithSyncWrites(opts.SyncWrites).
		WithLogger(badgerLogger{opts.Logger.With("component", "badger")}).
		// luaivr writes a few KiB per webhook and shares a small (2-core)
		// machine, so trade Badger's throughput-oriented defaults (64 MiB
		// memtables ×5, 256 MiB block cache, 1 GiB value-log files,
		// 4 compactors) for a footprint of tens of MiB.
		//
		// Two 4 MiB memtables: one taking writes while the other is flushed.
		WithMemTableSize(4 << 20).
		WithNumMemtables(2).
		// Compact level 0 early (2 tables) and stall writers at 4, so few
		// overlapping tables pile up to be searched and held in memory.
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		// Caches sized for a working set of live calls, not a whole dataset.
		// Compression (Snappy by default; JSON shrinks well) needs a block cache.
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(4 << 20).
		// Values over 1 KiB (typically transcript entries carrying event and
		// reply bodies) go to the value log, keeping memtables and LSM tables
		// small; sessions and small entries stay in the LSM tree. 64 MiB log
		// files let GC reclaim expired values in small steps.
		WithValueThreshold(1 << 10).
		WithValueLogFileSize(64 << 20).
		// The fewest compactors Badger allows besides none: one per core.
		WithNumCompactors(2).
		// Compaction builds each output table in memory, several at once;
		// with Badger's default the tables double in size at every level, so
		// that memory grew with the data (measured: a heap of 429 MiB after
		// 256k events). Small tables of one size keep it flat (77 MiB).
		WithBaseTableSize(512 << 10)
	bopts.TableSizeMultiplier = 1
	if opts.InMemory {
		// In memory there is no value log: Badger refuses values over the
		// threshold instead of moving them there. Keep everything in the tree
		// (a value must also fit a write batch, 15% of a memtable).
		bopts = bopts.WithValueThreshold(1 << 20).WithMemTableSize(8 << 20)
	}

	db, err := badger.Open(bopts)
	if err != nil {
		// Badger wraps the flock error into plain text; its message is the
		// only way to recognise it.
		if strings.Contains(err.Error(), "Another process is using this Badger database") {
			return nil, fmt.Errorf("data folder %s is in use by another luaivr process (Badger holds a lock); stop it or use --data to pick another folder", opts.Dir)
		}
		if opts.InMemory {
			return nil, fmt.Errorf("badgerstore: open in-memory database: %w", err)
		}
		return nil, fmt.Errorf("cannot open data folder %s (it must be a writable folder holding a luaivr database, or not exist yet): %w", opts.Dir, err)
	}

	s := &Store{
		db:         db,
		sessionTTL: opts.SessionTTL,
		replyTTL:   opts.ReplyTTL,
		log:        opts.Logger,
		stopGC:     make(chan struct{}),
	}
	// In memory there is no value log to collect.
	if !opts.InMemory && opts.GCInterval > 0 {
		s.gcDone.Go(func() { s.runGC(opts.GCInterval) })
	}
	return s, nil
}

// runGC collects the value log every interval until Close. Each
// RunValueLogGC call rewrites at most one log file, so it loops until Badger
// reports there is nothing more worth rewriting (ErrNoRewrite).
func (s *Store) runGC(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stopGC:
			return
		case <-t.C:
		}
		for {
			err := s.db.RunValueLogGC(0.5)
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

// Close stops GC and closes the database. Later calls do nothing and return nil.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stopGC)
		s.gcDone.Wait()
		err = s.db.Close()
	})
	return err
}

// Session implements store.Store.
func (s *Store) Session(ctx context.Context, id string) (store.Session, bool, error) {
	var sess store.Session
	ok, err := s.get(ctx, sessionKey(id), func(v []byte) error { return json.Unmarshal(v, &sess) })
	if err != nil {
		return store.Session{}, false, fmt.Errorf("badgerstore: session %q: %w", id, err)
	}
	return sess, ok, nil
}

// Reply implements store.Store.
func (s *Store) Reply(ctx context.Context, key string) ([]byte, bool, error) {
	var body []byte
	ok, err := s.get(ctx, replyKey(key), func(v []byte) error {
		body = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("badgerstore: reply %q: %w", key, err)
	}
	return body, ok, nil
}

// get passes the value of key to fn, which must not keep it; ok is false when
// the key is missing or expired.
func (s *Store) get(ctx context.Context, key []byte, fn func([]byte) error) (ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		return item.Value(fn)
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Commit implements store.Store: session, transcript entry and reply are
// written in one Badger transaction. Each commit gives the session key a fresh
// SessionTTL; the entry keeps the TTL of its own write, so a long call's
// oldest entries can expire shortly before its session does.
func (s *Store) Commit(ctx context.Context, c store.Commit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sess, err := encode(c.Session)
	if err != nil {
		return fmt.Errorf("badgerstore: encode session %q: %w", c.Session.ID, err)
	}
	entry, err := encode(c.Entry)
	if err != nil {
		return fmt.Errorf("badgerstore: encode entry %d of session %q: %w", c.Entry.Seq, c.Session.ID, err)
	}
	// One clock reading, so session and entry expire in the same second
	// (Badger's Entry.WithTTL would read the clock for each).
	now := time.Now()
	set := func(txn *badger.Txn, key, value []byte, ttl time.Duration) error {
		return txn.SetEntry(&badger.Entry{Key: key, Value: value, ExpiresAt: uint64(now.Add(ttl).Unix())})
	}
	write := func(txn *badger.Txn) error {
		if err := set(txn, sessionKey(c.Session.ID), sess, s.sessionTTL); err != nil {
			return err
		}
		if err := set(txn, entryKey(c.Session.ID, c.Entry.Seq), entry, s.sessionTTL); err != nil {
			return err
		}
		if c.ReplyKey == "" {
			return nil
		}
		return set(txn, replyKey(c.ReplyKey), c.Reply, s.replyTTL)
	}
	for range commitAttempts {
		if err = s.db.Update(write); !errors.Is(err, badger.ErrConflict) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("badgerstore: commit event %d of session %q: %w", c.Entry.Seq, c.Session.ID, err)
	}
	return nil
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
		var e store.Entry
		if err := json.Unmarshal(v, &e); err != nil {
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

// Sessions implements store.Store. It loads every live session into memory to
// sort them, which is fine for the thousands a single server holds within a
// day's TTL. fn runs outside any transaction and may call the Store.
func (s *Store) Sessions(ctx context.Context, fn func(store.Session) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var all []store.Session
	err := s.scan([]byte("s/"), func(key, v []byte) error {
		var sess store.Session
		if err := json.Unmarshal(v, &sess); err != nil {
			return fmt.Errorf("decode %q: %w", key, err)
		}
		all = append(all, sess)
		return nil
	})
	if err != nil {
		return fmt.Errorf("badgerstore: list sessions: %w", err)
	}
	slices.SortFunc(all, func(a, b store.Session) int {
		return cmp.Or(b.Updated.Compare(a.Updated), strings.Compare(a.ID, b.ID))
	})
	for _, sess := range all {
		if !fn(sess) {
			break
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

func replyKey(key string) []byte { return []byte("d/" + key) }

func transcriptPrefix(id string) []byte { return []byte("t/" + id + "/") }

func entryKey(id string, seq int) []byte {
	return binary.BigEndian.AppendUint64(transcriptPrefix(id), uint64(seq))
}

// encode is json.Marshal without HTML escaping, so the json.RawMessage fields
// (vars, event, reply) are stored byte for byte as given when compact:
// json.Marshal would rewrite "<" in them as "\u003c".
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// badgerLogger passes Badger's warnings and errors to slog and drops its
// chatty info and debug lines (table counts, replay progress, …).
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, args ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(f, args...)))
}

func (b badgerLogger) Warningf(f string, args ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, args...)))
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}

// Size is the data folder's size: the LSM tree and the value log, in bytes.
func (s *Store) Size() (lsm, vlog int64) { return s.db.Size() }

// Ready reports whether the store can take events (it is open).
func (s *Store) Ready() error {
	if s.db.IsClosed() {
		return errors.New("the data folder is closed")
	}
	return nil
}
