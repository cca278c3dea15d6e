package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luaivr/luaivr/store"
)

// waitFor polls cond until it holds, failing the test after a bound well
// above the TTLs used here (a store may expire at whole seconds).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second) // a bound on the test, not a figure it asserts
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A lease is exclusive until released, only its own token renews or
// releases it, and leases of different sessions are independent.
func testLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, err := acquire(ctx, s, "call-1", time.Minute)
	if err != nil || a.Token == "" || a.SessionID != "call-1" {
		t.Fatalf("Acquire = %+v, %v; want a lease with a token", a, err)
	}
	if _, err := acquire(ctx, s, "call-1", time.Minute); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("a second Acquire while the first is held: %v, want ErrLocked", err)
	}
	if _, err := acquire(ctx, s, "call-10", time.Minute); err != nil {
		t.Fatalf("Acquire of another session: %v", err)
	}
	forged := store.Lease{SessionID: "call-1", Token: a.Token + "x"}
	if err := s.Renew(ctx, forged, time.Minute); !errors.Is(err, store.ErrConflict) {
		t.Errorf("Renew with another token: %v, want ErrConflict", err)
	}
	if err := s.Release(ctx, forged); err != nil {
		t.Errorf("Release with another token: %v, want nil (nothing to release)", err)
	}
	if _, err := acquire(ctx, s, "call-1", time.Minute); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("a Release with another token freed the lease: %v", err)
	}
	if err := s.Renew(ctx, a, time.Minute); err != nil {
		t.Errorf("Renew of a held lease: %v", err)
	}
	if err := s.Release(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Renew(ctx, a, time.Minute); !errors.Is(err, store.ErrConflict) {
		t.Errorf("Renew of a released lease: %v, want ErrConflict", err)
	}
	b, err := acquire(ctx, s, "call-1", time.Minute)
	if err != nil || b.Token == a.Token {
		t.Fatalf("Acquire after Release = %+v, %v; want a new token", b, err)
	}
	if err := s.Release(ctx, a); err != nil { // a is lost: b stays
		t.Fatal(err)
	}
	if _, err := acquire(ctx, s, "call-1", time.Minute); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("releasing a lost lease freed its successor: %v", err)
	}
}

