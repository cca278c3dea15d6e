package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/luaivr/luaivr/store"
)

// kvKey is k/<app>NUL<key>: the NUL ends the app's name, so no app can read
// another's keys by choosing a clever prefix.
func kvKey(app, key string) []byte { return []byte("k/" + app + "\x00" + key) }

func (s *Store) KVGet(ctx context.Context, app, key string) ([]byte, bool, error) {
	var out []byte
	ok, err := s.get(ctx, kvKey(app, key), func(v []byte) error {
		out = append([]byte(nil), v...)
		return nil
	})
	return out, ok, err
}

func (s *Store) KVSet(ctx context.Context, app, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e := badger.NewEntry(kvKey(app, key), value)
	if ttl > 0 {
		e = e.WithTTL(ttl)
	}
	return s.db.Update(func(txn *badger.Txn) error { return txn.SetEntry(e) })
}

func (s *Store) KVDelete(ctx context.Context, app, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error { return txn.Delete(kvKey(app, key)) })
}

// kvIncrAttempts bounds retries when an increment conflicts with another
// write of the key (increments themselves are serialised in the process).
const kvIncrAttempts = 100

func (s *Store) KVIncr(ctx context.Context, app, key string, delta float64, ttl time.Duration) (float64, error) {
	k := kvKey(app, key)
	var result float64
	incr := func(txn *badger.Txn) error {
		current, expires := 0.0, uint64(0)
		item, err := txn.Get(k)
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
		case err != nil:
			return err
		default:
			expires = item.ExpiresAt()
			if err := item.Value(func(v []byte) error {
				f, err := strconv.ParseFloat(string(v), 64)
				if err != nil {
					return fmt.Errorf("kv key %q holds %.40q, not a number", key, v)
				}
				current = f
				return nil
			}); err != nil {
				return err
			}
		}
		result = current + delta
		if math.IsInf(result, 0) || math.IsNaN(result) {
			return fmt.Errorf("kv key %q: %v + %v is not a number", key, current, delta)
		}
		e := &badger.Entry{Key: k, Value: []byte(strconv.FormatFloat(result, 'f', -1, 64)), ExpiresAt: expires}
		if ttl > 0 {
			e.ExpiresAt = uint64(time.Now().Add(ttl).Unix())
		}
		return txn.SetEntry(e)
	}
	s.incrMu.Lock()
	defer s.incrMu.Unlock()
	var err error
	for range kvIncrAttempts {
		if err = ctx.Err(); err != nil {
			return 0, err
		}
		if err = s.db.Update(incr); !errors.Is(err, badger.ErrConflict) {
			break
		}
	}
	return result, err
}

func (s *Store) KVList(ctx context.Context, app, prefix string, limit int) ([]store.KVPair, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	base := len(kvKey(app, ""))
	var out []store.KVPair
	errEnough := errors.New("enough")
	err := s.scan(kvKey(app, prefix), func(key, v []byte) error {
		if limit > 0 && len(out) >= limit {
			return errEnough
		}
		out = append(out, store.KVPair{Key: string(key[base:]), Value: append([]byte(nil), v...)})
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return out, err
}
