package badgerstore

import (
	"bytes"
	_ "embed"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/s2"
)

// An event's payload (as 8x8 sent it) and reply are most of what a call
// keeps, and most of each is the same words in every event: field names,
// statuses, formats, the callflow's actions and params. Compressed with a
// dictionary of 8x8's own payloads and replies (S2, the format Badger's
// tables use; klauspost/compress is Badger's own dependency), a CALL_ACTION's
// 513 bytes take 131 and a session summary's 735 take 120, with other ids
// than the dictionary's; Snappy alone, as Badger compresses its tables, takes
// 412 and 416. The whole entry record is compressed, so that the ids it
// repeats from the payload (the event id) cost a few bytes.
//
// dictionary.json is part of the data format: values written with it
// (eventPacked) are read with it, so it never changes
// (TestDictionaryUnchanged). Another dictionary is another format byte.
//
//go:embed dictionary.json
var dictionaryData []byte

var payloadDict = s2.MakeDict(dictionaryData, nil)

// encodeRecord compresses a record (a variable for the tests).
var encodeRecord = payloadDict.Encode

// pack is an entry's record compressed, if that is smaller and reads back
// byte for byte. An encoder that fails (panics; none is known to) leaves
// the record whole, and failed says why, with the encoder's stack, for the
// store's log: a payload that broke the encoder would come back with each
// of 8x8's retries, and must cost bytes, not the store.
//
// The record is compressed into dst (grown when short), so that the caller
// can reuse it (scratch).
func pack(dst, rec []byte) (p []byte, ok bool, failed *encoderPanic) {
	if len(rec) < 64 {
		return nil, false, nil
	}
	if p, failed = encodePacked(dst, rec); failed != nil {
		return nil, false, failed
	}
	if len(p) >= len(rec) {
		return nil, false, nil
	}
	check := getScratch()
	back, err := payloadDict.Decode(*check, p)
	same := err == nil && bytes.Equal(back, rec)
	putScratch(check, back)
	if !same {
		return nil, false, nil
	}
	return p, true, nil
}

// scratch holds the buffers an event's value is built in: the record, the
// record compressed and the compressed record read back are each about a
// KiB, every event, and only the value handed to Badger needs memory of
// its own.
var scratch = sync.Pool{New: func() any { return new([]byte) }}

// getScratch is an empty buffer, to be given back with putScratch.
func getScratch() *[]byte { return scratch.Get().(*[]byte) }

// putScratch gives b back, keeping used (what was built in it, perhaps
// grown) emptied, unless it is nil or too big to keep; b itself is never
// appended to, so it stays empty.
func putScratch(b *[]byte, used []byte) {
	if used != nil {
		if cap(used) > 64<<10 {
			return
		}
		*b = used[:0]
	}
	scratch.Put(b)
}

func unpack(p []byte) ([]byte, error) { return payloadDict.Decode(nil, p) }

// S2's dictionary encoder clears a 64 KiB hash table on its stack for
// every record. On an event's own goroutine, one of the many whose stacks
// have left the CPU's cache by the time each commits again, that clearing
// took 13.7 µs an event in serve's CPU profile, flat out (10% of serve's
// CPU); on a few goroutines that do nothing else the table stays in the
// cache, and the encoding takes 5 µs.
//
// A write alone (writing, the updates in progress) encodes on its own
// goroutine: its stack is warm, and the handoff would cost it more than it
// saves (10–15 µs more an event in BenchmarkWebhook, one event at a time).
var writing atomic.Int32

var packers = struct {
	once sync.Once
	jobs chan *packJob
	pool sync.Pool
}{pool: sync.Pool{New: func() any { return &packJob{done: make(chan struct{}, 1)} }}}

type packJob struct {
	rec, out []byte
	failed   *encoderPanic
	done     chan struct{}
}

// encodePacked is encodeRecord(dst, rec), on a packer goroutine when other
// writes are in progress, and never a panic.
func encodePacked(dst, rec []byte) ([]byte, *encoderPanic) {
	if writing.Load() <= 1 {
		return encodeSafely(dst, rec)
	}
	packers.once.Do(func() {
		packers.jobs = make(chan *packJob)
		for range runtime.GOMAXPROCS(0) {
			go func() {
				for j := range packers.jobs {
					j.out, j.failed = encodeSafely(j.out, j.rec)
					j.done <- struct{}{}
				}
			}()
		}
	})
	j := packers.pool.Get().(*packJob)
	j.rec, j.out = rec, dst
	packers.jobs <- j
	<-j.done
	out, failed := j.out, j.failed
	j.rec, j.out, j.failed = nil, nil, nil
	packers.pool.Put(j)
	return out, failed
}

// encodeSafely is encodeRecord(dst, rec), or the panic it raised.
func encodeSafely(dst, rec []byte) (out []byte, failed *encoderPanic) {
	defer func() {
		if p := recover(); p != nil {
			out, failed = nil, &encoderPanic{value: p, stack: debug.Stack()}
		}
	}()
	return encodeRecord(dst, rec), nil
}

// encoderPanic is a panic of the compressor, with the stack it was raised on.
type encoderPanic struct {
	value any
	stack []byte
}

func (e *encoderPanic) Error() string { return fmt.Sprintf("the compressor panicked: %v", e.value) }
