// Package store is what the engine keeps between webhooks: each call's session
// (which app, its vars, where it is in the menu tree), a transcript of every event
// and reply, and the replies already sent, so a redelivered event is answered the
// same way without running the script again.
//
// The engine talks only to the Store interface, and the interface's contract
// holds across processes: several luaivr instances may share one store behind a
// load balancer, and any of them may die mid-call. badgerstore is the embedded
// default (one process holds its folder), memstore a throwaway one for flow
// tests and check, and a shared implementation (Redis) registers its URL
// schemes with RegisterScheme. storetest holds the behaviour every
// implementation must have.
//
// # Handling one event
//
// The engine handles an event of a session in three store operations, each
// bounded by its own timeout (Options.Timeout), so that a stalled store
// means the fallback to the caller, never silence (a Redis store makes each
// one round trip):
//
//  1. Begin: take the session's lease and read the session, or find that
//     the event was answered before. The lease is a random token that
//     expires after a TTL longer than anything one event may take (the
//     wait for a script slot, twice the script deadline, and its store
//     operations at their timeout). While another event of the session
//     holds it, Begin answers ErrLocked and the engine waits: the events of
//     one session are handled one at a time by all the instances together.
//     An event the session already answered (a redelivery, named by its
//     reply key) gets the reply sent then, takes no lease, and the script
//     does not run again; since the lease is checked first, a redelivery
//     landing on another instance while the first still runs the script
//     waits for the lease, then finds the reply that the first committed.
//     The session's Events count is the version the event read.
//  2. Run the script, renewing the lease (Renew) if it runs long.
//  3. Commit, conditionally: the store applies the commit only while the lease
//     is still the session's and the session still counts the events that
//     step 1 read, and releases the lease with it; otherwise nothing changes
//     and it answers ErrConflict. A script abandoned by the watchdog, or an
//     instance paused past its lease, cannot overwrite a newer event. On a
//     conflict the engine starts again at step 1, and a redelivery answered
//     elsewhere meanwhile is answered from what that commit stored.
//
// Register (a call we place) is a compare-and-swap on the session, outside
// leases: an event that read the session before it fails its commit with
// ErrConflict and is handled again on what Register stored.
//
// # Time to live
//
// What the store keeps expires by itself; nothing is deleted explicitly:
//   - a session lives SessionTTL after its last commit or Register; each
//     transcript entry lives SessionTTL after the commit that wrote it, so a
//     long call's oldest entries can go shortly before its session;
//   - a reply answers redeliveries of its event for ReplyTTL after its
//     commit, but not longer than that commit's transcript entry, beside
//     which a store may keep it (a redelivery after that runs the script
//     again);
//   - a kv key written with a ttl lives that long after the write (KVIncr with
//     a ttl of 0 keeps the key's expiry);
//   - a lease lives its ttl after Begin or the last Renew.
//
// Expired things read as missing (ok false) and are not listed by Sessions;
// their expiry is kept to within a second.
package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Session is one call as luaivr knows it.
type Session struct {
	ID  string `json:"id"`
	App string `json:"app"`
	// Version is the content hash of the app's script the call started on, so
	// that an instance serving another version of the app can say so.
	Version string `json:"version,omitempty"`
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
	// Sensitive are the positions at which the call was asked for digits
	// that must not be stored (a capture marked sensitive): digits answered
	// there are redacted, whichever version of the app answers them.
	Sensitive []string `json:"sensitive,omitempty"`
	// Status is the last callStatus (CALL_RECEIVED, …) or, once the session
	// summary arrived, its sessionStatus (COMPLETED, BUSY, …).
	Status      string `json:"status,omitempty"`
	Ended       bool   `json:"ended,omitempty"`
	Direction   string `json:"direction,omitempty"`
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination,omitempty"`
	// Events counts the entries of the transcript; the store assigns it (see
	// Commit). It is the session's version: a commit names the count it read.
	Events int `json:"events"`
	// Recorded is the size as JSON of the inputs recorded with the events so
	// far (Entry.Inputs): what one call records is bounded (inputs.MaxSession).
	Recorded int       `json:"recorded,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// Entry is one line of a session's transcript: an event and what we did with it.
type Entry struct {
	Seq        int             `json:"seq"` // assigned by the store: 1, 2, 3, …
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
	// Version is the app version that handled the event (App.Version: the
	// content hash of its script and the modules it required).
	Version string `json:"version,omitempty"`
	// Inputs is what the handler read from outside its script, for replay.
	Inputs *Inputs `json:"inputs,omitempty"`
	// Redacted: the caller's digits were a sensitive capture. Digits holds
	// "•" once per digit, and the digits appear nowhere in the entry.
	Redacted bool `json:"redacted,omitempty"`
}

// Lease is the right to commit the next event of one session. Token is random
// (NewToken), so that only its holder can renew, release or commit with it.
type Lease struct {
	SessionID string
	Token     string
}

// Commit is everything one event changes, written atomically: either all of it
// is stored or none is.
type Commit struct {
	// Lease is the lease the event holds on Session.ID; Read is the session's
	// Events as the event read it (0: the session was unknown or expired).
	// The commit is applied only while both still hold.
	Lease Lease
	Read  int
	// Session is the session after the event and Entry the transcript line;
	// the store sets Session.Events and Entry.Seq to Read+1.
	Session Session
	Entry   Entry
	// ReplyKey names the event for redelivery ("" when it cannot be named);
	// Reply is the exact body we answered with.
	ReplyKey string
	Reply    []byte
}

// Begun is what Begin found for an event.
type Begun struct {
	// Replied: the event was answered before (a redelivery) and Reply is
	// the body sent then. No lease was taken, and Session is not read.
	Replied bool
	Reply   []byte
	// Lease is the event's lease on the session; Session is the session as
	// stored, Known false (and Session zero) when unknown or expired.
	Lease   Lease
	Session Session
	Known   bool
}

// Store keeps sessions, transcripts and sent replies, and orders the events of
// each session through leases. Implementations are safe for concurrent use,
// by goroutines and, for a shared store, by processes.
//
// Errors: ErrLocked and ErrConflict as documented on each method;
// ErrUnavailable (wrapped, with why) when the store cannot be reached or does
// not answer in time, so the caller knows that retrying later may work; a
// canceled or expired ctx gives ctx's error.
type Store interface {
	// Session returns the session with this id; ok is false when it is unknown
	// or expired.
	Session(ctx context.Context, id string) (s Session, ok bool, err error)

	// Begin starts an event of session sessionID (step 1 above), in one
	// operation: it takes the session's lease for ttl and reads the
	// session; or, when replyKey ("": the event cannot be named) names an
	// event of the session that was committed, it returns the reply stored
	// with it and takes no lease. It answers ErrLocked at once while
	// another lease on the session is live.
	Begin(ctx context.Context, sessionID, replyKey string, ttl time.Duration) (Begun, error)
	// Renew extends a lease to ttl from now; ErrConflict when it is no
	// longer the session's (it expired, or was released).
	Renew(ctx context.Context, l Lease, ttl time.Duration) error
	// Release gives a lease up if it is still the session's (compare and
	// delete): releasing a lease already lost changes nothing.
	Release(ctx context.Context, l Lease) error

	// Commit stores one event's changes atomically and releases its lease,
	// if c.Lease is still the session's and the stored session still counts
	// c.Read events; otherwise it changes nothing and answers ErrConflict.
	// When it returns nil the changes survive a crash of the process.
	Commit(ctx context.Context, c Commit) error
	// Register records a session before its first webhook (a call we place),
	// atomically against commits and other Registers: see Registered for
	// how it merges with what events already stored. It returns the session
	// as stored.
	Register(ctx context.Context, s Session) (Session, error)

	// Transcript returns a session's entries in order.
	Transcript(ctx context.Context, sessionID string) ([]Entry, error)
	// Sessions calls fn for each live session, most recently updated first,
	// until fn returns false. fn may call the Store.
	Sessions(ctx context.Context, fn func(Session) bool) error
	// KV is the key-value store an app's sessions share (the Lua module kv).
	KV
	Close() error
}

// Sentinel errors of the store contract; implementations wrap them.
var (
	// ErrLocked: another event of the session holds its lease.
	ErrLocked = errors.New("another event of this session holds its lease")
	// ErrConflict: the lease was lost or the session changed since it was
	// read; nothing was written.
	ErrConflict = errors.New("the session changed or its lease was lost since the event read it; nothing was saved")
	// ErrUnavailable: the store could not be reached or did not answer in
	// time.
	ErrUnavailable = errors.New("the store is unavailable")
)

// Readier is a store that can tell, before an event runs, that it could not
// save it (its disk is full, its data folder is gone, its server is down).
type Readier interface {
	// Ready is nil while the store can take events; else it says why not
	// and what to do. While it is not, the engine answers callers with the
	// fallback, which nothing could record, rather than with replies that
	// would be lost.
	Ready() error
}

// Ready is s's Ready for a Readier, and nil for a store that cannot tell.
func Ready(s Store) error {
	if r, ok := s.(Readier); ok {
		return r.Ready()
	}
	return nil
}

// Sizer is a store that can say how many bytes it holds (for metrics).
type Sizer interface {
	// Size is the bytes held in the store's index (Badger's LSM tree) and in
	// its log of values.
	Size() (index, log int64)
}

// Registered is how Register merges s into what is stored (old, nil when
// nothing is): events may have reached the store first (8x8 may post the
// call's first status before the call's placing returns), so their count,
// status, times and recorded size are kept, and s's app, version, vars and
// position taken.
// It returns the session to store and its REGISTERED transcript entry.
func Registered(old *Session, s Session) (Session, Entry) {
	at := s.Updated
	if old != nil {
		s.Events, s.Status, s.Created, s.Ended, s.Recorded = old.Events, old.Status, old.Created, old.Ended, old.Recorded
	}
	if s.Created.IsZero() {
		s.Created = at
	}
	s.Events++
	return s, Entry{Seq: s.Events, At: at, App: s.App, EventType: "REGISTERED", ActionID: s.ActionID}
}

// Numbered is the session and entry a commit stores: numbered Read+1.
func (c Commit) Numbered() (Session, Entry) {
	s, e := c.Session, c.Entry
	s.Events = c.Read + 1
	e.Seq = s.Events
	return s, e
}

// Encode is json.Marshal without HTML escaping, for the JSON a record keeps
// (an entry's Inputs): its json.RawMessage fields (kv values) come back byte
// for byte as given, where json.Marshal would rewrite "<" in them as
// "\u003c".
func Encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Bytes says n bytes for a person: "812 bytes", "3.4 KiB", "1.2 MiB".
func Bytes[T int | int64 | uint64](n T) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
