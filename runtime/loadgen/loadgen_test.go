package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	upTo := func(n int) []time.Duration {
		d := make([]time.Duration, n)
		for i := range d {
			d[i] = time.Duration(i + 1)
		}
		return d
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{7}, 99, 7},
		{"1..100 p50", upTo(100), 50, 50},
		{"1..100 p90", upTo(100), 90, 90},
		{"1..100 p99", upTo(100), 99, 99},
		{"1..100 p100", upTo(100), 100, 100},
		{"1..10 p99 is the max", upTo(10), 99, 10},
		{"1..10 p50", upTo(10), 50, 5},
		{"1..1000 p99", upTo(1000), 99, 990},
		{"1..1000 p99.9", upTo(1000), 99.9, 999},
		{"tiny p is the min", upTo(1000), 0.01, 1},
	} {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: percentile(p%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
	l := latencyOf([]time.Duration{1, 2, 3, 4, 100})
	if want := (Latency{P50: 3, P90: 100, P99: 100, Max: 100, Mean: 22}); l != want {
		t.Errorf("latencyOf = %+v, want %+v", l, want)
	}
}

func TestParseKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want [][]string
		err  string
	}{
		{in: "1,1,1;1,2,2;3", want: [][]string{{"1", "1", "1"}, {"1", "2", "2"}, {"3"}}},
		{in: " 1 , 2 ; ; 12#,*,t,timeout ", want: [][]string{{"1", "2"}, {"12#", "*", timeoutKey, timeoutKey}}},
		{in: "", err: "no path"},
		{in: "1,a", err: `"a" is not digits`},
		{in: "1,,2", err: `"" is not digits`},
	} {
		got, err := ParseKeys(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseKeys(%q) error %v, want one containing %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || !reflect.DeepEqual(got, tc.want)):
			t.Errorf("ParseKeys(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := ParseKeys(DefaultKeys); err != nil {
		t.Errorf("DefaultKeys: %v", err)
	}
}

func TestCheckTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url    string
		remote bool
		err    string
	}{
		{url: "http://127.0.0.1:8080/webhooks/restaurant"},
		{url: "http://127.9.8.7/webhooks"},
		{url: "http://localhost:8080/webhooks"},
		{url: "http://LOCALHOST/webhooks"},
		{url: "http://[::1]:8080/webhooks"},
		{url: "https://127.0.0.1/webhooks"},
		{url: "http://192.0.2.10:8080/webhooks", err: "192.0.2.10 is not this machine"},
		{url: "http://[2001:db8::1]/webhooks", err: "--allow-remote"},
		{url: "http://ivr.example.com/webhooks", err: "--allow-remote"},
		{url: "http://localhost.example.com/webhooks", err: "--allow-remote"},
		{url: "http://0.0.0.0:8080/webhooks", err: "--allow-remote"},
		{url: "http://ivr.example.com/webhooks", remote: true},
		{url: "ftp://127.0.0.1/webhooks", err: "http:// or https://"},
		{url: "127.0.0.1:8080", err: "http:// or https://"},
		{url: "http://%zz", err: "http:// or https://"},
	} {
		err := CheckTarget(tc.url, tc.remote)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckTarget(%q, %v) = %v, want error containing %q", tc.url, tc.remote, err, tc.err)
		}
	}
}