// A lease nobody renews expires: the session can be taken again, and the
// expired lease can no longer be renewed.
func testLeaseExpires(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, err := acquire(ctx, s, "call-1", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var b store.Lease
	waitFor(t, "an unrenewed lease to expire", func() bool {
		b, err = acquire(ctx, s, "call-1", time.Minute)
		return err == nil
	})
	if err := s.Renew(ctx, a, time.Minute); !errors.Is(err, store.ErrConflict) {
		t.Errorf("Renew of an expired lease another took: %v, want ErrConflict", err)
	}
	if err := s.Renew(ctx, b, time.Minute); err != nil {
		t.Errorf("Renew of the new lease: %v", err)
	}
}

// A commit applies only under the session's live lease and on the version
// it read; a refused commit changes nothing; a commit releases its lease.
func testConditionalCommit(t *testing.T, s store.Store) {
	ctx := t.Context()
	commit(t, s, event("call-1", 0))
	other, err := acquire(ctx, s, "call-2", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	lease, err := acquire(ctx, s, "call-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		lease store.Lease
		read  int
	}{
		{"no lease", store.Lease{}, 1},
		{"another session's lease", other, 1},
		{"a forged token", store.Lease{SessionID: "call-1", Token: lease.Token + "0"}, 1},
		{"a stale version", lease, 0},
		{"a version from the future", lease, 2},
	}
	for _, tc := range tests {
		c := event("call-1", 1)
		c.Lease, c.Read = tc.lease, tc.read
		if err := s.Commit(ctx, c); !errors.Is(err, store.ErrConflict) {
			t.Errorf("commit with %s: %v, want ErrConflict", tc.name, err)
		}
	}
	wantTranscript(t, s, "call-1", []store.Entry{event("call-1", 0).Entry})
	wantSession(t, s, event("call-1", 0).Session)
	s.Release(ctx, lease) // for Begin to look for the reply
	if _, ok, err := reply(ctx, s, "call-1", event("call-1", 1).ReplyKey); ok || err != nil {
		t.Errorf("a refused commit stored its reply (or Begin failed: %v)", err)
	}
	if lease, err = acquire(ctx, s, "call-1", time.Minute); err != nil {
		t.Fatal(err)
	}

	c := event("call-1", 1)
	c.Lease, c.Read = lease, 1
	c.Session.Events, c.Entry.Seq = 99, 99 // the store numbers the event, not the caller
	if err := s.Commit(ctx, c); err != nil {
		t.Fatalf("commit under the lease on the version read: %v", err)
	}
	wantSession(t, s, event("call-1", 1).Session)
	wantTranscript(t, s, "call-1", []store.Entry{event("call-1", 0).Entry, event("call-1", 1).Entry})
	if err := s.Commit(ctx, c); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second commit with a lease its commit released: %v, want ErrConflict", err)
	}
	if l, err := acquire(ctx, s, "call-1", time.Minute); err != nil {
		t.Errorf("Acquire after a commit: %v; the commit must release its lease", err)
	} else {
		s.Release(ctx, l)
	}
}

// An event whose lease expired while it ran (its script abandoned by the
// watchdog, its instance paused) cannot commit, neither after another event
// took the session and committed nor when nobody did.
func testAbandonedEvent(t *testing.T, s store.Store) {
	ctx := t.Context()
	commit(t, s, event("call-1", 0))
	abandoned, err := acquire(ctx, s, "call-1", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var next store.Lease
	waitFor(t, "the abandoned event's lease to expire", func() bool {
		next, err = acquire(ctx, s, "call-1", time.Minute)
		return err == nil
	})
	newer := event("call-1", 1)
	newer.Lease, newer.Read = next, 1
	if err := s.Commit(ctx, newer); err != nil {
		t.Fatal(err)
	}
	late := event("call-1", 1)
	late.Lease, late.Read = abandoned, 1
	late.Session.Vars = []byte(`{"late":true}`)
	late.ReplyKey, late.Reply = "late-event", []byte("late")
	if err := s.Commit(ctx, late); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the abandoned event's late commit: %v, want ErrConflict", err)
	}
	wantSession(t, s, newer.Session)
	wantTranscript(t, s, "call-1", []store.Entry{event("call-1", 0).Entry, newer.Entry})
	if _, ok, err := reply(ctx, s, "call-1", "late-event"); ok || err != nil {
		t.Errorf("the late commit stored its reply (or Begin failed: %v)", err)
	}

	// Expired and not taken by anyone: still refused.
	lapsed, err := acquire(ctx, s, "call-2", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a lease to lapse", func() bool {
		l, err := acquire(ctx, s, "call-2", time.Minute)
		if err == nil {
			s.Release(ctx, l)
		}
		return err == nil
	})
	c := event("call-2", 0)
	c.Lease, c.Read = lapsed, 0
	if err := s.Commit(ctx, c); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a commit under a lapsed lease: %v, want ErrConflict", err)
	}
}

// Many writers race for one session, each as an engine does (acquire, read,
// commit on what it read): every commit that succeeds is numbered after the
// one before it, none is lost or doubled, and the losers were told ErrLocked
// or ErrConflict.
func testOneSessionManyWriters(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers, each = 8, 10
	var wg sync.WaitGroup
	var wins atomic.Int64
	for w := range writers {
		wg.Go(func() {
			for i := 0; i < each; {
				lease, err := acquire(ctx, s, "call-1", time.Minute)
				if errors.Is(err, store.ErrLocked) {
					time.Sleep(time.Millisecond)
					continue
				} else if err != nil {
					t.Error(err)
					return
				}
				cur, _, err := s.Session(ctx, "call-1")
				if err != nil {
					t.Error(err)
					return
				}
				c := event("call-1", cur.Events)
				c.Lease, c.Read = lease, cur.Events
				c.Entry.EventID = fmt.Sprintf("w%d-%d", w, i)
				if err := s.Commit(ctx, c); err != nil {
					t.Errorf("commit under a held lease on what it read: %v", err)
					s.Release(ctx, lease)
					return
				}
				wins.Add(1)
				i++
			}
		})
	}
	wg.Wait()
	entries, err := s.Transcript(ctx, "call-1")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, e := range entries {
		if e.Seq != i+1 || seen[e.EventID] {
			t.Fatalf("entry %d is number %d, event %s (seen before: %v)", i, e.Seq, e.EventID, seen[e.EventID])
		}
		seen[e.EventID] = true
	}
	if len(entries) != writers*each || int(wins.Load()) != writers*each {
		t.Fatalf("%d commits succeeded and %d entries are stored, want %d", wins.Load(), len(entries), writers*each)
	}
}

