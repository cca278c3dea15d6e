package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// KV keeps values per app: each app sees only its own keys. Values are JSON
// text; a ttl of 0 keeps a value until it is deleted.
//
// Writes keep to the app's KVQuota atomically, even against other luaivr
// processes sharing the store: a write that would take the app's keys or
// bytes over it is refused with a *KVQuotaError and changes nothing, and a
// write that adds to neither (an update in place, a delete) is never refused.
type KV interface {
	KVGet(ctx context.Context, app, key string) (value []byte, ok bool, err error)
	KVSet(ctx context.Context, app, key string, value []byte, ttl time.Duration, quota KVQuota) error
	KVDelete(ctx context.Context, app, key string) error
	// KVIncr adds delta to the number at key (missing counts as 0) atomically,
	// even against other luaivr processes sharing the store, and returns the
	// new value. A ttl of 0 keeps the key's current expiry.
	KVIncr(ctx context.Context, app, key string, delta float64, ttl time.Duration, quota KVQuota) (float64, error)
	// KVList returns up to limit pairs whose key starts with prefix, in key
	// order; ErrKVListTooLarge when their keys and values come to more than
	// maxBytes.
	KVList(ctx context.Context, app, prefix string, limit, maxBytes int) ([]KVPair, error)
}

// KVPair is one entry of an app's kv store.
type KVPair struct {
	Key   string
	Value []byte
}

// KVQuota bounds what one app keeps in kv, so that a script writing in a loop
// cannot fill the disk every app and call shares. A zero field is no bound.
type KVQuota struct {
	Keys  int   // live keys
	Bytes int64 // their keys and values together
}

// KVQuotaError is a kv write refused because it would take the app over its
// quota; nothing was written.
type KVQuotaError struct {
	App   string
	Quota KVQuota
	// Keys and Bytes are what the app would hold with the write.
	Keys  int
	Bytes int64
}

// OverKeys reports whether the count of keys, rather than their bytes, is
// what the write would take over the quota.
func (e *KVQuotaError) OverKeys() bool { return e.Quota.Keys > 0 && e.Keys > e.Quota.Keys }

func (e *KVQuotaError) Error() string {
	if e.OverKeys() {
		return fmt.Sprintf("app %s would hold %d keys in kv, over its quota of %d", e.App, e.Keys, e.Quota.Keys)
	}
	return fmt.Sprintf("app %s would hold %d bytes in kv, over its quota of %d", e.App, e.Bytes, e.Quota.Bytes)
}

// ErrKVListTooLarge is KVList's answer when the pairs asked for hold more
// bytes than it may return at once.
var ErrKVListTooLarge = errors.New("the entries listed hold more bytes than one list may return")