// TestRefusals: a remote or unreachable target is an error before any load.
func TestRefusals(t *testing.T) {
	t.Parallel()
	closed := freeAddr(t)
	for _, tc := range []struct {
		name string
		o    Options
		err  string
	}{
		{"remote", Options{URL: "http://192.0.2.10/webhooks/restaurant", Calls: 1}, "--allow-remote"},
		{"not running", Options{URL: "http://" + closed + "/webhooks", Calls: 1}, "cannot reach " + closed},
		{"unbounded", Options{URL: "http://" + closed + "/webhooks"}, "unbounded run"},
		{"bad fraction", Options{URL: "http://" + closed + "/webhooks", Calls: 1, Duplicates: 2}, "duplicates 2"},
	} {
		start := time.Now()
		_, err := Run(t.Context(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: Run error %v, want one containing %q", tc.name, err, tc.err)
		}
		if _, cerr := Compare(t.Context(), tc.o); cerr == nil || cerr.Error() != err.Error() {
			t.Errorf("%s: Compare error %v, want %v", tc.name, cerr, err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%s: took %v to refuse", tc.name, time.Since(start))
		}
	}
}

// freeAddr is a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func startBaseline(t *testing.T) string {
	t.Helper()
	addr, stop, err := Baseline()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop() })
	return "http://" + addr + "/webhooks/restaurant"
}

