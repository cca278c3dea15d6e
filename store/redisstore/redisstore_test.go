package redisstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/redisstore"
	"github.com/luaivr/luaivr/store/redisstore/redistest"
	"github.com/luaivr/luaivr/store/storetest"
)

// prefixes gives each store of one Redis its own key prefix, so the
// conformance suite's parallel subtests each see an empty store.
var prefixes atomic.Int64

func openOn(url string) storetest.Open {
	return func(t *testing.T, opts store.Options) store.Store {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		s, err := store.Open(fmt.Sprintf("%s%sprefix=t%d", url, sep, prefixes.Add(1)), opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, openOn(srv.URL()))
	storetest.RunShared(t, openOn(srv.URL()))
}

func TestConformanceSentinel(t *testing.T) {
	sentinel := redistest.StartSentinel(t, redistest.Start(t))
	storetest.Run(t, openOn("redis+sentinel://"+sentinel.Addr+"/mymaster"))
	storetest.RunShared(t, openOn("redis+sentinel://"+sentinel.Addr+"/mymaster"))
}

func TestConformanceCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	storetest.Run(t, openOn(c.URL()))
	storetest.RunShared(t, openOn(c.URL()))
}

func TestParseURL(t *testing.T) {
	good := []struct {
		url  string
		want redisstore.Config
	}{
		{"redis://127.0.0.1:6379/0", redisstore.Config{Addrs: []string{"127.0.0.1:6379"}}},
		{"redis://h", redisstore.Config{Addrs: []string{"h:6379"}}},
		{"rediss://u:p@h:6380/2?timeout=250ms&wait=1&prefix=ivr&max_entries=50", redisstore.Config{Addrs: []string{"h:6380"},
			TLS: true, Username: "u", Password: "p", DB: 2, Timeout: 250 * time.Millisecond, Wait: 1, Prefix: "ivr", MaxEntries: 50}},
		{"redis://h1:7000,h2:7001,h3:7002?cluster=1", redisstore.Config{Addrs: []string{"h1:7000", "h2:7001", "h3:7002"}, Cluster: true}},
		{"redis+sentinel://:pw@s1:26379,s2:26380/mymaster/3", redisstore.Config{Addrs: []string{"s1:26379", "s2:26380"},
			Sentinel: "mymaster", Password: "pw", DB: 3}},
	}
	for _, tc := range good {
		got, err := redisstore.ParseURL(tc.url)
		want := tc.want
		if want.Timeout == 0 {
			want.Timeout = store.DefaultTimeout
		}
		if want.Prefix == "" {
			want.Prefix = redisstore.DefaultPrefix
		}
		if want.MaxEntries == 0 {
			want.MaxEntries = redisstore.DefaultMaxEntries
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseURL(%q) = %+v, %v\nwant %+v", tc.url, got, err, want)
		}
	}
	bad := []struct{ url, says string }{
		{"redis://", "no host"},
		{"redis://h/x", `database "x"`},
		{"redis://h/0/1", "the path is /db"},
		{"redis://h?timeout=0", "positive duration"},
		{"redis://h?wait=-1", "replicas"},
		{"redis://h?prefix=a{b}", "without {, } or :"},
		{"redis://h?max_entries=0", "max_entries"},
		{"redis://h?cluster=yes", "cluster=1"},
		{"redis://h?db=1", `unknown option "db"`},
		{"redis://h1:1,h2:2/1?cluster=1", "only database 0"},
		{"redis://h1,h2:2", "give each host of a list its port"},
		{"redis+sentinel://s1", "no master set"},
		{"redis://u:secret@h?bogus=1", "redis://xxxxx@h"},
		{"redis://secret@h?bogus=1", "redis://xxxxx@h"},
		{"redis://secret@h1:1,h2:2/0", "add ?cluster=1"},
		{"redis://h1:1,h2:2?cluster=0", "add ?cluster=1"},
		{"redis://h?timeout=1s&timeout=5s", "timeout is given 2 times"},
		{"redis://h?prefix=P:kv", "without {, } or :"},
		{"redis://u:secret@h1:1,h2", "give each host of a list its port"},
	}
	for _, tc := range bad {
		_, err := redisstore.ParseURL(tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.says) || strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL(%q) = %v, want an error saying %q (and no password)", tc.url, err, tc.says)
		}
	}
}

