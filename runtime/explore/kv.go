package explore

import (
	"maps"
	"slices"

	"github.com/luaivr/luaivr/store"
)

// kv between explored calls. Every call starts from the same kv, so that
// replaying its inputs leads the same way. The first pass starts each call
// with kv empty, as the app's first caller finds it, and keeps what all its
// calls leave there together. What earlier callers left can change what a
// caller gets (an account locked after three wrong PINs on another call),
// so a second pass explores the tree again with every call starting from
// that: a finding it adds says so.

// keepKV adds what the app holds in kv to what the first pass's calls left.
func (x *explorer) keepKV() {
	if x.world != nil {
		return
	}
	pairs, _ := x.store.KVList(x.base, x.app.Name, "", 0, 0)
	for _, kv := range pairs {
		if x.left == nil {
			x.left = map[string][]byte{}
		}
		x.left[kv.Key] = kv.Value
	}
}

// restoreKV sets the app's kv to the pass's.
func (x *explorer) restoreKV() {
	pairs, _ := x.store.KVList(x.base, x.app.Name, "", 0, 0)
	for _, kv := range pairs {
		_ = x.store.KVDelete(x.base, x.app.Name, kv.Key)
	}
	for _, k := range slices.Sorted(maps.Keys(x.world)) {
		_ = x.store.KVSet(x.base, x.app.Name, k, x.world[k], 0, store.KVQuota{})
	}
}

// laterCallers prepares the second pass, when the first left something in
// kv and the budget is not used up: the tree is expanded, and the clock
// moved, anew.
func (x *explorer) laterCallers() bool {
	if len(x.left) == 0 || x.stopped {
		return false
	}
	x.world = x.left
	x.seen, x.moved, x.tries, x.clockRuns = map[string]bool{}, map[string]bool{}, map[string]int{}, 0
	return true
}
