package command_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/redisstore/redistest"
)

// The restaurant's tree walked to the end, through "3" (back to the main
// menu) twice: what each event answers, as a clientActionId or what is said.
// walkCalls are the calls walkAlternating plays at once.
const walkCalls = 4

var restaurantWalk = []struct{ digits, want string }{
	{"", `"clientActionId":"main_menu"`},
	{"1", `"clientActionId":"reservations"`},
	{"3", `"clientActionId":"main_menu"`},
	{"1", `"clientActionId":"reservations"`},
	{"3", `"clientActionId":"main_menu"`},
	{"1", `"clientActionId":"reservations"`},
	{"1", `"clientActionId":"book_table"`},
	{"2", "We have booked your table for tomorrow"},
}

// Two serve processes on one Redis, webhooks alternating between them as a
// round-robin load balancer would: the events of several calls at once go to
// alternate instances, every other one with its redelivery to the other
// instance at the same moment; one instance is SIGKILLed mid-run and the
// callers it left go on at the other, as 8x8 retries a webhook that got no
// answer. Every call then walks
// the tree to the end, each redelivery got the first reply byte for byte,
// and the shared store holds each event exactly once, in order. Then Redis
// stalls, and is killed (SIGKILL): callers get the apology (never a hang,
// never a 5xx); once Redis is back a call goes on by itself where it was, and
// nothing it had acknowledged is lost.
func TestTwoServersOnRedis(t *testing.T) {
	t.Parallel()
	// appendfsync always: Redis then writes what it acknowledges before
	// answering. With everysec it postpones writing its AOF while an fsync is
	// still going (up to 2 s, a loaded machine's disk) and answers meanwhile,
	// so a SIGKILL can lose acknowledged writes: in a CI run it lost the
	// outage call's session, and its next event got the no-app fallback.
	srv := redistest.Start(t, "--appendfsync", "always")
	url := srv.URL() + "?timeout=300ms"
	env := []string{"LUAIVR_STORE=" + url, "LUAIVR_RELOAD_INTERVAL=0"}
	servers := []*proc{serve(t, t.TempDir(), env...), serve(t, t.TempDir(), env...)}
	post := walkAlternating(t, servers, srv.URL())
	if t.Failed() {
		return
	}

	// Redis goes away mid-call: the apology at once, never a hang or a 5xx.
	p := servers[1]
	if got, _ := post(1, "/webhooks/restaurant", vca("outage", "o0", "CALL_RECEIVED", "")); !strings.Contains(got, "main_menu") {
		t.Fatalf("a call before the outage: %s", got)
	}
	// Stalled (SIGSTOP: connections open, nothing answers): the same. An
	// event's commit sent before the stall may still land once it ends, so
	// this phase has a call of its own.
	srv.Pause()
	for i := range 2 {
		began := time.Now()
		got, ok := post(1, "/webhooks/restaurant", vca("stall", fmt.Sprintf("s%d", i), "CALL_RECEIVED", ""))
		if !ok || !strings.Contains(got, apology) {
			srv.Resume()
			t.Fatalf("an event while Redis is stalled: %q (answered %v), want the apology", got, ok)
		}
		t.Logf("an event while Redis is stalled: the apology after %v", time.Since(began).Round(time.Millisecond))
	}
	srv.Resume()
	srv.Kill() // kill -9: what Redis acknowledged is in its AOF file already (appendfsync always)
	eventually(t, "the instance to see Redis is down", func() bool {
		code, _ := p.get(t, "/readyz")
		return code == 503
	})
	for i := range 3 {
		began := time.Now()
		got, ok := post(1, "/webhooks", vca("outage", fmt.Sprintf("o-down-%d", i), "ACTION_COMPLETED", "1"))
		if !ok || !strings.Contains(got, apology) {
			t.Fatalf("an event while Redis is down: %q (answered %v), want the apology", got, ok)
		}
		t.Logf("an event while Redis is down: the apology after %v", time.Since(began).Round(time.Millisecond))
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	var last string
	defer func() {
		if t.Failed() {
			t.Logf("the last answer after Redis came back: %s\nthe instance's log:\n%s", last, p.stderr)
		}
	}()
	eventually(t, "the instance to serve again once Redis is back", func() bool {
		last, _ = post(1, "/webhooks", vca("outage", "o1", "ACTION_COMPLETED", "1"))
		return strings.Contains(last, "reservations") // where the caller was before the outage
	})
	checkStored(t, srv.URL(), walkCalls) // nothing the walk stored was lost
}

// The same walk on a 3-master Redis Cluster: each session's keys in its own
// slot, the list of sessions in another.
func TestTwoServersOnRedisCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	env := []string{"LUAIVR_STORE=" + c.URL() + "&timeout=300ms", "LUAIVR_RELOAD_INTERVAL=0"}
	walkAlternating(t, []*proc{serve(t, t.TempDir(), env...), serve(t, t.TempDir(), env...)}, c.URL())
}

