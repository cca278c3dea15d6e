package badgerstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/storetest"
)

// openT opens a Store for the test; it is closed when the test ends.
func openT(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	t.Run("InMemory", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T, o store.Options) store.Store {
			s, err := Open(Options{InMemory: true, SessionTTL: o.SessionTTL, ReplyTTL: o.ReplyTTL})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return s
		})
	})
	t.Run("Dir", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T, o store.Options) store.Store {
			s, err := Open(Options{Dir: t.TempDir(), SessionTTL: o.SessionTTL, ReplyTTL: o.ReplyTTL})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return s
		})
	})
}

// Two engines sharing one Store in a process are two instances to it.
func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T, o store.Options) store.Store {
		s, err := Open(Options{Dir: t.TempDir(), SessionTTL: o.SessionTTL, ReplyTTL: o.ReplyTTL})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// store.Open takes a plain path and a badger:// URL.
func TestOpenURL(t *testing.T) {
	for _, url := range []string{t.TempDir(), "badger://" + t.TempDir()} {
		s, err := store.Open(url, store.Options{Brief: true})
		if err != nil {
			t.Fatalf("Open(%s): %v", url, err)
		}
		if _, ok := s.(*Store); !ok {
			t.Fatalf("Open(%s) opened a %T", url, s)
		}
		s.Close()
	}
	if _, err := store.Open("nosuch://x", store.Options{}); err == nil || !strings.Contains(err.Error(), "badger://") {
		t.Fatalf("an unknown scheme: %v; want the known ones listed", err)
	}
}

// commitOf returns a small commit of event seq of session id.
func commitOf(id string, seq int) store.Commit {
	now := time.Now().UTC()
	return store.Commit{
		Session:  store.Session{ID: id, App: "demo", Vars: json.RawMessage(fmt.Sprintf(`{"seq":%d}`, seq)), Events: seq + 1, Created: now, Updated: now},
		Entry:    store.Entry{Seq: seq + 1, At: now, EventType: "CALL_ACTION"},
		ReplyKey: fmt.Sprintf("%s/%d", id, seq),
		Reply:    fmt.Appendf(nil, `{"seq":%d}`, seq),
	}
}

// present reports which of a commit's session, transcript entry and reply
// the store still holds.
func present(t *testing.T, s *Store, c store.Commit) (session, entry, reply bool) {
	t.Helper()
	ctx := t.Context()
	_, session, err := s.Session(ctx, c.Session.ID)
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	entries, err := s.Transcript(ctx, c.Session.ID)
	if err != nil {
		t.Fatalf("Transcript: %v", err)
	}
	for _, e := range entries {
		entry = entry || e.Seq == c.Entry.Seq
	}
	b, err := s.Begin(ctx, c.Session.ID, c.ReplyKey, time.Minute)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	s.Release(ctx, b.Lease)
	body, reply := b.Reply, b.Replied
	if reply && string(body) != string(c.Reply) {
		t.Fatalf("Reply(%q) = %s, want %s", c.ReplyKey, body, c.Reply)
	}
	return session, entry, reply
}

// waitFor polls cond until it holds, failing the test after a bound well
// above the TTLs used here (Badger expires keys at whole seconds).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCommitRefreshesSessionTTL checks expiry times directly: a later commit
// pushes the session's expiry back while earlier entries keep theirs.
func TestCommitRefreshesSessionTTL(t *testing.T) {
	t.Parallel()
	s := openT(t, Options{InMemory: true, SessionTTL: time.Hour})
	expiresAt := func(key []byte) (at uint64) {
		t.Helper()
		err := s.db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(key)
			if err == nil {
				at = item.ExpiresAt()
			}
			return err
		})
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		return at
	}

	if err := storetest.Commit(t.Context(), s, commitOf("call-1", 0)); err != nil {
		t.Fatal(err)
	}
	first := expiresAt(sessionKey("call-1"))
	// Expiry has a granularity of a second: let one pass.
	time.Sleep(1100 * time.Millisecond)
	if err := storetest.Commit(t.Context(), s, commitOf("call-1", 1)); err != nil {
		t.Fatal(err)
	}
	if second := expiresAt(sessionKey("call-1")); second <= first {
		t.Errorf("session expiry after second commit = %d, want later than %d", second, first)
	}
	if e1 := expiresAt(entryKey("call-1", 1)); e1 != first {
		t.Errorf("entry 1 expiry = %d, want %d (that of its own commit)", e1, first)
	}
}

func TestReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	commits := []store.Commit{commitOf("call-1", 0), commitOf("call-1", 1), commitOf("call-2", 0)}
	for _, c := range commits {
		if err := storetest.Commit(t.Context(), s, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openT(t, Options{Dir: dir})
	for _, c := range commits {
		if sess, entry, reply := present(t, s, c); !sess || !entry || !reply {
			t.Errorf("%s #%d after reopen: session %v, entry %v, reply %v; want all stored",
				c.Session.ID, c.Entry.Seq, sess, entry, reply)
		}
	}
	if got, _, _ := s.Session(t.Context(), "call-1"); string(got.Vars) != `{"seq":1}` {
		t.Errorf("call-1 after reopen has vars %s, want those of its last commit", got.Vars)
	}
}

// Table blocks are not part of the data format: a folder whose tables were
// written in blocks of another size (4 KiB, as luaivr wrote them before
// 2026-12-01) reads back whole, and this build's tables read in Badger set
// to the other size.
func TestTablesOfAnyBlockSizeRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir, GCInterval: -1})
	var commits []store.Commit
	for call := range 300 {
		for seq := range 3 {
			c := commitOf(fmt.Sprintf("call-%d", call), seq)
			c.Entry.Event = fmt.Appendf(nil, `{"eventType":"CALL_ACTION","payload":{"sessionId":"call-%d","eventId":"e%d"}}`, call, seq)
			if err := storetest.Commit(t.Context(), s, c); err != nil {
				t.Fatal(err)
			}
			commits = append(commits, c)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Badger rewrites every table in 4 KiB blocks, reading this build's.
	db, err := badger.OpenManaged(badger.DefaultOptions(dir).WithBlockSize(4 << 10).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	before := len(db.Tables())
	if err := db.Flatten(1); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if before == 0 {
		t.Fatal("no tables written: nothing was read in blocks of another size")
	}
	s = openT(t, Options{Dir: dir, GCInterval: -1})
	for _, c := range commits {
		if sess, entry, reply := present(t, s, c); !sess || !entry || !reply {
			t.Fatalf("%s #%d in 4 KiB blocks: session %v, entry %v, reply %v; want all stored",
				c.Session.ID, c.Entry.Seq, sess, entry, reply)
		}
	}
}

// Badger's advice on its own cache sizes, every minute of a long run, is not
// an operator's to act on: debug, not warn; its other warnings stay warnings.
func TestBadgerCacheAdviceIsDebug(t *testing.T) {
	t.Parallel()
	var logged bytes.Buffer
	l := badgerLogger{slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	l.Warningf("%s might be too small. Metrics: %s\n", "Block cache", "hit: 1 miss: 9")
	l.Warningf("Cache life expectancy (in seconds): %+v\n", "histogram")
	l.Warningf("Truncate Needed. File %s size: %d Endoffset: %d", "000001.vlog", 10, 5)
	if got := logged.String(); strings.Contains(got, "too small") || strings.Contains(got, "life expectancy") || !strings.Contains(got, "Truncate Needed") {
		t.Fatalf("logged at warn:\n%s", got)
	}
}

func TestCloseTwice(t *testing.T) {
	t.Parallel()
	for _, opts := range []Options{{InMemory: true}, {Dir: t.TempDir(), GCInterval: time.Millisecond}} {
		s, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("first Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v, want nil", err)
		}
	}
}

func TestDirInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	openT(t, Options{Dir: dir})
	s, err := Open(Options{Dir: dir})
	if err == nil {
		s.Close()
		t.Fatal("second Open of the same folder succeeded, want an error")
	}
	if want := "data folder " + dir + " is in use by another luaivr process"; !strings.Contains(err.Error(), want) {
		t.Errorf("second Open: %q, want it to contain %q", err, want)
	}
}

func TestNoDir(t *testing.T) {
	t.Parallel()
	if s, err := Open(Options{}); err == nil {
		s.Close()
		t.Fatal("Open without Dir or InMemory succeeded, want an error")
	}
}

// Crash test: a child process (this test binary, running TestCrashChild)
// commits until it is killed with SIGKILL, printing each acknowledged
// commit; every one it printed must be in the folder afterwards.
const (
	crashDirEnv = "BADGERSTORE_CRASH_CHILD" // the folder the child writes to
	crashKillAt = 200                       // acknowledged commits before the kill
)

// crashCommit is the child's commit k. Its reply is over the value threshold,
// so both of Badger's logs are tested: the write-ahead log holding session and
// entry, and the value log holding the reply.
func crashCommit(k int) store.Commit {
	c := commitOf(fmt.Sprint("call-", k), 0)
	c.Reply = fmt.Appendf(nil, `{"k":%d,"pad":%q}`, k, strings.Repeat("x", 2<<10))
	return c
}

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrash in a child process")
	}
	s, err := Open(Options{Dir: dir})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	// Commit until killed; the time bound only matters if the parent is gone.
	// Never Close: exiting without it is a crash too.
	deadline := time.Now().Add(30 * time.Second)
	for k := 0; time.Now().Before(deadline); k++ {
		if err := storetest.Commit(context.Background(), s, crashCommit(k)); err != nil {
			fmt.Println("commit:", err)
			os.Exit(1)
		}
		fmt.Println("committed", k)
	}
	os.Exit(2)
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// Read acknowledgements; kill after crashKillAt, then read what the
	// child printed before it died.
	acked := map[int]bool{}
	var other []string
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		var k int
		if _, err := fmt.Sscanf(lines.Text(), "committed %d", &k); err != nil {
			other = append(other, lines.Text())
			continue
		}
		acked[k] = true
		if len(acked) == crashKillAt {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatalf("kill child: %v", err)
			}
		}
	}
	err = cmd.Wait()
	if len(acked) < crashKillAt {
		t.Fatalf("child stopped after %d commits (%v), want %d before the kill; it printed %q", len(acked), err, crashKillAt, other)
	}
	if !strings.Contains(fmt.Sprint(err), "killed") {
		t.Fatalf("child exited with %v, want killed", err)
	}

	s := openT(t, Options{Dir: dir})
	for k := range acked {
		if sess, entry, reply := present(t, s, crashCommit(k)); !sess || !entry || !reply {
			t.Errorf("acknowledged commit %d after the crash: session %v, entry %v, reply %v; want all stored", k, sess, entry, reply)
		}
	}
	t.Logf("%d acknowledged commits survived SIGKILL", len(acked))
}

