package badgerstore

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/luaivr/luaivr/store"
)

// TestKVCacheIsWhatBadgerHolds: kv reads served from the cache agree with
// Badger, however reads and writes of the same keys interleave. A counter
// only grows, so a read that gives less than a read before it found a
// value a write had replaced (a read that raced a write and kept what it
// read); at the end every key reads as Badger holds it.
func TestKVCacheIsWhatBadgerHolds(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	ctx := context.Background()
	const keys, writers, readers, writes = 4, 4, 4, 300
	var wg sync.WaitGroup
	errs := make(chan error, writers+readers)
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := range writes {
				key := "n" + strconv.Itoa((w+i)%keys)
				if _, err := s.KVIncr(ctx, "app", key, 1, 0, store.KVQuota{}); err != nil {
					errs <- err
					return
				}
				if i%10 == 0 {
					if err := s.KVSet(ctx, "app", fmt.Sprintf("flag%d", w), []byte(strconv.Itoa(i)), time.Hour, store.KVQuota{}); err != nil {
						errs <- err
						return
					}
				}
				if i%25 == 0 {
					if err := s.KVDelete(ctx, "app", fmt.Sprintf("flag%d", (w+1)%writers)); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	var rwg sync.WaitGroup
	for range readers {
		rwg.Go(func() {
			seen := make([]float64, keys)
			for {
				select {
				case <-done:
					return
				default:
				}
				for k := range keys {
					v, ok, err := s.KVGet(ctx, "app", "n"+strconv.Itoa(k))
					if err != nil {
						errs <- err
						return
					}
					n := 0.0
					if ok {
						n, _ = strconv.ParseFloat(string(v), 64)
					}
					if n < seen[k] {
						errs <- fmt.Errorf("n%d read %v after %v: a value a write had replaced", k, n, seen[k])
						return
					}
					seen[k] = n
				}
			}
		})
	}
	wg.Wait()
	close(done)
	rwg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0.0
	for k := range keys {
		key := "n" + strconv.Itoa(k)
		cached, ok, err := s.KVGet(ctx, "app", key)
		var held []byte
		found, herr := s.getItem(ctx, kvKey("app", key), func(item *badger.Item) (err error) { held, err = item.ValueCopy(nil); return err })
		if err != nil || herr != nil || ok != found || !bytes.Equal(cached, held) {
			t.Errorf("%s reads %q (%v) through the cache, Badger holds %q (%v) (%v, %v)", key, cached, ok, held, found, err, herr)
		}
		n, _ := strconv.ParseFloat(string(held), 64)
		total += n
	}
	if total != writers*writes {
		t.Errorf("the counters add up to %v, want %d", total, writers*writes)
	}
	for w := range writers {
		key := fmt.Sprintf("flag%d", w)
		cached, ok, _ := s.KVGet(ctx, "app", key)
		var held []byte
		found, _ := s.getItem(ctx, kvKey("app", key), func(item *badger.Item) (err error) { held, err = item.ValueCopy(nil); return err })
		if ok != found || !bytes.Equal(cached, held) {
			t.Errorf("%s reads %q (%v) through the cache, Badger holds %q (%v)", key, cached, ok, held, found)
		}
	}
}

// TestKVCacheExpires: a cached key past its expiry reads as missing, as
// Badger reads it, to the second.
func TestKVCacheExpires(t *testing.T) {
	var c kvCache
	c.begin("app", "k")
	c.end("app", "k", kvEntry{value: []byte("1"), expires: 100, found: true}, kvUsage{Keys: 1}, true)
	if e, _, ok := c.get("k", 99); !ok || !e.found {
		t.Errorf("before its expiry the key reads %+v, %v", e, ok)
	}
	if e, _, ok := c.get("k", 100); !ok || e.found {
		t.Errorf("at its expiry the key reads %+v, %v; want known and missing", e, ok)
	}
}

// TestKVCacheReadsRacingAWrite: two reads that miss while a write is in
// flight, one before its commit reaches Badger and one after. The later
// read returns the new value; the earlier one must not then put the old
// value back for a third read to find (found by a review, step by step
// through the cache as kvWrite and KVGet use it).
func TestKVCacheReadsRacingAWrite(t *testing.T) {
	s := openT(t, Options{InMemory: true})
	ctx := context.Background()
	if err := s.KVSet(ctx, "app", "n", []byte("1"), 0, store.KVQuota{}); err != nil {
		t.Fatal(err)
	}
	k := string(kvKey("app", "n"))
	s.kv.begin("app", k) // a write begins
	_, gen, ok := s.kv.get(k, uint64(time.Now().Unix()))
	if ok {
		t.Fatal("the cache knows a key a write has begun on")
	}
	var before []byte // the first read, before the write's commit
	if _, err := s.getItem(ctx, kvKey("app", "n"), func(item *badger.Item) (err error) { before, err = item.ValueCopy(nil); return err }); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(kvKey("app", "n"), []byte("2")) }); err != nil {
		t.Fatal(err) // the write's commit
	}
	second, _, _ := s.KVGet(ctx, "app", "n")
	s.kv.keep(k, kvEntry{value: before, found: true}, gen) // the first read ends
	third, _, _ := s.KVGet(ctx, "app", "n")
	if string(second) != "2" || string(third) != "2" {
		t.Errorf("reads during the write gave %q, then %q", second, third)
	}
}
