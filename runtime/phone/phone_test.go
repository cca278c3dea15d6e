package phone_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/phone"
	"github.com/luaivr/luaivr/store/badgerstore"
)

func line(t *testing.T, src string) *phone.Line {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	scripts, errs := engine.Load(dir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st, err := badgerstore.Open(badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// A deadline far above what these scripts need: two busy cores under
	// the race detector slow every script.
	l, err := phone.NewLine(scripts, st, engine.Options{Deadline: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// kinds renders what happened as "kind:text" lines, for compact assertions.
func kinds(c *phone.Call) string {
	var parts []string
	for _, h := range c.Heard {
		parts = append(parts, h.Kind+":"+h.Text)
	}
	return strings.Join(parts, " | ")
}

const capture = `
ivr.defaults { voiceProfile = "en-GB-Emma" }
function on_call(s)
  return ivr.say_and_capture("PIN?", { minDigits = 2, maxDigits = 4, noOfTries = 2,
    failureMessage = "Try again", successMessage = "Thanks", completeOnHash = true })
end
function on_dtmf(s, d) return { ivr.say("got " .. d), ivr.hangup() } end
function on_timeout(s) return { ivr.say("nothing"), ivr.hangup() } end
`

// 8x8's capture rules: tries, failure and success messages, '#', min and max digits.
func TestCapture(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		input []string // "t" = timeout
		want  string
	}{
		{"hash completes", []string{"12#9"}, "prompt:PIN? | keys:12#9 | say:Thanks | say:got 12 | hangup:"},
		{"max digits cut", []string{"123456"}, "prompt:PIN? | keys:123456 | say:Thanks | say:got 1234 | hangup:"},
		{"too short then ok", []string{"1", "55"}, "prompt:PIN? | keys:1 | say:Try again | prompt:PIN? | keys:55 | say:Thanks | say:got 55 | hangup:"},
		{"tries run out", []string{"t", "t"}, "prompt:PIN? | timeout: | say:Try again | prompt:PIN? | timeout: | say:Try again | say:nothing | hangup:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := line(t, capture)
			c, err := l.Start(ctx, phone.CallOptions{App: "app"})
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range tt.input {
				if in == "t" {
					err = c.Timeout(ctx)
				} else {
					err = c.Press(ctx, in)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			got := kinds(c)
			got = strings.TrimSuffix(got, " | ended:")
			if !strings.HasPrefix(got, tt.want) || !c.Ended() {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestBridgeAndNeverEnding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := line(t, `
ivr.defaults { voiceProfile = "en-GB-Emma" }
function on_call(s) return { clientActionId = "xfer", ivr.make_call { source = "+6568332048", destination = "+6531589338" } } end
function on_timeout(s)
  if s.action_id == "xfer" then return ivr.say("still talking?") end
  return ivr.say("and again")
end`)
	c, err := l.Start(ctx, phone.CallOptions{App: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Bridged() || c.Press(ctx, "1") == nil {
		t.Fatalf("keys while bridged should be refused: %s", kinds(c))
	}
	if err := c.Timeout(ctx); err != nil { // the other party hangs up
		t.Fatal(err)
	}
	if !c.Ended() || !strings.Contains(kinds(c), "error:the call never ends") {
		t.Fatalf("a script that only talks never ends the call: %s", kinds(c))
	}
}

func TestVarsAndOutbound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := line(t, `
ivr.defaults { voiceProfile = "en-GB-Emma" }
function on_call(s) return { ivr.say(s.direction .. " " .. s.vars.name .. " " .. s.destination), ivr.hangup() } end`)
	c, err := l.Start(ctx, phone.CallOptions{App: "app", Outbound: true, Caller: "+6590000000", Vars: map[string]any{"name": "Ann"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(c); !strings.HasPrefix(got, "say:OUTBOUND Ann +6590000000 | hangup:") {
		t.Fatal(got)
	}
}

// What an app's author must see of a call beyond what the caller hears:
// its log lines, in order with the call, and the failures of on_status and
// on_end, which have no reply to fall back from. on_end's summary has the
// legs 8x8 sends: callB after a bridge.
func TestWhatTheAuthorSees(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		src   string
		input []string // "t" = timeout, "q" = the caller hangs up
		want  string   // kinds(c)
	}{
		{name: "log lines in order", src: `
function on_call(s)
  log.info("call", { from = s.source, tries = 2 })
  return ivr.say_and_capture("Press 1", { maxDigits = 1 })
end
function on_dtmf(s, d) print("pressed", d) log.warn("about to hang up") return ivr.hangup() end`,
			input: []string{"1"},
			want: `log:call from=+6591178965 tries=2 [app.lua:3] | prompt:Press 1 | keys:1 | log:pressed	1 [app.lua:6] | ` +
				`log:warn: about to hang up [app.lua:6] | hangup:`},
		{name: "on_status fails", src: `
function on_call(s) return ivr.say_and_capture("Press 1", { maxDigits = 1 }) end
function on_status(s, status)
  local n = nil
  return n.field
end`,
			input: []string{"q"},
			want:  `prompt:Press 1 | ended:the caller hung up | failed:on_status failed on CALL_STATUS CALL_DISCONNECTED: app.lua:5: attempt to index a non-table object(nil) with key 'field'`},
		{name: "on_end fails", src: `
function on_call(s) return { ivr.say("bye"), ivr.hangup() } end
function on_end(s, summary)
  error("crm is down")
end`,
			want: `say:bye | hangup: | failed:on_end failed on SESSION_SUMMARY COMPLETED: app.lua:4: crm is down`},
		{name: "summary legs after a bridge", src: `
function on_call(s) return { clientActionId = "xfer", ivr.make_call { source = "+6568332048", destination = "+6531589338" } } end
function on_timeout(s) return ivr.hangup() end
function on_end(s, summary)
  local d = summary.details
  log.info(summary.sessionStatus .. " " .. summary.lastAction .. " " .. summary.callCount .. " " ..
    d.callA.source .. " " .. d.callB.destination .. " " .. d.callB.callDirection)
end`,
			input: []string{"t"},
			want:  `bridge:+6531589338 | parted: | hangup: | log:COMPLETED HANGUP 2 +6591178965 +6531589338 OUTBOUND [app.lua:6]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := line(t, `ivr.defaults { voiceProfile = "en-GB-Emma" }`+tt.src)
			c, err := l.Start(ctx, phone.CallOptions{App: "app"})
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range tt.input {
				switch in {
				case "t":
					err = c.Timeout(ctx)
				case "q":
					c.Hangup(ctx)
				default:
					err = c.Press(ctx, in)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := kinds(c); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
