package redisstore_test

import (
	"testing"

	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/redisstore/redistest"
	"github.com/luaivr/luaivr/store/storetest"
)

// The store's share of an event, as serve runs it, one at a time on a real
// Redis on loopback (AOF everysec; CommitAlways: appendfsync always, an
// fsync per commit); storetest's benchmarks, as badgerstore runs them.
func BenchmarkCommit(b *testing.B) { storetest.BenchmarkCommit(b, openRedis(b)) }

func BenchmarkCommitAlways(b *testing.B) {
	storetest.BenchmarkCommit(b, openRedis(b, "--appendfsync", "always"))
}

func BenchmarkSessionRead(b *testing.B) { storetest.BenchmarkSessionRead(b, openRedis(b)) }

func openRedis(b *testing.B, redisArgs ...string) store.Store {
	st, err := store.Open(redistest.Start(b, redisArgs...).URL(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}
