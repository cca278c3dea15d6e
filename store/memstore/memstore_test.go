package memstore_test

import (
	"testing"

	"github.com/luaivr/luaivr/store"
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
