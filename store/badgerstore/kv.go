package badgerstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/luaivr/luaivr/store"
)

// kvKey is k/<app>NUL<key>: the NUL ends the app's name, so no app can read
// another's keys by choosing a clever prefix.
func kvKey(app, key string) []byte { return []byte("k/" + app + "\x00" + key) }

// An app's kv usage is kept at q/<app> and changed in the same transaction as
// every write of its keys, so that concurrent events cannot each take the
// last room: the writes of one app take turns (kvLocks).
//
// A key that expires vanishes without a write, so the usage may still count
// it. It remembers the earliest expiry it counted; when a write would be
// refused and that time has passed, the app's keys are counted again before
// deciding. An app with no usage yet (new, or written before quotas) is
// counted at its first write.
func usageKey(app string) []byte { return []byte("q/" + app) }

type kvUsage struct {
	Keys  int   `json:"keys"`
	Bytes int64 `json:"bytes"`
	// Expires is the earliest expiry (Unix seconds) among the keys counted;
	// 0 when none expires.
	Expires uint64 `json:"expires,omitempty"`
}

// kvLocks serialise the writes of one app in this process, by a hash of its
// name: a lock per app without a map that grows with app names. Every Store
// of the process shares them; two apps sharing a lock only take turns.
var kvLocks [64]sync.Mutex

func kvLock(app string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(app))
	return &kvLocks[h.Sum32()%uint32(len(kvLocks))]
}

// current is a key's live entry as a write finds it.
type current struct {
	found   bool
	value   []byte
	expires uint64
}

// kvWrite changes one key of app and the app's usage in one transaction.
// change gets the key's current entry and returns the value to store with its
// expiry, or ok false to delete the key.
func (s *Store) kvWrite(ctx context.Context, app, key string, quota store.KVQuota,
	change func(cur current) (value []byte, expires uint64, ok bool, err error)) error {
	mu := kvLock(app)
	mu.Lock()
	defer mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	k := kvKey(app, key)
	cached, known, usage, counted := s.kv.begin(app, string(k))
	var wrote kvEntry
	var after kvUsage
	update := func(txn *badger.Txn) error {
		var cur current
		if known {
			if cached.found && (cached.expires == 0 || cached.expires > uint64(time.Now().Unix())) {
				cur = current{found: true, value: cached.value, expires: cached.expires}
			}
		} else {
			switch item, err := txn.Get(k); {
			case errors.Is(err, badger.ErrKeyNotFound):
			case err != nil:
				return err
			default:
				cur = current{found: true, expires: item.ExpiresAt()}
				if cur.value, err = item.ValueCopy(nil); err != nil {
					return err
				}
			}
		}
		value, expires, keep, err := change(cur)
		if err != nil {
			return err
		}
		before := usage
		if !counted {
			if before, err = s.usage(txn, app); err != nil {
				return err
			}
		}
		after = before.with(key, cur, value, expires, keep)
		if refused(quota, before, after) && before.Expires != 0 && before.Expires <= uint64(time.Now().Unix()) {
			if before, err = s.recount(txn, app); err != nil {
				return err
			}
			after = before.with(key, cur, value, expires, keep)
		}
		if refused(quota, before, after) {
			return &store.KVQuotaError{App: app, Quota: quota, Keys: after.Keys, Bytes: after.Bytes}
		}
		u, _ := json.Marshal(after)
		if err := txn.Set(usageKey(app), u); err != nil {
			return err
		}
		if !keep {
			return txn.Delete(k)
		}
		wrote = kvEntry{value: bytes.Clone(value), expires: expires, found: true}
		return txn.SetEntry(&badger.Entry{Key: k, Value: value, ExpiresAt: expires})
	}
	err := s.db.Update(update)
	if stalled := (*stalledWrite)(nil); errors.As(err, &stalled) {
		// It may still land: until Badger says, no read may keep what it
		// finds of the key (the write is in flight for the cache). Then
		// the cache forgets the key and the usage, even if it landed: the
		// stall may have ended, and another write of the app gone by,
		// before this one hears its answer.
		go func() {
			<-stalled.answer
			s.kv.end(app, string(k), wrote, after, false)
		}()
		return err
	}
	s.kv.end(app, string(k), wrote, after, err == nil)
	return err
}

// with is the usage after a write replaces cur at key by value (or deletes
// it, when keep is false).
func (u kvUsage) with(key string, cur current, value []byte, expires uint64, keep bool) kvUsage {
	if cur.found {
		u.Keys--
		u.Bytes -= int64(len(key) + len(cur.value))
	}
	if keep {
		u.Keys++
		u.Bytes += int64(len(key) + len(value))
		if expires != 0 && (u.Expires == 0 || expires < u.Expires) {
			u.Expires = expires
		}
	}
	u.Keys, u.Bytes = max(u.Keys, 0), max(u.Bytes, 0)
	return u
}

