package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/store"
)

// RunShared checks what only a store shared by several luaivr instances
// makes possible, with two engines (two instances, as far as the store can
// tell) on one store and real scripts: the events of one session take turns
// across both, a redelivery to the other instance is answered from the reply
// cache, and an instance paused past its lease cannot overwrite what the
// other did meanwhile. open is as for Run.
func RunShared(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"OneSessionTwoInstances", testOneSessionTwoInstances},
		{"RedeliveryToTheOtherInstance", testRedeliveryElsewhere},
		{"InstancePausedPastItsLease", testPausedPastLease},
		{"LongEventKeepsItsLease", testLongEventKeepsLease},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, store.Options{})
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// tally is an app that remembers every key press of a call, in order, and
// says how many it had seen before.
const tally = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_dtmf(session, digits)
  if digits == "0" then kv.get("gate") end -- waits while a test holds the gate
  kv.incr("ran:" .. digits)
  session.vars.seen = session.vars.seen or {}
  local before = #session.vars.seen
  table.insert(session.vars.seen, digits)
  return ivr.say_and_capture("after " .. before, { maxDigits = 2 })
end`

// instance is one engine on the shared store, serving tally.
func instance(t *testing.T, s store.Store, opts engine.Options) *engine.Engine {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tally.lua"), []byte(tally), 0o644); err != nil {
		t.Fatal(err)
	}
	scripts, errs := engine.Load(dir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if opts.Store == nil {
		opts.Store = s
	}
	if opts.Deadline == 0 { // time no busy machine runs out of: these cases are about the store
		opts.Deadline = 2 * time.Second
	}
	eng, err := engine.New(scripts, opts)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// press is the webhook of a key press in session id, event eventID.
func press(t *testing.T, id, eventID, digits string) *webhook.Event {
	t.Helper()
	body := fmt.Sprintf(`{"eventType":"CALL_ACTION","payload":{"sessionId":%q,"eventId":%q,"callStatus":"ACTION_COMPLETED","dtmf":%q}}`, id, eventID, digits)
	ev, err := webhook.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// said is what a reply says.
func said(t *testing.T, body []byte) string {
	t.Helper()
	r, err := callflow.Parse(body)
	if err != nil || len(r.Callflow) == 0 {
		t.Fatalf("not a callflow: %s (%v)", body, err)
	}
	text, _ := r.Callflow[0].Params["promptMessage"].(string)
	if text == "" {
		text, _ = r.Callflow[0].Params["text"].(string)
	}
	return text
}

// seen is the key presses session id remembers, and how many events it counts.
func seen(t *testing.T, s store.Store, id string) ([]string, int) {
	t.Helper()
	sess, ok, err := s.Session(t.Context(), id)
	if err != nil || !ok {
		t.Fatalf("Session(%s): ok %v, %v", id, ok, err)
	}
	var vars struct{ Seen []string }
	if err := json.Unmarshal(sess.Vars, &vars); err != nil {
		t.Fatal(err)
	}
	return vars.Seen, sess.Events
}

// Key presses of one call sent at once, alternately to two instances: each
// is handled once, after all those before it (its reply counts a different
// number of earlier presses), and the session holds every one.
func testOneSessionTwoInstances(t *testing.T, s store.Store) {
	a, b := instance(t, s, engine.Options{}), instance(t, s, engine.Options{})
	const presses = 12
	replies := make([]string, presses)
	var wg sync.WaitGroup
	for i := range presses {
		eng := []*engine.Engine{a, b}[i%2]
		wg.Go(func() {
			digits := fmt.Sprint(10 + i)
			replies[i] = said(t, eng.Handle(context.Background(), press(t, "call-1", "e"+digits, digits), "tally").Body)
		})
	}
	wg.Wait()
	got, events := seen(t, s, "call-1")
	slices.Sort(replies)
	var want []string
	for i := range presses {
		want = append(want, fmt.Sprint("after ", i))
	}
	slices.Sort(want)
	if len(got) != presses || events != presses || !slices.Equal(replies, want) {
		t.Fatalf("the session saw %v in %d events, replies %q; want %d presses each once, each after all before it",
			got, events, replies, presses)
	}
	entries, err := s.Transcript(t.Context(), "call-1")
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if e.Seq != i+1 || e.Digits == nil || *e.Digits != got[i] {
			t.Fatalf("transcript entry %d: %+v; want number %d, the press the session saw %d-th (%s)", i, e, i+1, i+1, got[i])
		}
	}
}

// gated is a store whose kv.get waits while the gate is closed: a script
// that is still running, as long as the test wants.
type gated struct {
	store.Store
	entered chan struct{}
	gate    chan struct{}
}

func (g gated) KVGet(ctx context.Context, app, key string) ([]byte, bool, error) {
	if key == "gate" {
		g.entered <- struct{}{}
		<-g.gate
	}
	return g.Store.KVGet(ctx, app, key)
}

// An event redelivered to instance B while instance A still runs its script
// waits for A's reply and gets it: the script runs once.
func testRedeliveryElsewhere(t *testing.T, s store.Store) {
	g := gated{Store: s, entered: make(chan struct{}, 1), gate: make(chan struct{})}
	a := instance(t, s, engine.Options{Store: g, Deadline: 5 * time.Second})
	b := instance(t, s, engine.Options{Deadline: 5 * time.Second})
	var fromA, fromB []byte
	var wg sync.WaitGroup
	wg.Go(func() { fromA = a.Handle(context.Background(), press(t, "call-1", "e0", "0"), "tally").Body })
	<-g.entered // A is running the script
	bDone := make(chan struct{})
	wg.Go(func() {
		defer close(bDone)
		fromB = b.Handle(context.Background(), press(t, "call-1", "e0", "0"), "tally").Body
	})
	select {
	case <-bDone:
		t.Fatalf("the redelivery to B was answered while A still ran the script: %s", fromB)
	case <-time.After(200 * time.Millisecond): // B waits for A (no figure asserted: B must not finish before the gate opens)
	}
	close(g.gate)
	wg.Wait()
	if string(fromA) != string(fromB) || said(t, fromA) != "after 0" {
		t.Fatalf("A answered %s and B %s; want the same first answer", fromA, fromB)
	}
	if ran, _, _ := s.KVGet(t.Context(), "tally", "ran:0"); string(ran) != "1" {
		t.Fatalf("the script ran %s times, want once", ran)
	}
	if got, events := seen(t, s, "call-1"); len(got) != 1 || events != 1 {
		t.Fatalf("the session saw %v in %d events, want the press once", got, events)
	}
}

// paused is instance A's view of the store while A is paused (a long GC, a
// frozen VM): its lease renewals do not arrive, and its commit lands only
// after the other instance has handled the next event.
type paused struct {
	store.Store
	committing chan struct{} // told when A's commit starts
	commitAt   chan struct{} // closed when A's commit may go on
}

func (p paused) Renew(context.Context, store.Lease, time.Duration) error {
	return fmt.Errorf("paused: %w", store.ErrUnavailable)
}

func (p paused) Commit(_ context.Context, c store.Commit) error {
	p.committing <- struct{}{}
	<-p.commitAt
	return p.Store.Commit(context.Background(), c) // its deadline passed while it was paused
}

// Instance A is paused past its lease mid-event; B takes the session and
// handles the next key press. A's late commit is refused, A handles its
// event again on what B saved: both presses are kept, neither is lost.
func testPausedPastLease(t *testing.T, s store.Store) {
	p := paused{Store: s, committing: make(chan struct{}, 2), commitAt: make(chan struct{})}
	// Short times, so the lease is brief (0.7s): twice the deadline, the
	// 50ms store timeout and the engine's 250ms margin.
	opts := engine.Options{Deadline: 200 * time.Millisecond, StoreTimeout: 50 * time.Millisecond}
	aOpts := opts
	aOpts.Store = p
	a, b := instance(t, s, aOpts), instance(t, s, opts)
	fromA := make(chan []byte, 1)
	go func() { fromA <- a.Handle(context.Background(), press(t, "call-1", "e1", "1"), "tally").Body }()
	<-p.committing // A ran its script under its lease and is about to commit

	// B's event waits for A's lease to lapse, then goes first.
	var fromB []byte
	deadline := time.Now().Add(15 * time.Second) // a bound on the test
	for {
		fromB = b.Handle(context.Background(), press(t, "call-1", "e2", "2"), "tally").Body
		if strings.HasPrefix(said(t, fromB), "after") || time.Now().After(deadline) {
			break
		}
	}
	close(p.commitAt)
	replyA := <-fromA
	if said(t, fromB) != "after 0" || said(t, replyA) != "after 1" {
		t.Fatalf("B heard %q and A %q; want B first (after 0), then A on what B saved (after 1)", said(t, fromB), said(t, replyA))
	}
	if got, events := seen(t, s, "call-1"); !slices.Equal(got, []string{"2", "1"}) || events != 2 {
		t.Fatalf("the session saw %v in %d events, want [2 1]: A's late commit overwrote B's", got, events)
	}
}

// slowCommit is a store whose commits take longer than a lease lasts (a
// store that is slow, not down), while renewals go through.
type slowCommit struct {
	store.Store
	by time.Duration
}

func (s slowCommit) Commit(_ context.Context, c store.Commit) error {
	time.Sleep(s.by)
	return s.Store.Commit(context.Background(), c) // its deadline passed meanwhile
}

// An event that runs past its lease's first term renews it: the other
// instance does not take the session from it meanwhile, and its commit lands.
func testLongEventKeepsLease(t *testing.T, s store.Store) {
	// A lease of 0.7s (as in testPausedPastLease); the commit takes 2s.
	opts := engine.Options{Deadline: 200 * time.Millisecond, StoreTimeout: 50 * time.Millisecond}
	aOpts := opts
	aOpts.Store = slowCommit{Store: s, by: 2 * time.Second}
	a, b := instance(t, s, aOpts), instance(t, s, opts)
	fromA := make(chan []byte, 1)
	go func() { fromA <- a.Handle(context.Background(), press(t, "call-1", "e1", "1"), "tally").Body }()
	waitFor(t, "A to take the lease", func() bool {
		l, err := acquire(t.Context(), s, "call-1", time.Minute)
		if err == nil {
			s.Release(t.Context(), l)
		}
		return errors.Is(err, store.ErrLocked)
	})
	fromB := b.Handle(context.Background(), press(t, "call-1", "e2", "2"), "tally").Body
	if got := said(t, <-fromA); got != "after 0" {
		t.Fatalf("A heard %q, want its own event first (after 0): B took the session while A still held it", got)
	}
	if strings.HasPrefix(said(t, fromB), "after") {
		t.Fatalf("B answered %q while A held the session", said(t, fromB))
	}
	if got, events := seen(t, s, "call-1"); !slices.Equal(got, []string{"1"}) || events != 1 {
		t.Fatalf("the session saw %v in %d events, want A's press alone", got, events)
	}
}
