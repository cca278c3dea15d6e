package badgerstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/storetest"
)

// The dictionary is part of the data format: values packed with it are read
// with it. A change is another format byte and another dictionary.
func TestDictionaryUnchanged(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256(dictionaryData)
	if got := hex.EncodeToString(sum[:]); got != "87b18a510ed740def99d5c8b7c83e26c9441560d43536c04c64d935cd9e9fd72" {
		t.Fatalf("dictionary.json changed (sha256 %s): events packed with it before can no longer be read; add a new format byte for a new dictionary instead", got)
	}
}

// Every event reads back byte for byte, packed or not: 8x8's payloads and
// replies from the fixtures, and bytes of every kind and length; a packed
// 8x8 payload is under half its size; a packed payload cut short is an
// error, not another payload (damage elsewhere is Badger's checksums' to
// find).
func TestPackedEventsReadBack(t *testing.T) {
	t.Parallel()
	var samples [][]byte
	// The repository's copy of shared/fixtures/8x8 (runtime/webhook's).
	for _, dir := range []string{"testdata", "../../runtime/webhook/testdata/8x8"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		if len(files) < 3 {
			t.Fatalf("%d payloads in %s: the test reads 8x8's payloads from there", len(files), dir)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var c bytes.Buffer
			if json.Compact(&c, b) == nil {
				samples = append(samples, c.Bytes())
			}
			samples = append(samples, b)
		}
	}
	if len(samples) < 40 {
		t.Fatalf("only %d samples", len(samples))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		b := make([]byte, rng.IntN(3000))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		samples = append(samples, b)
	}
	samples = append(samples, nil, []byte("{}"))
	packedOnce := false
	for i, ev := range samples {
		reply := samples[(i+1)%len(samples)]
		e := store.Entry{Seq: 3, EventType: "CALL_ACTION", EventID: "e3", Event: ev, Reply: reply}
		for _, kept := range [][]byte{reply, nil, []byte(`{"other":1}`)} {
			v, _ := encodeEvent(e, kept)
			got, gotReply, err := decodeEvent(v)
			if err != nil || !bytes.Equal(got.Event, ev) || !bytes.Equal(got.Reply, reply) || !bytes.Equal(gotReply, kept) {
				t.Fatalf("sample %d (%d bytes) reads back as %d bytes, reply %q, err %v", i, len(ev), len(got.Event), gotReply, err)
			}
			if v[0] == eventPacked {
				packedOnce = true
			}
		}
	}
	if !packedOnce {
		t.Error("no event was packed")
	}
	b, _ := os.ReadFile(filepath.Join("testdata", "call_action.json"))
	var c bytes.Buffer
	json.Compact(&c, b)
	rec := store.AppendEntry(nil, store.Entry{EventType: "CALL_ACTION", Event: c.Bytes()})
	p, ok, _ := pack(nil, rec)
	if !ok || len(p) > len(rec)/2 {
		t.Errorf("a CALL_ACTION's record of %d bytes packs to %d (%v), want under half", len(rec), len(p), ok)
	}
	if got, err := unpack(p[:len(p)-3]); err == nil {
		t.Errorf("a packed record cut short reads as %q", got)
	}
}

