package badgerstore_test

import (
	"testing"

	"github.com/luaivr/luaivr/store/badgerstore"
	"github.com/luaivr/luaivr/store/storetest"
)

// The store's share of an event, on disk as serve runs it (storetest's
// benchmarks, the same on every store).
func BenchmarkCommit(b *testing.B) { storetest.BenchmarkCommit(b, openOnDisk(b)) }

func BenchmarkSessionRead(b *testing.B) { storetest.BenchmarkSessionRead(b, openOnDisk(b)) }

func openOnDisk(b *testing.B) *badgerstore.Store {
	st, err := badgerstore.Open(badgerstore.Options{Dir: b.TempDir(), GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}
