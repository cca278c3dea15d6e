package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/metrics"
	"github.com/luaivr/luaivr/runtime/server"
	httpmod "github.com/luaivr/luaivr/stdlib/http"
	"github.com/luaivr/luaivr/store/badgerstore"
)

// The test binary doubles as a server process: with LUAIVR_FLOOD_CHILD set it
// serves instead of testing, under the open-file limit the variable names, so
// that running out of file descriptors hits it and not the tests.
func TestMain(m *testing.M) {
	if v := os.Getenv("LUAIVR_FLOOD_CHILD"); v != "" {
		os.Exit(floodChild(v))
	}
	os.Exit(m.Run())
}

// floodChild serves ../../scripts on 127.0.0.1 with at most `files` open
// files, prints its address, and stops when its stdin closes.
func floodChild(files string) int {
	n, err := strconv.ParseUint(files, 10, 64)
	if err == nil {
		err = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open-file limit:", err)
		return 2
	}
	set, errs := engine.Load("../../scripts")
	st, err := badgerstore.Open(badgerstore.Options{Dir: os.Getenv("LUAIVR_FLOOD_DATA")})
	if len(errs) > 0 || err != nil {
		fmt.Fprintln(os.Stderr, "child:", errs, err)
		return 2
	}
	defer st.Close()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	eng, err := engine.New(set, engine.Options{Store: st, Logger: logger, Deadline: 2 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	m := metrics.New(eng, st)
	maxConns, _ := strconv.Atoi(os.Getenv("LUAIVR_FLOOD_MAX_CONNS"))
	srv := server.New(server.Options{Engine: eng, Logger: logger, Metrics: m, MaxConns: maxConns})
	m.CountConns(srv.Conns())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	fmt.Println("listening", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); ln.Close() }()
	if err := <-served; err != nil {
		fmt.Fprintln(os.Stderr, "child: Serve returned:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return 0
}

// A flood of connections that send nothing, more than the process has file
// descriptors, does not stop the server: webhooks on new connections are
// answered during the flood, at the default connection limit (idle
// connections are closed to make room) and past the file limit (accept fails
// with EMFILE, and is retried).
func TestFloodBeyondFileLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, maxConns string
		counter        string // what the server must have done
	}{
		{"at the default limit", "", `luaivr_connections_shed_total{state="idle"}`},
		{"past the file limit", "100000", "luaivr_accept_errors_total"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := floodServer(t, "256", tt.maxConns)
			addr := strings.TrimPrefix(url, "http://")
			var flood []net.Conn
			defer func() {
				for _, c := range flood {
					c.Close()
				}
			}()
			for i := 0; i < 600; i++ { // sent nothing: the webhook guard never sees them
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				flood = append(flood, c)
			}
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 60 * time.Second}
			for i := 0; i < 3; i++ {
				resp, err := client.Post(url+"/webhooks/restaurant", "application/json", strings.NewReader(string(vca(fmt.Sprint("flood-", i), "e1", "1"))))
				if err != nil {
					t.Fatalf("webhook %d during the flood: %v", i, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || clientActionID(t, b) != "reservations" {
					t.Fatalf("webhook %d during the flood: %d %s (the server's log is printed when it stops)", i, resp.StatusCode, b)
				}
			}
			resp, err := client.Get(url + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			text, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if n := metric(t, string(text), tt.counter); n == 0 {
				t.Fatalf("%s is 0: the flood did not reach the limit it is meant to test", tt.counter)
			}
		})
	}
}

// floodServer starts floodChild with an open-file limit and --max-conns ("":
// the default), and returns its URL.
func floodServer(t *testing.T, files, maxConns string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LUAIVR_FLOOD_CHILD="+files, "LUAIVR_FLOOD_DATA="+t.TempDir(), "LUAIVR_FLOOD_MAX_CONNS="+maxConns)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		stdin.Close() // the child stops serving
		select {
		case err := <-exited:
			if err != nil || t.Failed() {
				t.Errorf("server process: %v\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("server process did not stop within 30s of its stdin closing\n%s", stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, stdout); exited <- cmd.Wait() }()
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		t.Fatalf("server process did not start: %q %v\n%s", line, err, stderr.String())
	}
	return "http://" + addr
}

// metric is the value of a series in /metrics text, named with its labels.
func metric(t *testing.T, text, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// The connection limits, from several sources on 127.0.0.0/8. At a limit, a
// new connection closes the one that waited longest on its client, idle ones
// before those still sending a request; when every connection is being
// answered, the new one is refused, and other sources are still served.
// Trusted proxies have no per-source limit.
func TestConnLimits(t *testing.T) {
	t.Parallel()
	loopback, _ := server.ParseNets("127.0.0.0/8")
	perIP := server.Options{MaxConnsPerIP: 3}
	total := server.Options{MaxConns: 4}
	one := []string{"127.0.0.1", "127.0.0.1", "127.0.0.1"}
	four := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"}
	type conns = server.ConnStats
	tests := []struct {
		name                   string
		opts                   server.Options
		idle, reading, handled []string // sources of connections that sent nothing, half a request, a request held in its handler
		webhook                string   // source of the webhook sent then
		count                  func(*conns) int64
		want                   int64 // of count, after the webhook
		answered               bool
	}{
		{"per source: idle ones make room", perIP, one, nil, nil, "127.0.0.1", func(c *conns) int64 { return c.ShedIdle.Load() }, 1, true},
		{"per source: slow ones make room", perIP, nil, one, nil, "127.0.0.1", func(c *conns) int64 { return c.ShedReading.Load() }, 1, true},
		{"per source: all being answered", perIP, nil, nil, one, "127.0.0.1", func(c *conns) int64 { return c.RefusedMaxPerIP.Load() }, 1, false},
		{"per source: another source", perIP, nil, nil, one, "127.0.0.2", func(c *conns) int64 { return c.RefusedMaxPerIP.Load() }, 0, true},
		{"in total: idle before slow", total, four[2:], four[:2], nil, "127.0.0.5", func(c *conns) int64 { return c.ShedIdle.Load()*10 + c.ShedReading.Load() }, 10, true},
		{"in total: all being answered", total, nil, nil, four, "127.0.0.5", func(c *conns) int64 { return c.RefusedMaxConns.Load() }, 1, false},
		{"trusted proxy", server.Options{MaxConnsPerIP: 3, Guard: server.Guard{TrustProxy: loopback}}, nil, nil, one, "127.0.0.1", func(c *conns) int64 { return c.RefusedMaxPerIP.Load() }, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, held := startHolding(t, tt.opts)
			addr := strings.TrimPrefix(r.url, "http://")
			for _, from := range tt.handled {
				c := dialFrom(t, from, addr)
				body := vca(fmt.Sprint("held-", from, "-", time.Now().UnixNano()), "e1", "9")
				fmt.Fprintf(c, "POST /webhooks/hold HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			}
			for _, from := range tt.reading {
				fmt.Fprint(dialFrom(t, from, addr), "POST /webhooks HTTP/1.1\r\nHost: x\r\n")
			}
			for _, from := range tt.idle {
				dialFrom(t, from, addr)
			}
			conns := r.srv.Conns()
			waitFor(t, "the connections in place", func() bool {
				return conns.Open.Load() == int64(len(tt.idle)+len(tt.reading)+len(tt.handled)) &&
					conns.Idle.Load() == int64(len(tt.idle)) && conns.Reading.Load() == int64(len(tt.reading)) &&
					held.Load() == int64(len(tt.handled))
			})
			code, err := postFrom(tt.webhook, r.url+"/webhooks/hold", vca("limits-1", "e1", "1"))
			if tt.answered && (err != nil || code != 200) {
				t.Fatalf("webhook from %s: %d %v", tt.webhook, code, err)
			}
			if !tt.answered && err == nil {
				t.Fatalf("webhook from %s answered %d: want the connection refused", tt.webhook, code)
			}
			if n := tt.count(conns); n != tt.want {
				t.Fatalf("counted %d, want %d (%+v)", n, tt.want, conns)
			}
		})
	}
}

// startHolding serves the app hold: keys 9 hold the event in its handler (on
// an http call that the test lets go when it ends); other keys are answered at
// once. held counts the events being held.
func startHolding(t *testing.T, opts server.Options) (*running, *atomic.Int64) {
	t.Helper()
	held, release := new(atomic.Int64), make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		held.Add(1)
		<-release
	}))
	t.Cleanup(backend.Close)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hold.lua"), []byte(`
function on_dtmf(session, digits)
  if digits == "9" then http.get("`+backend.URL+`/", { timeout = 60 }) end
  return ivr.hangup()
end`), 0o644); err != nil {
		t.Fatal(err)
	}
	opts.ReadTimeout = time.Minute // slow clients stay where the test put them
	r := start(t, dir, t.TempDir(), opts, func(o *engine.Options) {
		o.Deadline = time.Minute
		o.HTTP = httpmod.Options{Allow: []string{strings.TrimPrefix(backend.URL, "http://")}, Timeout: time.Minute}
	})
	t.Cleanup(func() { close(release) }) // before the server stops: cleanups run last first
	return r, held
}

// dialFrom opens a connection from a source address; the test closes it.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// postFrom posts on a new connection from a source address.
func postFrom(from, url string, body []byte) (int, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	resp, err := client.Post(url, "application/json", strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return resp.StatusCode, err
}

// waitFor polls cond until it holds, for at most a generous while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i == 10000 {
			t.Fatalf("waited in vain for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