// refused reports whether going from before to after breaks quota: a write
// may always leave the app no fuller than it was.
func refused(q store.KVQuota, before, after kvUsage) bool {
	return q.Keys > 0 && after.Keys > q.Keys && after.Keys > before.Keys ||
		q.Bytes > 0 && after.Bytes > q.Bytes && after.Bytes > before.Bytes
}

// usage reads app's usage, counting it when there is none.
func (s *Store) usage(txn *badger.Txn, app string) (kvUsage, error) {
	item, err := txn.Get(usageKey(app))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return s.recount(txn, app)
	}
	if err != nil {
		return kvUsage{}, err
	}
	var u kvUsage
	err = item.Value(func(v []byte) error { return json.Unmarshal(v, &u) })
	return u, err
}

// recount counts app's live keys, reading no values: a value's size is what
// Badger records of it (for a value kept in the value log, within a few bytes).
func (s *Store) recount(txn *badger.Txn, app string) (kvUsage, error) {
	prefix := kvKey(app, "")
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var u kvUsage
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		u.Keys++
		u.Bytes += int64(len(item.Key())-len(prefix)) + item.ValueSize()
		if e := item.ExpiresAt(); e != 0 && (u.Expires == 0 || e < u.Expires) {
			u.Expires = e
		}
	}
	return u, nil
}

// KVGet implements store.KV, from what this process last read or wrote of
// the key when it can (kvCache).
func (s *Store) KVGet(ctx context.Context, app, key string) ([]byte, bool, error) {
	k := kvKey(app, key)
	e, gen, ok := s.kv.get(string(k), uint64(time.Now().Unix()))
	if ok {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		return bytes.Clone(e.value), e.found, nil
	}
	var out []byte
	var expires uint64
	found, err := s.getItem(ctx, k, func(item *badger.Item) (err error) {
		expires = item.ExpiresAt()
		out, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	s.kv.keep(string(k), kvEntry{value: bytes.Clone(out), expires: expires, found: found}, gen)
	return out, found, nil
}

func (s *Store) KVSet(ctx context.Context, app, key string, value []byte, ttl time.Duration, quota store.KVQuota) error {
	return s.kvWrite(ctx, app, key, quota, func(current) ([]byte, uint64, bool, error) {
		return value, expiry(ttl), true, nil
	})
}

func (s *Store) KVDelete(ctx context.Context, app, key string) error {
	return s.kvWrite(ctx, app, key, store.KVQuota{}, func(current) ([]byte, uint64, bool, error) {
		return nil, 0, false, nil
	})
}

func (s *Store) KVIncr(ctx context.Context, app, key string, delta float64, ttl time.Duration, quota store.KVQuota) (float64, error) {
	var result float64
	err := s.kvWrite(ctx, app, key, quota, func(cur current) ([]byte, uint64, bool, error) {
		n := 0.0
		if cur.found {
			f, err := strconv.ParseFloat(string(cur.value), 64)
			if err != nil {
				return nil, 0, false, fmt.Errorf("kv key %q holds %.40q, not a number", key, cur.value)
			}
			n = f
		}
		result = n + delta
		if math.IsInf(result, 0) || math.IsNaN(result) {
			return nil, 0, false, fmt.Errorf("kv key %q: %v + %v is not a number", key, n, delta)
		}
		expires := cur.expires
		if ttl > 0 {
			expires = expiry(ttl)
		}
		return []byte(strconv.FormatFloat(result, 'f', -1, 64)), expires, true, nil
	})
	return result, err
}

// expiry is the Unix second a ttl from now ends; 0 for no ttl.
func expiry(ttl time.Duration) uint64 {
	if ttl <= 0 {
		return 0
	}
	return uint64(time.Now().Add(ttl).Unix())
}

func (s *Store) KVList(ctx context.Context, app, prefix string, limit, maxBytes int) ([]store.KVPair, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	base := len(kvKey(app, ""))
	var out []store.KVPair
	size := 0
	errEnough := errors.New("enough")
	err := s.scan(kvKey(app, prefix), func(key, v []byte) error {
		if limit > 0 && len(out) >= limit {
			return errEnough
		}
		if size += len(key) - base + len(v); maxBytes > 0 && size > maxBytes {
			return store.ErrKVListTooLarge
		}
		out = append(out, store.KVPair{Key: string(key[base:]), Value: append([]byte(nil), v...)})
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
