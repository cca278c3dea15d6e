package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/metrics"
	"github.com/luaivr/luaivr/runtime/server"
	httpmod "github.com/luaivr/luaivr/stdlib/http"
	"github.com/luaivr/luaivr/store/badgerstore"
)

// running is a server on 127.0.0.1 with Badger in a folder, as `luaivr serve` runs.
type running struct {
	url  string
	srv  *server.Server
	eng  *engine.Engine
	st   *badgerstore.Store
	done chan error
}

func (r *running) eventsSeen() int64 { return r.eng.Stats().Events.Load() }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// start runs a server with metrics; engOpts change the engine's options.
func start(t *testing.T, scripts, data string, opts server.Options, engOpts ...func(*engine.Options)) *running {
	t.Helper()
	set, errs := engine.Load(scripts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st, err := badgerstore.Open(badgerstore.Options{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = discard
	}
	eo := engine.Options{Store: st, Logger: opts.Logger, Deadline: 2 * time.Second}
	for _, change := range engOpts {
		change(&eo)
	}
	opts.Engine, err = engine.New(set, eo)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(opts.Engine, eo.Store)
	opts.Metrics = m
	srv := server.New(opts)
	m.CountConns(srv.Conns())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &running{url: "http://" + ln.Addr().String(), srv: srv, eng: opts.Engine, st: st, done: make(chan error, 1)}
	go func() { r.done <- srv.Serve(ln) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.srv == nil {
		return
	}
	// Room for the connections in flight to finish on two cores busy with the
	// rest of the suite under -race (5 s was not, once).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	if err := <-r.done; err != nil {
		t.Error(err)
	}
	if err := r.st.Close(); err != nil {
		t.Error(err)
	}
	r.srv = nil
}

func (r *running) post(t *testing.T, path string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(r.url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return resp.StatusCode, b
}

const fixtures = "../webhook/testdata/8x8" // a copy of shared/fixtures/8x8

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func vca(session, eventID, digits string) []byte {
	p := map[string]any{"eventId": eventID, "sessionId": session, "callStatus": "ACTION_COMPLETED",
		"callDirection": "INBOUND", "source": "+6591178965", "destination": "+6568332048"}
	if digits != "" {
		p["eventData"] = map[string]any{"dtmf": digits}
	}
	b, _ := json.Marshal(map[string]any{"eventType": "CALL_ACTION", "payload": p})
	return b
}

func clientActionID(t *testing.T, reply []byte) string {
	t.Helper()
	var r struct {
		ClientActionID string `json:"clientActionId"`
		Callflow       []any  `json:"callflow"`
	}
	if err := json.Unmarshal(reply, &r); err != nil || len(r.Callflow) == 0 {
		t.Fatalf("not a callflow reply: %s", reply)
	}
	return r.ClientActionID
}

// Every fixture webhook is accepted with 200; CALL_ACTIONs get a callflow.
func TestFixturesOverHTTP(t *testing.T) {
	t.Parallel()
	r := start(t, "../../scripts", t.TempDir(), server.Options{})
	entries, err := os.ReadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "vca_") && !strings.HasPrefix(e.Name(), "vss_") &&
			!strings.HasPrefix(e.Name(), "vru_") && !strings.HasPrefix(e.Name(), "call_status_") {
			continue
		}
		if strings.HasPrefix(e.Name(), "vca_response_") || strings.Contains(e.Name(), "fragment") {
			continue // replies and fragments, not webhooks
		}
		n++
		code, body := r.post(t, "/webhooks/restaurant", fixture(t, e.Name()))
		if code != http.StatusOK {
			t.Errorf("%s: %d %s", e.Name(), code, body)
		}
		if strings.HasPrefix(e.Name(), "vca_") {
			clientActionID(t, body)
		}
	}
	if n < 10 {
		t.Fatalf("only %d webhook fixtures found", n)
	}
}

// Bad requests get a 4xx with a JSON body that says what is wrong; never a 5xx.
func TestBadRequests(t *testing.T) {
	t.Parallel()
	r := start(t, "../../scripts", t.TempDir(), server.Options{MaxBodySize: 4096})
	tests := []struct {
		name, method, path string
		body               []byte
		code               int
		says               string
	}{
		{"not JSON", "POST", "/webhooks", []byte("hello"), 400, "not a JSON object"},
		{"no session", "POST", "/webhooks", []byte(`{"eventType":"CALL_ACTION","payload":{}}`), 400, "sessionId is missing"},
		{"wrong type", "POST", "/webhooks", []byte(`{"eventType":"CALL_ACTION","payload":{"sessionId":5.5}}`), 400, "payload.sessionId must be a string"},
		{"not UTF-8", "POST", "/webhooks", []byte("{\"eventType\":\"CALL_ACTION\",\"payload\":{\"sessionId\":\"\xff\"}}"), 400, "UTF-8"},
		{"too large", "POST", "/webhooks", bytes.Repeat([]byte("x"), 5000), 413, "over the limit"},
		{"GET webhooks", "GET", "/webhooks", nil, 405, "POST"},
		{"HEAD webhooks", "OPTIONS", "/webhooks/restaurant", nil, 405, "POST"},
		{"bad app name", "POST", "/webhooks/a%3Cb", vca("s1", "e1", "1"), 404, "no such app"},
		{"unknown path", "POST", "/nope", nil, 404, "/webhooks"},
		{"healthz POST", "POST", "/healthz", nil, 405, "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, r.url+tt.path, bytes.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var msg struct{ Error string }
			if resp.StatusCode != tt.code || json.Unmarshal(b, &msg) != nil || !strings.Contains(msg.Error, tt.says) {
				t.Fatalf("%d %s; want %d with an error mentioning %q", resp.StatusCode, b, tt.code, tt.says)
			}
			if tt.code == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
}

// A webhook naming an app that does not exist is still answered: the caller
// gets the right app through the number, or the fallback.
func TestUnknownAppInURL(t *testing.T) {
	t.Parallel()
	r := start(t, "../../scripts", t.TempDir(), server.Options{})
	code, body := r.post(t, "/webhooks/nosuchapp", fixture(t, "vca_call_received_inbound__docs_number_masking.json"))
	if code != 200 || !strings.Contains(string(body), "We are sorry") {
		t.Fatalf("%d %s", code, body)
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	r := start(t, "../../scripts", t.TempDir(), server.Options{})
	resp, err := http.Get(r.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"apps":["restaurant","simple_ivr"]`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// A restart in the middle of a call keeps the caller's place in the menu tree,
// even when 8x8 does not echo the clientActionId.
func TestRestartKeepsPlace(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	r := start(t, "../../scripts", data, server.Options{})
	_, body := r.post(t, "/webhooks/restaurant", vca("call-1", "e1", "1"))
	if got := clientActionID(t, body); got != "reservations" {
		t.Fatalf("first reply at %q", got)
	}
	r.stop(t)

	r = start(t, "../../scripts", data, server.Options{})
	// The same event again (8x8 retrying across the restart): same answer.
	_, again := r.post(t, "/webhooks", vca("call-1", "e1", "1"))
	if !bytes.Equal(again, body) {
		t.Fatalf("redelivery after restart: %s, want %s", again, body)
	}
	_, body = r.post(t, "/webhooks", vca("call-1", "e2", "2"))
	if got := clientActionID(t, body); got != "reschedule_table" {
		t.Fatalf("after restart the caller is at %q, want reschedule_table", got)
	}
}

// Shutdown lets the event in flight finish and answer with the script's own
// reply, not the fallback: the script is still waiting (on an http call the
// test holds) when the server stops accepting connections, and only then is
// it let go.
func TestShutdownFinishesInFlight(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	host := strings.TrimPrefix(backend.URL, "http://")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "slow.lua"), []byte(`
function on_dtmf(session, digits)
  local res, err = http.get("`+backend.URL+`/", { timeout = 20 })
  if not res then error(err) end
  return { ivr.say { text = "Answered by the script after the shutdown began.", voiceProfile = "en-US-BenjaminRUS" }, ivr.hangup() }
end`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, dir, t.TempDir(), server.Options{}, func(o *engine.Options) {
		o.Deadline = 30 * time.Second
		o.HTTP = httpmod.Options{Allow: []string{host}, Timeout: 30 * time.Second}
	})
	type answer struct {
		code int
		body []byte
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Post(r.url+"/webhooks/slow", "application/json", bytes.NewReader(vca("slow-1", "e1", "1")))
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- answer{code: resp.StatusCode, body: b}
	}()
	<-arrived // the script is running
	stopped := make(chan struct{})
	go func() { r.stop(t); close(stopped) }()
	addr := strings.TrimPrefix(r.url, "http://")
	for i := 0; ; i++ { // wait until the server accepts no more connections
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		if i == 5000 {
			t.Fatal("the server still accepts connections after Shutdown")
		}
		time.Sleep(2 * time.Millisecond)
	}
	close(release)
	a := <-got
	<-stopped
	if a.err != nil || a.code != 200 || !strings.Contains(string(a.body), "Answered by the script after the shutdown began.") {
		t.Fatalf("in-flight request got %d %s %v; want the script's reply", a.code, a.body, a.err)
	}
}

// Many sessions at once over HTTP: every reply is a valid callflow.
func TestConcurrentCalls(t *testing.T) {
	t.Parallel()
	r := start(t, "../../scripts", t.TempDir(), server.Options{})
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := fmt.Sprintf("conc-%d", i)
			for j, keys := range []string{"1", "1", "2"} {
				resp, err := http.Post(r.url+"/webhooks/restaurant", "application/json", bytes.NewReader(vca(s, fmt.Sprint(j), keys)))
				if err != nil {
					errs <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.Contains(b, []byte("callflow")) {
					errs <- fmt.Sprintf("%s step %d: %d %s", s, j, resp.StatusCode, b)
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestMetricsAndReadiness(t *testing.T) {
	t.Parallel()
	set, errs := engine.Load("../../scripts")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st, err := badgerstore.Open(badgerstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(set, engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(eng, st)
	srv := server.New(server.Options{Engine: eng, Metrics: m, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	url := "http://" + ln.Addr().String()
	get := func(path string) (int, string) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	for i, body := range [][]byte{vca("m-1", "e1", "1"), vca("m-1", "e1", "1"), vca("m-2", "e1", "")} {
		if resp, err := http.Post(url+"/webhooks/restaurant", "application/json", bytes.NewReader(body)); err != nil || resp.StatusCode != 200 {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	code, text := get("/metrics")
	for _, want := range []string{
		`luaivr_events_total{outcome="ok",type="CALL_ACTION"} 2`,
		`luaivr_dedupe_hits_total 1`,
		`luaivr_handler_seconds_count{app="restaurant"} 2`,
		`luaivr_calls_total{phase="started"} 2`,
		`luaivr_store_bytes`, `go_goroutines`, `process_resident_memory_bytes`,
	} {
		if code != 200 || !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	st.Close()
	if code, body := get("/readyz"); code != 503 || body != `{"status":"not ready"}` {
		t.Fatalf("readyz after the store closed: %d %s", code, body)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"not_ready":"`) || !strings.Contains(body, "closed") {
		t.Fatalf("healthz does not say why the server is not ready: %d %s", code, body)
	}
}
