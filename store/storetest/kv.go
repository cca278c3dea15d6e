package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaivr/luaivr/store"
)

func testKV(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, ok, err := s.KVGet(ctx, "a", "missing"); ok || err != nil {
		t.Fatalf("missing key: ok=%v err=%v", ok, err)
	}
	for _, kv := range [][2]string{{"visits:1", "3"}, {"visits:2", `"x"`}, {"visits:10", `{"n":1}`}, {"other", "true"}} {
		if err := s.KVSet(ctx, "a", kv[0], []byte(kv[1]), 0, store.KVQuota{}); err != nil {
			t.Fatal(err)
		}
	}
	// Another app with a name that extends this one's sees nothing of it.
	if err := s.KVSet(ctx, "ab", "visits:9", []byte("9"), 0, store.KVQuota{}); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.KVGet(ctx, "a", "visits:10"); !ok || err != nil || string(v) != `{"n":1}` {
		t.Fatalf("get: %q %v %v", v, ok, err)
	}
	list, err := s.KVList(ctx, "a", "visits:", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range list {
		keys = append(keys, p.Key+"="+string(p.Value))
	}
	if got := strings.Join(keys, " "); got != `visits:1=3 visits:10={"n":1} visits:2="x"` {
		t.Fatalf("list: %s", got)
	}
	if list, _ := s.KVList(ctx, "a", "", 2, 0); len(list) != 2 {
		t.Fatalf("list with a limit of 2 gave %d", len(list))
	}
	if _, ok, _ := s.KVGet(ctx, "ab", "visits:1"); ok {
		t.Fatal("app ab reads app a's key")
	}
	if err := s.KVDelete(ctx, "a", "other"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.KVGet(ctx, "a", "other"); ok {
		t.Fatal("deleted key still there")
	}
	if n, err := s.KVIncr(ctx, "a", "visits:1", 2, 0, store.KVQuota{}); err != nil || n != 5 {
		t.Fatalf("incr of 3 by 2: %v %v", n, err)
	}
	if n, err := s.KVIncr(ctx, "a", "fresh", 1.5, 0, store.KVQuota{}); err != nil || n != 1.5 {
		t.Fatalf("incr of a missing key: %v %v", n, err)
	}
	if _, err := s.KVIncr(ctx, "a", "visits:2", 1, 0, store.KVQuota{}); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Fatalf("incr of a string: %v", err)
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s store.Store, app string)
	}{
		{"QuotaKeys", testKVQuotaKeys},
		{"QuotaBytes", testKVQuotaBytes},
		{"QuotaConcurrent", testKVQuotaConcurrent},
		{"QuotaAfterExpiry", testKVQuotaAfterExpiry},
		{"ListBytes", testKVListBytes},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, s, "quota-"+tc.name) })
	}
}

// refused asserts that err is the store's quota refusal, over keys or bytes.
func refused(t *testing.T, what string, err error, overKeys bool) {
	t.Helper()
	var q *store.KVQuotaError
	if !errors.As(err, &q) || q.OverKeys() != overKeys {
		t.Fatalf("%s: %v, want a *KVQuotaError over %s", what, err, map[bool]string{true: "keys", false: "bytes"}[overKeys])
	}
}

// An app holds at most Quota.Keys keys; what does not add a key is allowed at
// the quota, and a refused write changes nothing.
func testKVQuotaKeys(t *testing.T, s store.Store, app string) {
	ctx := context.Background()
	q := store.KVQuota{Keys: 3}
	for _, k := range []string{"a", "b", "c"} {
		if err := s.KVSet(ctx, app, k, []byte("1"), 0, q); err != nil {
			t.Fatalf("set %s within the quota: %v", k, err)
		}
	}
	refused(t, "a fourth key", s.KVSet(ctx, app, "d", []byte("1"), 0, q), true)
	if _, ok, _ := s.KVGet(ctx, app, "d"); ok {
		t.Fatal("a refused write was stored")
	}
	_, err := s.KVIncr(ctx, app, "n", 1, 0, q)
	refused(t, "an increment that makes a fourth key", err, true)
	if err := s.KVSet(ctx, app, "c", []byte(`"replaced"`), 0, q); err != nil {
		t.Fatalf("replacing a key at the quota: %v", err)
	}
	if n, err := s.KVIncr(ctx, app, "a", 1, 0, q); err != nil || n != 2 {
		t.Fatalf("incrementing a key at the quota: %v %v", n, err)
	}
	if err := s.KVDelete(ctx, app, "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.KVSet(ctx, app, "d", []byte("1"), 0, q); err != nil {
		t.Fatalf("a key in the room a delete made: %v", err)
	}
	if err := s.KVSet(ctx, app+"-other", "e", []byte("1"), 0, q); err != nil {
		t.Fatalf("another app is not held to this one's keys: %v", err)
	}
}

