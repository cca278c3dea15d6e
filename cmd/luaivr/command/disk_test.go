package command_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// get returns the status and body of GET path.
func (p *proc) get(t *testing.T, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url+path, nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v (is serve still running?)\n%s", path, err, p.stderr)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond, failing the test after a bound far above what is
// expected (the store checks its folder every 100 ms).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
	}
}

// alive fails the test if serve has exited.
func (p *proc) alive(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("serve is gone (%v):\n%s", err, p.stderr)
	}
}

const apology = "We are sorry, we cannot take your call right now"

// The data folder deleted while serving: within a few checks /readyz says
// 503 and why, callers get the fallback (counted with the reason store),
// the admin endpoints answer, nothing crashes, and the server still stops.
// A server started on the path meanwhile takes the calls alone.
func TestDataFolderDeleted(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	p := serve(t, data, "LUAIVR_ADMIN_TOKEN=tok")
	for i := range 20 {
		if got := p.post(t, "/webhooks/restaurant", vca(fmt.Sprint("del-", i), "e1", "CALL_RECEIVED", "")); !strings.Contains(got, "main_menu") {
			t.Fatalf("before: %s", got)
		}
	}
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	eventually(t, "/readyz to turn 503", func() bool { code, _ := p.get(t, "/readyz"); return code == 503 })
	if _, body := p.get(t, "/healthz"); !strings.Contains(body, "was deleted") {
		t.Errorf("/healthz does not say why: %s", body)
	}
	if got := p.post(t, "/webhooks/restaurant", vca("del-new", "e1", "CALL_RECEIVED", "")); !strings.Contains(got, apology) {
		t.Errorf("a call after the deletion heard %s, want the fallback", got)
	}
	if got := p.post(t, "/webhooks", vca("del-1", "e2", "ACTION_COMPLETED", "1")); !strings.Contains(got, apology) {
		t.Errorf("a call in progress heard %s, want the fallback", got)
	}
	p.get(t, "/admin/sessions?limit=5")
	p.get(t, "/admin/sessions/del-1")
	if _, m := p.get(t, "/metrics"); !strings.Contains(m, `outcome="store"`) || !strings.Contains(m, "luaivr_store_ready 0") {
		t.Errorf("/metrics does not say the store is down or count its fallbacks:\n%.2000s", m)
	}
	p.alive(t)
	if log := p.stderr.String(); !strings.Contains(log, "data folder cannot take events") {
		t.Errorf("the deletion was not logged:\n%s", log)
	}
	// A second server may take the path (a new folder): the first one stays
	// out of service, so only one of them takes calls.
	q := serve(t, data)
	if code, _ := q.get(t, "/readyz"); code != 200 {
		t.Errorf("a new server on the path: /readyz %d", code)
	}
	if code, _ := p.get(t, "/readyz"); code != 503 {
		t.Errorf("the first server: /readyz %d once another took the path", code)
	}
	q.stop(t)
	p.stop(t)
}

