package badgerstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/luaivr/luaivr/store"
)

// An event's value starts with a format byte that a JSON value (an older
// luaivr's entry) cannot start with: eventFormat, or eventPacked when the
// entry's record (its payload and reply within) is compressed with the
// dictionary (dictionary.go).
const (
	eventFormat byte = 1
	eventPacked byte = 2
)

// How an event's value holds its reply.
const (
	noReply    byte = iota // the event could not be named: nothing to answer a redelivery with
	entryReply             // the entry's Reply is the body sent, byte for byte
	ownReply               // the body follows
)

// encodeEvent is an event's value: the format byte, the entry's record
// (its length first) and the reply (nil: none), which is most often the
// entry's own Reply and then is not kept twice. packFailed is why the
// record could not be compressed, when the compressor failed (the value
// holds it whole).
func encodeEvent(e store.Entry, reply []byte) (v []byte, packFailed *encoderPanic) {
	recBuf, packBuf := getScratch(), getScratch()
	whole := store.AppendEntry(*recBuf, e)
	packed, ok, packFailed := pack(*packBuf, whole)
	format, rec := eventFormat, whole
	if ok {
		format, rec = eventPacked, packed
	}
	b := make([]byte, 0, len(rec)+len(reply)+12)
	b = append(b, format)
	b = binary.AppendUvarint(b, uint64(len(rec)))
	b = append(b, rec...)
	putScratch(recBuf, whole)
	putScratch(packBuf, packed)
	switch {
	case reply == nil:
		return append(b, noReply), packFailed
	case bytes.Equal(reply, e.Reply):
		return append(b, entryReply), packFailed
	default:
		return append(append(b, ownReply), reply...), packFailed
	}
}

var errShort = errors.New("the value ends early")

// decodeEvent reads encodeEvent's value, or an older luaivr's JSON entry
// (whose reply was kept elsewhere). The reply is a copy, nil when none.
func decodeEvent(v []byte) (store.Entry, []byte, error) {
	if len(v) > 0 && v[0] == '{' {
		e, err := store.DecodeEntry(v)
		return e, nil, err
	}
	if len(v) == 0 || v[0] != eventFormat && v[0] != eventPacked {
		// Badger reads a value it could not read back from a damaged
		// value log as empty (and logs why).
		return store.Entry{}, nil, fmt.Errorf("an event value of unknown format %q: its value log may be damaged", v[:min(len(v), 1)])
	}
	format, v := v[0], v[1:]
	n, k := binary.Uvarint(v)
	if k <= 0 || n >= uint64(len(v)-k) {
		return store.Entry{}, nil, errShort
	}
	rec, rest := v[k:k+int(n)], v[k+int(n):]
	if format == eventPacked {
		var err error
		if rec, err = unpack(rec); err != nil {
			return store.Entry{}, nil, fmt.Errorf("an event's compressed record cannot be read: %w", err)
		}
	}
	e, err := store.DecodeEntry(rec)
	if err != nil {
		return store.Entry{}, nil, err
	}
	switch rest[0] {
	case noReply:
		return e, nil, nil
	case entryReply:
		return e, bytes.Clone(e.Reply), nil
	default:
		return e, bytes.Clone(rest[1:]), nil
	}
}

// repliedKey is r/<sessionID>/ and the reply key's hash (replyHash): its
// value is the number of the event whose value holds the reply, for a reply
// whose mark the session no longer holds (sessionvalue.go).
func repliedKey(id string, h [8]byte) []byte {
	return append([]byte("r/"+id+"/"), h[:]...)
}
