package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/luaivr/luaivr/store"
)

func testKV(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, ok, err := s.KVGet(ctx, "a", "missing"); ok || err != nil {
		t.Fatalf("missing key: ok=%v err=%v", ok, err)
	}
	for _, kv := range [][2]string{{"visits:1", "3"}, {"visits:2", `"x"`}, {"visits:10", `{"n":1}`}, {"other", "true"}} {
		if err := s.KVSet(ctx, "a", kv[0], []byte(kv[1]), 0); err != nil {
			t.Fatal(err)
		}
	}
	// Another app with a name that extends this one's sees nothing of it.
	if err := s.KVSet(ctx, "ab", "visits:9", []byte("9"), 0); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.KVGet(ctx, "a", "visits:10"); !ok || err != nil || string(v) != `{"n":1}` {
		t.Fatalf("get: %q %v %v", v, ok, err)
	}
	list, err := s.KVList(ctx, "a", "visits:", 0)
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
	if list, _ := s.KVList(ctx, "a", "", 2); len(list) != 2 {
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
	if n, err := s.KVIncr(ctx, "a", "visits:1", 2, 0); err != nil || n != 5 {
		t.Fatalf("incr of 3 by 2: %v %v", n, err)
	}
	if n, err := s.KVIncr(ctx, "a", "fresh", 1.5, 0); err != nil || n != 1.5 {
		t.Fatalf("incr of a missing key: %v %v", n, err)
	}
	if _, err := s.KVIncr(ctx, "a", "visits:2", 1, 0); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Fatalf("incr of a string: %v", err)
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
				if _, err := s.KVIncr(ctx, "app", "count", 1, 0); err != nil {
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