// A full disk: serve keeps --min-free free, answers the fallback and says
// 503 before Badger could fault, takes events again once space is freed,
// and refuses to start on a full disk with what to do; filled to the last
// byte by another file, it gives its reserve to the database. The data folder is
// on a 128 MiB tmpfs, and serve runs in a child process, so that a SIGBUS
// would fail the test rather than kill it.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs to fill needs root")
	}
	if testing.Short() {
		t.Skip("fills a disk")
	}
	t.Parallel()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=128m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): %s", err, out)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	data := filepath.Join(mnt, "data")
	env := []string{"LUAIVR_MIN_FREE=32", "LUAIVR_RELOAD_INTERVAL=0"}
	free := func() int64 {
		var st syscall.Statfs_t
		if err := syscall.Statfs(mnt, &st); err != nil {
			t.Fatal(err)
		}
		return int64(st.Bavail) * st.Bsize
	}
	// A webhook with a large payload: its transcript entry fills the disk
	// fast (random, as the store compresses what it keeps).
	big := func(session string) string {
		pad := make([]byte, 30<<10)
		rand.Read(pad)
		return fmt.Sprintf(`{"eventType":"CALL_ACTION","payload":{"sessionId":%q,"eventId":"e1","callStatus":"CALL_RECEIVED","callDirection":"INBOUND","pad":%q}}`, session, hex.EncodeToString(pad))
	}

	// Filled by its own events.
	p := serve(t, data, env...)
	answered := 0
	for ; answered < 3000; answered++ {
		got := p.post(t, "/webhooks/restaurant", big(fmt.Sprint("fill-", answered)))
		if strings.Contains(got, apology) {
			break
		}
		if !strings.Contains(got, "main_menu") {
			t.Fatalf("event %d: %s", answered, got)
		}
	}
	if answered == 3000 || answered < 100 {
		t.Fatalf("the fallback came after %d events, want after some hundreds and before 3000\n%s", answered, p.stderr)
	}
	p.alive(t)
	if code, _ := p.get(t, "/readyz"); code != 503 {
		t.Errorf("/readyz with the disk at its limit: %d", code)
	}
	if _, body := p.get(t, "/healthz"); !strings.Contains(body, "--min-free") {
		t.Errorf("/healthz with the disk at its limit does not say why: %s", body)
	}
	if _, m := p.get(t, "/metrics"); !strings.Contains(m, `luaivr_events_total{outcome="store",type="CALL_ACTION"}`) || !strings.Contains(m, "luaivr_store_ready 0") {
		t.Errorf("/metrics does not say the store is down or count its fallbacks:\n%.2000s", m)
	}
	if f := free(); f < 16<<20 {
		t.Errorf("serve left %d bytes free, want most of --min-free (32 MiB) kept", f)
	}
	p.stop(t)

	// The rest of the disk filled by someone else: a start is refused. With
	// the filler gone and the margin lowered (what the refusal suggests),
	// serve starts; filled again, it turns unready, then ready once the
	// space is back.
	filler := filepath.Join(mnt, "filler")
	fill := func(leave int64) {
		t.Helper()
		f, err := os.OpenFile(filler, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		chunk := make([]byte, 1<<20)
		for free() > leave {
			if _, err := f.Write(chunk[:min(int64(len(chunk)), free()-leave)]); errors.Is(err, syscall.ENOSPC) {
				return
			} else if err != nil {
				t.Fatal(err)
			}
		}
	}
	fill(4 << 20)
	cmd := exec.Command(os.Args[0], "serve", "--addr", "127.0.0.1:0", "--scripts", "../../../scripts", "--data", data)
	cmd.Env = append(os.Environ(), append(env, "LUAIVR_TEST_MAIN=1")...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "cannot start") || !strings.Contains(string(out), "free some space") {
		t.Errorf("serve on a full disk: %v\n%s", err, out)
	}
	os.Remove(filler)
	env[0] = "LUAIVR_MIN_FREE=16"
	p = serve(t, data, env...)
	if got := p.post(t, "/webhooks/restaurant", vca("after", "e1", "CALL_RECEIVED", "")); !strings.Contains(got, "main_menu") {
		t.Fatalf("with space freed: %s", got)
	}
	fill(12 << 20)
	eventually(t, "/readyz to turn 503 while the disk fills", func() bool { code, _ := p.get(t, "/readyz"); return code == 503 })
	if got := p.post(t, "/webhooks/restaurant", vca("while-full", "e1", "CALL_RECEIVED", "")); !strings.Contains(got, apology) {
		t.Errorf("with the disk filled by another file: %s", got)
	}
	os.Remove(filler)
	eventually(t, "/readyz to turn 200 once space is freed", func() bool { code, _ := p.get(t, "/readyz"); return code == 200 })
	if got := p.post(t, "/webhooks/restaurant", vca("freed", "e1", "CALL_RECEIVED", "")); !strings.Contains(got, "main_menu") {
		t.Errorf("after freeing space: %s", got)
	}

	// Filled to the last byte: serve gives its reserve to the database,
	// and takes it back once the space is freed.
	reserve := filepath.Join(data, "luaivr-reserve")
	if _, err := os.Stat(reserve); err != nil {
		t.Fatalf("no reserve: %v", err)
	}
	fill(0)
	eventually(t, "the reserve to be freed", func() bool { _, err := os.Stat(reserve); return err != nil })
	if code, _ := p.get(t, "/readyz"); code != 503 {
		t.Errorf("/readyz with the reserve given away: %d", code)
	}
	if _, body := p.get(t, "/healthz"); !strings.Contains(body, "reserve") {
		t.Errorf("/healthz with the reserve given away does not say why: %s", body)
	}
	os.Remove(filler)
	eventually(t, "/readyz to turn 200 with the reserve held again", func() bool { code, _ := p.get(t, "/readyz"); return code == 200 })
	if _, err := os.Stat(reserve); err != nil {
		t.Errorf("the reserve is not held again: %v", err)
	}
	if log := p.stderr.String(); !strings.Contains(log, "luaivr freed its reserve") {
		t.Errorf("freeing the reserve was not logged:\n%s", log)
	}
	p.alive(t)
	p.stop(t)
}
