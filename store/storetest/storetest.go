// Package storetest is the conformance suite for store.Store implementations:
// every Store (badgerstore, a shared Redis one, …) must pass Run.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/luaivr/luaivr/store"
)

// Open makes a new, empty store with opts' TTLs (zero: the store's
// defaults).
type Open func(t *testing.T, opts store.Options) store.Store

// Run checks the behaviour every store.Store must have. open must return a
// new, empty store on each call (subtests run in parallel, each with its own
// store); Run closes it when the subtest ends.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Unknown", testUnknown},
		{"CommitReadBack", testCommitReadBack},
		{"NoReplyKey", testNoReplyKey},
		{"Begin", testBegin},
		{"Redelivery", testRedelivery},
		{"TranscriptOrder", testTranscriptOrder},
		{"TranscriptIsolation", testTranscriptIsolation},
		{"Sessions", testSessions},
		{"ConcurrentSessions", testConcurrent},
		{"RawBytesExact", testRawBytesExact},
		{"CanceledContext", testCanceled},
		{"KV", testKV},
		{"KVIncrConcurrent", testKVIncrConcurrent},
		{"Leases", testLeases},
		{"LeaseExpires", testLeaseExpires},
		{"ConditionalCommit", testConditionalCommit},
		{"AbandonedEvent", testAbandonedEvent},
		{"OneSessionManyWriters", testOneSessionManyWriters},
		{"Register", testRegister},
		{"RegisterRacesCommits", testRegisterRacesCommits},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, store.Options{})
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
	t.Run("TTL", func(t *testing.T) { t.Parallel(); testTTL(t, open) })
}

// base is a fixed time in UTC with nanoseconds, so a store that loses
// precision or the instant shows up.
var base = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

// event returns the commit of event seq (0-based) of session id, as the
// engine would make it, numbered as the store numbers it: the session counts
// seq+1 events and the entry is number seq+1.
func event(id string, seq int) store.Commit {
	at := base.Add(time.Duration(seq) * time.Second)
	digits := fmt.Sprint(seq % 10)
	eventID := fmt.Sprintf("%s-ev%d", id, seq)
	return store.Commit{
		Session: store.Session{
			ID:          id,
			App:         "demo",
			Vars:        json.RawMessage(fmt.Sprintf(`{"seq":%d,"lang":"en"}`, seq)),
			ActionID:    fmt.Sprintf("menu-%d", seq),
			Root:        "menu-0",
			Tries:       map[string]int{fmt.Sprintf("menu-%d", seq): seq%3 + 1},
			Status:      "CALL_RECEIVED",
			Direction:   "INBOUND",
			Source:      "+6512345678",
			Destination: "+6587654321",
			Events:      seq + 1,
			Created:     base,
			Updated:     at,
		},
		Read: seq,
		Entry: store.Entry{
			Seq:        seq + 1,
			At:         at,
			App:        "demo",
			EventType:  "CALL_ACTION",
			EventID:    eventID,
			CallStatus: "CALL_RECEIVED",
			Digits:     &digits,
			ActionID:   fmt.Sprintf("menu-%d", seq),
			Handler:    "on_digits",
			Duration:   1500 * time.Microsecond,
			Event:      json.RawMessage(fmt.Sprintf(`{"eventId":%q,"dtmf":%q}`, eventID, digits)),
			Reply:      json.RawMessage(`{"callflow":[{"action":"say","params":{"text":"Hello"}}]}`),
		},
		ReplyKey: eventID,
		Reply:    fmt.Appendf(nil, `{"callflow":[],"clientActionId":"menu-%d"}`, seq),
	}
}

// commit commits c as the engine would (see Commit) and fails the test on
// error.
func commit(t *testing.T, s store.Store, c store.Commit) {
	t.Helper()
	if err := Commit(t.Context(), s, c); err != nil {
		t.Fatalf("Commit(%s #%d): %v", c.Session.ID, c.Entry.Seq, err)
	}
}

