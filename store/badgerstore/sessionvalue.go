package badgerstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/luaivr/luaivr/store"
)

// A session's value is its record and the marks of its last replies: for
// each of the call's last repliesInSession events that had a reply key, 8
// bytes of the key's SHA-256, the number of the event whose value holds the
// reply, and when the mark expires. 8x8 sends an event again when our answer
// was late, so a redelivery is nearly always of one of the call's last few
// events: Begin finds it in the session it reads anyway, and an event writes
// no key of its own for it. A mark pushed out of the window is written under
// its own key then (repliedKey), so that a redelivery of any event of the
// call is still answered.
//
// With the live sessions below (an event reads no Badger: before, three
// reads per event, the session twice and the reply key), `luaivr bench` of
// the restaurant answered 1.33–1.38× the events a second (two rounds,
// interleaved, 2026-12-01), p99 0.75×.
const sessionFormat byte = 4 // neither '{' (an older luaivr's JSON) nor a bare record (store's kind 1)

// repliesInSession is how many reply marks a session's value keeps.
const repliesInSession = 16

type replyMark struct {
	hash    [8]byte
	seq     uint64
	expires uint64 // Unix seconds, as Badger's ExpiresAt
}

// replyHash is what names a reply key within its session: a hash an event id
// cannot be crafted to collide with.
func replyHash(key string) (h [8]byte) {
	sum := sha256.Sum256([]byte(key))
	copy(h[:], sum[:8])
	return h
}

// A sessionValue is a session's value decoded: the session (its record) and
// what the store keeps beside it.
type sessionValue struct {
	record []byte // store.AppendSession's, while the value is written
	marks  []replyMark
	// Replies of the session may also be under their own keys: marks
	// pushed out of the window (spilled, under r/), or written by an older
	// luaivr (legacy: under r/, or d/ before the compact records).
	spilled, legacy bool
	expires         uint64 // of the session's key
	// indexed is the time of the session's index key (indexKey), which
	// expires at indexExpires: see indexStep.
	indexed      time.Time
	indexExpires uint64
	// session is the record decoded (Begin copies it from a live value).
	session *store.Session
}

// find is the event holding the reply named by key, if its mark is live;
// now is Unix seconds.
func (v *sessionValue) find(key string, now uint64) (seq uint64, ok bool) {
	h := replyHash(key)
	for i := len(v.marks) - 1; i >= 0; i-- { // the newest: an event answered again answers with its last reply
		if m := v.marks[i]; m.hash == h && m.expires > now {
			return m.seq, true
		}
	}
	return 0, false
}

func appendSessionValue(b []byte, v *sessionValue) []byte {
	b = append(b, sessionFormat)
	b = binary.AppendUvarint(b, uint64(len(v.record)))
	b = append(b, v.record...)
	var flags byte
	if v.spilled {
		flags |= 1
	}
	if v.legacy {
		flags |= 2
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(v.marks)))
	for _, m := range v.marks {
		b = append(b, m.hash[:]...)
		b = binary.AppendUvarint(b, m.seq)
		b = binary.AppendUvarint(b, m.expires)
	}
	b = binary.AppendVarint(b, v.indexed.Unix()) // seconds and nanoseconds: any year, as the index key's
	b = binary.AppendUvarint(b, uint64(v.indexed.Nanosecond()))
	return binary.AppendUvarint(b, v.indexExpires)
}

// decodeSessionValue reads appendSessionValue's value, or an older luaivr's
// (a bare record, or JSON), whose replies are under their own keys. Nothing
// of b is kept: Badger's value is valid only in its transaction.
func decodeSessionValue(b []byte) (store.Session, sessionValue, error) {
	var v sessionValue
	if len(b) == 0 || b[0] != sessionFormat {
		sess, err := store.DecodeSession(b)
		v.session, v.legacy = &sess, true
		v.indexed = sess.Updated // its index key is at its last update; indexExpires 0: rewritten at the next event
		return sess, v, err
	}
	r := b[1:]
	n, k := binary.Uvarint(r)
	if k <= 0 || n > uint64(len(r)-k) {
		return store.Session{}, v, errShort
	}
	record, r := r[k:k+int(n)], r[k+int(n):]
	if len(r) == 0 {
		return store.Session{}, v, errShort
	}
	v.spilled, v.legacy, r = r[0]&1 != 0, r[0]&2 != 0, r[1:]
	count, k := binary.Uvarint(r)
	if k <= 0 || count > repliesInSession {
		return store.Session{}, v, errShort
	}
	r = r[k:]
	v.marks = make([]replyMark, count)
	for i := range v.marks {
		m := &v.marks[i]
		if len(r) < len(m.hash) {
			return store.Session{}, v, errShort
		}
		r = r[copy(m.hash[:], r):]
		if m.seq, k = binary.Uvarint(r); k <= 0 {
			return store.Session{}, v, errShort
		}
		r = r[k:]
		if m.expires, k = binary.Uvarint(r); k <= 0 {
			return store.Session{}, v, errShort
		}
		r = r[k:]
	}
	sess, err := store.DecodeSession(record)
	if err != nil {
		return store.Session{}, v, fmt.Errorf("session record: %w", err)
	}
	v.session, v.indexed = &sess, sess.Updated
	if len(r) > 0 {
		sec, k := binary.Varint(r)
		if k <= 0 {
			return store.Session{}, v, errShort
		}
		r = r[k:]
		nsec, k := binary.Uvarint(r)
		if k <= 0 || nsec >= 1e9 {
			return store.Session{}, v, errShort
		}
		r = r[k:]
		if v.indexExpires, k = binary.Uvarint(r); k <= 0 {
			return store.Session{}, v, errShort
		}
		v.indexed = time.Unix(sec, int64(nsec))
	}
	return sess, v, nil
}

