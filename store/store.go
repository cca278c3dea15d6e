// Package store is what the engine keeps between webhooks: each call's session
// (which app, its vars, where it is in the menu tree), a transcript of every event
// and reply, and the replies already sent, so a redelivered event is answered the
// same way without running the script again.
//
// The engine talks only to the Store interface. badgerstore is the embedded default;
// a shared implementation (Redis) can sit behind the same interface so that several
// luaivr instances serve one sub-account. storetest holds the behaviour every
// implementation must have.
package store

import (
	"context"
	"encoding/json"
	"time"
)

// Session is one call as luaivr knows it.
type Session struct {
	ID  string `json:"id"`
	App string `json:"app"`
	// Vars is the JSON object the script's session.vars held after the last event.
	Vars json.RawMessage `json:"vars,omitempty"`
	// ActionID is the clientActionId of the last reply we sent: the caller's
	// position in the menu tree, used when 8x8 does not echo it.
	ActionID string `json:"action_id,omitempty"`
	// Menu is the last position the caller was at, kept after the call moves
	// on (ActionID empties when a reply carries no clientActionId).
	Menu string `json:"menu,omitempty"`
	// Root and Tries are what the app's menu tree remembers of the call (the
	// root menu it starts again at; wrong answers in a row, per menu).
	Root  string         `json:"root,omitempty"`
	Tries map[string]int `json:"tries,omitempty"`
	// Status is the last callStatus (CALL_RECEIVED, …) or, once the session
	// summary arrived, its sessionStatus (COMPLETED, BUSY, …).
	Status      string    `json:"status,omitempty"`
	Ended       bool      `json:"ended,omitempty"`
	Direction   string    `json:"direction,omitempty"`
	Source      string    `json:"source,omitempty"`
	Destination string    `json:"destination,omitempty"`
	Events      int       `json:"events"` // events recorded so far; the next transcript Seq
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// Entry is one line of a session's transcript: an event and what we did with it.
type Entry struct {
	Seq        int             `json:"seq"`
	At         time.Time       `json:"at"`
	App        string          `json:"app,omitempty"`
	EventType  string          `json:"event_type"`
	EventID    string          `json:"event_id,omitempty"`
	CallStatus string          `json:"call_status,omitempty"`
	Digits     *string         `json:"digits,omitempty"` // nil: no input
	ActionID   string          `json:"action_id,omitempty"`
	Handler    string          `json:"handler,omitempty"`
	Duration   time.Duration   `json:"duration_ns"` // time spent in Lua
	Event      json.RawMessage `json:"event,omitempty"`
	Reply      json.RawMessage `json:"reply,omitempty"`
	Error      string          `json:"error,omitempty"`
	Fallback   bool            `json:"fallback,omitempty"`
}

// Commit is everything one event changes, written atomically: either all of it
// is stored or none is.
type Commit struct {
	Session Session // the session after the event; Events already counts Entry
	Entry   Entry
	// ReplyKey names the event for redelivery ("" when it cannot be named);
	// Reply is the exact body we answered with.
	ReplyKey string
	Reply    []byte
}

// Store keeps sessions, transcripts and sent replies. Implementations are safe
// for concurrent use; the engine guarantees that events of one session are
// committed one at a time.
type Store interface {
	// Session returns the session with this id; ok is false when it is unknown
	// or expired.
	Session(ctx context.Context, id string) (s Session, ok bool, err error)
	// Reply returns the body sent for a redelivered event.
	Reply(ctx context.Context, key string) (body []byte, ok bool, err error)
	// Commit stores one event's changes atomically. When it returns nil the
	// changes survive a crash of the process.
	Commit(ctx context.Context, c Commit) error
	// Transcript returns a session's entries in order.
	Transcript(ctx context.Context, sessionID string) ([]Entry, error)
	// Sessions calls fn for each live session, most recently updated first,
	// until fn returns false.
	Sessions(ctx context.Context, fn func(Session) bool) error
	// KV is the key-value store an app's sessions share (the Lua module kv).
	KV
	// Ready is nil while the store can take events; else it says why not
	// (its disk is full, its data folder is gone, …) and what to do. While it
	// is not, the engine answers callers with the fallback, which nothing
	// could record, rather than with replies that would be lost.
	Ready() error
	Close() error
}

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
