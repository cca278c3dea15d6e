// Package inputs is the tape of what one event's handler read from outside
// its script: the clock, the answers of kv, the responses of http and vcc,
// the draws of math.random.
// Recorded with the event, it lets `luaivr replay` run a real call again
// against other scripts with the answers the call got; served back in place
// of the outside, it makes that run repeatable and keeps replay off the
// network.
//
// The engine puts a Tape into each event's context (Record); a module finds
// it at call time, from the Lua state's context (From), never when it is
// opened: a module, or a whole Lua state, may serve many events. The replay
// runner gives the engine a context made by Replay instead, and the same
// calls then serve the record:
//   - clock reads in the order they were recorded; past the last one, the
//     last one again; with none recorded, the engine's clock (which replay
//     sets to the event's recorded time);
//   - math.random's draws in the order they were recorded; past the last
//     one, new draws;
//   - kv reads matched by operation and key (with a sensitive capture's
//     placeholder keys hidden, as for http), in order (the second kv.get of
//     a key gets what the second one got); a read that was not recorded gets
//     the answer of the store the engine has (replay's own), and is listed
//     by Unrecorded;
//   - http and vcc requests matched by module, method, URL and body (with
//     a sensitive capture's placeholder keys hidden as the record hid the
//     caller's); a request that was not recorded is an error, never a
//     network call.
//
// What a tape records is bounded (MaxEvent, MaxSession, MaxBody): a handler
// reading kv in a loop must not grow the transcript without end. Past a
// bound the tape records nothing more of the event and says Clipped, so the
// record is always the first reads, in order.
package inputs

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/luaivr/luaivr/store"
)

// Bounds on what is recorded.
const (
	// MaxEvent bounds one event's recorded inputs as JSON: an IVR handler
	// reads the clock, a few kv keys and a CRM answer or two, far less than
	// this; a loop over kv is clipped here.
	MaxEvent = 64 << 10
	// MaxSession bounds a whole call's recorded inputs (Session.Recorded):
	// a call of a hundred events that each read their fill keeps 1 MiB, as
	// much as its session.vars may hold (engine.MaxVarsBytes).
	MaxSession = 1 << 20
	// MaxBody bounds each recorded request and response body: a CRM's JSON
	// answer fits; a page of HTML is clipped and the event marked Clipped.
	MaxBody = 16 << 10
	// maxUnrecorded bounds what Unrecorded lists for one event.
	maxUnrecorded = 32
	// frame is room for the object around the lists: {"clock":[],…,"clipped":true}.
	frame = 64
)

// Tape is one event's inputs: recorded, or recorded and served back. Its
// methods are safe for concurrent use and work on a nil Tape (no recording:
// the live answer).
type Tape struct {
	mu      sync.Mutex
	rec     store.Inputs
	limit   int         // what rec may take, frame included (used)
	lists   [lists]list // rec's lists: their items and bytes
	clipped bool        // nothing more is recorded

	replay     *store.Inputs       // nil: recording only
	hide       func(string) string // hides a sensitive capture's placeholder keys in a request before it is matched
	clock      int                 // next recorded clock read to serve
	random     int                 // next recorded draw to serve
	kv         map[string][]int
	kvServed   map[string]int
	served     []bool // recorded exchanges served
	unrecorded []string
}

// The lists of store.Inputs, in the order its JSON has them.
const (
	clockList = iota
	kvList
	httpList
	randomList
	lists
)

var listNames = [lists]string{"clock", "kv", "http", "random"}

// list is what one of rec's lists holds: its items and their bytes as JSON.
type list struct{ items, bytes int }

type tapeKey struct{}

// Record returns ctx carrying a new tape for one event, and the tape. Under
// a context made by Replay it returns the replay's tape, started over: the
// engine handles an event again from the start when the store refuses its
// commit, and the handler must get the same answers again.
func Record(ctx context.Context) (context.Context, *Tape) {
	if t := From(ctx); t != nil && t.replay != nil {
		t.start()
		return ctx, t
	}
	t := &Tape{}
	t.start()
	return context.WithValue(ctx, tapeKey{}, t), t
}

// Replay returns ctx carrying a tape that serves in, the inputs recorded
// with one event, to the handler the engine runs under it (nil: the event
// read nothing, so every request is one that was not recorded). What the
// handler reads is recorded too, as it was served.
func Replay(ctx context.Context, in *store.Inputs) context.Context {
	if in == nil {
		in = &store.Inputs{}
	}
	t := &Tape{replay: in}
	t.start()
	return context.WithValue(ctx, tapeKey{}, t)
}

// Hide tells a replay's tape how the record hid the keys of its event's
// sensitive capture: the handler runs on placeholder keys, and a request or
// a kv key is matched against the record with them hidden the same way
// (the record holds "?pin=••••" where the caller's PIN was).
func (t *Tape) Hide(hide func(string) string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hide = hide
}