// In memory there is no value log: large transcript entries and replies must
// still be stored.
func TestInMemoryLargeValues(t *testing.T) {
	t.Parallel()
	st, err := Open(Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	big := []byte(`"` + strings.Repeat("x", 64<<10) + `"`)
	c := store.Commit{Session: store.Session{ID: "s", Events: 1}, Entry: store.Entry{Seq: 1, Reply: big, Event: big},
		ReplyKey: "k", Reply: big}
	if err := storetest.Commit(context.Background(), st, c); err != nil {
		t.Fatalf("a 64 KiB transcript entry in memory: %v", err)
	}
}

// A data folder an older luaivr wrote, its sessions and entries as JSON,
// reads on: sessions, transcripts and listing as they were, and the next
// event commits on top, in the compact records.
func TestReadsJSONRecords(t *testing.T) {
	t.Parallel()
	s := openT(t, Options{Dir: t.TempDir(), GCInterval: -1})
	at := time.Date(2026, 1, 6, 10, 17, 19, 375000000, time.UTC)
	old := store.Session{ID: "call-1", App: "shop", Vars: json.RawMessage(`{"n":1,"html":"<b>"}`), ActionID: "main",
		Events: 1, Created: at, Updated: at}
	digits := "1"
	entry := store.Entry{Seq: 1, At: at, App: "shop", EventType: "CALL_ACTION", EventID: "e1", Digits: &digits,
		Event: json.RawMessage(`{"eventId":"e1"}`), Reply: json.RawMessage(`{"callflow":[]}`)}
	sv, _ := store.Encode(old)
	ev, _ := store.Encode(entry)
	if err := s.db.Update(func(txn *badger.Txn) error {
		// As the older luaivr kept them: the reply under its own key, d/<reply key>.
		for k, v := range map[string][]byte{string(sessionKey(old.ID)): sv, string(entryKey(old.ID, 1)): ev, string(indexKey(old.Updated, old.ID)): nil,
			"d/" + "call-1/e1": []byte(`{"callflow":[{"action":"hangup"}]}`)} {
			if err := txn.Set([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Session(t.Context(), "call-1")
	if err != nil || !ok || string(got.Vars) != string(old.Vars) || got.Events != 1 || !got.Updated.Equal(at) {
		t.Fatalf("the JSON session reads back as %+v, %v, %v", got, ok, err)
	}
	entries, err := s.Transcript(t.Context(), "call-1")
	if err != nil || len(entries) != 1 || *entries[0].Digits != "1" || string(entries[0].Reply) != `{"callflow":[]}` {
		t.Fatalf("the JSON transcript reads back as %+v, %v", entries, err)
	}
	next := store.Commit{Session: old, Entry: store.Entry{At: at.Add(time.Second), EventType: "CALL_ACTION", EventID: "e2"},
		ReplyKey: "e2", Reply: []byte(`{"callflow":[1]}`)}
	next.Session.Updated = at.Add(time.Second)
	if err := storetest.Commit(t.Context(), s, next); err != nil {
		t.Fatal(err)
	}
	if entries, err := s.Transcript(t.Context(), "call-1"); err != nil || len(entries) != 2 || entries[1].EventID != "e2" {
		t.Errorf("after a commit on the JSON session the transcript is %+v, %v", entries, err)
	}
	listed := 0
	s.Sessions(t.Context(), func(sess store.Session) bool { listed++; return sess.Events == 2 })
	if listed != 1 {
		t.Errorf("listed %d sessions, want the one", listed)
	}
	if b, err := s.Begin(t.Context(), "call-1", "e2", time.Minute); err != nil || !b.Replied || string(b.Reply) != `{"callflow":[1]}` {
		t.Errorf("a redelivery of the event committed after the upgrade: %+v, %v", b, err)
	}
	// The event the older luaivr answered, redelivered after the upgrade: its
	// reply, not a new run of the script.
	if b, err := s.Begin(t.Context(), "call-1", "call-1/e1", time.Minute); err != nil || !b.Replied || string(b.Reply) != `{"callflow":[{"action":"hangup"}]}` {
		t.Errorf("a redelivery of an event answered before the upgrade: %+v, %v", b, err)
	}
}
