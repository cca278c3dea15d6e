package command_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Scripts that break loading or vetting, each in its own way.
const (
	// counterApp answers differently on every call: how many announcements
	// and which menu depend on a kv counter.
	counterApp = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
function on_call(s)
  local n = kv.incr("calls")
  local out = { clientActionId = n %% 2 == 0 and "even" or "odd" }
  for i = 1, (n * 7) %% 11 do out[#out + 1] = ivr.say("announcement " .. i) end
  out[#out + 1] = ivr.say_and_capture("Press 1 (%s)")
  return out
end
function on_dtmf(s, d)
  if kv.incr("keys") %% 3 == 0 then return ivr.hangup() end
  return { clientActionId = "m" .. kv.incr("m") %% 5, ivr.say_and_capture("Menu") }
end
function on_timeout(s) return ivr.hangup() end`
	loopApp = "while true do end"
	// stuckApp's top level is a pattern match that took minutes in
	// gopher-lua's matcher; the sandbox's own stops at the load deadline.
	stuckApp = `string.find(string.rep("a", 30), string.rep("a*", 10) .. "b")`
)

func scriptFolder(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	restaurant, err := os.ReadFile("../../../scripts/restaurant.lua")
	if err != nil {
		t.Fatal(err)
	}
	files["restaurant.lua"] = string(restaurant)
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Callers walk the restaurant's menus while an app that answers differently
// on every call is rewritten every 200 ms, beside an app whose top level never
// ends: serve vets every version and answers every webhook, and nothing it
// does in the background stops it.
func TestServeOutlivesItsScripts(t *testing.T) {
	t.Parallel()
	dir := scriptFolder(t, map[string]string{"counter.lua": fmt.Sprintf(counterApp, "v0"), "loop.lua": loopApp})
	// A deadline no busy machine misses: a fallback here is a failure, not a slow core.
	p := serve(t, t.TempDir(), "LUAIVR_SCRIPTS="+dir, "LUAIVR_RELOAD_INTERVAL=100ms", "LUAIVR_DEADLINE=2s")
	ctx, stop := context.WithCancel(context.Background())
	var rewrites sync.WaitGroup
	rewrites.Go(func() {
		for v := 1; ctx.Err() == nil; v++ {
			tmp := filepath.Join(dir, ".counter.tmp")
			if err := os.WriteFile(tmp, []byte(fmt.Sprintf(counterApp, fmt.Sprint("v", v))), 0o644); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(tmp, filepath.Join(dir, "counter.lua")); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	})

	const callers, calls = 20, 500
	began := time.Now()
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for n := 0; n < calls && time.Since(began) < 4*time.Second; n++ { // past serve's first vetting, and a dozen reloads
				session := fmt.Sprintf("c%d-%d", c, n)
				for i, keys := range []string{"", "1", "1", "2"} {
					status := "ACTION_COMPLETED"
					if keys == "" {
						status = "CALL_RECEIVED"
					}
					body, err := postWebhook(http.DefaultClient, p.url+"/webhooks/restaurant", vca(session, fmt.Sprint(i), status, keys))
					if err != nil {
						errs <- fmt.Errorf("call %s, event %d: %w", session, i, err)
						return
					}
					if !strings.Contains(body, `"callflow":[`) || strings.Contains(body, "We are sorry") {
						errs <- fmt.Errorf("call %s, event %d: %s", session, i, body)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	stop()
	rewrites.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Vetting is paced while calls are answered; once they stop, the last
	// rewrite is vetted and served at full speed.
	eventually(t, "a rewritten counter.lua served", func() bool { return strings.Contains(p.stderr.String(), `"changed":["counter"]`) })
	p.stop(t)
	log := p.stderr.String()
	for _, want := range []string{`"msg":"script refused"`, "loop.lua: its top level ran past", `"changed":["counter"]`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s\n%s", want, log)
		}
	}
	if strings.Contains(log, "panic") {
		t.Errorf("a panic in serve's log:\n%s", log)
	}
}

// postWebhook posts a webhook to url and returns the reply of a 200, or an
// error that says what came back instead.
func postWebhook(client *http.Client, url, body string) (string, error) {
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	return string(b), err
}

// An app whose top level is stuck in a pattern match does not keep serve
// from listening and answering.
func TestServeStartsBesideAStuckApp(t *testing.T) {
	t.Parallel()
	dir := scriptFolder(t, map[string]string{"stuck.lua": stuckApp})
	p := serve(t, t.TempDir(), "LUAIVR_SCRIPTS="+dir, "LUAIVR_RELOAD_INTERVAL=0")
	if got := p.post(t, "/webhooks/restaurant", vca("s1", "e1", "CALL_RECEIVED", "")); !strings.Contains(got, `"clientActionId":"main_menu"`) {
		t.Fatalf("the first reply: %s", got)
	}
}

// check reports apps whose top level does not end, and ends; an app that
// counts its calls in kv is explored as its first caller finds it, every
// time (each explored call of a pass starts from the same kv), so its
// replays agree.
func TestCheckBrokenApps(t *testing.T) {
	t.Parallel()
	dir := scriptFolder(t, map[string]string{"counter.lua": fmt.Sprintf(counterApp, "v0"), "loop.lua": loopApp, "stuck.lua": stuckApp})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang detector, not a measure
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "check", dir)
	cmd.Env = append(os.Environ(), "LUAIVR_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if ctx.Err() != nil || !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("check: %v (want exit status 1 for the errors found)\n%s", err, out)
	}
	for _, want := range []string{
		"loop.lua: error: its top level ran past the 1s it may take at load",
		"stuck.lua: error: its top level ran past the 1s it may take at load",
		"checked 4 apps (counter, loop, restaurant, stuck)",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check's report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "counter: warning: the same inputs led to different places") {
		t.Errorf("replays of the counter differ: kv was kept between explored calls:\n%s", out)
	}
}