// Commit commits c as the engine commits an event: under a lease of its own
// (30s), on the session as stored (c.Read is its count of events), and
// released when the commit fails. For tests that write sessions directly.
func Commit(ctx context.Context, s store.Store, c store.Commit) error {
	b, err := s.Begin(ctx, c.Session.ID, "", 30*time.Second)
	if err != nil {
		return err
	}
	c.Lease, c.Read = b.Lease, b.Session.Events
	if err := s.Commit(ctx, c); err != nil {
		s.Release(ctx, c.Lease)
		return err
	}
	return nil
}

// acquire takes the lease on session id as an event that cannot be named
// does: Begin without a reply key.
func acquire(ctx context.Context, s store.Store, id string, ttl time.Duration) (store.Lease, error) {
	b, err := s.Begin(ctx, id, "", ttl)
	return b.Lease, err
}

// reply is the body Begin answers for a redelivery of the event key of
// session id; when it finds none it gives back the lease it took.
func reply(ctx context.Context, s store.Store, id, key string) ([]byte, bool, error) {
	b, err := s.Begin(ctx, id, key, 30*time.Second)
	if err != nil || !b.Replied {
		s.Release(ctx, b.Lease)
		return nil, false, err
	}
	if b.Lease != (store.Lease{}) {
		return nil, false, fmt.Errorf("Begin answered a redelivery of %q and took the lease %+v too", key, b.Lease)
	}
	return b.Reply, true, nil
}

// wantSession checks that the store holds want as session want.ID.
func wantSession(t *testing.T, s store.Store, want store.Session) {
	t.Helper()
	got, ok, err := s.Session(t.Context(), want.ID)
	if err != nil || !ok {
		t.Fatalf("Session(%q) = ok %v, err %v; want it stored", want.ID, ok, err)
	}
	if !reflect.DeepEqual(normSession(got), normSession(want)) {
		t.Errorf("Session(%q):\n got %+v\nwant %+v", want.ID, got, want)
	}
}