// From is the tape ctx carries; nil when it carries none.
func From(ctx context.Context) *Tape {
	if ctx == nil {
		return nil
	}
	t, _ := ctx.Value(tapeKey{}).(*Tape)
	return t
}

// start empties the tape and rewinds what it serves.
func (t *Tape) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rec, t.limit, t.clipped, t.unrecorded = store.Inputs{}, MaxEvent, false, nil
	t.lists = [lists]list{}
	if t.replay == nil {
		return
	}
	t.clock, t.random, t.kvServed, t.served = 0, 0, map[string]int{}, make([]bool, len(t.replay.HTTP))
	t.kv = map[string][]int{}
	for i, r := range t.replay.KV {
		k := kvKey(r.Op, r.Key)
		t.kv[k] = append(t.kv[k], i)
	}
}

// Limit lowers what this event may record to n bytes (what is left of the
// session's MaxSession); it never raises it above MaxEvent.
func (t *Tape) Limit(n int) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.limit = max(min(n, MaxEvent), 0)
}

// Inputs is what was recorded, a copy; nil when the handler read nothing.
func (t *Tape) Inputs() *store.Inputs {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.rec.Clock)+len(t.rec.KV)+len(t.rec.HTTP)+len(t.rec.Random) == 0 && !t.rec.Clipped {
		return nil
	}
	in := store.Inputs{Clipped: t.rec.Clipped}
	in.Clock = append(in.Clock, t.rec.Clock...)
	in.KV = append(in.KV, t.rec.KV...)
	in.HTTP = append(in.HTTP, t.rec.HTTP...)
	in.Random = append(in.Random, t.rec.Random...)
	return &in
}

// Size is the size of Inputs as JSON (store.Inputs.Size), 0 when it is
// nil, worked out from what was recorded instead of encoding it all again.
func (t *Tape) Size() int {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n, fields := len("{}"), 0
	for i, l := range t.lists {
		if l.items > 0 {
			n += len(`"`+listNames[i]+`":[]`) + l.bytes + l.items - 1
			fields++
		}
	}
	if t.rec.Clipped {
		n += len(`"clipped":true`)
		fields++
	}
	if fields == 0 {
		return 0
	}
	return n + fields - 1
}

// Unrecorded lists the reads a replay answered otherwise than from the
// record (kv from the replay's store, a request refused), for its report.
func (t *Tape) Unrecorded() []string {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.unrecorded...)
}

// Clock is a read of the current time: live's answer, recorded; or, in a
// replay, the next recorded one.
func (t *Tape) Clock(live func() time.Time) time.Time {
	if t == nil {
		return live()
	}
	t.mu.Lock()
	var now time.Time
	served := t.replay != nil && len(t.replay.Clock) > 0
	if served {
		now = t.replay.Clock[min(t.clock, len(t.replay.Clock)-1)]
		t.clock++
	}
	t.mu.Unlock()
	if !served {
		now = live()
	}
	now = now.UTC()
	t.record(clockList, now, 0, func() { t.rec.Clock = append(t.rec.Clock, now) })
	return now
}

// Random is a draw of math.random, in [0, 1): live's, recorded; or, in a
// replay, the next recorded one.
func (t *Tape) Random(live func() float64) float64 {
	if t == nil {
		return live()
	}
	t.mu.Lock()
	var u float64
	served := t.replay != nil && t.random < len(t.replay.Random)
	if served {
		u = t.replay.Random[t.random]
		t.random++
	}
	t.mu.Unlock()
	if !served {
		u = live()
	}
	t.record(randomList, u, 0, func() { t.rec.Random = append(t.rec.Random, u) })
	return u
}

// KV is a kv read (op is the function: get, incr, list; key its key or
// prefix): live's answer from the store, recorded; or, in a replay, the
// recorded answer of the same read. live runs without the tape's lock, so a
// store that hangs holds up only its own handler.
func (t *Tape) KV(op, key string, live func() store.KVRead) store.KVRead {
	if t == nil {
		return live()
	}
	var r store.KVRead
	t.mu.Lock()
	served := false
	if t.replay != nil {
		k := kvKey(op, key)
		if t.hide != nil {
			k = kvKey(op, t.hide(key))
		}
		if n := t.kvServed[k]; n < len(t.kv[k]) {
			r, served = t.replay.KV[t.kv[k][n]], true
			t.kvServed[k] = n + 1
		} else {
			t.note(fmt.Sprintf("kv.%s %q was not read when this call was recorded: answered from the replay's own store", op, key))
		}
	}
	t.mu.Unlock()
	if !served {
		r = live()
	}
	r.Op, r.Key = op, key
	t.record(kvList, r, len(r.Key)+len(r.Value)+len(r.Err), func() { t.rec.KV = append(t.rec.KV, r) })
	return r
}