// walkAlternating plays calls of the restaurant on two instances sharing the
// store at storeURL, kills the first mid-run, and checks what the store
// holds (see TestTwoServersOnRedis). It returns how it posts a webhook.
func walkAlternating(t *testing.T, servers []*proc, storeURL string) (post func(i int, path, body string) (string, bool)) {
	t.Helper()
	var dead atomic.Bool // servers[0] was killed

	client := &http.Client{Timeout: 30 * time.Second} // a bound on the test, far above a lease's time
	// post sends body to server i, and to the other when i's connection
	// fails (i was killed): what 8x8 does after no answer. A 5xx fails the
	// test; ok is false only when neither answered.
	post = func(i int, path, body string) (reply string, ok bool) {
		for try := range 2 {
			p := servers[(i+try)%2]
			if (i+try)%2 == 0 && dead.Load() {
				continue
			}
			reply, err := postWebhook(client, p.url+path, body)
			if err == nil {
				return reply, true
			}
			if strings.HasPrefix(err.Error(), "5") {
				t.Errorf("a 5xx from %s: %v", p.url, err)
				return "", false
			}
		}
		return "", false
	}

	var answered atomic.Int64
	var wg sync.WaitGroup
	for c := range walkCalls {
		wg.Go(func() {
			id := fmt.Sprintf("rr-%d", c)
			for step, s := range restaurantWalk {
				status := "ACTION_COMPLETED"
				if step == 0 {
					status = "CALL_RECEIVED"
				}
				body := vca(id, fmt.Sprintf("%s-e%d", id, step), status, s.digits)
				first := (c + step) % 2
				var replies [2]string
				var got [2]bool
				var both sync.WaitGroup
				for k := range 2 - step%2 { // the event, and on even steps at once its redelivery to the other instance
					both.Go(func() { replies[k], got[k] = post((first+k)%2, "/webhooks/restaurant", body) })
				}
				both.Wait()
				if !got[0] && !got[1] {
					t.Errorf("call %s, event %d: no instance answered", id, step)
					return
				}
				for k := range 2 {
					if got[k] && !strings.Contains(replies[k], s.want) {
						t.Errorf("call %s, event %d (keys %q): %s, want %s", id, step, s.digits, replies[k], s.want)
						return
					}
				}
				if got[0] && got[1] && replies[0] != replies[1] {
					t.Errorf("call %s, event %d: the redelivery got another reply:\n%s\n%s", id, step, replies[0], replies[1])
				}
				if answered.Add(1) == int64(walkCalls*len(restaurantWalk)/3) { // mid-run, requests in flight
					dead.Store(true)
					servers[0].cmd.Process.Kill()
				}
			}
		})
	}
	wg.Wait()
	if !dead.Load() {
		t.Fatal("the first instance was never killed")
	}
	if t.Failed() {
		t.Logf("second instance's log:\n%s", servers[1].stderr)
		return post
	}

	checkStored(t, storeURL, walkCalls)
	out, err := runLuaivr(t, nil, "sessions", "list", "--store", storeURL)
	for c := range walkCalls {
		if id := fmt.Sprintf("rr-%d", c); err != nil || !strings.Contains(out, id) {
			t.Errorf("luaivr sessions list --store %s does not list %s (%v):\n%s", storeURL, id, err, out)
		}
	}
	return post
}

// checkStored checks that the store at storeURL holds every event of the
// walkCalls walkAlternating played, once each, in order, none a fallback.
func checkStored(t *testing.T, storeURL string, calls int) {
	t.Helper()
	s, err := store.Open(storeURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for c := range calls {
		id := fmt.Sprintf("rr-%d", c)
		entries, err := s.Transcript(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(restaurantWalk) {
			t.Errorf("call %s: %d entries in the shared store, want %d, one per event (none run twice)", id, len(entries), len(restaurantWalk))
			continue
		}
		for i, e := range entries {
			if want := fmt.Sprintf("%s-e%d", id, i); e.Seq != i+1 || e.EventID != want || e.Fallback {
				t.Errorf("call %s: entry %d is number %d, event %s, fallback %v; want number %d, event %s, the script's reply", id, i, e.Seq, e.EventID, e.Fallback, i+1, want)
			}
		}
	}

}

// A session id with a newline or a tab (a webhook may carry one) is printed
// quoted by sessions list, so it cannot break the table or pass for a row.
func TestSessionsListQuotesControlCharacters(t *testing.T) {
	t.Parallel()
	url := "badger://" + t.TempDir()
	s, err := store.Open(url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(t.Context(), store.Session{ID: "evil\nfake-row\tx", Created: time.Now(), Updated: time.Now()}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	out, err := runLuaivr(t, nil, "sessions", "list", "--store", url)
	if err != nil || !strings.Contains(out, `"evil\nfake-row\tx"`) || strings.Contains(out, "\nfake-row") {
		t.Fatalf("sessions list of a session id with a newline: %v\n%s", err, out)
	}
}

// serve started while Redis is down (or refuses its password) serves the
// apology with /readyz 503 instead of exiting, names the store in its
// "luaivr serving" line with the password masked, and takes calls by itself
// once Redis answers.
func TestServeStartsWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--requirepass", "hunter2pw")
	srv.Stop()
	url := "redis://:hunter2pw@" + srv.Addr + "/0?timeout=300ms"
	p := serve(t, t.TempDir(), "LUAIVR_STORE="+url, "LUAIVR_RELOAD_INTERVAL=0")
	if code, _ := p.get(t, "/readyz"); code != 503 {
		t.Errorf("/readyz with Redis down: %d, want 503", code)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if got, err := postWebhook(client, p.url+"/webhooks/restaurant", vca("down", "d0", "CALL_RECEIVED", "")); err != nil || !strings.Contains(got, apology) {
		t.Errorf("a call with Redis down: %q, %v; want the apology", got, err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the instance to take calls once Redis answers", func() bool {
		got, err := postWebhook(client, p.url+"/webhooks/restaurant", vca("up", "u0", "CALL_RECEIVED", ""))
		return err == nil && strings.Contains(got, "main_menu")
	})
	log := p.stderr.String()
	if !strings.Contains(log, `"store":"redis://xxxxx@`+srv.Addr) || strings.Contains(log, "hunter2pw") {
		t.Errorf("serve's log does not name the store with its password masked:\n%s", log)
	}
	if t.Failed() {
		t.Logf("serve's log:\n%s", log)
	}
}
