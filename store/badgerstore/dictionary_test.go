package badgerstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/luaivr/luaivr/store"
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
			v := encodeEvent(e, kept)
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
	p, ok := pack(rec)
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
				p, ok := pack(rec)
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

// A panic of the encoder on a packer goroutine is raised in the event's
// goroutine, where the store's health.call turns it into an error; it does
// not end the process, and the packers go on.
func TestEncoderPanicIsTheCallers(t *testing.T) {
	writing.Add(2)
	defer writing.Add(-2)
	encodeRecord = func(dst, src []byte) []byte { panic("encoder broke") }
	got := func() (p any) {
		defer func() { p = recover() }()
		pack(bytes.Repeat([]byte("CALL_ACTION "), 20))
		return nil
	}()
	encodeRecord = payloadDict.Encode
	if got != "encoder broke" {
		t.Fatalf("the caller saw %v, want the encoder's panic", got)
	}
	if _, ok := pack(bytes.Repeat([]byte("CALL_ACTION "), 20)); !ok {
		t.Fatal("the packers stopped after a panic")
	}
}
