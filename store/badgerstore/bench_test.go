package badgerstore_test

import (
	"bytes"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/luaivr/luaivr/store"

	"github.com/luaivr/luaivr/store/badgerstore"
	"github.com/luaivr/luaivr/store/storetest"
)

// The store's share of an event, on disk as serve runs it (storetest's
// benchmarks, the same on every store).
func BenchmarkCommit(b *testing.B) { storetest.BenchmarkCommit(b, openOnDisk(b)) }

func BenchmarkSessionRead(b *testing.B) { storetest.BenchmarkSessionRead(b, openOnDisk(b)) }

func openOnDisk(b *testing.B) *badgerstore.Store {
	st, err := badgerstore.Open(badgerstore.Options{Dir: b.TempDir(), GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkCommitFsync is BenchmarkCommit with SyncWrites, from 16
// goroutines per core as concurrent calls commit: it reports how many
// commits each sync of the group commit covered.
func BenchmarkCommitFsync(b *testing.B) {
	st, err := badgerstore.Open(badgerstore.Options{Dir: b.TempDir(), GCInterval: -1, SyncWrites: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	b.SetParallelism(16)
	storetest.BenchmarkCommitParallel(b, st)
	syncs, commits := st.GroupStats()
	if syncs > 0 {
		b.ReportMetric(float64(commits)/float64(syncs), "commits/sync")
	}
}

// BenchmarkCallSize reports the bytes a data folder holds per finished call
// of the restaurant's typical shape (the call arrives, the menu, two key
// presses, the goodbye, its status events and summary: 8 events with 8x8's
// payloads from testdata, each call with ids of its own and each event its
// own event id, as 8x8 sends them), once Badger has flushed them (after
// Close).
func BenchmarkCallSize(b *testing.B) {
	payload := func(name string) json.RawMessage {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			b.Fatal(err)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, raw); err != nil {
			b.Fatal(err)
		}
		return c.Bytes()
	}
	status, action, summary := payload("call_status.json"), payload("call_action.json"), payload("session_summary.json")
	reply := []byte(`{"clientActionId":"main_menu","callflow":[{"action":"sayAndCapture","params":{"promptMessage":"Welcome to ABC Restaurant, to book a table press 1, to speak to a representative press 2, to hear our restaurant hours press 3.","voiceProfile":"en-US-BenjaminRUS","speed":1,"minDigits":1,"maxDigits":1,"digitTimeout":10000,"overallTimeout":10000,"noOfTries":2}}]}`)
	events := []struct {
		typ   string
		event json.RawMessage
		reply []byte
	}{
		{"CALL_STATUS", status, []byte("{}")}, {"CALL_ACTION", action, reply}, {"CALL_STATUS", status, []byte("{}")},
		{"CALL_ACTION", action, reply}, {"CALL_ACTION", action, reply}, {"CALL_ACTION", action, reply},
		{"CALL_STATUS", status, []byte("{}")}, {"SESSION_SUMMARY", summary, []byte("{}")},
	}
	dir := b.TempDir()
	st, err := badgerstore.Open(badgerstore.Options{Dir: dir, GCInterval: -1, MinFree: -1})
	if err != nil {
		b.Fatal(err)
	}
	calls := 0
	for b.Loop() {
		calls++
		id := fmt.Sprintf("call-%d", calls)
		sess := store.Session{ID: id, App: "restaurant", Version: "0123456789abcdef", Direction: "INBOUND",
			Source: "+6568332048", Destination: "+6531589338", Created: time.Now()}
		ids := map[string]string{} // the fixtures' ids → this call's
		ownIDs := func(p json.RawMessage) json.RawMessage {
			return uuidRE.ReplaceAllFunc(p, func(u []byte) []byte {
				if _, ok := ids[string(u)]; !ok {
					ids[string(u)] = randomUUID()
				}
				return []byte(ids[string(u)])
			})
		}
		for i, ev := range events {
			ev.event = eventIDRE.ReplaceAll(ownIDs(ev.event), []byte(`"eventId":"`+randomUUID()+`"`))
			sess.Updated, sess.Status = time.Now(), "CALL_CONNECTED"
			sess.ActionID, sess.Menu, sess.Root = "reservations", "reservations", "main_menu"
			sess.Vars = json.RawMessage(`{"party":4}`)
			e := store.Entry{At: sess.Updated, App: "restaurant", EventType: ev.typ, EventID: fmt.Sprintf("e%d", i),
				Handler: "menu", Duration: 180 * time.Microsecond, Event: ev.event, Version: sess.Version}
			if ev.typ == "CALL_ACTION" {
				e.Reply = ev.reply
			}
			c := store.Commit{Session: sess, Entry: e, ReplyKey: fmt.Sprintf("%s\x00%s\x00e%d", ev.typ, id, i), Reply: ev.reply}
			if err := storetest.Commit(b.Context(), st, c); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	var size int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return nil
	})
	b.ReportMetric(float64(size)/float64(calls), "bytes/call")
}

// BenchmarkCommitParallel is BenchmarkCommit from 16 goroutines per core,
// as concurrent calls commit.
func BenchmarkCommitParallel(b *testing.B) {
	b.SetParallelism(16)
	storetest.BenchmarkCommitParallel(b, openOnDisk(b))
}

var (
	uuidRE    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	eventIDRE = regexp.MustCompile(`"eventId":"[^"]*"`)
)

// randomUUID is an id in 8x8's form, version 1 as theirs are.
func randomUUID() string {
	b := make([]byte, 16)
	crand.Read(b)
	return fmt.Sprintf("%x-%x-11f0-%x-%x", b[0:4], b[4:6], b[8:10], b[10:16])
}
