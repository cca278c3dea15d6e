package badgerstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/luaivr/luaivr/store"
)

// The two records of an event, as Badger values. Each starts with a format
// byte that a JSON value (an older luaivr's) cannot start with.
const valueFormat byte = 1

// replies are the session's last events that a redelivery is answered for
// (store.RepliesKept at most, newest first): each names the event by a hash
// of its reply key and points at its event record, which holds the reply.
// They ride in the session's value, which every event rewrites anyway, so
// the reply cache costs no key of its own.
type replies []sent

type sent struct {
	key     [8]byte // the first 8 bytes of the reply key's SHA-256
	seq     int     // the event record holding the reply
	expires int64   // Unix ms: ReplyTTL after the commit, at most its entry's TTL
}

// replyID is what replies keep of a reply key: a hash, so that a session
// keeps 8 bytes per event whatever the length of 8x8's ids, and one that an
// event id cannot be crafted to collide with.
func replyID(key string) (id [8]byte) {
	sum := sha256.Sum256([]byte(key))
	copy(id[:], sum[:])
	return id
}

// find is the event record holding the reply sent for key, unless expired.
func (r replies) find(key string, now time.Time) (seq int, ok bool) {
	if key == "" {
		return 0, false
	}
	id := replyID(key)
	for _, s := range r {
		if s.key == id && now.UnixMilli() < s.expires {
			return s.seq, true
		}
	}
	return 0, false
}

// add is r with key's reply (event record seq) first, without the expired
// and past the last store.RepliesKept.
func (r replies) add(key string, seq int, expires, now time.Time) replies {
	out := make(replies, 0, store.RepliesKept)
	out = append(out, sent{key: replyID(key), seq: seq, expires: expires.UnixMilli()})
	for _, s := range r {
		if len(out) == store.RepliesKept {
			break
		}
		if now.UnixMilli() < s.expires {
			out = append(out, s)
		}
	}
	return out
}

// encodeSession is the session's value: the format byte, the replies, and
// the session's record.
func encodeSession(r replies, sess store.Session) []byte {
	b := make([]byte, 0, 128+len(sess.Vars))
	b = append(b, valueFormat)
	b = binary.AppendUvarint(b, uint64(len(r)))
	for _, s := range r {
		b = append(b, s.key[:]...)
		b = binary.AppendUvarint(b, uint64(s.seq))
		b = binary.AppendVarint(b, s.expires)
	}
	return store.AppendSession(b, sess)
}

var errShort = errors.New("the value ends early")

// decodeSession reads encodeSession's value, or an older luaivr's JSON
// session (which kept no replies).
func decodeSession(v []byte) (replies, store.Session, error) {
	if len(v) > 0 && v[0] == '{' {
		sess, err := store.DecodeSession(v)
		return nil, sess, err
	}
	if len(v) == 0 || v[0] != valueFormat {
		return nil, store.Session{}, fmt.Errorf("a session value of unknown format %q", v[:min(len(v), 1)])
	}
	v = v[1:]
	n, k := binary.Uvarint(v)
	if k <= 0 || n > store.RepliesKept {
		return nil, store.Session{}, errShort
	}
	v = v[k:]
	r := make(replies, n)
	for i := range r {
		if len(v) < 8 {
			return nil, store.Session{}, errShort
		}
		copy(r[i].key[:], v)
		v = v[8:]
		seq, k := binary.Uvarint(v)
		if k <= 0 {
			return nil, store.Session{}, errShort
		}
		v = v[k:]
		exp, k := binary.Varint(v)
		if k <= 0 {
			return nil, store.Session{}, errShort
		}
		v = v[k:]
		r[i].seq, r[i].expires = int(seq), exp
	}
	sess, err := store.DecodeSession(v)
	return r, sess, err
}

// How an event record holds its reply.
const (
	noReply    byte = iota // the event could not be named: nothing to answer a redelivery with
	entryReply             // the entry's Reply is the body sent, byte for byte
	ownReply               // the body follows
)

// encodeEvent is an event's value: the format byte, the entry's record
// (its length first) and the reply (nil: none), which is most often the
// entry's own Reply and then is not kept twice.
func encodeEvent(e store.Entry, reply []byte) []byte {
	rec := store.AppendEntry(make([]byte, 0, 256+len(e.Event)+len(e.Reply)), e)
	b := make([]byte, 0, len(rec)+len(reply)+12)
	b = append(b, valueFormat)
	b = binary.AppendUvarint(b, uint64(len(rec)))
	b = append(b, rec...)
	switch {
	case reply == nil:
		return append(b, noReply)
	case bytes.Equal(reply, e.Reply):
		return append(b, entryReply)
	default:
		return append(append(b, ownReply), reply...)
	}
}

// decodeEvent reads encodeEvent's value, or an older luaivr's JSON entry
// (whose reply was kept elsewhere). The reply is a copy, nil when none.
func decodeEvent(v []byte) (store.Entry, []byte, error) {
	if len(v) > 0 && v[0] == '{' {
		e, err := store.DecodeEntry(v)
		return e, nil, err
	}
	if len(v) == 0 || v[0] != valueFormat {
		// Badger reads a value it could not read back from a damaged
		// value log as empty (and logs why).
		return store.Entry{}, nil, fmt.Errorf("an event value of unknown format %q: its value log may be damaged", v[:min(len(v), 1)])
	}
	v = v[1:]
	n, k := binary.Uvarint(v)
	if k <= 0 || n >= uint64(len(v)-k) {
		return store.Entry{}, nil, errShort
	}
	rec, rest := v[k:k+int(n)], v[k+int(n):]
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
