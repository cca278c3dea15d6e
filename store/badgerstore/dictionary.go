package badgerstore

import (
	"bytes"
	_ "embed"
	"encoding/json"

	"github.com/klauspost/compress/s2"
	"github.com/luaivr/luaivr/store"
)

// An event's payload (as 8x8 sent it) and reply are most of what a call
// keeps, and most of each is the same words in every event: field names,
// statuses, formats, the callflow's actions and params. Compressed with a
// dictionary of 8x8's own payloads and replies (S2, the format Badger's
// tables use; klauspost/compress is Badger's own dependency), a CALL_ACTION's
// 513 bytes take 131 and a session summary's 735 take 120, with other ids
// than the dictionary's; Snappy alone, as Badger compresses its tables, takes
// 412 and 416.
//
// dictionary.json is part of the data format: values written with it
// (eventPacked) are read with it, so it never changes
// (TestDictionaryUnchanged). Another dictionary is another format byte.
//
//go:embed dictionary.json
var dictionaryData []byte

var payloadDict = s2.MakeDict(dictionaryData, nil)

// pack is e with its payload and reply compressed, if that is smaller and
// reads back byte for byte.
func pack(e store.Entry) (store.Entry, bool) {
	if len(e.Event)+len(e.Reply) < 64 {
		return e, false
	}
	p := e
	p.Event, p.Reply = packed(e.Event), packed(e.Reply)
	if len(p.Event)+len(p.Reply) >= len(e.Event)+len(e.Reply) {
		return e, false
	}
	if ev, err := unpack(p.Event); err != nil || !bytes.Equal(ev, e.Event) {
		return e, false
	}
	if rp, err := unpack(p.Reply); err != nil || !bytes.Equal(rp, e.Reply) {
		return e, false
	}
	return p, true
}

func packed(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return nil
	}
	return payloadDict.Encode(nil, v)
}

func unpack(v json.RawMessage) (json.RawMessage, error) {
	if len(v) == 0 {
		return nil, nil
	}
	return payloadDict.Decode(nil, v)
}
