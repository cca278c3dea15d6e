package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
)

// Many sessions, each receiving its events concurrently and some of them
// twice: each session's state is what its events applied once would give,
// every duplicate gets the first answer, and no store conflict reaches a
// caller (every answer is the script's own).
func TestConcurrentEventsAndDuplicates(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"log.lua": voice + `
function on_dtmf(session, digits)
  session.vars.seen = session.vars.seen or {}
  table.insert(session.vars.seen, digits)
  return ivr.say_and_capture("ok " .. digits, { maxDigits = 4 })
end`})
	h := newHarness(t, dir, engine.Options{})
	const sessions, events = 16, 12
	type sent struct {
		body  []byte
		reply []byte
	}
	var mu sync.Mutex
	answers := map[string][][]byte{} // event body → every answer it got
	var wg sync.WaitGroup
	calls := make([]*call, sessions)
	for s := range calls {
		calls[s] = newCall(shapeEventDataDTMF, true)
		for e := 0; e < events; e++ {
			body := calls[s].keys(fmt.Sprint(e))
			copies := 1 + e%2 // every other event is delivered twice
			for k := 0; k < copies; k++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					reply := h.post(body, "log")
					mu.Lock()
					answers[string(body)] = append(answers[string(body)], reply)
					mu.Unlock()
				}()
			}
		}
	}
	wg.Wait()
	for body, replies := range answers {
		for _, r := range replies {
			if !strings.Contains(string(r), `"ok `) {
				t.Fatalf("an event got a fallback under concurrency: %s", r)
			}
			if string(r) != string(replies[0]) {
				t.Fatalf("a duplicate got another answer: %s vs %s (event %s)", r, replies[0], body)
			}
		}
	}
	for _, c := range calls {
		s, ok, err := h.st.Session(context.Background(), c.session)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		var vars struct{ Seen []string }
		_ = json.Unmarshal(s.Vars, &vars)
		sort.Strings(vars.Seen)
		want := make([]string, events)
		for i := range want {
			want[i] = fmt.Sprint(i)
		}
		sort.Strings(want)
		if fmt.Sprint(vars.Seen) != fmt.Sprint(want) || s.Events != events {
			t.Fatalf("session %s saw %v in %d events; want each of %v once", c.session, vars.Seen, s.Events, want)
		}
	}
}

// Two apps, many concurrent calls writing globals and session.vars: nothing of
// one call is visible to another, nor across apps.
func TestNoLeaksUnderConcurrency(t *testing.T) {
	t.Parallel()
	app := voice + `
function on_dtmf(session, digits)
  local report = string.format("global=%s vars=%s", tostring(mine), tostring(session.vars.mine))
  mine = session.id                       -- a global: gone after this event
  session.vars.mine = session.id          -- the call's own memory
  string.stash = (string.stash or "") .. session.id
  return ivr.say_and_capture(report .. " stash=" .. string.stash, { maxDigits = 1 })
end`
	h := newHarness(t, scriptDir(t, map[string]string{"a.lua": app, "b.lua": app}), engine.Options{Deadline: 2 * time.Second}) // about leaks, not deadlines: a loaded machine must not time out
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := newCall(shapeDTMF, true)
			appName := []string{"a", "b"}[i%2]
			first := replyText(t, h.post(c.keys("1"), appName))
			if first != "global=nil vars=nil stash="+c.session {
				errs <- fmt.Sprintf("%s first event heard %q", c.session, first)
			}
			second := replyText(t, h.post(c.keys("2"), ""))
			if second != "global=nil vars="+c.session+" stash="+c.session {
				errs <- fmt.Sprintf("%s second event heard %q", c.session, second)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
