package kv_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/sandbox"
	"github.com/luaivr/luaivr/stdlib/inputs"
	jsonmod "github.com/luaivr/luaivr/stdlib/json"
	"github.com/luaivr/luaivr/stdlib/kv"
	"github.com/luaivr/luaivr/stdlib/luatest"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/badgerstore"
)

func openStore(t *testing.T) *badgerstore.Store {
	t.Helper()
	st, err := badgerstore.Open(badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// event runs src as one event of app, with kv over st.
func event(t *testing.T, st store.KV, app string, quota store.KVQuota, src string) {
	t.Helper()
	luatest.Run(t, src, sandbox.Lib{Name: "kv", Open: kv.New(kv.Options{Store: st, Quota: quota}, app).Open}, sandbox.Lib{Name: "json", Open: jsonmod.Open})
}

func TestKV(t *testing.T) {
	t.Parallel()
	st := openStore(t)
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
		"big value":   `fails(function() kv.set("k", string.rep("x", 70000)) end, "a value is at most 65536 bytes as JSON")`,
		"escapes":     `fails(function() kv.set("k", string.rep("\1", 20000)) end, "the value is 120002 bytes as JSON, over the limit of 65536")`,
		// Converted no further than the limit: 100 references to 1 MiB.
		"shared value": `local s = string.rep("x", 1024 * 1024) local t = {} for i = 1, 100 do t[i] = s end
			fails(function() kv.set("k", t) end, "value[1]: more than 65536 bytes of text")`,
		"long prefix": `fails(function() kv.list(string.rep("p", 513)) end, "a key prefix is at most 512 bytes")`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			event(t, st, "app-"+name, store.KVQuota{}, src)
		})
	}
	// Apps do not see each other's keys.
	event(t, st, "one", store.KVQuota{}, `kv.set("secret", 1)`)
	event(t, st, "two", store.KVQuota{}, `eq(kv.get("secret"), nil) eq(#kv.list(""), 0)`)
}

// What an app keeps and what an event writes are bounded, and going past
// either is a Lua error at the script's line that names the limit.
func TestKVQuotas(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	tests := []struct {
		name   string
		quota  store.KVQuota
		events []string // run in order, as events of one app
	}{
		{"keys", store.KVQuota{Keys: 3}, []string{
			`for i = 1, 3 do kv.set("k" .. i, i) end`,
			`fails(function() kv.set("k4", 4) end, "<string>:1: kv.set: app keys is over its kv quota of 3 keys (--kv-max-keys)")`,
			`fails(function() kv.incr("k5") end, "kv.incr: app keys is over its kv quota of 3 keys")`,
			`kv.set("k3", "replaced") eq(kv.incr("k1"), 2) kv.delete("k2") kv.set("k4", 4)`,
		}},
		{"bytes", store.KVQuota{Bytes: 1000}, []string{
			`kv.set("a", string.rep("x", 900))`,
			`fails(function() kv.set("b", string.rep("x", 100)) end, "kv.set: app bytes is over its kv quota of 1000 bytes (--kv-max-bytes)")`,
			`kv.set("a", "short") kv.set("b", string.rep("x", 100))`,
		}},
		{"the default quota", store.KVQuota{}, []string{
			`for i = 1, 15 do kv.set("big" .. i, string.rep("x", 60000)) end`, // 900 KB: within one event's writes
			`for i = 16, 30 do kv.set("big" .. i, string.rep("x", 60000)) end`,
			// 1.8 MB is far within the default quota, but more than one list may hold.
			`fails(function() kv.list("big", 30) end, "kv.list: the entries asked for hold more than 1048576 bytes")
			 eq(#kv.list("big", 10), 10)`,
		}},
		{"writes per event", store.KVQuota{}, []string{
			`for i = 1, 1000 do kv.incr("n") end
			 fails(function() kv.incr("n") end, "kv.incr: this event has made 1000 kv writes, the most one event may")
			 fails(function() kv.delete("n") end, "this event has made 1000 kv writes")`,
			`eq(kv.get("n"), 1000) kv.incr("n")`, // the next event has its own
		}},
		{"bytes per event", store.KVQuota{}, []string{
			`local v = string.rep("x", 60000)
			 for i = 1, 17 do kv.set("same", v) end
			 fails(function() kv.set("same", v) end, "kv.set: this event has written 1080108 bytes to kv, over the 1048576 one event may")`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, src := range tt.events {
				event(t, st, tt.name, tt.quota, src)
			}
		})
	}
}

// What kv answered is recorded as the handler saw it, and a replay gives the
// same answers from the record; a read not recorded gets the replay's own
// store, and is reported; writes go to the replay's store.
func TestRecordAndReplay(t *testing.T) {
	t.Parallel()
	live, own := openStore(t), openStore(t)
	ctx := context.Background()
	if err := live.KVSet(ctx, "app", "text", []byte("not json"), 0, store.KVQuota{Keys: 10, Bytes: 1000}); err != nil {
		t.Fatal(err)
	}
	src := `
		eq(kv.get("text"), "not json")
		eq(kv.incr("n", 2), 2)
		eq(kv.get("missing"), nil)
		kv.set("p:a", { x = 1 })
		local l = kv.list("p:") eq(#l, 1) eq(l[1].key, "p:a") eq(l[1].value.x, 1)`
	L := luatest.State(t, sandbox.Lib{Name: "kv", Open: kv.New(kv.Options{Store: live}, "app").Open})
	rctx, tape := inputs.Record(ctx)
	L.SetContext(rctx)
	if err := L.DoString(src); err != nil {
		t.Fatal(err)
	}
	in := tape.Inputs()
	if in == nil || len(in.KV) != 4 {
		t.Fatalf("recorded %+v", in)
	}
	if _, err := json.Marshal(in); err != nil {
		t.Fatalf("the record cannot be stored: %v", err)
	}

	L = luatest.State(t, sandbox.Lib{Name: "kv", Open: kv.New(kv.Options{Store: own}, "app").Open})
	rctx = inputs.Replay(ctx, in)
	L.SetContext(rctx)
	if err := L.DoString(src + `
		eq(kv.get("p:a").x, 1) -- not recorded: the replay's store, where kv.set wrote`); err != nil {
		t.Fatal(err)
	}
	if u := inputs.From(rctx).Unrecorded(); len(u) != 1 || !strings.Contains(u[0], `kv.get "p:a" was not read when this call was recorded`) {
		t.Errorf("unrecorded %q", u)
	}
	if _, found, _ := own.KVGet(ctx, "app", "n"); found {
		t.Error("a recorded kv.incr was applied to the replay's store") // its answer came from the record
	}
	if _, found, _ := live.KVGet(ctx, "app", "p:a"); !found {
		t.Error("the recording did not write")
	}
}
