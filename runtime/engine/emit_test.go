package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/store"
)

// What a script emits is bounded end to end: the caller gets the script's
// reply when only its log was too much, and the fallback, with the script's
// file and line in the log, when its reply or its kv writes break a bound;
// and no error puts more than a few KiB in the log. Not parallel with other
// tests: its megabyte strings would crowd the tests that time a deadline.
func TestScriptOutputBounded(t *testing.T) {
	dir := scriptDir(t, map[string]string{"emit.lua": voice + `
local done = ivr.say("done")
function on_dtmf(session, digits)
  if digits == "1" then
    local s, t = string.rep("x", 1024 * 1024), {}
    for i = 1, 20 do t[i] = s end
    print(unpack(t))
  elseif digits == "2" then
    local junk = { string.rep("x", 40000) }
    local r = {}
    for i = 1, 99 do r[i] = { action = "say", params = { text = "hi", voiceProfile = "en-US-BenjaminRUS", junk = junk } } end
    r[100] = ivr.hangup()
    return r
  elseif digits == "3" then
    return { clientActionId = string.rep("m", 1001), ivr.say_and_capture("again") }
  elseif digits == "4" then
    for i = 1, 100 do kv.set(session.id .. ":" .. i, i) end
  elseif digits == "5" then
    for i = 1, 10000 do log.info("tick", { i = i }) end
  elseif digits == "6" then
    local s, t = string.rep("q", 1024 * 1024), {}
    for i = 1, 8 do t[i] = s end
    return ivr.say(json.encode(t))
  elseif digits == "7" then
    error(string.rep("e", 1024 * 1024))
  elseif digits == "8" then
    return string.rep("m", 1024 * 1024)
  end
  return done
end`})
	h := newHarness(t, dir, engine.Options{Deadline: time.Second, KVQuota: store.KVQuota{Keys: 10}})
	const fallback = "We are sorry, we cannot take your call right now. Please call again later."
	tests := []struct {
		keys, heard, log string
	}{
		{"1", "done", "from=print"},
		{"2", fallback, "reason=invalid_callflow err=\"on_dtmf (emit.lua:4) returned value[2].params.junk[1]: more than 65536 bytes of text"},
		{"3", fallback, "reason=invalid_callflow err=\"on_dtmf (emit.lua:4) returned value.clientActionId: clientActionId"},
		{"4", fallback, "reason=script_error err=\"emit.lua:18: kv.set: app emit is over its kv quota of 10 keys (--kv-max-keys)"},
		{"5", "done", "log budget exhausted"},
		{"6", fallback, "emit.lua:24: bad argument #1 to json.encode (value[2]: more than 1048576 bytes of text)"},
		{"7", fallback, "emit.lua:26: eeee"},                                               // an error's message is cut short
		{"8", fallback, `returned value is \"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm…\"`}, // so is what an error quotes
	}
	for _, tt := range tests {
		t.Run(tt.keys, func(t *testing.T) {
			t.Parallel()
			c := newCall(shapeEventDataDTMF, true)
			if got := replyText(t, h.post(c.keys(tt.keys), "emit")); got != tt.heard {
				t.Fatalf("caller heard %q, want %q\n%.3000s", got, tt.heard, h.logs.String())
			}
			var lines []string
			for _, l := range strings.Split(h.logs.String(), "\n") {
				if strings.Contains(l, "session="+c.session) {
					lines = append(lines, l)
				}
			}
			all := strings.Join(lines, "\n")
			if !strings.Contains(all, tt.log) {
				t.Fatalf("the log does not say %q:\n%.3000s", tt.log, all)
			}
			for _, l := range lines {
				if len(l) > 10<<10 {
					t.Fatalf("a log line of %d bytes: %.300s…", len(l), l)
				}
			}
			if len(all) > 80<<10 {
				t.Fatalf("one event logged %d bytes", len(all))
			}
			if tt.keys == "4" {
				list, err := h.st.KVList(context.Background(), "emit", c.session+":", 0, 0)
				if err != nil || len(list) != 10 {
					t.Fatalf("the app holds %d keys (%v), want its quota of 10", len(list), err)
				}
			}
			if tt.keys == "5" && strings.Count(all, "msg=tick") != 100 {
				t.Fatalf("%d lines of the loop logged, want 100", strings.Count(all, "msg=tick"))
			}
		})
	}
}