// Records compressed while other writes are in progress (on the packer
// goroutines) read back as those compressed in place, from many goroutines
// at once.
func TestPackedWhileOthersWrite(t *testing.T) {
	writing.Add(2) // as if two other writes were in progress
	defer writing.Add(-2)
	action, err := os.ReadFile("testdata/call_action.json")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 200 {
				rec := append(bytes.Clone(action), byte(g), byte(i))
				p, ok, _ := pack(nil, rec)
				back, err := unpack(p)
				if !ok || err != nil || !bytes.Equal(back, rec) {
					errs <- fmt.Errorf("goroutine %d, record %d: packed %v, read back %q, %v", g, i, ok, back, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// The buffers an event's value is built in are reused (scratch): a value
// handed to Badger must share none of their memory, and must be whole before
// they go back, whichever goroutine takes them next. Each of 8 goroutines
// encodes events of its own, compressed in place and on the packers, and
// checks every value it made still reads back as its event once others have
// reused the buffers. A value built in a buffer given back fails the reading
// back; a buffer given back before the value is copied out of it fails it
// now and then, and always under the race detector (the suite's -race).
func TestValuesShareNoScratch(t *testing.T) {
	action, err := os.ReadFile("testdata/call_action.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, others := range []int32{0, 2} {
		writing.Add(others)
		errs := make(chan error, 8)
		for g := range 8 {
			go func() {
				entries := make([]store.Entry, 300)
				values := make([][]byte, len(entries))
				for i := range entries {
					event := append(bytes.Clone(action[:len(action)-1]), fmt.Sprintf(`,"n":"%d-%d"}`, g, i)...)
					reply := []byte(fmt.Sprintf(`{"callflow":[{"action":"hangup","n":"%d-%d"}]}`, g, i))
					entries[i] = store.Entry{Seq: i + 1, EventType: "CALL_ACTION", EventID: fmt.Sprintf("e-%d-%d", g, i), Event: event, Reply: reply}
					values[i], _ = encodeEvent(entries[i], reply)
				}
				for i, v := range values {
					e, reply, err := decodeEvent(v)
					if err != nil || !bytes.Equal(e.Event, entries[i].Event) || !bytes.Equal(reply, entries[i].Reply) || e.EventID != entries[i].EventID {
						errs <- fmt.Errorf("goroutine %d, event %d: read back %s / %s (%v), want %s / %s", g, i, e.Event, reply, err, entries[i].Event, entries[i].Reply)
						return
					}
				}
				errs <- nil
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		writing.Add(-others)
	}
}

// A compressor that panics, compressing in place (one write) or on the
// packers (writes at once), costs the event its compression, not the store:
// the event is saved whole and reads back, the store stays ready, the log
// names the session with the compressor's stack, and the packers go on.
func TestEncoderPanicStoresTheRecordWhole(t *testing.T) {
	encodeRecord = func(dst, src []byte) []byte { panic("encoder broke") }
	t.Cleanup(func() { encodeRecord = payloadDict.Encode })
	for _, others := range []int32{0, 2} {
		var logged bytes.Buffer
		s := openT(t, Options{Dir: t.TempDir(), GCInterval: -1, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
		writing.Add(others) // as if other writes were in progress: the packers
		c := callEvent("call-1", 0)
		c.Entry.Event = bytes.Repeat([]byte(`{"eventType":"CALL_ACTION"}`), 10)
		err := storetest.Commit(t.Context(), s, c)
		writing.Add(-others)
		if err != nil {
			t.Fatalf("with %d other writes: the event was refused: %v", others, err)
		}
		if err := s.Ready(); err != nil {
			t.Fatalf("with %d other writes: the store is not ready after the compressor failed: %v", others, err)
		}
		entries, err := s.Transcript(t.Context(), "call-1")
		if err != nil || len(entries) != 1 || !bytes.Equal(entries[0].Event, c.Entry.Event) {
			t.Fatalf("with %d other writes: the transcript reads %v, %v", others, entries, err)
		}
		if log := logged.String(); !strings.Contains(log, "stored whole") || !strings.Contains(log, "call-1") ||
			!strings.Contains(log, "TestEncoderPanicStoresTheRecordWhole") {
			t.Fatalf("with %d other writes: the log does not name the session with the compressor's stack:\n%s", others, log)
		}
	}
	encodeRecord = payloadDict.Encode
	writing.Add(2)
	defer writing.Add(-2)
	if _, ok, err := pack(nil, bytes.Repeat([]byte("CALL_ACTION "), 20)); !ok || err != nil {
		t.Fatalf("the packers stopped after a panic: %v", err)
	}
}
