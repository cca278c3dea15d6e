package kv_test

import (
	"testing"

	"github.com/luaivr/luaivr/runtime/sandbox"
	jsonmod "github.com/luaivr/luaivr/stdlib/json"
	"github.com/luaivr/luaivr/stdlib/kv"
	"github.com/luaivr/luaivr/stdlib/luatest"
	"github.com/luaivr/luaivr/store/badgerstore"
)

func TestKV(t *testing.T) {
	t.Parallel()
	st, err := badgerstore.Open(badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tests := map[string]string{
		"missing":     `eq(kv.get("nope"), nil)`,
		"round trip":  `kv.set("t", { a = 1, list = { "x", json.null, "z" } }) local v = kv.get("t") eq(v.a, 1) eq(v.list[3], "z") eq(v.list[2], json.null)`,
		"string":      `kv.set("s", "hello") eq(kv.get("s"), "hello")`,
		"delete":      `kv.set("d", 1) kv.delete("d") eq(kv.get("d"), nil)`,
		"incr":        `eq(kv.incr("n"), 1) eq(kv.incr("n", 4), 5) eq(kv.get("n"), 5)`,
		"incr string": `kv.set("word", "x") fails(function() kv.incr("word") end, "not a number")`,
		"list":        `kv.set("p:b", 2) kv.set("p:a", 1) kv.set("q", 3) local l = kv.list("p:") eq(#l, 2) eq(l[1].key, "p:a") eq(l[2].value, 2)`,
		"list limit":  `for i = 1, 5 do kv.set("lim:" .. i, i) end eq(#kv.list("lim:", 3), 3)`,
		"ttl":         `kv.set("ttl", 1, 60) eq(kv.get("ttl"), 1)`,
		"bad key":     `fails(function() kv.get(42) end, "bad argument #1 to kv.get (a key (string) expected, got number)")`,
		"empty key":   `fails(function() kv.set("", 1) end, "a key is 1 to 512 bytes")`,
		"nil value":   `fails(function() kv.set("k", nil) end, "use kv.delete")`,
		"function":    `fails(function() kv.set("k", function() end) end, "bad argument #2 to kv.set (value: a function")`,
		"bad ttl":     `fails(function() kv.set("k", 1, 0) end, "ttl is seconds")`,
		"big value":   `fails(function() kv.set("k", string.rep("x", 70000)) end, "over the limit")`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			luatest.Run(t, src, sandbox.Lib{Name: "kv", Open: kv.Open(st, "app-"+name)}, sandbox.Lib{Name: "json", Open: jsonmod.Open})
		})
	}
	// Apps do not see each other's keys.
	luatest.Run(t, `kv.set("secret", 1)`, sandbox.Lib{Name: "kv", Open: kv.Open(st, "one")})
	luatest.Run(t, `eq(kv.get("secret"), nil) eq(#kv.list(""), 0)`, sandbox.Lib{Name: "kv", Open: kv.Open(st, "two")})
}