// next is the value after an event numbered seq: its record, and the marks
// with its own (when it has a reply key) added; a mark pushed out is
// returned to be kept under its own key.
func (v *sessionValue) next(record []byte, sess store.Session, key string, seq uint64, expires, now uint64) (sessionValue, *replyMark) {
	kept := ownCopy(sess) // the caller's stays its own
	n := sessionValue{record: record, spilled: v.spilled, legacy: v.legacy, session: &kept}
	n.marks = make([]replyMark, 0, min(len(v.marks)+1, repliesInSession))
	for _, m := range v.marks {
		if m.expires > now {
			n.marks = append(n.marks, m)
		}
	}
	if key == "" {
		return n, nil
	}
	h := replyHash(key)
	n.marks = slices.DeleteFunc(n.marks, func(m replyMark) bool { return m.hash == h }) // answered again: its new reply
	var out *replyMark
	if len(n.marks) == repliesInSession {
		out, n.marks = &n.marks[0], append(n.marks[:0:0], n.marks[1:]...)
		n.spilled = true
	}
	n.marks = append(n.marks, replyMark{hash: h, seq: seq, expires: expires})
	return n, out
}

// live holds the values of the sessions this process wrote last, so that an
// event's Begin and Commit read no Badger: one process holds a data folder
// (Badger locks it), so what it wrote last is what Badger holds. Only a write
// fills it, under the session's lock (a read filling it could race a newer
// write and bring the old value back); an expired value reads as missing; a
// call that ended (its session summary came) is not kept; and it is bounded
// in sessions and in bytes, a value pushed out read from Badger again.
type live struct {
	mu    sync.Mutex
	m     map[string]*sessionValue
	bytes int // of the values kept (liveSize)
	max   int // sessions; 0: maxLive
}

// maxLive and maxLiveBytes bound what is kept: more than the calls in
// progress of a loaded instance (500 new calls a second of a minute each are
// 30,000, a few hundred bytes each without vars), and a heap the memory
// guard and the resident-memory target can afford.
const (
	maxLive      = 1 << 15
	maxLiveBytes = 16 << 20
)

// liveSize is about what v holds in memory.
func liveSize(id string, v *sessionValue) int {
	s := v.session
	n := 256 + 2*len(id) + len(s.App) + len(s.Version) + len(s.Vars) + len(s.ActionID) + len(s.Menu) + len(s.Root) +
		len(s.Status) + len(s.Direction) + len(s.Source) + len(s.Destination) + len(v.marks)*24
	for menu := range s.Tries {
		n += len(menu) + 16
	}
	for _, p := range s.Sensitive {
		n += len(p) + 16
	}
	return n
}

func (l *live) get(id string, now uint64) *sessionValue {
	l.mu.Lock()
	v := l.m[id]
	if v != nil && v.expires <= now {
		l.drop(id)
		v = nil
	}
	l.mu.Unlock()
	return v
}

// drop forgets id's value; l.mu is held.
func (l *live) drop(id string) {
	if v, ok := l.m[id]; ok {
		l.bytes -= liveSize(id, v)
		delete(l.m, id)
	}
}

// put keeps v as session id's value (v is not changed afterwards); nil, or
// the value of a call that ended, forgets it.
func (l *live) put(id string, v *sessionValue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.drop(id)
	if v == nil || v.session.Ended {
		return
	}
	if l.m == nil {
		l.m = make(map[string]*sessionValue)
	}
	limit := l.max
	if limit == 0 {
		limit = maxLive
	}
	size := liveSize(id, v)
	if size > maxLiveBytes/64 { // one call's vars do not push out hundreds of others
		return
	}
	if len(l.m) >= limit || l.bytes+size > maxLiveBytes {
		// Push out an eighth, in the map's own (random) order.
		n, room := max(len(l.m)/8, 1), maxLiveBytes-maxLiveBytes/8
		for k := range l.m {
			l.drop(k)
			if n--; n <= 0 && l.bytes+size <= room {
				break
			}
		}
	}
	l.m[id] = v
	l.bytes += size
}

// copySession is the live value's session, for an event to change.
func (v *sessionValue) copySession() store.Session { return ownCopy(*v.session) }

// ownCopy is s with what may be changed in place (vars, tries, positions)
// its own, so that a live value and an event's session share none of it.
func ownCopy(s store.Session) store.Session {
	s.Vars = bytes.Clone(s.Vars)
	s.Tries = maps.Clone(s.Tries)
	s.Sensitive = slices.Clone(s.Sensitive)
	return s
}
