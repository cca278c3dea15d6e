// Package redistest starts real redis-server processes for tests: one on a
// free loopback port in a temporary folder, a Sentinel watching one, or a
// Cluster of three masters, each stopped when its test ends.
//
// A test that needs Redis skips when redis-server is not installed, unless
// LUAIVR_REQUIRE_REDIS is set (.ci/run sets it): then it fails.
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to answer, and a Cluster to
// agree on its slots.
const startTimeout = 15 * time.Second

// Server is one redis-server process, with AOF (everysec) in its own
// temporary folder.
type Server struct {
	Addr string // 127.0.0.1:port
	dir  string
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error // the running process's exit, nil while stopped
}

// Need skips t (or fails it, with LUAIVR_REQUIRE_REDIS set) when
// redis-server cannot be found.
func Need(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("LUAIVR_REQUIRE_REDIS") != "" {
			t.Fatal("redis-server not found and LUAIVR_REQUIRE_REDIS is set: install it (apt-get install -y redis-server)")
		}
		t.Skip("redis-server not found (apt-get install -y redis-server); LUAIVR_REQUIRE_REDIS=1 makes this a failure")
	}
}

// Start starts a redis-server on a free loopback port and stops it when t
// ends. extra are more redis-server arguments.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	Need(t)
	dir := t.TempDir()
	var err error
	for range 5 { // a free port may be taken by someone else before the server binds it
		port := freePort(t)
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir,
			args: append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
				"--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "no",
				"--logfile", filepath.Join(dir, "redis.log")}, extra...)}
		if err = s.Restart(); err == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("redistest: %v", err)
	return nil
}

// URL is redis://Addr.
func (s *Server) URL() string { return "redis://" + s.Addr }

// Restart starts the server again after Stop or Kill, on the same port and
// data folder (what its AOF holds comes back), and waits until it answers.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exited != nil {
		return fmt.Errorf("redis-server at %s is running", s.Addr)
	}
	cmd := exec.Command("redis-server", s.args...)
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(startTimeout)
	for Ping(s.Addr) != nil {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server on %s exited (%v): %s", s.Addr, err, tail(string(log), 5))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server on %s did not answer within %v", s.Addr, startTimeout)
		}
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

// Stop stops the server (SIGTERM: it writes its AOF and exits); SIGKILL if
// it has not exited after a few seconds. Stopping a stopped server does
// nothing.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill stops the server with SIGKILL: what the AOF did not yet fsync is lost.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exited == nil {
		return
	}
	s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd, s.exited = nil, nil
}

// Pause stops the server's process without ending it (SIGSTOP): connections
// stay open and nothing answers, as with a stalled server. Resume undoes it.
func (s *Server) Pause()  { s.cmd.Process.Signal(syscall.SIGSTOP) }
func (s *Server) Resume() { s.cmd.Process.Signal(syscall.SIGCONT) }

// StartSentinel starts a Sentinel on a free loopback port watching master
// as the master set "mymaster", and stops it when t ends.
func StartSentinel(t testing.TB, master *Server) *Server {
	t.Helper()
	Need(t)
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(master.Addr)
	var err error
	for range 5 {
		p := freePort(t)
		conf := filepath.Join(dir, "sentinel.conf") // Sentinel rewrites it
		if err = os.WriteFile(conf, fmt.Appendf(nil, "port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\nsentinel monitor mymaster %s %s 1\n",
			p, dir, filepath.Join(dir, "redis.log"), host, port), 0o644); err != nil {
			t.Fatal(err)
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), dir: dir, args: []string{conf, "--sentinel"}}
		if err = s.Restart(); err == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("redistest: %v", err)
	return nil
}

// Cluster is a Redis Cluster of three masters on loopback, without replicas.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts three cluster-enabled servers, joins them with
// redis-cli --cluster create, waits until each reports cluster_state:ok, and
// stops them when t ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	Need(t)
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatal("redis-cli not found: it comes with redis-server (apt-get install -y redis-server)")
	}
	c := &Cluster{}
	var addrs []string
	for range 3 {
		n := Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000")
		c.Nodes = append(c.Nodes, n)
		addrs = append(addrs, n.Addr)
	}
	out, err := exec.Command("redis-cli", append(append([]string{"--cluster", "create"}, addrs...),
		"--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, n := range c.Nodes {
		for !strings.Contains(command(n.Addr, "CLUSTER INFO"), "cluster_state:ok") {
			if time.Now().After(deadline) {
				t.Fatalf("the cluster on %v did not reach cluster_state:ok within %v", addrs, startTimeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

// URL is the store URL of the cluster: all three nodes as seeds.
func (c *Cluster) URL() string {
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Addr)
	}
	return "redis://" + strings.Join(addrs, ",") + "?cluster=1"
}

// Ping is nil when the server at addr answers PING (NOAUTH from a server
// with a password counts).
func Ping(addr string) error {
	if got := command(addr, "PING"); got != "+PONG" && !strings.HasPrefix(got, "-NOAUTH") {
		return fmt.Errorf("PING at %s: %q", addr, got)
	}
	return nil
}

// command sends one inline command and returns its reply's first line, or
// the whole of a bulk string ("" on any error).
func command(addr, line string) string {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte(line + "\r\n")); err != nil {
		return ""
	}
	r := bufio.NewReader(conn)
	first, err := r.ReadString('\n')
	if err != nil {
		return ""
	}
	first = strings.TrimRight(first, "\r\n")
	if n, err := strconv.Atoi(strings.TrimPrefix(first, "$")); err == nil && strings.HasPrefix(first, "$") && n >= 0 {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return ""
		}
		return string(b)
	}
	return first
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Monitor records the commands clients send the server (MONITOR's lines),
// without those scripts run inside it, PINGs, and what a client sends as it
// opens a connection (HELLO, CLIENT, SELECT, AUTH), until the returned
// stop, which gives them.
func (s *Server) Monitor(t testing.TB) (stop func() []string) {
	conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		t.Fatalf("MONITOR at %s: %v", s.Addr, err)
	}
	r := bufio.NewReader(conn)
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := r.ReadString('\n'); !strings.HasPrefix(ok, "+OK") {
		t.Fatalf("MONITOR at %s answered %q", s.Addr, ok)
	}
	return func() []string {
		defer conn.Close()
		// A command of our own marks the end: every command sent before it
		// is on a line before its own.
		const end = "luaivr-monitor-end"
		command(s.Addr, "ECHO "+end)
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		var lines []string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("MONITOR at %s: %v", s.Addr, err)
			}
			switch {
			case strings.Contains(line, end):
				return lines
			case strings.Contains(line, " lua] "), connecting(line):
			default:
				lines = append(lines, strings.TrimSpace(line))
			}
		}
	}
}

// connecting reports a MONITOR line of a PING or of what opens a connection.
func connecting(line string) bool {
	_, cmd, _ := strings.Cut(line, `] "`)
	name, _, _ := strings.Cut(strings.ToUpper(cmd), `"`)
	switch name {
	case "PING", "HELLO", "CLIENT", "SELECT", "AUTH":
		return true
	}
	return false
}
