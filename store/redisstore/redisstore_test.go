package redisstore_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/luaivr/luaivr/store"
	_ "github.com/luaivr/luaivr/store/redisstore"
	"github.com/luaivr/luaivr/store/redisstore/redistest"
	"github.com/luaivr/luaivr/store/storetest"
)

// prefixes gives each store of one Redis its own key prefix, so the
// conformance suite's parallel subtests each see an empty store.
var prefixes atomic.Int64

func openOn(url string) storetest.Open {
	return func(t *testing.T, opts store.Options) store.Store {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		s, err := store.Open(fmt.Sprintf("%s%sprefix=t%d", url, sep, prefixes.Add(1)), opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, openOn(srv.URL()))
}

func TestConformanceCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	storetest.Run(t, openOn(c.URL()))
}
