package badgerstore

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/storetest"
)

// What happens to the data folder while the store uses it (deleted,
// replaced, its MANIFEST or the logs being written deleted) makes the store
// unready within a few checks, refuses writes, and is logged; no call into
// the store panics.
func TestFolderTrouble(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, want string
		trouble    func(dir string) error
	}{
		{"deleted", "was deleted while luaivr was using it", os.RemoveAll},
		{"replaced", "was replaced by another folder", func(dir string) error {
			if err := os.Rename(dir, dir+".old"); err != nil {
				return err
			}
			return os.Mkdir(dir, 0o700)
		}},
		{"MANIFEST deleted", "MANIFEST was deleted", func(dir string) error { return os.Remove(filepath.Join(dir, "MANIFEST")) }},
		{"value log deleted", "000001.vlog was deleted while luaivr was writing to it", func(dir string) error {
			return os.Remove(filepath.Join(dir, "000001.vlog"))
		}},
		{"write-ahead log deleted", "00001.mem was deleted while luaivr was writing to it", func(dir string) error {
			return os.Remove(filepath.Join(dir, "00001.mem"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "data")
			logs := &syncBuffer{}
			s := openT(t, Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(logs, nil))})
			ctx := context.Background()
			for k := range 50 {
				if err := storetest.Commit(ctx, s, bigCommit(k)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Ready(); err != nil {
				t.Fatalf("Ready before: %v", err)
			}
			if err := tt.trouble(dir); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the store to notice", func() bool { return s.Ready() != nil })
			if err := s.Ready(); !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Ready: %v, want it to say %q", err, tt.want)
			}
			if err := storetest.Commit(ctx, s, bigCommit(99)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Commit: %v, want it refused with %q", err, tt.want)
			}
			if err := s.KVSet(ctx, "app", "k", []byte("1"), 0, store.KVQuota{}); err == nil {
				t.Error("KVSet was not refused")
			}
			// Reads, listing and closing come back, whatever they find.
			s.Session(ctx, "call-1")
			if b, err := s.Begin(ctx, bigCommit(1).Session.ID, bigCommit(1).ReplyKey, time.Minute); err == nil {
				s.Release(ctx, b.Lease)
			}
			s.Transcript(ctx, "call-1")
			s.Sessions(ctx, func(store.Session) bool { return true })
			s.Size()
			if l := logs.String(); !strings.Contains(l, "data folder cannot take events") || !strings.Contains(l, tt.want) {
				t.Errorf("not logged:\n%s", l)
			}
		})
	}
}

// A panic inside a Badger transaction comes back as an error, and the store
// reports itself broken until a restart.
func TestBadgerPanicIsAnError(t *testing.T) {
	t.Parallel()
	s := openT(t, Options{Dir: t.TempDir()})
	err := s.db.View(func(*badger.Txn) error {
		var m map[string]int
		m["nil map"]++ // what Badger's own nil dereferences look like from here
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "badger failed while reading") {
		t.Fatalf("View that panicked: %v", err)
	}
	if err := s.Ready(); err == nil || !strings.Contains(err.Error(), "restart luaivr") {
		t.Errorf("Ready after a panic: %v", err)
	}
	if err := storetest.Commit(t.Context(), s, commitOf("c", 0)); err == nil {
		t.Error("Commit after a panic was not refused")
	}
}

// A disk with less free space than MinFree is refused at start, with what
// to do.
func TestStartOnFullDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, MinFree: 1 << 62})
	if err == nil {
		s.Close()
		t.Fatal("Open with more MinFree than the disk has succeeded")
	}
	for _, want := range []string{"cannot start", dir, "free some space", "--min-free"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open: %v\nwant it to say %q", err, want)
		}
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) > 0 {
		t.Errorf("the refused Open wrote %v", names)
	}
}
