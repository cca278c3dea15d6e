package command_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/luaivr/luaivr/runtime/logtest"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/luaivr/luaivr/cmd/luaivr/command"
)

// The test binary doubles as luaivr: with LUAIVR_TEST_MAIN set it runs the
// command line instead of the tests, so serve is tested as a real process.
func TestMain(m *testing.M) {
	if os.Getenv("LUAIVR_TEST_MAIN") != "" {
		os.Exit(command.Main(append([]string{"luaivr"}, os.Args[1:]...)))
	}
	os.Exit(m.Run())
}

type proc struct {
	cmd    *exec.Cmd
	url    string
	stderr *logtest.Buffer
}

// serve starts `luaivr serve` configured through LUAIVR_* variables and waits
// for it to listen.
func serve(t *testing.T, data string, extra ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve")
	// A deadline far above the shipped apps' needs: these tests are about
	// the server, and the race detector on two busy cores slows every script.
	cmd.Env = append(os.Environ(), "LUAIVR_TEST_MAIN=1", "LUAIVR_ADDR=127.0.0.1:0", "LUAIVR_DEADLINE=2s",
		"LUAIVR_SCRIPTS=../../../scripts", "LUAIVR_DATA="+data, "LUAIVR_LOG_FORMAT=json")
	cmd.Env = append(cmd.Env, extra...)
	return start(t, cmd)
}

// start starts a serve command and waits for it to listen. Its log is kept
// in stderr, read to the end so that serve never blocks on it.
func start(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: &logtest.Buffer{}}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.Write([]byte(line + "\n"))
			var l struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "luaivr serving" {
				found <- l.Addr
			}
		}
		close(found)
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			t.Fatalf("serve exited before listening:\n%s", p.stderr)
		}
		p.url = "http://" + addr
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start listening within 20s")
	}
	return p
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15s of SIGTERM")
	}
}

func (p *proc) post(t *testing.T, path, body string) string {
	t.Helper()
	resp, err := http.Post(p.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	return string(b)
}

func vca(session, event, status, digits string) string {
	d := ""
	if digits != "" {
		d = fmt.Sprintf(`,"eventData":{"dtmf":%q}`, digits)
	}
	return fmt.Sprintf(`{"eventType":"CALL_ACTION","payload":{"sessionId":%q,"eventId":%q,"callStatus":%q,"callDirection":"INBOUND"%s}}`,
		session, event, status, d)
}

// A call survives a graceful restart of the server: the caller's next key
// lands in the menu they were in.
func TestServeRestartMidCall(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := serve(t, data)
	if got := p.post(t, "/webhooks/restaurant", vca("c1", "e1", "CALL_RECEIVED", "")); !strings.Contains(got, `"clientActionId":"main_menu"`) {
		t.Fatalf("first reply %s", got)
	}
	if got := p.post(t, "/webhooks", vca("c1", "e2", "ACTION_COMPLETED", "1")); !strings.Contains(got, `"clientActionId":"reservations"`) {
		t.Fatalf("second reply %s", got)
	}
	resp, err := http.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `luaivr_events_total{outcome="ok",type="CALL_ACTION"} 2`) {
		t.Fatalf("/metrics: %d\n%.400s", resp.StatusCode, b)
	}
	p.stop(t)
	if !strings.Contains(p.stderr.String(), "shutting down") {
		t.Errorf("no shutdown line in the log:\n%s", p.stderr)
	}

	p = serve(t, data)
	if got := p.post(t, "/webhooks", vca("c1", "e3", "ACTION_COMPLETED", "1")); !strings.Contains(got, `"clientActionId":"book_table"`) {
		t.Fatalf("after restart: %s", got)
	}
	p.stop(t)
}

// A second server on a data folder in use says what to do.
func TestServeDataFolderInUse(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := serve(t, data)
	defer p.stop(t)
	cmd := exec.Command(os.Args[0], "serve", "--addr", "127.0.0.1:0", "--scripts", "../../../scripts", "--data", data)
	cmd.Env = append(os.Environ(), "LUAIVR_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use") {
		t.Fatalf("second server: %v\n%s", err, out)
	}
}

func TestServeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--scripts", "/nonexistent"}, "script folder /nonexistent not found"},
		{[]string{"serve", "--scripts", "../../../scripts", "--app", "nope"}, "--app nope: no such app"},
		{[]string{"serve", "--log-format", "xml"}, "--log-format"},
		{[]string{"serve", "--scripts", "../../../scripts", "--voice", "robot"}, "--voice: voice \"robot\""},
	}
	for _, tt := range tests {
		cmd := exec.Command(os.Args[0], tt.args...)
		cmd.Env = append(os.Environ(), "LUAIVR_TEST_MAIN=1", "LUAIVR_DATA="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tt.want) {
			t.Errorf("%v: %v\n%s", tt.args, err, out)
		}
	}
}

// sessions reads a running server through its admin endpoints, and the data
// folder once the server stopped.
func TestSessions(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := serve(t, data, "LUAIVR_ADMIN_TOKEN=tok")
	p.post(t, "/webhooks/restaurant", vca("s-1", "e1", "CALL_RECEIVED", ""))
	p.post(t, "/webhooks", vca("s-1", "e2", "ACTION_COMPLETED", "2"))
	p.post(t, "/webhooks", vca("s-1", "e3", "ACTION_COMPLETED", "9"))

	run := func(args ...string) (string, error) {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "LUAIVR_TEST_MAIN=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("sessions", "list", "--server", p.url, "--admin-token", "tok")
	if err != nil || !strings.Contains(out, "s-1") || !strings.Contains(out, "restaurant") || !strings.Contains(out, "connect_call") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err := run("sessions", "list", "--server", p.url, "--admin-token", "nope"); err == nil || !strings.Contains(out, "401") {
		t.Fatalf("a wrong token: %v\n%s", err, out)
	}
	out, err = run("sessions", "show", "s-1", "--server", p.url, "--admin-token", "tok")
	for _, want := range []string{"keys 2 at main_menu", "[connect_call] sayAndCapture", "keys 9 at connect_call", `say "Invalid input, please call again."; hangup`} {
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("show lacks %q: %v\n%s", want, err, out)
		}
	}
	if out, err := run("sessions", "list", "--data", data); err == nil || !strings.Contains(out, "--server") {
		t.Fatalf("reading a folder a server holds: %v\n%s", err, out)
	}
	p.stop(t)
	out, err = run("sessions", "show", "s-1", "--data", data, "--json")
	if err != nil || !strings.Contains(out, `"transcript":[`) || !strings.Contains(out, `"app":"restaurant"`) {
		t.Fatalf("show --json from the folder: %v\n%s", err, out)
	}
}

// --metrics-addr (LUAIVR_METRICS_ADDR) serves /metrics without the admin
// token, which the main address then asks for; /readyz stays open; the
// connection limits come from LUAIVR_MAX_CONNS and LUAIVR_MAX_CONNS_PER_IP.
func TestServeMetricsAddr(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	private := ln.Addr().String()
	ln.Close()
	p := serve(t, t.TempDir(), "LUAIVR_ADMIN_TOKEN=tok", "LUAIVR_METRICS_ADDR="+private, "LUAIVR_MAX_CONNS=50", "LUAIVR_MAX_CONNS_PER_IP=10")
	for _, tt := range []struct {
		url  string
		code int
	}{{p.url + "/metrics", 401}, {p.url + "/healthz", 401}, {p.url + "/readyz", 200}, {"http://" + private + "/metrics", 200}} {
		resp, err := http.Get(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("GET %s: %d, want %d", tt.url, resp.StatusCode, tt.code)
		}
	}
	p.stop(t)
	if log := p.stderr.String(); !strings.Contains(log, `"max_conns":50,"max_conns_per_ip":10`) {
		t.Errorf("the serving line does not show the limits:\n%s", log)
	}
}
