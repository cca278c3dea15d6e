package store

import (
	"errors"
	"fmt"
)

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
