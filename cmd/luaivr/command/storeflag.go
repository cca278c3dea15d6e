package command

import (
	"github.com/urfave/cli/v2"

	"github.com/luaivr/luaivr/store"
	_ "github.com/luaivr/luaivr/store/badgerstore" // badger:// and plain paths
	_ "github.com/luaivr/luaivr/store/memstore"    // mem://
	_ "github.com/luaivr/luaivr/store/redisstore"  // redis://, rediss://, redis+sentinel://
)

// storeFlag is --store, on every command that opens a store: with a shared
// store, `luaivr sessions` and `luaivr call` work against it directly while
// servers run on it.
func storeFlag() cli.Flag {
	return &cli.StringFlag{Name: "store", EnvVars: env("store"),
		Usage: "the store `URL`: a Badger data folder (badger:///var/lib/luaivr, or a plain path), mem:// (in memory, gone at exit) or a shared store's URL (default: Badger in --data)"}
}

// openStore opens --store, or else the store at otherwise (the data folder).
func openStore(c *cli.Context, otherwise string, opts store.Options) (store.Store, error) {
	url := c.String("store")
	if url == "" {
		url = otherwise
	}
	return store.Open(url, opts)
}