// Register stores a session never seen, and merges into one that events
// reached first: their count, status and times stay, its app, vars and
// position are taken, its entry is numbered after theirs.
func testRegister(t *testing.T, s store.Store) {
	ctx := t.Context()
	placed := store.Session{ID: "placed", App: "reminder", Version: "v1", Vars: []byte(`{"n":1}`), ActionID: "confirm",
		Direction: "OUTBOUND", Updated: base}
	got, err := s.Register(ctx, placed)
	if err != nil {
		t.Fatal(err)
	}
	want := placed
	want.Events, want.Created = 1, base
	wantSession(t, s, want)
	if !equalSession(got, want) {
		t.Errorf("Register returned %+v, want %+v", got, want)
	}
	wantTranscript(t, s, "placed", []store.Entry{{Seq: 1, At: base, App: "reminder", EventType: "REGISTERED", ActionID: "confirm"}})

	first := event("early", 0) // 8x8's first status, before Register
	first.Session.Status = "CALL_INITIATED"
	commit(t, s, first)
	late := store.Session{ID: "early", App: "reminder", Vars: []byte(`{"n":2}`), ActionID: "confirm", Updated: base.Add(time.Minute)}
	if _, err := s.Register(ctx, late); err != nil {
		t.Fatal(err)
	}
	want = late
	want.Events, want.Status, want.Created = 2, "CALL_INITIATED", base
	wantSession(t, s, want)
	wantTranscript(t, s, "early", []store.Entry{first.Entry,
		{Seq: 2, At: late.Updated, App: "reminder", EventType: "REGISTERED", ActionID: "confirm"}})

	// An event that read the session before Register cannot commit over it.
	lease, err := acquire(ctx, s, "early", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	stale := event("early", 1)
	stale.Lease, stale.Read = lease, 1
	if err := s.Commit(ctx, stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a commit on the session as it was before Register: %v, want ErrConflict", err)
	}
	s.Release(ctx, lease)
	wantSession(t, s, want)
}

func equalSession(a, b store.Session) bool {
	return fmt.Sprintf("%+v", normSession(a)) == fmt.Sprintf("%+v", normSession(b))
}

// Registers racing commits of one session: each lands exactly once, with
// its own number.
func testRegisterRacesCommits(t *testing.T, s store.Store) {
	ctx := t.Context()
	const registers, events = 10, 10
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range registers {
			if _, err := s.Register(ctx, store.Session{ID: "call-1", App: "demo", Updated: base.Add(time.Duration(i))}); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Go(func() {
		for i := 0; i < events; {
			err := Commit(ctx, s, event("call-1", i))
			if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrLocked) {
				continue // a Register came between the read and the commit
			} else if err != nil {
				t.Error(err)
				return
			}
			i++
		}
	})
	wg.Wait()
	entries, err := s.Transcript(ctx, "call-1")
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for i, e := range entries {
		if e.Seq != i+1 {
			t.Fatalf("entry %d is number %d", i, e.Seq)
		}
		n[e.EventType]++
	}
	if n["REGISTERED"] != registers || n["CALL_ACTION"] != events {
		t.Fatalf("stored %v, want %d registers and %d events", n, registers, events)
	}
	if got, _, _ := s.Session(ctx, "call-1"); got.Events != registers+events {
		t.Fatalf("the session counts %d events, want %d", got.Events, registers+events)
	}
}
