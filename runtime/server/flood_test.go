package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/metrics"
	"github.com/luaivr/luaivr/runtime/server"
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
	var m *metrics.Metrics
	eng, err := engine.New(set, engine.Options{Store: st, Logger: logger, Observe: func(h engine.Handled) { m.Observe(h) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	m = metrics.New(eng, st)
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
		{"at the default limit", "", "luaivr_connections_shed_total"},
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
					t.Fatalf("webhook %d during the flood: %d %s", i, resp.StatusCode, b)
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
			if err != nil {
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

// metric is the value of a counter or gauge without labels in /metrics text.
func metric(t *testing.T, text, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// The connection limits, from several sources on 127.0.0.0/8: a source at
// --max-conns-per-ip gets no more connections while its own are busy, and
// others are served; idle connections are closed to make room, per source and
// in total; when all are busy the new connection is refused; trusted proxies
// have no per-source limit.
func TestConnLimits(t *testing.T) {
	t.Parallel()
	loopback, _ := server.ParseNets("127.0.0.0/8")
	tests := []struct {
		name     string
		opts     server.Options
		busy     []string // sources of connections that sent half a request
		idle     []string // sources of connections that sent nothing
		webhook  string   // source of the webhook sent then
		answered bool
		refused  func(*server.ConnStats) int64 // must be 1 after the webhook, if not answered
		shed     int64
	}{
		{"busy source at its limit", server.Options{MaxConnsPerIP: 3}, []string{"127.0.0.1", "127.0.0.1", "127.0.0.1"}, nil,
			"127.0.0.1", false, func(c *server.ConnStats) int64 { return c.RefusedMaxPerIP.Load() }, 0},
		{"other source beside a busy one", server.Options{MaxConnsPerIP: 3}, []string{"127.0.0.1", "127.0.0.1", "127.0.0.1"}, nil,
			"127.0.0.2", true, nil, 0},
		{"idle source at its limit", server.Options{MaxConnsPerIP: 3}, nil, []string{"127.0.0.1", "127.0.0.1", "127.0.0.1"},
			"127.0.0.1", true, nil, 1},
		{"all idle at the total", server.Options{MaxConns: 4}, []string{"127.0.0.1"}, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"},
			"127.0.0.5", true, nil, 1},
		{"all busy at the total", server.Options{MaxConns: 4}, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"}, nil,
			"127.0.0.5", false, func(c *server.ConnStats) int64 { return c.RefusedMaxConns.Load() }, 0},
		{"trusted proxy", server.Options{MaxConnsPerIP: 3, Guard: server.Guard{TrustProxy: loopback}}, []string{"127.0.0.1", "127.0.0.1", "127.0.0.1"}, nil,
			"127.0.0.1", true, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.ReadTimeout = time.Minute // busy connections stay busy
			r := start(t, "../../scripts", t.TempDir(), tt.opts)
			addr := strings.TrimPrefix(r.url, "http://")
			conns := r.srv.Conns()
			for _, from := range tt.busy {
				c := dialFrom(t, from, addr)
				if _, err := io.WriteString(c, "POST /webhooks HTTP/1.1\r\nHost: x\r\n"); err != nil {
					t.Fatal(err)
				}
			}
			for _, from := range tt.idle {
				dialFrom(t, from, addr)
			}
			waitFor(t, "connections held and idle", func() bool {
				return conns.Open.Load() == int64(len(tt.busy)+len(tt.idle)) && conns.Idle.Load() == int64(len(tt.idle))
			})
			code, err := postFrom(tt.webhook, r.url+"/webhooks/restaurant", vca("limits-1", "e1", "1"))
			if tt.answered && (err != nil || code != 200) {
				t.Fatalf("webhook from %s: %d %v", tt.webhook, code, err)
			}
			if !tt.answered {
				if err == nil {
					t.Fatalf("webhook from %s answered %d: want the connection refused", tt.webhook, code)
				}
				if n := tt.refused(conns); n != 1 {
					t.Fatalf("refused counted %d times, want 1", n)
				}
			}
			if n := conns.Shed.Load(); n != tt.shed {
				t.Fatalf("%d idle connections closed, want %d", n, tt.shed)
			}
		})
	}
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
