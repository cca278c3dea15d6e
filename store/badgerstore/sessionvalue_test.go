package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/storetest"
)

// callEvent is event seq of call id, named by its reply key.
func callEvent(id string, seq int) store.Commit {
	at := time.Unix(1_700_000_000+int64(seq), 0)
	return store.Commit{
		Session:  store.Session{ID: id, App: "demo", ActionID: fmt.Sprintf("menu-%d", seq), Created: time.Unix(1_700_000_000, 0), Updated: at},
		Entry:    store.Entry{At: at, EventType: "CALL_ACTION", EventID: fmt.Sprintf("e%d", seq)},
		ReplyKey: fmt.Sprintf("CALL_ACTION\x00%s\x00e%d", id, seq),
		Reply:    fmt.Appendf(nil, `{"clientActionId":"menu-%d","callflow":[]}`, seq),
	}
}

// wantRedeliveries fails unless every one of the first n events of call id
// is answered with its own reply.
func wantRedeliveries(t *testing.T, s *Store, id string, n int) {
	t.Helper()
	for seq := range n {
		c := callEvent(id, seq)
		b, err := s.Begin(t.Context(), id, c.ReplyKey, time.Minute)
		if err != nil || !b.Replied || string(b.Reply) != string(c.Reply) {
			t.Fatalf("redelivery of event %d of %s: %+v, %v; want %s", seq, id, b, err, c.Reply)
		}
	}
}

// The replies of a call's last events are marked in its session and those
// pushed out of it kept under their own key: a redelivery of any event is
// answered, by the process that wrote it and after a restart, when nothing
// of the session is in memory and every read goes to Badger.
func TestRedeliveryOfAnyEventAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir, GCInterval: -1})
	const n = repliesInSession*2 + 3
	for seq := range n {
		if err := storetest.Commit(t.Context(), s, callEvent("call-1", seq)); err != nil {
			t.Fatal(err)
		}
	}
	if s.live.get("call-1", uint64(time.Now().Unix())) == nil {
		t.Fatal("the session the process wrote is not kept live: every event reads Badger")
	}
	wantRedeliveries(t, s, "call-1", n)
	s.Close()

	s = openT(t, Options{Dir: dir, GCInterval: -1})
	wantRedeliveries(t, s, "call-1", n)
	// An event not answered before is not a redelivery, and commits on.
	next := callEvent("call-1", n)
	if b, err := s.Begin(t.Context(), "call-1", next.ReplyKey, time.Minute); err != nil || b.Replied || b.Session.Events != n {
		t.Fatalf("a new event after the restart: %+v, %v", b, err)
	} else {
		s.Release(t.Context(), b.Lease)
	}
	if err := storetest.Commit(t.Context(), s, next); err != nil {
		t.Fatal(err)
	}
	wantRedeliveries(t, s, "call-1", n+1)
}