// An app holds at most Quota.Bytes of keys and values; a write that shrinks
// what it holds is allowed even over the quota.
func testKVQuotaBytes(t *testing.T, s store.Store, app string) {
	ctx := context.Background()
	q := store.KVQuota{Bytes: 100}
	value := func(n int) []byte { return []byte(strings.Repeat("v", n)) }
	if err := s.KVSet(ctx, app, "k1", value(38), 0, q); err != nil { // 40 bytes
		t.Fatal(err)
	}
	if err := s.KVSet(ctx, app, "k2", value(58), 0, q); err != nil { // 100: at the quota
		t.Fatalf("up to the quota: %v", err)
	}
	refused(t, "one byte more", s.KVSet(ctx, app, "k3", value(0), 0, q), false)
	refused(t, "a longer value", s.KVSet(ctx, app, "k2", value(59), 0, q), false)
	if err := s.KVSet(ctx, app, "k2", value(8), 0, q); err != nil {
		t.Fatalf("a shorter value at the quota: %v", err)
	}
	if err := s.KVSet(ctx, app, "k3", value(48), 0, q); err != nil { // 40 + 10 + 50
		t.Fatalf("a key in the room a shorter value made: %v", err)
	}
	if v, _, _ := s.KVGet(ctx, app, "k2"); len(v) != 8 {
		t.Fatalf("k2 holds %d bytes after a refused write", len(v))
	}
}

// Events writing at once cannot together pass the quota.
func testKVQuotaConcurrent(t *testing.T, s store.Store, app string) {
	ctx := context.Background()
	const workers, each, quota = 16, 10, 50
	q := store.KVQuota{Keys: quota}
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := 0
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				err := s.KVSet(ctx, app, fmt.Sprintf("w%d:%d", w, i), []byte("1"), 0, q)
				var qe *store.KVQuotaError
				if err != nil && !errors.As(err, &qe) {
					t.Error(err)
				}
				mu.Lock()
				stored += map[bool]int{true: 1}[err == nil]
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	list, err := s.KVList(ctx, app, "", 0, 0)
	if err != nil || stored != quota || len(list) != quota {
		t.Fatalf("%d writes succeeded and %d keys are stored, want %d (%v)", stored, len(list), quota, err)
	}
}

// Keys that expired free their room, though no write removed them.
func testKVQuotaAfterExpiry(t *testing.T, s store.Store, app string) {
	ctx := context.Background()
	q := store.KVQuota{Keys: 2}
	for _, k := range []string{"x", "y"} {
		if err := s.KVSet(ctx, app, k, []byte("1"), time.Second, q); err != nil {
			t.Fatal(err)
		}
	}
	refused(t, "a third key while two live", s.KVSet(ctx, app, "z", []byte("1"), 0, q), true)
	deadline := time.Now().Add(10 * time.Second) // a bound on the test, not a figure it asserts
	for {
		_, xOK, _ := s.KVGet(ctx, app, "x")
		_, yOK, _ := s.KVGet(ctx, app, "y")
		if !xOK && !yOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("keys with a ttl of 1s never expired")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.KVSet(ctx, app, "z", []byte("1"), 0, q); err != nil {
		t.Fatalf("a key where expired ones were: %v", err)
	}
	if err := s.KVSet(ctx, app, "w", []byte("1"), 0, q); err != nil {
		t.Fatalf("a second key where expired ones were: %v", err)
	}
	refused(t, "a third key again", s.KVSet(ctx, app, "v", []byte("1"), 0, q), true)
}

// KVList returns no more bytes than asked for.
func testKVListBytes(t *testing.T, s store.Store, app string) {
	ctx := context.Background()
	for i := range 5 {
		if err := s.KVSet(ctx, app, fmt.Sprintf("p:%d", i), []byte(strings.Repeat("x", 97)), 0, store.KVQuota{}); err != nil {
			t.Fatal(err)
		}
	}
	if list, err := s.KVList(ctx, app, "p:", 0, 500); err != nil || len(list) != 5 {
		t.Fatalf("five pairs of 100 bytes within 500: %d, %v", len(list), err)
	}
	if _, err := s.KVList(ctx, app, "p:", 0, 499); !errors.Is(err, store.ErrKVListTooLarge) {
		t.Fatalf("five pairs of 100 bytes within 499: %v", err)
	}
	if list, err := s.KVList(ctx, app, "p:", 4, 400); err != nil || len(list) != 4 {
		t.Fatalf("four pairs within 400: %d, %v", len(list), err)
	}
}

// Increments from many goroutines are all counted.
func testKVIncrConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const workers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := s.KVIncr(ctx, "app", "count", 1, 0, store.KVQuota{}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	v, _, _ := s.KVGet(ctx, "app", "count")
	if string(v) != fmt.Sprint(workers*each) {
		t.Fatalf("count = %s after %d increments", v, workers*each)
	}
}
