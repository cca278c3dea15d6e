package command_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memoryBombs are ways a script can try to take the process's memory: by
// accumulating (the memory guard's part), by one instruction or library call
// that builds something huge (the sandbox's and the stdlib's bounds), and by
// serializing one big value many times over (shared references).
var memoryBombs = []string{
	`while true do i = i + 1 t[i] = { i } end`,
	`while true do i = i + 1 t[i] = s .. i end`,
	`while true do i = i + 1 t["k" .. i] = i end`,
	`while true do i = i + 1 t[i] = function() return i end end`,
	`while true do i = i + 1 t[i] = string.rep(tostring(i), 100000) end`,
	`while true do i = i + 1 t[i] = s:gsub("x", "y") end`,
	`while true do i = i + 1 t[i] = string.format("%s%d", s, i) end`,
	`while true do i = i + 1 t[i] = table.concat({ s, i }) end`,
	`while true do i = i + 1 t[i] = s:upper() end`,
	`local x = s` + strings.Repeat(` .. s`, 189),
	`while true do i = i + 1 local a = {} a[67108863] = i t[i] = a end`,
	`while true do i = i + 1 t[i] = { s:byte(1, -1) } end`,
	`for k = 1, 4000 do t[k] = s end while true do i = i + 1 t[#t + 1] = { unpack(t, 1, 4000) } end`,
	`while true do t = { t, t } end`,
	`while true do i = i + 1 for w in s:gmatch("x") do t[#t + 1] = w .. i end end`,
	`while true do i = i + 1 table.sort(t) t[i] = s:sub(i % 1000) .. i end`,
	`local x = string.format(string.rep("%999999[1]s", 2000), "x")`,
	`for k = 1, 3000 do t[k] = s end print(unpack(t, 1, 3000))`,
	`for k = 1, 3000 do t[k] = s end log.info("x", { t = t })`,
	`for k = 1, 3000 do t[k] = s end json.encode(t)`,
	`for k = 1, 3000 do t[k] = s end kv.set("k", t)`,
	`for k = 1, 3000 do t[k] = s end session.vars.t = t return ivr.hangup()`,
	`for k = 1, 3000 do t[k] = s end error(t)`,
	`for k = 1, 3000 do t[k] = s end return { ivr.say(s), ivr.say_and_capture{ promptMessage = "x", junk = t } }`,
}

// Whatever scripts do, serve's resident memory stays within a bound of its
// --script-memory: eight top levels that pile up memory at load, and every
// bomb above at once (which the background check also plays), twice, under a deadline
// long enough that only the memory bounds can stop them. The server runs in a
// child process that the test kills if it ever passes a hard ceiling, so a
// failure cannot take the machine down.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds luaivr and runs memory bombs")
	}
	t.Parallel()
	const limitMiB = 128
	const boundMiB = 3*limitMiB + 96 // the guarantee in the README
	const ceilingMiB = 2048          // the test's own safety net
	dir := t.TempDir()
	bin := filepath.Join(dir, "luaivr")
	// Built without the race detector, whose shadow memory would measure
	// itself rather than luaivr.
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	scripts := filepath.Join(dir, "scripts")
	if err := os.Mkdir(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	var app strings.Builder
	app.WriteString(`ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 2 }
function on_dtmf(session, digits)
  local t, i, s = {}, 0, string.rep("x", 1000000)
`)
	for i, bomb := range memoryBombs {
		fmt.Fprintf(&app, "  if digits == %q then %s end\n", strconv.Itoa(i+10), bomb)
	}
	app.WriteString("  return ivr.say(\"healthy\")\nend\n")
	if err := os.WriteFile(filepath.Join(scripts, "bombs.lua"), []byte(app.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// Top levels run at load, outside any call: they are bounded too.
	for i := range 8 {
		top := `local t, big = {}, string.rep("x", 2^20 - 100) for i = 1, 1e9 do t[i] = big .. i end`
		if err := os.WriteFile(filepath.Join(scripts, fmt.Sprintf("top%d.lua", i)), []byte(top), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--scripts", scripts, "--data", filepath.Join(dir, "data"),
		"--log-format", "json", "--reload-interval", "0", "--deadline", "5s", "--script-memory", strconv.Itoa(limitMiB))
	cmd.Env = append(os.Environ(), "GOMEMLIMIT=")
	url := start(t, cmd).url

	var peakKiB, killed atomic.Int64
	stop := make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			kib := statusKiB(cmd.Process.Pid, "VmHWM")
			peakKiB.Store(kib)
			if kib > ceilingMiB<<10 {
				killed.Store(kib)
				_ = cmd.Process.Kill()
				return
			}
		}
	})
	client := &http.Client{Timeout: 60 * time.Second}
	post := func(session, digits string) (string, error) {
		return postWebhook(client, url+"/webhooks/bombs", vca(session, "e1", "ACTION_COMPLETED", digits))
	}
	for round := range 2 {
		var wg sync.WaitGroup
		for i := range memoryBombs {
			wg.Go(func() {
				got, err := post(fmt.Sprintf("bomb-%d-%d", round, i), strconv.Itoa(i+10))
				if err != nil {
					t.Errorf("bomb %d (%s): %v", i, memoryBombs[i], err)
				} else if !strings.Contains(got, `"callflow":[{"action"`) {
					t.Errorf("bomb %d (%s) was answered %s, want a callflow", i, memoryBombs[i], got)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			break
		}
	}
	close(stop)
	watch.Wait()
	if kib := killed.Load(); kib > 0 {
		t.Fatalf("serve passed %d MiB of resident memory and was killed", kib>>10)
	}
	if got, err := post("healthy", "1"); err != nil || !strings.Contains(got, "healthy") {
		t.Fatalf("a healthy call after the bombs got %q, %v", got, err)
	}
	peak := peakKiB.Load() >> 10
	t.Logf("peak resident memory %d MiB with --script-memory %d (bound %d MiB)", peak, limitMiB, boundMiB)
	if peak > boundMiB {
		t.Fatalf("peak resident memory %d MiB is over the bound of %d MiB (3 × --script-memory %d + 96)", peak, boundMiB, limitMiB)
	}
}

// statusKiB reads a kB field of /proc/PID/status (VmRSS, VmHWM).
func statusKiB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