// A session the previous luaivr wrote (a bare record, every reply under its
// own key) answers the redeliveries of its events, and keeps answering them
// once events of the new format are committed on top.
func TestRedeliveryOfEventsWrittenBeforeTheMarks(t *testing.T) {
	t.Parallel()
	s := openT(t, Options{Dir: t.TempDir(), GCInterval: -1})
	old := callEvent("call-1", 0)
	sess, entry := old.Numbered()
	value, _ := encodeEvent(entry, old.Reply)
	if err := s.db.Update(func(txn *badger.Txn) error {
		for k, v := range map[string][]byte{
			string(sessionKey(sess.ID)):                          store.AppendSession(nil, sess),
			string(entryKey(sess.ID, 1)):                         value,
			string(repliedKey(sess.ID, replyHash(old.ReplyKey))): {1},
		} {
			if err := txn.Set([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantRedeliveries(t, s, "call-1", 1)
	for seq := 1; seq < 4; seq++ {
		if err := storetest.Commit(t.Context(), s, callEvent("call-1", seq)); err != nil {
			t.Fatal(err)
		}
	}
	wantRedeliveries(t, s, "call-1", 4)
}

// What the process keeps of a session is what Badger holds, whatever
// happens to it: commits, commits refused for a lost lease or a stale read,
// Registers racing events, writes Badger refused. A stale value would let an
// event overwrite a newer one.
func TestLiveSessionsAreWhatBadgerHolds(t *testing.T) {
	t.Parallel()
	s := openT(t, Options{Dir: t.TempDir(), GCInterval: -1})
	s.live.max = 2 // fewer than the calls: values pushed out and read from Badger again
	ctx := t.Context()
	ids := []string{"call-1", "call-2", "call-3"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	written := map[string]int{} // commits and Registers that succeeded
	wrote := func(id string) { mu.Lock(); written[id]++; mu.Unlock() }
	for _, id := range ids {
		wg.Go(func() { // events, each a Begin and a Commit, as the engine makes them
			for seq := 0; seq < 200; seq++ {
				err := storetest.Commit(ctx, s, callEvent(id, seq))
				for errors.Is(err, store.ErrLocked) {
					time.Sleep(time.Millisecond)
					err = storetest.Commit(ctx, s, callEvent(id, seq))
				}
				if err == nil {
					wrote(id)
				} else if !errors.Is(err, store.ErrConflict) {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() { // a call placed on the same id, over and over
			for range 100 {
				if _, err := s.Register(ctx, store.Session{ID: id, App: "demo", Direction: "OUTBOUND", Vars: []byte(`{"placed":true}`)}); err != nil {
					t.Error(err)
					return
				}
				wrote(id)
			}
		})
		wg.Go(func() { // a commit on a session read before others wrote
			for range 100 {
				b, err := s.Begin(ctx, id, "", time.Minute)
				if errors.Is(err, store.ErrLocked) {
					continue
				} else if err != nil {
					t.Error(err)
					return
				}
				c := callEvent(id, 1000)
				c.Lease, c.Read = b.Lease, b.Session.Events-1
				if err := s.Commit(ctx, c); !errors.Is(err, store.ErrConflict) {
					t.Errorf("a commit on a stale read: %v, want ErrConflict", err)
				}
				s.Release(ctx, b.Lease)
			}
		})
	}
	wg.Wait()
	// A write Badger refuses leaves no value of its own behind.
	setErr(&s.h.folderProblem, errors.New("the disk is gone (a test)"))
	if err := storetest.Commit(ctx, s, callEvent("call-1", 2000)); err == nil {
		t.Fatal("a commit on a failing folder succeeded")
	}
	setErr(&s.h.folderProblem, nil)

	now := uint64(time.Now().Unix())
	checked := 0
	for _, id := range ids {
		var stored sessionValue
		if err := s.db.View(func(txn *badger.Txn) error {
			v, ok, err := s.readValue(txn, id)
			if !ok && err == nil {
				err = errors.New("not stored")
			}
			stored = v
			return err
		}); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		// An event or Register written over by another read stale: lost.
		if stored.session.Events != written[id] {
			t.Errorf("%s: %d events and Registers succeeded, the session counts %d", id, written[id], stored.session.Events)
		}
		kept := s.live.get(id, now)
		if kept == nil {
			continue // read from Badger next time: nothing to be wrong about
		}
		checked++
		if !bytes.Equal(store.AppendSession(nil, *kept.session), store.AppendSession(nil, *stored.session)) || kept.session.Events != stored.session.Events || len(kept.marks) != len(stored.marks) || kept.spilled != stored.spilled || kept.legacy != stored.legacy {
			t.Errorf("%s: the process keeps %d events %+v, Badger holds %d events %+v", id, kept.session.Events, *kept.session, stored.session.Events, *stored.session)
		}
	}
	if checked == 0 {
		t.Error("no session kept in the process: nothing was compared")
	}
	// The failed commit's session is read from Badger again.
	if s.live.get("call-1", now) != nil {
		t.Error("the session of a commit Badger refused is still kept in the process")
	}
}

// Sessions lists sessions most recently updated first, exactly, although a
// session's index key moves only when its updates leave a step of
// indexStep: updates a moment apart and a step apart, calls of many events
// and of one, pages of the index walk, a listing stopped early.
func TestSessionsInOrderWithCoarseIndex(t *testing.T) {
	t.Parallel()
	s := openT(t, Options{Dir: t.TempDir(), GCInterval: -1})
	base := time.Now().Add(-time.Hour)
	rng := rand.New(rand.NewPCG(1, 2))
	updated := map[string]time.Time{}
	for i := range 2000 { // many pages of the walk
		id := fmt.Sprintf("call-%03d", rng.IntN(700))
		at := base.Add(time.Duration(rng.IntN(int(10 * time.Minute))))
		if prev, ok := updated[id]; ok && at.Before(prev) {
			at = prev.Add(time.Duration(rng.IntN(int(20 * time.Second)))) // updates move on
		}
		c := callEvent(id, i)
		c.Session.Updated = at
		if err := storetest.Commit(t.Context(), s, c); err != nil {
			t.Fatal(err)
		}
		updated[id] = at
	}
	var want []string
	for id := range updated {
		want = append(want, id)
	}
	slices.SortFunc(want, func(a, b string) int {
		if c := updated[b].Compare(updated[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, stop := range []int{len(want), 7, 1} {
		var got []string
		if err := s.Sessions(t.Context(), func(sess store.Session) bool {
			got = append(got, sess.ID)
			return len(got) < stop
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want[:stop]) {
			t.Fatalf("listing %d: got %q, want %q", stop, got, want[:stop])
		}
	}
	// The index moved far less often than the sessions were written.
	keys := 0
	s.scan([]byte(indexPrefix), func(_, _ []byte) error { keys++; return nil })
	if keys != len(updated) {
		t.Errorf("%d index keys for %d sessions", keys, len(updated))
	}
}

// An event answered twice under one reply key (its first stored reply was
// not a callflow, so the engine ran it again) is redelivered with its newest
// reply, from memory and after a restart, and takes one mark, not two.
func TestRedeliveryGetsTheNewestReply(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir, GCInterval: -1})
	first, again := callEvent("call-1", 0), callEvent("call-1", 0)
	first.Reply, again.Reply = []byte(`{}`), []byte(`{"callflow":[{"action":"hangup"}]}`)
	for _, c := range []store.Commit{first, again} {
		if err := storetest.Commit(t.Context(), s, c); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		b, err := s.Begin(t.Context(), "call-1", first.ReplyKey, time.Minute)
		if err != nil || !b.Replied || string(b.Reply) != string(again.Reply) {
			t.Fatalf("%s: a redelivery got %+v, %v; want the newest reply %s", when, b, err, again.Reply)
		}
	}
	check("from memory")
	if v := s.live.get("call-1", uint64(time.Now().Unix())); v == nil || len(v.marks) != 1 {
		t.Fatalf("the event answered twice holds %v marks, want 1", v)
	}
	s.Close()
	s = openT(t, Options{Dir: dir, GCInterval: -1})
	check("after a restart")
}

// What the process keeps of sessions stays within its bytes whatever the
// calls keep in vars, counts them right, and does not keep calls that
// ended.
func TestLiveSessionsBounded(t *testing.T) {
	t.Parallel()
	s := openT(t, Options{Dir: t.TempDir(), GCInterval: -1})
	vars := []byte(`{"blob":"` + strings.Repeat("x", 200<<10) + `"}`)
	for i := range 300 {
		c := callEvent(fmt.Sprintf("call-%d", i), 0)
		c.Session.Vars = vars
		if err := storetest.Commit(t.Context(), s, c); err != nil {
			t.Fatal(err)
		}
	}
	ended := callEvent("ended", 0)
	ended.Session.Ended = true
	if err := storetest.Commit(t.Context(), s, ended); err != nil {
		t.Fatal(err)
	}
	s.live.mu.Lock()
	defer s.live.mu.Unlock()
	sum := 0
	for id, v := range s.live.m {
		sum += liveSize(id, v)
	}
	if sum != s.live.bytes || s.live.bytes > maxLiveBytes || len(s.live.m) == 0 {
		t.Errorf("%d sessions kept, %d bytes counted, %d held; want at most %d, counted right", len(s.live.m), s.live.bytes, sum, maxLiveBytes)
	}
	if s.live.m["ended"] != nil {
		t.Error("a call that ended is kept in memory")
	}
}

// Versions older than a key's newest are dropped by compaction from the
// moment the folder opens, not only after its first write.
func TestOldVersionsDroppedAfterReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for range 3 { // three tables of level 0, one per Close
		s, err := Open(Options{Dir: dir, GCInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		for range 100 {
			if _, err := s.Register(t.Context(), store.Session{ID: "one", App: "demo", Vars: []byte(`{"n":1}`)}); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
	}
	s := openT(t, Options{Dir: dir, GCInterval: -1})
	if err := s.db.Flatten(1); err != nil {
		t.Fatal(err)
	}
	versions := 0
	txn := s.db.NewTransactionAt(math.MaxUint64, false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{AllVersions: true, Prefix: sessionKey("one")})
	for it.Rewind(); it.Valid(); it.Next() {
		versions++
	}
	it.Close()
	if versions != 1 {
		t.Errorf("after reopening and compacting, the session has %d versions, want 1", versions)
	}
}

// Writes land in Badger in the order of their versions, however many
// events commit at once (its value-log GC counts on it).
func TestWritesLandInVersionOrder(t *testing.T) {
	t.Parallel()
	s := openT(t, Options{Dir: t.TempDir(), GCInterval: -1})
	ctx, cancel := context.WithCancel(t.Context())
	var mu sync.Mutex
	var landed []uint64
	subscribed := make(chan struct{})
	go s.db.Subscribe(ctx, func(kvs *pb.KVList) error {
		mu.Lock()
		for _, kv := range kvs.Kv {
			landed = append(landed, kv.Version)
		}
		mu.Unlock()
		return nil
	}, []pb.Match{{Prefix: []byte("s/")}})
	go func() { // Subscribe has no "ready": write until a write is seen
		defer close(subscribed)
		for i := 0; ; i++ {
			if _, err := s.Register(ctx, store.Session{ID: "ready"}); err != nil {
				return
			}
			mu.Lock()
			n := len(landed)
			mu.Unlock()
			if n > 0 {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	<-subscribed
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 150 {
				if err := storetest.Commit(ctx, s, callEvent(fmt.Sprintf("call-%d-%d", g, i), 0)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(100 * time.Millisecond) // the last updates published
	cancel()
	mu.Lock()
	defer mu.Unlock()
	if len(landed) < 8*150 {
		t.Fatalf("saw %d writes land, want at least %d", len(landed), 8*150)
	}
	for i := 1; i < len(landed); i++ {
		if landed[i] < landed[i-1] {
			t.Fatalf("write %d landed with version %d after version %d", i, landed[i], landed[i-1])
		}
	}
}

// Sessions of any date are listed (the index keeps times before 1970 and
// past 2262 too), and listing the first of many sessions updated within
// one step of the index holds their times and ids, not the sessions.
func TestSessionsListedWhateverTheirTimes(t *testing.T) {
	t.Parallel()
	s := openT(t, Options{Dir: t.TempDir(), GCInterval: -1})
	times := map[string]time.Time{"zero": {}, "y1600": time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		"y1960": time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), "y2023": time.Unix(1_700_000_000, 0),
		"y2300": time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}
	for id, at := range times {
		c := callEvent(id, 0)
		c.Session.Updated = at
		if err := storetest.Commit(t.Context(), s, c); err != nil {
			t.Fatal(err)
		}
	}
	s.live = live{} // read from Badger, as after a restart
	n := 0
	if err := s.Sessions(t.Context(), func(store.Session) bool { n++; return true }); err != nil || n != len(times) {
		t.Errorf("listed %d of %d sessions (%v)", n, len(times), err)
	}
}

func TestListingHoldsLittle(t *testing.T) { // not parallel: it measures the heap
	s := openT(t, Options{Dir: t.TempDir(), GCInterval: -1})
	vars := []byte(`{"blob":"` + strings.Repeat("x", 100<<10) + `"}`)
	base := time.Now()
	for i := range 500 { // all within one step of the index
		c := callEvent(fmt.Sprintf("call-%d", i), 0)
		c.Session.Vars, c.Session.Updated = vars, base.Add(time.Duration(i)*time.Millisecond)
		if err := storetest.Commit(t.Context(), s, c); err != nil {
			t.Fatal(err)
		}
	}
	s.live = live{}
	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var first string
	if err := s.Sessions(t.Context(), func(sess store.Session) bool {
		first = sess.ID
		runtime.GC()
		runtime.ReadMemStats(&during)
		return false
	}); err != nil {
		t.Fatal(err)
	}
	if first != "call-499" {
		t.Errorf("listed %q first, want the most recently updated, call-499", first)
	}
	if grew := int64(during.HeapAlloc) - int64(before.HeapAlloc); grew > 20<<20 {
		t.Errorf("listing the first of 500 sessions of 100 KiB held %d MiB", grew>>20)
	}
}
