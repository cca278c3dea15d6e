package badgerstore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/storetest"
)

// updatedAt commits event seq of session id, updated at minute m.
func updatedAt(t *testing.T, s *Store, id string, seq, m int) {
	t.Helper()
	c := commitOf(id, seq)
	c.Session.Updated = time.Date(2026, 1, 1, 0, m, 0, 0, time.UTC)
	if err := storetest.Commit(t.Context(), s, c); err != nil {
		t.Fatal(err)
	}
}

func listed(t *testing.T, s *Store, limit int) ([]string, error) {
	t.Helper()
	var ids []string
	err := s.Sessions(t.Context(), func(sess store.Session) bool {
		ids = append(ids, sess.ID)
		return len(ids) < limit
	})
	return ids, err
}

// Sessions lists newest first across pages, each session once at its last
// update, and reads only as far as asked: a session it has no reason to
// reach (here one whose stored value is damaged) is never read.
func TestSessionsPages(t *testing.T) {
	t.Parallel()
	s := openT(t, Options{Dir: t.TempDir(), GCInterval: -1})
	const n = 300 // several pages
	for i := range n {
		updatedAt(t, s, fmt.Sprint("s", i), 0, i)
	}
	for i := 0; i < n; i += 3 { // later events: their first index keys are stale
		updatedAt(t, s, fmt.Sprint("s", i), 1, n+i)
	}
	var want []string
	for i := n - 3; i >= 0; i -= 3 {
		want = append(want, fmt.Sprint("s", i))
	}
	for i := n - 1; i >= 0; i-- {
		if i%3 != 0 {
			want = append(want, fmt.Sprint("s", i))
		}
	}
	got, err := listed(t, s, n+1)
	if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Sessions = %v, %v\nwant %v", got, err, want)
	}

	// Damage the value of the oldest session: only a full listing reaches it.
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(sessionKey("s1"), []byte("{damaged")) }); err != nil {
		t.Fatal(err)
	}
	if got, err := listed(t, s, 1); err != nil || len(got) != 1 || got[0] != want[0] {
		t.Errorf("the newest session: %v, %v; want [%s] without reading the others", got, err, want[0])
	}
	if _, err := listed(t, s, n+1); err == nil || !strings.Contains(err.Error(), `"s1"`) {
		t.Errorf("a full listing: %v, want the damaged s1 reported", err)
	}
}

// A data folder written before sessions were indexed by time is indexed
// when it is opened.
func TestSessionsIndexedOnOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir, GCInterval: -1})
	for i := range 5 {
		updatedAt(t, s, fmt.Sprint("s", i), 0, i)
	}
	// Take the index away, as in a folder of an earlier luaivr.
	err := s.db.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(indexPrefix)})
		var keys [][]byte
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		it.Close()
		for _, k := range append(keys, []byte("m/sessions-index")) {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := listed(t, s, 10); len(got) != 0 {
		t.Fatalf("without the index Sessions = %v", got)
	}
	s.Close()

	s = openT(t, Options{Dir: dir, GCInterval: -1})
	if got, err := listed(t, s, 10); err != nil || strings.Join(got, " ") != "s4 s3 s2 s1 s0" {
		t.Errorf("after reopening, Sessions = %v, %v", got, err)
	}
}

// A session has one index key, at its last update: every commit and Register
// drops the one before, so listing reads no stale keys (one per event, each
// decoding the whole session, before).
func TestOneIndexKeyPerSession(t *testing.T) {
	t.Parallel()
	s := openT(t, Options{Dir: t.TempDir(), GCInterval: -1})
	for seq := 1; seq <= 5; seq++ {
		updatedAt(t, s, "busy", seq, seq)
	}
	if _, err := s.Register(t.Context(), store.Session{ID: "busy", App: "a", Updated: time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	keys := 0
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(indexPrefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys++
		}
		return nil
	})
	if err != nil || keys != 1 {
		t.Fatalf("%d index keys for one session after 6 writes (%v), want 1", keys, err)
	}
}