// waitFor polls cond; the bound is the test's, not a figure it asserts.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Every operation on a Redis that is stopped, or stalled (SIGSTOP: the
// connection stays open and nothing answers), gives ErrUnavailable within
// its timeout; Ready says so; once Redis is back the store works again by
// itself, and the restarted Redis still holds what was committed (AOF).
func TestUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	s, err := store.Open(srv.URL()+"?timeout=200ms", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if err := storetest.Commit(ctx, s, commitOf("call-1", 0)); err != nil {
		t.Fatal(err)
	}
	ops := map[string]func() error{
		"Session": func() error { _, _, err := s.Session(ctx, "call-1"); return err },
		"Begin":   func() error { _, err := s.Begin(ctx, "call-2", "e0", time.Minute); return err },
		"Commit": func() error {
			return s.Commit(ctx, store.Commit{Lease: store.Lease{SessionID: "call-1", Token: "t"}, Read: 1, Session: store.Session{ID: "call-1"}})
		},
		"Register":   func() error { _, err := s.Register(ctx, store.Session{ID: "call-3"}); return err },
		"Transcript": func() error { _, err := s.Transcript(ctx, "call-1"); return err },
		"Sessions":   func() error { return s.Sessions(ctx, func(store.Session) bool { return true }) },
		"KVGet":      func() error { _, _, err := s.KVGet(ctx, "app", "k"); return err },
		"KVIncr":     func() error { _, err := s.KVIncr(ctx, "app", "k", 1, 0, store.KVQuota{}); return err },
		"KVList":     func() error { _, err := s.KVList(ctx, "app", "", 0, 0); return err },
	}
	down := func(how string) {
		for name, op := range ops {
			done := make(chan error, 1)
			go func() { done <- op() }()
			select {
			case err := <-done:
				if !errors.Is(err, store.ErrUnavailable) {
					t.Errorf("%s with Redis %s: %v, want ErrUnavailable", name, how, err)
				}
			case <-time.After(10 * time.Second): // a bound on the test: the timeout is 200ms
				t.Fatalf("%s with Redis %s did not return", name, how)
			}
		}
		waitFor(t, "Ready to say Redis is "+how, func() bool { return store.Ready(s) != nil })
	}
	up := func() {
		waitFor(t, "the store to work again", func() bool {
			_, ok, err := s.Session(ctx, "call-1")
			return err == nil && ok && store.Ready(s) == nil
		})
	}

	srv.Pause()
	down("stalled")
	srv.Resume()
	up()

	srv.Stop()
	down("stopped")
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	up()
	if err := storetest.Commit(ctx, s, commitOf("call-1", 1)); err != nil {
		t.Fatalf("a commit after Redis restarted: %v", err)
	}
}

// commitOf is event seq of session id, for tests of this package.
func commitOf(id string, seq int) store.Commit {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(seq) * time.Second)
	key := fmt.Sprintf("e%d", seq)
	return store.Commit{
		Session:  store.Session{ID: id, App: "demo", Created: at, Updated: at},
		Entry:    store.Entry{At: at, EventType: "CALL_ACTION", EventID: key},
		ReplyKey: key, Reply: []byte(`{"callflow":[]}`),
	}
}

