package command_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kill serve with SIGKILL at random moments under load, restart it on the
// same data folder, and check that every event that was answered 200 is in
// the session's state and transcript, and that redelivering it gets the same
// answer. Callers retry an event that got no answer, as 8x8 does.
func TestCrashDurability(t *testing.T) {
	t.Parallel()
	scripts := t.TempDir()
	if err := os.WriteFile(filepath.Join(scripts, "count.lua"), []byte(`
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
function on_dtmf(session, digits)
  session.vars.n = (session.vars.n or 0) + 1
  return ivr.say_and_capture("event " .. session.vars.n)
end`), 0o644); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	// A deadline no busy machine misses: a fallback would be answered but count nothing.
	env := []string{"LUAIVR_SCRIPTS=" + scripts, "LUAIVR_ADMIN_TOKEN=tok", "LUAIVR_RELOAD_INTERVAL=0", "LUAIVR_DEADLINE=2s"}

	const callers = 4
	acked := make([]map[string]string, callers) // per caller: eventId → reply
	pending := make([]string, callers)          // an event sent but not answered
	next := make([]int, callers)
	for i := range acked {
		acked[i] = map[string]string{}
	}
	client := &http.Client{Timeout: 2 * time.Second}
	send := func(url string, c int, event string) (string, bool) {
		body := vca(fmt.Sprintf("crash-%d", c), event, "ACTION_COMPLETED", "1")
		resp, err := client.Post(url+"/webhooks/count", "application/json", strings.NewReader(body))
		if err != nil {
			return "", false
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			return "", false
		}
		return string(b), true
	}

	for cycle := 0; cycle < 3; cycle++ {
		p := serve(t, data, env...)
		var wg sync.WaitGroup
		for c := 0; c < callers; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for {
					event := pending[c]
					if event == "" {
						next[c]++
						event = fmt.Sprintf("e%d", next[c])
					}
					reply, ok := send(p.url, c, event)
					if !ok {
						pending[c] = event // retried after the restart
						return
					}
					pending[c] = ""
					acked[c][event] = reply
				}
			}(c)
		}
		time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
		_ = p.cmd.Process.Kill() // SIGKILL
		_ = p.cmd.Wait()
		wg.Wait()
	}

	p := serve(t, data, env...)
	defer p.stop(t)
	total := 0
	for c := 0; c < callers; c++ {
		if pending[c] != "" { // the last unanswered event, retried
			reply, ok := send(p.url, c, pending[c])
			if !ok {
				t.Fatalf("retry of %s failed", pending[c])
			}
			acked[c][pending[c]] = reply
		}
		total += len(acked[c])
		// Every answered event is in the state and the transcript, once.
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/admin/sessions/crash-%d", p.url, c), nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var view struct {
			Session struct {
				Vars struct{ N int }
			}
			Transcript []struct {
				EventID string `json:"event_id"`
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&view)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if view.Session.Vars.N != len(acked[c]) {
			t.Errorf("caller %d: vars.n = %d after %d answered events", c, view.Session.Vars.N, len(acked[c]))
		}
		inTranscript := map[string]int{}
		for _, e := range view.Transcript {
			inTranscript[e.EventID]++
		}
		for event, reply := range acked[c] {
			if inTranscript[event] != 1 {
				t.Errorf("caller %d: event %s is %d times in the transcript", c, event, inTranscript[event])
			}
			// A redelivery gets the very same answer.
			if again, ok := send(p.url, c, event); !ok || again != reply {
				t.Errorf("caller %d: redelivered %s got %q, first answer %q", c, event, again, reply)
			}
		}
	}
	if total < 12 {
		t.Fatalf("only %d events answered across 3 runs: the test did not exercise much", total)
	}
	t.Logf("%d events answered across 3 SIGKILLs; all durable", total)
}