// Exchange is an http or vcc request (req: its module, method, URL and
// body) and what came back: live's answer, recorded with the bodies clipped
// at MaxBody; or, in a replay, the recorded exchange of the same request —
// the first not served yet, else the last one served again. A request that
// was not recorded is an error that says so, named what ("http.get
// https://crm.example.com/customers"); live is not called.
func (t *Tape) Exchange(what string, req store.Exchange, live func() store.Exchange) (store.Exchange, error) {
	if t == nil {
		return live(), nil
	}
	body, clipped := clip(req.Body)
	req.Body = body
	var ex store.Exchange
	t.mu.Lock()
	served := false
	if t.replay != nil {
		match := req
		if t.hide != nil {
			match.URL, match.Body = t.hide(req.URL), t.hide(req.Body)
		}
		again := -1
		for i, r := range t.replay.HTTP {
			if r.Module != match.Module || r.Method != match.Method || r.URL != match.URL || r.Body != match.Body {
				continue
			}
			if !t.served[i] {
				t.served[i], again = true, -1
				ex, served = r, true
				break
			}
			again = i
		}
		if again >= 0 {
			ex, served = t.replay.HTTP[again], true
		}
		if !served {
			err := fmt.Errorf("%s was not made when this call was recorded: replay serves only recorded responses; stub it in a flow test instead", what)
			if t.replay.Clipped {
				err = fmt.Errorf("%s is not in this event's record, which was clipped at its bound (%d bytes): replay serves only recorded responses; stub it in a flow test instead", what, MaxEvent)
			} else if t.madeOtherwise(match) {
				err = fmt.Errorf("%w (the call made it with another query or body)", err)
			}
			t.note(err.Error())
			t.mu.Unlock()
			return store.Exchange{}, err
		}
	}
	t.mu.Unlock()
	if !served {
		ex = live()
	}
	ex.Module, ex.Method, ex.URL, ex.Body = req.Module, req.Method, req.URL, req.Body
	rec := ex
	reply, replyClipped := clip(ex.Reply)
	rec.Reply = reply
	t.record(httpList, rec, len(rec.URL)+len(rec.Body)+len(rec.Reply)+len(rec.Err), func() {
		t.rec.HTTP = append(t.rec.HTTP, rec)
		t.rec.Clipped = t.rec.Clipped || clipped || replyClipped
	})
	return ex, nil
}

// madeOtherwise reports whether the record holds req's module, method and
// URL up to its query, with another query or body; the caller holds the lock.
func (t *Tape) madeOtherwise(req store.Exchange) bool {
	path, _, _ := strings.Cut(req.URL, "?")
	for _, r := range t.replay.HTTP {
		if p, _, _ := strings.Cut(r.URL, "?"); r.Module == req.Module && r.Method == req.Method && p == path {
			return true
		}
	}
	return false
}

// record adds item (by add) when its size as JSON fits in what is left;
// otherwise the event is clipped and nothing more is recorded, so that what
// is recorded stays the first reads in order. least is the length of
// item's strings, about the least its JSON takes: an item that cannot fit,
// or any item once the event is clipped, is not encoded to find out, so a
// handler reading kv in a loop pays for no more than the bound.
func (t *Tape) record(list int, item any, least int, add func()) {
	t.mu.Lock()
	done := t.clipped || t.used()+least+1 > t.limit
	if done {
		t.clipped, t.rec.Clipped = true, true
	}
	t.mu.Unlock()
	if done {
		return
	}
	b, err := json.Marshal(item)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.clipped {
		return
	}
	if err != nil || t.used()+len(b)+1 > t.limit {
		t.clipped, t.rec.Clipped = true, true
		return
	}
	t.lists[list].items++
	t.lists[list].bytes += len(b)
	add()
}

// used is what the record takes against its limit: its items as JSON, a
// comma each, and the frame around them; the caller holds the lock.
func (t *Tape) used() int {
	n := frame
	for _, l := range t.lists {
		n += l.bytes + l.items
	}
	return n
}

// note lists a read a replay answered otherwise; the caller holds the lock.
func (t *Tape) note(s string) {
	switch {
	case len(t.unrecorded) < maxUnrecorded:
		t.unrecorded = append(t.unrecorded, s)
	case len(t.unrecorded) == maxUnrecorded:
		t.unrecorded = append(t.unrecorded, "… and more reads that were not recorded")
	}
}

func kvKey(op, key string) string { return op + "\x00" + key }

// clip cuts a body to MaxBody bytes, at a character, and reports whether it
// did. A body that is not UTF-8 is made what it becomes in JSON, so that a
// request compares equal to its record after the record is stored.
func clip(s string) (string, bool) {
	cut := len(s) > MaxBody
	if cut {
		n := MaxBody
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	if !utf8.ValidString(s) {
		b, _ := json.Marshal(s)
		_ = json.Unmarshal(b, &s)
	}
	return s, cut
}