// A session keeps its newest max_entries transcript entries, still numbered
// from the call's first event.
func TestTranscriptBounded(t *testing.T) {
	srv := redistest.Start(t)
	s, err := store.Open(srv.URL()+"?max_entries=5", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for seq := range 8 {
		if err := storetest.Commit(t.Context(), s, commitOf("call-1", seq)); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := s.Transcript(t.Context(), "call-1")
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int
	for _, e := range entries {
		seqs = append(seqs, e.Seq)
	}
	if !reflect.DeepEqual(seqs, []int{4, 5, 6, 7, 8}) {
		t.Errorf("transcript holds entries %v, want the newest five, 4 to 8", seqs)
	}
	if got, _, _ := s.Session(t.Context(), "call-1"); got.Events != 8 {
		t.Errorf("the session counts %d events, want 8", got.Events)
	}
}

// Ids and keys with braces cannot reach another session's keys: a session
// named like another's reply key is its own session.
func TestIDsWithBraces(t *testing.T) {
	srv := redistest.Start(t)
	s, err := store.Open(srv.URL(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	c := commitOf("a", 0)
	c.ReplyKey = "k}:s" // unescaped, the reply's key would be luaivr:{a}:r:k}:s …
	if err := storetest.Commit(ctx, s, c); err != nil {
		t.Fatal(err)
	}
	other := "a}:r:k" // … and this session's luaivr:{a}:r:k}:s too
	if _, ok, err := s.Session(ctx, other); ok || err != nil {
		t.Fatalf("Session(%q) = %v, %v: it reads another session's reply", other, ok, err)
	}
	if err := storetest.Commit(ctx, s, commitOf(other, 0)); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Begin(ctx, "a", "k}:s", time.Minute); !b.Replied || err != nil || string(b.Reply) != `{"callflow":[]}` {
		t.Fatalf("the reply of session a = %+v, %v after a commit of session %q", b, err, other)
	}
	if err := s.KVSet(ctx, "x}:v", "k", []byte("1"), 0, store.KVQuota{}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.KVGet(ctx, "x", "k"); ok || err != nil {
		t.Fatalf("app x reads app x}:v's kv: %v, %v", ok, err)
	}
}

// A node of a Cluster named without ?cluster=1 is refused with what to add,
// and ?cluster=1 on a single Redis with what to remove.
func TestClusterNeedsItsOption(t *testing.T) {
	c := redistest.StartCluster(t)
	_, err := store.Open("redis://"+c.Nodes[0].Addr, store.Options{})
	if err == nil || !strings.Contains(err.Error(), "?cluster=1") {
		t.Fatalf("opening a Cluster node as a single Redis: %v, want it refused, naming ?cluster=1", err)
	}
	single := redistest.Start(t)
	s, err := store.Open(single.URL()+"?cluster=1", store.Options{})
	if err == nil {
		s.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "remove ?cluster=1") {
		t.Fatalf("opening a single Redis with ?cluster=1: %v, want it refused, naming ?cluster=1", err)
	}
}

// ?wait=1 returns a commit once a replica has it, and fails it when no
// replica takes it in time.
func TestWaitForReplicas(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.Start(t, "--replicaof", strings.Replace(master.Addr, ":", " ", 1))
	_ = replica
	s, err := store.Open(master.URL()+"?wait=1&timeout=5s", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitFor(t, "a commit acknowledged by the replica", func() bool {
		return storetest.Commit(t.Context(), s, commitOf("call-1", 0)) == nil // the replica may still be syncing
	})

	alone := redistest.Start(t)
	s2, err := store.Open(alone.URL()+"?wait=1&timeout=300ms", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	err = storetest.Commit(t.Context(), s2, commitOf("call-1", 0))
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "replicas") {
		t.Fatalf("a commit no replica took: %v, want ErrUnavailable naming the replicas", err)
	}
}

// store.Open gives redis URLs to this package, and a Redis URL that does not
// parse is refused, without its password, rather than taken for a Badger
// folder of that name.
func TestOpenURL(t *testing.T) {
	srv := redistest.Start(t)
	s, err := store.Open(srv.URL()+"/0", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, ok := s.(*redisstore.Store); !ok {
		t.Fatalf("%s opened a %T", srv.URL(), s)
	}
	t.Chdir(t.TempDir())
	_, err = store.Open("redis://u:secret@h1:7000,h2:7001,h3", store.Options{})
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "give each its port") {
		t.Fatalf("a list of hosts without the last port: %v, want it refused, naming the ports, not the password", err)
	}
	if _, err := os.Stat("redis:"); err == nil {
		t.Fatal("the URL became a Badger folder")
	}
}

// Open warns when Redis's AOF settings can lose answered events, saying
// what to set; with appendfsync always it says nothing.
func TestDurabilityWarning(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string
	}{
		{nil, "appendfsync everysec"},
		{[]string{"--appendonly", "no"}, "appendonly no"},
		{[]string{"--appendfsync", "always"}, ""},
	} {
		var log bytes.Buffer
		s, err := store.Open(redistest.Start(t, tc.args...).URL(), store.Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		warned := strings.Contains(log.String(), "level=WARN")
		if tc.says == "" && warned || tc.says != "" && (!strings.Contains(log.String(), tc.says) || !strings.Contains(log.String(), "appendfsync always")) {
			t.Errorf("Open on a Redis with %q logged:\n%s\nwant a warning naming %q and the fix", tc.args, log.String(), tc.says)
		}
	}
}

// With appendfsync always, Redis SIGKILLed while events commit loses none
// that returned: each is there once Redis is restarted from its AOF.
// (With everysec, the same run can lose the last of them: see the README.)
func TestKilledAfterCommitLosesNothing(t *testing.T) {
	srv := redistest.Start(t, "--appendfsync", "always")
	s, err := store.Open(srv.URL()+"?timeout=300ms", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mu sync.Mutex
	var returned []string
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				if storetest.Commit(t.Context(), s, commitOf(id, 0)) != nil {
					return // Redis is gone
				}
				mu.Lock()
				returned = append(returned, id)
				n := len(returned)
				mu.Unlock()
				if n == 1000 {
					srv.Kill() // right after a commit returned, with others in flight
				}
			}
		})
	}
	wg.Wait()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the store to answer again", func() bool { return store.Ready(s) == nil })
	lost := 0
	for _, id := range returned {
		if _, ok, err := s.Session(t.Context(), id); err != nil {
			t.Fatal(err)
		} else if !ok {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d commits that returned are gone after Redis was killed and restarted", lost, len(returned))
	}
}

// A lease whose Begin got no answer from a stalled Redis, and which Redis
// took once it went on, is released by the store in the background: the
// session is free again soon after, not once the lease's ttl ran out.
func TestUnansweredBeginReleased(t *testing.T) {
	srv := redistest.Start(t)
	s, err := store.Open(srv.URL()+"?timeout=200ms", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Begin(t.Context(), "call-0", "", time.Minute); err != nil { // Redis knows the script (EVALSHA)
		t.Fatal(err)
	}
	srv.Pause()
	_, err = s.Begin(t.Context(), "call-1", "", time.Minute)
	srv.Resume()
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Begin on a stalled Redis: %v, want ErrUnavailable", err)
	}
	waitFor(t, "the lease nobody owns to be released", func() bool {
		b, err := s.Begin(t.Context(), "call-1", "", time.Minute)
		return err == nil && b.Lease.Token != ""
	})
}

// A Redis that answers but cannot take events is not ready, and says why: a
// replica named instead of its master (READONLY), a Redis out of memory
// (OOM), ?wait=1 with no replica.
func TestNotReadyWithoutWrites(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.Start(t, "--replicaof", strings.Replace(master.Addr, ":", " ", 1))
	full := redistest.Start(t, "--maxmemory", "1", "--maxmemory-policy", "noeviction")
	for _, tc := range []struct{ url, says string }{
		{replica.URL(), "READONLY"},
		{full.URL(), "OOM"},
		{redistest.Start(t).URL() + "?wait=1&timeout=200ms", "replicas"},
	} {
		s, err := store.Open(tc.url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, tc.url+" to be not ready, naming "+tc.says, func() bool {
			err := store.Ready(s)
			return err != nil && strings.Contains(err.Error(), tc.says)
		})
		s.Close()
	}
}

// Open on a Redis that does not answer succeeds, not ready, every operation
// ErrUnavailable, and the store connects by itself once Redis answers.
func TestOpenWhileRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	s, err := store.Open(srv.URL()+"?timeout=200ms", store.Options{})
	if err != nil {
		t.Fatalf("Open while Redis is down: %v, want a store that is not ready", err)
	}
	defer s.Close()
	if err := store.Ready(s); err == nil {
		t.Error("Ready while Redis has never answered: nil")
	}
	if _, _, err := s.Session(t.Context(), "call-1"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Session while Redis has never answered: %v, want ErrUnavailable", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the store to connect once Redis answers", func() bool {
		return store.Ready(s) == nil && storetest.Commit(t.Context(), s, commitOf("call-1", 0)) == nil
	})
}

// An event costs two round trips to Redis, Begin's script and the
// commit's, and a redelivery one: counted with MONITOR around events the
// engine handles (not in a Cluster, whose list of sessions adds one).
func TestRoundTripsPerEvent(t *testing.T) {
	srv := redistest.Start(t)
	s, err := store.Open(srv.URL(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "count.lua"), []byte(`
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
function on_dtmf(session, digits)
  session.vars.n = (session.vars.n or 0) + 1
  return ivr.say_and_capture("event " .. session.vars.n)
end`), 0o644); err != nil {
		t.Fatal(err)
	}
	scripts, errs := engine.Load(dir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	// A deadline no busy machine reaches: no lease is renewed meanwhile.
	eng, err := engine.New(scripts, engine.Options{Store: s, Deadline: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	post := func(event int) string {
		body := fmt.Sprintf(`{"eventType":"CALL_ACTION","payload":{"sessionId":"call-1","eventId":"e%d","callStatus":"ACTION_COMPLETED","dtmf":"1"}}`, event)
		ev, err := webhook.Parse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return string(eng.Handle(t.Context(), ev, "count").Body)
	}
	post(0) // Redis learns the scripts (EVALSHA after a first EVAL)
	const events = 20
	stop := srv.Monitor(t)
	for i := 1; i <= events; i++ {
		post(i)
	}
	if got := stop(); len(got) != 2*events {
		t.Errorf("%d events took %d round trips, want %d:\n%s", events, len(got), 2*events, strings.Join(got, "\n"))
	}
	stop = srv.Monitor(t)
	for i := 1; i <= events; i++ {
		if got := post(i); !strings.Contains(got, fmt.Sprintf("event %d", i+1)) { // e0 was event 1
			t.Fatalf("redelivered event %d answered %s", i, got)
		}
	}
	if got := stop(); len(got) != events {
		t.Errorf("%d redeliveries took %d round trips, want %d:\n%s", events, len(got), events, strings.Join(got, "\n"))
	}
}