// wantTranscript checks that session id's transcript is want.
func wantTranscript(t *testing.T, s store.Store, id string, want []store.Entry) {
	t.Helper()
	got, err := s.Transcript(t.Context(), id)
	if err != nil {
		t.Fatalf("Transcript(%q): %v", id, err)
	}
	if len(got) != len(want) {
		t.Fatalf("Transcript(%q) has %d entries, want %d: %+v", id, len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(normEntry(got[i]), normEntry(want[i])) {
			t.Errorf("Transcript(%q)[%d]:\n got %+v\nwant %+v", id, i, got[i], want[i])
		}
	}
}

// wantReply checks that the reply stored under key (of session id) is want.
func wantReply(t *testing.T, s store.Store, id, key string, want []byte) {
	t.Helper()
	got, ok, err := reply(t.Context(), s, id, key)
	if err != nil || !ok {
		t.Fatalf("Reply(%q) = ok %v, err %v; want it stored", key, ok, err)
	}
	if string(got) != string(want) {
		t.Errorf("Reply(%q) = %q, want %q", key, got, want)
	}
}

// normSession and normEntry make values comparable with reflect.DeepEqual:
// a store must keep each time's instant but not its location, and may return
// an empty raw field as nil.
func normSession(s store.Session) store.Session {
	s.Created, s.Updated = s.Created.UTC(), s.Updated.UTC()
	s.Vars = normRaw(s.Vars)
	return s
}

func normEntry(e store.Entry) store.Entry {
	e.At = e.At.UTC()
	e.Event, e.Reply = normRaw(e.Event), normRaw(e.Reply)
	return e
}

func normRaw(r json.RawMessage) json.RawMessage {
	if len(r) == 0 {
		return nil
	}
	return r
}

func testUnknown(t *testing.T, s store.Store) {
	commit(t, s, event("known", 0))
	ctx := t.Context()
	if got, ok, err := s.Session(ctx, "unknown"); err != nil || ok || !reflect.DeepEqual(got, store.Session{}) {
		t.Errorf("Session(unknown) = %+v, %v, %v; want zero, false, nil", got, ok, err)
	}
	if got, ok, err := reply(ctx, s, "known", "unknown"); err != nil || ok || got != nil {
		t.Errorf("Reply(unknown) = %q, %v, %v; want nil, false, nil", got, ok, err)
	}
	if got, err := s.Transcript(ctx, "unknown"); err != nil || len(got) != 0 {
		t.Errorf("Transcript(unknown) = %+v, %v; want empty, nil", got, err)
	}
}

func testCommitReadBack(t *testing.T, s store.Store) {
	const id = "call-1"
	var commits []store.Commit
	var entries []store.Entry
	for seq := range 4 {
		c := event(id, seq)
		commit(t, s, c)
		commits = append(commits, c)
		entries = append(entries, c.Entry)
	}
	// The last commit replaces the whole session, dropping emptied fields.
	last := event(id, 4)
	last.Session.ActionID, last.Session.Vars = "", nil
	last.Session.Status, last.Session.Ended = "COMPLETED", true
	last.Entry.Digits = nil
	commit(t, s, last)
	commits = append(commits, last)
	entries = append(entries, last.Entry)

	wantSession(t, s, last.Session)
	wantTranscript(t, s, id, entries)
	for _, c := range commits {
		wantReply(t, s, id, c.ReplyKey, c.Reply)
	}
}

func testNoReplyKey(t *testing.T, s store.Store) {
	c := event("call-1", 0)
	c.ReplyKey = "" // the event could not be named; Reply is still set
	commit(t, s, c)
	wantSession(t, s, c.Session)
	wantTranscript(t, s, "call-1", []store.Entry{c.Entry})
	if got, ok, err := reply(t.Context(), s, "call-1", ""); err != nil || ok {
		t.Errorf(`Reply("") = %q, %v, %v; want nothing stored`, got, ok, err)
	}
	if _, ok, err := reply(t.Context(), s, "call-1", event("call-1", 0).ReplyKey); err != nil || ok {
		t.Errorf("Reply(%q) = %v, %v; want nothing stored", event("call-1", 0).ReplyKey, ok, err)
	}
}

// Begin takes the lease and reads the session in one step: the session as
// the last commit stored it, or none.
func testBegin(t *testing.T, s store.Store) {
	ctx := t.Context()
	b, err := s.Begin(ctx, "call-1", "call-1-ev0", time.Minute)
	if err != nil || b.Known || b.Replied || b.Lease.Token == "" || !reflect.DeepEqual(b.Session, store.Session{}) {
		t.Fatalf("Begin of an unknown session = %+v, %v; want a lease and no session", b, err)
	}
	c := event("call-1", 0)
	c.Lease, c.Read = b.Lease, 0
	if err := s.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	b, err = s.Begin(ctx, "call-1", "call-1-ev1", time.Minute)
	if err != nil || !b.Known || b.Replied || b.Lease.Token == "" {
		t.Fatalf("Begin of the next event = %+v, %v; want a lease and the session", b, err)
	}
	if !reflect.DeepEqual(normSession(b.Session), normSession(c.Session)) {
		t.Errorf("Begin read the session\n %+v\nwant %+v", b.Session, c.Session)
	}
	// While the lease is held, a redelivery waits like any event: its reply
	// is answered once the event holding the session is done.
	if _, err := s.Begin(ctx, "call-1", c.ReplyKey, time.Minute); !errors.Is(err, store.ErrLocked) {
		t.Errorf("Begin of a redelivery while another event holds the lease: %v, want ErrLocked", err)
	}
	s.Release(ctx, b.Lease)
}

// A redelivery of any event of the session, however many came after it, is
// answered with the exact body sent, without a lease (the next event can
// start at once), across events of other sessions; another event is not.
func testRedelivery(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 40
	for seq := range n {
		commit(t, s, event("call-1", seq))
		commit(t, s, event("call-2", seq))
	}
	for seq := range n {
		for _, id := range []string{"call-1", "call-2"} {
			c := event(id, seq)
			b, err := s.Begin(ctx, id, c.ReplyKey, time.Minute)
			if err != nil || !b.Replied || string(b.Reply) != string(c.Reply) || b.Lease != (store.Lease{}) {
				t.Fatalf("Begin of a redelivery of event %d of %s = %+v, %v; want its reply %q and no lease", seq, id, b, err, c.Reply)
			}
		}
	}
	// A key of another session is not this one's.
	if _, ok, err := reply(ctx, s, "call-1", event("call-2", n-1).ReplyKey); ok || err != nil {
		t.Errorf("call-1 answered a redelivery of call-2's event (err %v)", err)
	}
	// No lease was left behind by the redeliveries.
	commit(t, s, event("call-1", n))
	wantSession(t, s, event("call-1", n).Session)
}

// testTranscriptOrder commits past sequence numbers that sort differently
// as decimal text (10 < 2) or little-endian bytes (256 < 255).
func testTranscriptOrder(t *testing.T, s store.Store) {
	var want []store.Entry
	for seq := range 260 {
		c := event("call-1", seq)
		commit(t, s, c)
		want = append(want, c.Entry)
	}
	wantTranscript(t, s, "call-1", want)
}

// testTranscriptIsolation uses ids that are prefixes of one another.
func testTranscriptIsolation(t *testing.T, s store.Store) {
	ids := []string{"call-1", "call-10", "a", "a/b", "a/"}
	for _, id := range ids {
		for seq := range 3 {
			commit(t, s, event(id, seq))
		}
	}
	for _, id := range ids {
		wantTranscript(t, s, id, []store.Entry{event(id, 0).Entry, event(id, 1).Entry, event(id, 2).Entry})
	}
}

func testSessions(t *testing.T, s store.Store) {
	var none []string
	if err := s.Sessions(t.Context(), func(sess store.Session) bool {
		none = append(none, sess.ID)
		return true
	}); err != nil || len(none) != 0 {
		t.Fatalf("Sessions on an empty store called fn for %q, err %v; want no calls", none, err)
	}

	// Updated order differs from commit order and from id order.
	updated := map[string]time.Duration{"c": 3, "a": 1, "d": 4, "b": 2, "e": 0}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		c := event(id, 0)
		c.Session.Updated = base.Add(updated[id] * time.Minute)
		commit(t, s, c)
	}
	// A later event of "a" makes it the most recently updated.
	c := event("a", 1)
	c.Session.Updated = base.Add(10 * time.Minute)
	commit(t, s, c)

	tests := []struct {
		stopAfter int
		want      []string
	}{
		{stopAfter: 100, want: []string{"a", "d", "c", "b", "e"}},
		{stopAfter: 2, want: []string{"a", "d"}},
		{stopAfter: 1, want: []string{"a"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("stop after %d", tc.stopAfter), func(t *testing.T) {
			var got []string
			err := s.Sessions(t.Context(), func(sess store.Session) bool {
				got = append(got, sess.ID)
				if sess.ID == "a" {
					wantSession(t, s, sess) // fn may use the store
				}
				return len(got) < tc.stopAfter
			})
			if err != nil {
				t.Fatalf("Sessions: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Sessions visited %q, want %q", got, tc.want)
			}
		})
	}
}

// testConcurrent commits to many sessions from many goroutines at once, each
// session's events in order as the engine does. Run it with -race.
func testConcurrent(t *testing.T, s store.Store) {
	const workers, perWorker, events = 16, 8, 3
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				id := fmt.Sprintf("w%d-s%d", w, i)
				for seq := range events {
					if err := Commit(t.Context(), s, event(id, seq)); err != nil {
						t.Errorf("Commit(%s #%d): %v", id, seq, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	n := 0
	if err := s.Sessions(t.Context(), func(store.Session) bool { n++; return true }); err != nil {
		t.Fatalf("Sessions: %v", err)
	}
	if n != workers*perWorker {
		t.Errorf("Sessions visited %d sessions, want %d", n, workers*perWorker)
	}
	for w := range workers {
		for i := range perWorker {
			id := fmt.Sprintf("w%d-s%d", w, i)
			wantSession(t, s, event(id, events-1).Session)
			var want []store.Entry
			for seq := range events {
				want = append(want, event(id, seq).Entry)
				wantReply(t, s, id, event(id, seq).ReplyKey, event(id, seq).Reply)
			}
			wantTranscript(t, s, id, want)
		}
	}
}

// testRawBytesExact checks that raw JSON (vars, event, reply) comes back byte
// for byte when given compact, including what json.Marshal would escape, and
// that reply bodies are kept as opaque bytes.
func testRawBytesExact(t *testing.T, s store.Store) {
	tests := []struct{ name, raw string }{
		{"empty object", `{}`},
		{"html", `{"prompt":"<speak>Press 1 & hold</speak>"}`},
		{"line separators", "{\"s\":\"a\u2028b\u2029c\"}"},
		{"escapes kept", `{"s":"tab\there \"q\" \u00e9 \\ \/"}`},
		{"utf8", `{"s":"héllo ☎ 📞"}`},
		{"big numbers", `{"n":123456789012345678901234567890,"f":1.50e-3,"neg":-0}`},
		{"nested", `{"menu":{"path":["main","sales"],"tries":2,"ok":true,"none":null}}`},
		{"array", `[1,"two",null,false]`},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("raw-%d", i)
			c := event(id, 0)
			c.Session.Vars = json.RawMessage(tc.raw)
			c.Entry.Event = json.RawMessage(tc.raw)
			c.Entry.Reply = json.RawMessage(tc.raw)
			c.Reply = []byte(tc.raw + "\x00\xff not JSON\n")
			commit(t, s, c)

			got, ok, err := s.Session(t.Context(), id)
			if err != nil || !ok {
				t.Fatalf("Session(%q) = ok %v, err %v", id, ok, err)
			}
			if string(got.Vars) != tc.raw {
				t.Errorf("Vars = %q, want %q", got.Vars, tc.raw)
			}
			entries, err := s.Transcript(t.Context(), id)
			if err != nil || len(entries) != 1 {
				t.Fatalf("Transcript(%q) = %d entries, err %v; want 1", id, len(entries), err)
			}
			if string(entries[0].Event) != tc.raw || string(entries[0].Reply) != tc.raw {
				t.Errorf("entry Event = %q, Reply = %q; want both %q", entries[0].Event, entries[0].Reply, tc.raw)
			}
			wantReply(t, s, id, c.ReplyKey, c.Reply)
		})
	}
}

// testCanceled checks that every method gives up on an already canceled
// context with its error.
func testCanceled(t *testing.T, s store.Store) {
	commit(t, s, event("call-1", 0))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	lease, err := acquire(t.Context(), s, "call-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	next := event("call-1", 1)
	next.Lease = lease
	calls := map[string]func() error{
		"Session": func() error { _, _, err := s.Session(ctx, "call-1"); return err },
		"Begin of a redelivery": func() error {
			_, _, err := reply(ctx, s, "call-1", event("call-1", 0).ReplyKey)
			return err
		},
		"Commit": func() error { return s.Commit(ctx, next) },
		"Begin":  func() error { _, err := acquire(ctx, s, "call-2", time.Minute); return err },
		"Renew":  func() error { return s.Renew(ctx, lease, time.Minute) },
		"Register": func() error {
			_, err := s.Register(ctx, store.Session{ID: "call-3", App: "demo", Updated: base})
			return err
		},
		"Transcript": func() error {
			_, err := s.Transcript(ctx, "call-1")
			return err
		},
		"Sessions": func() error { return s.Sessions(ctx, func(store.Session) bool { return true }) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err %v, want context.Canceled", name, err)
		}
	}
	// The canceled Commit must not have been applied.
	wantTranscript(t, s, "call-1", []store.Entry{event("call-1", 0).Entry})
}
