package memstore_test

import (
	"testing"

	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/badgerstore"
	"github.com/luaivr/luaivr/store/memstore"
	"github.com/luaivr/luaivr/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) store.Store { return memstore.New(opts) })
}

func TestOpenURL(t *testing.T) {
	s, err := store.Open("mem://", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*memstore.Store); !ok {
		t.Fatalf("mem:// opened a %T", s)
	}
}

func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T, opts store.Options) store.Store { return memstore.New(opts) })
}

// What a flow test, an exploration or a vet pays for its store: memstore
// against the in-memory Badger they opened before.
func BenchmarkOpen(b *testing.B) {
	b.Run("memstore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			memstore.New(store.Options{}).Close()
		}
	})
	b.Run("badger-in-memory", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, err := badgerstore.Open(badgerstore.Options{InMemory: true})
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
}