func TestAgainstBaseline(t *testing.T) {
	t.Parallel()
	r, err := Run(t.Context(), Options{URL: startBaseline(t), Calls: 40, Concurrency: 8,
		Duplicates: 0.5, Timeouts: 0.2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// The baseline always answers the main menu: every caller presses the
	// keys of their path, then hangs up at the prompt.
	if r.Calls != 40 || r.CallsFailed != 0 || r.CallsAborted != 0 || r.ErrorCount() != 0 {
		t.Errorf("calls %d, failed %d, aborted %d, errors %v; want 40 calls and no errors", r.Calls, r.CallsFailed, r.CallsAborted, r.Errors)
	}
	if r.Outcomes[OutcomeCallerHungUp] != 40 {
		t.Errorf("outcomes %v, want 40 %s", r.Outcomes, OutcomeCallerHungUp)
	}
	// Per call: CALL_RECEIVED, CALL_CONNECTED, a key or no input per prompt, CALL_DISCONNECTED, SESSION_SUMMARY.
	if r.Events < 40*5 || r.Duplicates < r.Events/5 || r.Duplicates > r.Events*2/3 {
		t.Errorf("%d events with %d duplicates; want at least 200 events, about a third of them duplicates", r.Events, r.Duplicates)
	}
	if r.Latency.P50 <= 0 || r.Latency.P50 > r.Latency.P99 || r.Latency.P99 > r.Latency.Max {
		t.Errorf("latency %+v", r.Latency)
	}
	if r.Menus["main_menu"] == 0 || r.Server != nil || r.EventsPerSec <= 0 || r.CallsPerSec <= 0 {
		t.Errorf("menus %v, server %v, %v events/s, %v calls/s", r.Menus, r.Server, r.EventsPerSec, r.CallsPerSec)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"events/s", "latency p99", "ended: caller_hung_up", "menus replied: main_menu"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	json.Unmarshal(js, &back)
	if back["calls"] != 40.0 || back["error_count"] != 0.0 || back["latency"].(map[string]any)["p99_ms"] == nil {
		t.Errorf("JSON report: %s", js)
	}
}

func TestCompare(t *testing.T) {
	t.Parallel()
	c, err := Compare(t.Context(), Options{URL: startBaseline(t), Calls: 30, Concurrency: 4, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Both runs face the same kind of server, with the same random choices.
	if c.Baseline.Calls != 30 || c.Target.Calls != 30 || c.Baseline.Events != c.Target.Events {
		t.Errorf("baseline %d calls %d events, target %d calls %d events", c.Baseline.Calls, c.Baseline.Events, c.Target.Calls, c.Target.Events)
	}
	if c.Baseline.Target == c.Target.Target || !strings.HasSuffix(c.Baseline.Target, "/webhooks/restaurant") {
		t.Errorf("baseline URL %s, target %s", c.Baseline.Target, c.Target.Target)
	}
	if c.Ratios.EventsPerSec <= 0 || c.Ratios.P99 <= 0 {
		t.Errorf("ratios %+v", c.Ratios)
	}
	var text bytes.Buffer
	c.WriteText(&text)
	if !strings.Contains(text.String(), "events/s ratio") || !strings.Contains(text.String(), "target/baseline") {
		t.Errorf("text comparison:\n%s", text.String())
	}
}

// With a peer, the same load runs against it too, between the baseline and
// the target, and the target's figures are given as ratios to both.
func TestCompareWithPeer(t *testing.T) {
	t.Parallel()
	peer := startBaseline(t)
	c, err := Compare(t.Context(), Options{URL: startBaseline(t), Peer: peer, Calls: 20, Concurrency: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if c.Peer == nil || c.PeerRatios == nil || c.Peer.Target != peer {
		t.Fatalf("peer %+v, ratios %+v; want the peer's run at %s", c.Peer, c.PeerRatios, peer)
	}
	if c.Peer.Calls != 20 || c.Peer.Events != c.Target.Events || c.PeerRatios.EventsPerSec <= 0 {
		t.Errorf("peer %d calls %d events, target %d events, ratios %+v", c.Peer.Calls, c.Peer.Events, c.Target.Events, c.PeerRatios)
	}
	var text bytes.Buffer
	c.WriteText(&text)
	for _, want := range []string{"peer      " + peer, "target/peer", "target vs peer: events/s ratio"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text comparison lacks %q:\n%s", want, text.String())
		}
	}
	if _, err := Compare(t.Context(), Options{URL: startBaseline(t), Peer: "http://" + freeAddr(t) + "/webhooks", Calls: 1}); err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("a peer nobody listens on: %v", err)
	}
}

// fake answers every webhook through reply, given the event's type and the
// request's number; CALL_STATUS and SESSION_SUMMARY get "{}" unless reply
// answers them too.
func fake(t *testing.T, reply func(w http.ResponseWriter, eventType string, n int64)) string {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost { // GET /healthz
			http.NotFound(w, r)
			return
		}
		var ev struct{ EventType string }
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("the generator sent a body that is not JSON: %v", err)
		}
		reply(w, ev.EventType, n.Add(1))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/webhooks/restaurant"
}

func callflowOnly(body string) func(http.ResponseWriter, string, int64) {
	return func(w http.ResponseWriter, typ string, _ int64) {
		if typ == "CALL_ACTION" {
			fmt.Fprint(w, body)
		} else {
			fmt.Fprint(w, "{}")
		}
	}
}

func TestErrorAccounting(t *testing.T) {
	t.Parallel()
	const calls = 6
	fallback := `{"callflow":[{"action":"say","params":{"text":"` + FallbackText + `. Please call again later.","voiceProfile":"en-US-BenjaminRUS"}},{"action":"hangup"}]}`
	for _, tc := range []struct {
		name       string
		reply      func(http.ResponseWriter, string, int64)
		duplicates float64
		timeout    time.Duration
		// Per call: the events sent and the errors expected. A call whose
		// CALL_ACTION fails ends at once (CALL_RECEIVED, CALL_DISCONNECTED,
		// SESSION_SUMMARY); one answered with a hangup has CALL_CONNECTED too.
		events  int
		want    map[string]int
		outcome string
	}{
		{"http 500", func(w http.ResponseWriter, _ string, _ int64) { http.Error(w, "boom", 500) },
			0, 0, 3, map[string]int{"http_500": 3}, OutcomeFailed},
		{"http 400 on actions only", func(w http.ResponseWriter, typ string, _ int64) {
			if typ == "CALL_ACTION" {
				http.Error(w, `{"error":"no"}`, 400)
			}
		}, 0, 0, 3, map[string]int{"http_400": 1}, OutcomeFailed},
		{"garbage", callflowOnly("<html>oops</html>"), 0, 0, 3, map[string]int{ErrNotCallflow: 1}, OutcomeFailed},
		{"empty callflow", callflowOnly(`{"clientActionId":"x","callflow":[]}`), 0, 0, 3, map[string]int{ErrNotCallflow: 1}, OutcomeFailed},
		{"fallback", callflowOnly(fallback), 0, 0, 4, map[string]int{ErrFallback: 1}, OutcomeAppHungUp},
		{"slow", func(w http.ResponseWriter, _ string, _ int64) {
			time.Sleep(400 * time.Millisecond)
			fmt.Fprint(w, "{}")
		},
			0, 100 * time.Millisecond, 3, map[string]int{ErrTimeout: 3}, OutcomeFailed},
		{"replies that change", func(w http.ResponseWriter, _ string, n int64) {
			// Every event is sent twice, and every reply differs.
			fmt.Fprintf(w, `{"clientActionId":"menu%d","callflow":[{"action":"say","params":{"text":"hi"}},{"action":"hangup"}]}`, n)
		}, 1, 0, 8, map[string]int{ErrDuplicateMismatch: 4}, OutcomeAppHungUp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := Run(t.Context(), Options{URL: fake(t, tc.reply), Calls: calls, Concurrency: 3,
				Duplicates: tc.duplicates, Timeout: tc.timeout, Paths: [][]string{{"1"}}})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{}
			for k, v := range tc.want {
				want[k] = v * calls
			}
			if !reflect.DeepEqual(r.Errors, want) {
				t.Errorf("errors %v, want %v", r.Errors, want)
			}
			if r.Calls != calls || r.CallsFailed != calls || r.Outcomes[tc.outcome] != calls {
				t.Errorf("%d calls, %d failed, outcomes %v; want %d calls, all failed, all %s", r.Calls, r.CallsFailed, r.Outcomes, calls, tc.outcome)
			}
			if r.Events != calls*tc.events || r.Duplicates != r.Events/2*int(tc.duplicates) {
				t.Errorf("%d events, %d duplicates; want %d events", r.Events, r.Duplicates, calls*tc.events)
			}
		})
	}
}

// TestTransportErrors: a server that drops every connection.
func TestTransportErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 64))
			c.Close()
		}
	}()
	r, err := Run(t.Context(), Options{URL: "http://" + ln.Addr().String() + "/webhooks", Calls: 4, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{ErrTransport: 12}; !reflect.DeepEqual(r.Errors, want) || r.CallsFailed != 4 {
		t.Errorf("errors %v, %d calls failed; want %v, 4", r.Errors, r.CallsFailed, want)
	}
}

// TestWalk follows the menus the replies name: a fake restaurant that knows
// where each key leads, checked against the clientActionId echoed and the
// digits at payload.eventData.dtmf.
func TestWalk(t *testing.T) {
	t.Parallel()
	menu := func(id string) string {
		return `{"clientActionId":"` + id + `","callflow":[{"action":"sayAndCapture","params":{"promptMessage":"?","maxDigits":1}}]}`
	}
	next := map[string]string{ // at menu + key → reply
		"|":                  menu("main_menu"),
		"main_menu|1":        menu("reservations"),
		"reservations|2":     menu("reschedule_table"),
		"reservations|":      `{"clientActionId":"bye","callflow":[{"action":"say","params":{"text":"No key"}}]}`, // nothing to wait for: 8x8 asks again
		"bye|":               `{"callflow":[{"action":"hangup"}]}`,
		"main_menu|2":        `{"clientActionId":"post_call","callflow":[{"action":"makeCall","params":{"source":"+1","destination":"+2"}}]}`,
		"post_call|":         `{"callflow":[{"action":"say","params":{"text":"bye"}},{"action":"hangup"}]}`,
		"reschedule_table|2": `{"callflow":[{"action":"hangup"}]}`,
	}
	var summaries, statuses atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			EventType string
			Payload   struct {
				CallStatus, ClientActionID, SessionID, EventID string
				EventData                                      *struct{ Dtmf string }
			}
		}
		json.NewDecoder(r.Body).Decode(&ev)
		p := ev.Payload
		switch ev.EventType {
		case "SESSION_SUMMARY":
			summaries.Add(1)
		case "CALL_STATUS":
			statuses.Add(1)
		case "CALL_ACTION":
			key := p.ClientActionID + "|"
			if p.EventData != nil {
				key += p.EventData.Dtmf
			}
			if p.CallStatus == "CALL_RECEIVED" && key != "|" || p.SessionID == "" || p.EventID == "" {
				t.Errorf("event %+v", ev)
			}
			body, ok := next[key]
			if !ok {
				t.Errorf("no reply for %q", key)
				body = `{"callflow":[{"action":"hangup"}]}`
			}
			fmt.Fprint(w, body)
			return
		}
		fmt.Fprint(w, "{}")
	}))
	t.Cleanup(srv.Close)
	r, err := Run(t.Context(), Options{URL: srv.URL + "/webhooks/restaurant", Calls: 20, Concurrency: 4,
		Paths: [][]string{{"1", "2", "2"}, {"2"}, {"1", "timeout"}}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.ErrorCount() != 0 || r.Calls != 20 || r.Outcomes[OutcomeAppHungUp] != 20 {
		t.Errorf("errors %v, %d calls, outcomes %v", r.Errors, r.Calls, r.Outcomes)
	}
	if summaries.Load() != 20 || statuses.Load() != 40 {
		t.Errorf("%d summaries and %d CALL_STATUS, want 20 and 40", summaries.Load(), statuses.Load())
	}
	for _, m := range []string{"main_menu", "reservations", "reschedule_table", "post_call", "bye"} {
		if r.Menus[m] == 0 {
			t.Errorf("menus %v: %s never reached", r.Menus, m)
		}
	}
}

func TestPacedAndBounded(t *testing.T) {
	t.Parallel()
	url := startBaseline(t)
	for _, tc := range []struct {
		name  string
		o     Options
		calls [2]int // at least, at most
		lasts [2]time.Duration
	}{
		// 10 calls at 50/s start over 180 ms.
		{"by calls", Options{Calls: 10, Rate: 50}, [2]int{10, 10}, [2]time.Duration{180 * time.Millisecond, 2 * time.Second}},
		// 40 calls/s for 300 ms: about 12.
		{"by duration", Options{Duration: 300 * time.Millisecond, Rate: 40}, [2]int{10, 14}, [2]time.Duration{290 * time.Millisecond, 2 * time.Second}},
		{"flat out by duration", Options{Duration: 200 * time.Millisecond, Concurrency: 4}, [2]int{1, 1 << 30}, [2]time.Duration{190 * time.Millisecond, 2 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := tc.o
			o.URL = url
			r, err := Run(t.Context(), o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Calls < tc.calls[0] || r.Calls > tc.calls[1] || r.Elapsed < tc.lasts[0] || r.Elapsed > tc.lasts[1] || r.ErrorCount() != 0 {
				t.Errorf("%d calls in %v, errors %v; want %v calls in %v", r.Calls, r.Elapsed, r.Errors, tc.calls, tc.lasts)
			}
			if (o.Rate > 0) != (r.StartLag != nil) {
				t.Errorf("rate %v, start lag %v: want a start lag exactly for paced runs", o.Rate, r.StartLag)
			}
		})
	}
}

// TestCancel: cancelling the context ends the run at once, with a report.
func TestCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := Run(ctx, Options{URL: startBaseline(t), Duration: time.Minute, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2*time.Second || r.Calls == 0 {
		t.Errorf("run took %v with %d calls after a cancel at 200 ms", time.Since(start), r.Calls)
	}
}

// Ids are shaped as 8x8's (version 1 UUIDs, one node for the run) and no two
// are alike, however many workers make them at once.
func TestIDsAsEightByEights(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	ids := make(chan string, 8000)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				ids <- newID()
			}
		})
	}
	wg.Wait()
	close(ids)
	seen, node := map[string]bool{}, ""
	for id := range ids {
		if !shape.MatchString(id) || seen[id] {
			t.Fatalf("id %q: not a version 1 UUID, or made twice", id)
		}
		if node == "" {
			node = id[19:]
		}
		if id[19:] != node {
			t.Fatalf("id %q: another clock sequence and node than %s", id, node)
		}
		seen[id] = true
	}
}
