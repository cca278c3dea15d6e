// Package phone plays 8x8's side of a call against the engine, in process and
// on a virtual clock: it sends the webhooks 8x8 would send, carries out each
// callflow the way 8x8 does (speech, files, captures with their tries and
// messages, bridges, hangup) and records what the caller hears.
//
// `luaivr simulate`, the flow tests of `luaivr test` and the exploration of
// `luaivr check` and `luaivr graph` are all built on it, so they exercise the
// same engine, stdlib and validator as `serve`.
package phone

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/store"
)

// What a Heard entry is.
const (
	Say     = "say"     // speech: Text
	Prompt  = "prompt"  // a capture's prompt; Menu is the position it waits at
	Play    = "play"    // an audio file: Text is its URL
	Bridge  = "bridge"  // the caller is connected to Text
	Hangup  = "hangup"  // the script hung up
	Keys    = "keys"    // the caller pressed Text
	NoInput = "timeout" // the caller pressed nothing
	Ended   = "ended"   // the call is over; Text says how
	Parted  = "parted"  // the party the caller was connected to hung up
	Error   = "error"   // the script failed and the caller got the fallback; Text is why
	Warning = "warning" // something the runtime noted, e.g. an unknown menu position
	// Failed is a handler that has no reply to give (on_status, on_end)
	// failing: the caller hears nothing of it, the app's author must. Text
	// names the handler and carries the error with its file:line.
	Failed = "failed"
	Log    = "log" // a line the app logged (log.*, print); Text is the line
)

// Heard is one moment of a call, as the caller lives it.
type Heard struct {
	At     time.Duration    `json:"at_ms"` // virtual time since the call started
	Kind   string           `json:"kind"`
	Text   string           `json:"text,omitempty"`
	Menu   string           `json:"menu,omitempty"`
	Action *callflow.Action `json:"-"`
}

func (h Heard) MarshalJSON() ([]byte, error) {
	type plain Heard
	p := plain(h)
	p.At /= time.Millisecond
	return json.Marshal(p)
}

// Line is a simulated 8x8 sub-account: one engine and store, a virtual clock,
// any number of calls.
type Line struct {
	Engine *engine.Engine
	Store  store.Store

	mu    sync.Mutex
	now   time.Time
	calls map[string]*Call
	seq   int
}

// DefaultStart is where a line's virtual clock starts unless told otherwise
// (SetNow; `--at` of simulate, check and graph; t:at in flow tests):
// Thursday 1 January 2026, 09:00 UTC, which is 17:00 in Singapore and a
// public holiday in many places. check and graph move the clock from there
// to wherever an app's decisions on the time change.
var DefaultStart = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// NewLine makes a line serving scripts from st. The engine's clock is the
// line's virtual clock, at DefaultStart.
func NewLine(scripts *engine.Scripts, st store.Store, opts engine.Options) (*Line, error) {
	l := &Line{Store: st, now: DefaultStart, calls: map[string]*Call{}}
	opts.Store = st
	opts.Now = l.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts.Logger = slog.New(&appLog{next: opts.Logger.Handler(), line: l})
	eng, err := engine.New(scripts, opts)
	if err != nil {
		return nil, err
	}
	l.Engine = eng
	return l, nil
}

// Now is the virtual time.
func (l *Line) Now() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.now
}

// SetNow sets the virtual time, e.g. for a flow test that calls at a given
// hour; calls go on advancing it from there.
func (l *Line) SetNow(t time.Time) {
	l.mu.Lock()
	l.now = t
	l.mu.Unlock()
}

func (l *Line) advance(d time.Duration) {
	l.mu.Lock()
	l.now = l.now.Add(d)
	l.mu.Unlock()
}

func (l *Line) call(session string) *Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[session]
}

// logged keeps a line the app logged until the event that wrote it is
// handled (it may come from the script's goroutine).
func (c *Call) logged(text string) {
	c.line.mu.Lock()
	c.logs = append(c.logs, text)
	c.line.mu.Unlock()
}

// hearLogs adds the lines the app logged so far to what the call heard.
func (c *Call) hearLogs() {
	c.line.mu.Lock()
	logs := c.logs
	c.logs = nil
	c.line.mu.Unlock()
	for _, text := range logs {
		c.hear(Log, text, "", nil)
	}
}

// CallOptions describe a call to place on the line.
type CallOptions struct {
	App       string
	Outbound  bool   // placed by us through the API; else the caller dialled in
	Caller    string // the caller's number (default +6591178965)
	Number    string // our number (default +6568332048)
	Vars      map[string]any
	SessionID string // default: a new one
}

// Call is one simulated call.
type Call struct {
	line    *Line
	opts    CallOptions
	session string
	started time.Time
	seq     int

	actionID string           // the last clientActionId we got; 8x8 echoes it
	capture  *callflow.Action // the prompt waiting for keys
	tries    int
	bridged  bool
	ended    bool
	legs     []string // the parties the caller was connected to (callB)
	last     string   // the last action carried out, as a summary names it
	logs     []string // logged by the app, not yet heard; under line.mu

	// Heard is everything so far, in order.
	Heard []Heard
	// Handled is the engine's account of every event of this call.
	Handled []engine.Handled
	// Replies are the callflows this call received, in order.
	Replies []callflow.Reply
}

// autoLimit bounds how often 8x8 may come back for more in a row when replies
// end without a prompt, bridge or hangup: beyond it the call never ends.
const autoLimit = 25

// Start places a call and plays the script's first reply.
func (l *Line) Start(ctx context.Context, opts CallOptions) (*Call, error) {
	if opts.Caller == "" {
		opts.Caller = "+6591178965"
	}
	if opts.Number == "" {
		opts.Number = "+6568332048"
	}
	l.mu.Lock()
	l.seq++
	if opts.SessionID == "" {
		opts.SessionID = fmt.Sprintf("sim-%d-%d", l.now.Unix(), l.seq)
	}
	c := &Call{line: l, opts: opts, session: opts.SessionID, started: l.now}
	l.calls[c.session] = c
	l.mu.Unlock()

	if opts.Vars != nil || opts.App != "" {
		vars, err := json.Marshal(orEmpty(opts.Vars))
		if err != nil {
			return nil, fmt.Errorf("initial vars: %w", err)
		}
		if err := l.Engine.Register(ctx, store.Session{ID: c.session, App: opts.App, Vars: vars,
			Direction: c.direction(), Source: c.source(), Destination: c.destination()}); err != nil {
			return nil, err
		}
	}
	// 8x8 asks for the first callflow of an inbound call with CALL_RECEIVED; a
	// call we place starts the same way here, since the runtime puts the
	// makeCall in front of on_call's reply.
	c.send(ctx, webhook.CallAction, "CALL_RECEIVED", nil)
	return c, nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// Session is the call's session id.
func (c *Call) Session() string { return c.session }

// Ended reports whether the call is over.
func (c *Call) Ended() bool { return c.ended }

// Waiting returns the prompt waiting for keys, or nil.
func (c *Call) Waiting() *callflow.Action { return c.capture }

// Position is the clientActionId of the last reply: where the caller is.
func (c *Call) Position() string { return c.actionID }

// Bridged reports whether the caller is connected to another party.
func (c *Call) Bridged() bool { return c.bridged }

func (c *Call) direction() string {
	if c.opts.Outbound {
		return "OUTBOUND"
	}
	return "INBOUND"
}

func (c *Call) source() string {
	if c.opts.Outbound {
		return c.opts.Number
	}
	return c.opts.Caller
}

func (c *Call) destination() string {
	if c.opts.Outbound {
		return c.opts.Caller
	}
	return c.opts.Number
}

func (c *Call) hear(kind, text, menu string, a *callflow.Action) {
	c.Heard = append(c.Heard, Heard{At: c.line.Now().Sub(c.started), Kind: kind, Text: text, Menu: menu, Action: a})
}

// Press enters keys at the waiting prompt, as 8x8 collects them: up to '#'
// when completeOnHash, at most maxDigits, at least minDigits or it is a failed
// try. Keys while bridged or with nothing waiting are an error.
func (c *Call) Press(ctx context.Context, keys string) error {
	if c.ended {
		return fmt.Errorf("the call has ended")
	}
	if c.capture == nil {
		if c.bridged {
			return fmt.Errorf("the caller is connected to another party; no prompt is waiting for keys")
		}
		return fmt.Errorf("no prompt is waiting for keys")
	}
	c.hear(Keys, keys, "", nil)
	c.line.advance(time.Duration(len(keys)) * 500 * time.Millisecond)
	p := c.capture.Params
	digits := keys
	if boolParam(p, "completeOnHash", true) {
		if i := strings.IndexByte(digits, '#'); i >= 0 {
			digits = digits[:i]
		}
	}
	if max := intParam(p, "maxDigits", 0); max > 0 && len(digits) > max {
		digits = digits[:max]
	}
	if len(digits) < intParam(p, "minDigits", 1) {
		c.failedTry(ctx)
		return nil
	}
	if msg, ok := p["successMessage"].(string); ok && msg != "" {
		c.hear(Say, msg, "", c.capture)
	}
	c.capture = nil
	c.send(ctx, webhook.CallAction, "ACTION_COMPLETED", &digits)
	return nil
}

// Timeout lets the waiting prompt time out with no keys; while bridged, the
// other party hangs up and 8x8 asks what next.
func (c *Call) Timeout(ctx context.Context) error {
	if c.ended {
		return fmt.Errorf("the call has ended")
	}
	switch {
	case c.capture != nil:
		c.hear(NoInput, "", "", nil)
		c.line.advance(time.Duration(intParam(c.capture.Params, "overallTimeout", 5000)) * time.Millisecond)
		c.failedTry(ctx)
	case c.bridged:
		c.hear(Parted, "", "", nil)
		c.bridged = false
		c.send(ctx, webhook.CallAction, "ACTION_COMPLETED", nil)
	default:
		return fmt.Errorf("nothing is waiting")
	}
	return nil
}

// failedTry is 8x8's retry: the failure message, then the prompt again until
// noOfTries is used up, then a CALL_ACTION with no digits.
func (c *Call) failedTry(ctx context.Context) {
	p := c.capture.Params
	if msg, ok := p["failureMessage"].(string); ok && msg != "" {
		c.hear(Say, msg, "", c.capture)
	}
	c.tries++
	if c.tries < intParam(p, "noOfTries", 1) {
		c.hear(Prompt, stringParam(p, "promptMessage"), c.actionID, c.capture)
		return
	}
	c.capture = nil
	c.send(ctx, webhook.CallAction, "ACTION_COMPLETED", nil)
}

// Hangup is the caller hanging up.
func (c *Call) Hangup(ctx context.Context) {
	if c.ended {
		return
	}
	c.hear(Ended, "the caller hung up", "", nil)
	c.finish(ctx)
}

func (c *Call) finish(ctx context.Context) {
	c.ended, c.capture, c.bridged = true, nil, false
	c.send(ctx, webhook.CallStatus, "CALL_DISCONNECTED", nil)
	c.send(ctx, webhook.SessionSummary, "COMPLETED", nil)
}

// send delivers one webhook and, for CALL_ACTION, carries out the reply. It
// keeps going while replies end without anything to wait for, as 8x8 asks
// for more.
func (c *Call) send(ctx context.Context, typ, status string, digits *string) {
	for round := 0; ; round++ {
		body := c.webhook(typ, status, digits)
		ev, err := webhook.Parse(body)
		if err != nil { // our own webhooks: a bug here, not in the script
			panic(fmt.Sprintf("phone built a bad webhook: %v", err))
		}
		h := c.line.Engine.Handle(ctx, ev, c.opts.App)
		c.hearLogs()
		if h.Duplicate {
			return
		}
		c.Handled = append(c.Handled, h)
		if typ != webhook.CallAction {
			switch {
			case h.Err != nil && h.Handler != "":
				c.hear(Failed, fmt.Sprintf("%s failed on %s %s: %v", h.Handler, typ, status, h.Err), "", nil)
			case h.Err != nil: // nothing ran: the store refused the event
				c.hear(Failed, fmt.Sprintf("%s %s was not handled: %v", typ, status, h.Err), "", nil)
			}
			return
		}
		if h.Note != "" {
			c.hear(Warning, h.Note, "", nil)
		}
		if h.Err != nil {
			c.hear(Error, h.Err.Error(), "", nil)
		}
		c.Replies = append(c.Replies, h.Reply)
		c.actionID = h.Reply.ClientActionID
		if !c.play(ctx, h.Reply) {
			return
		}
		if round >= autoLimit {
			c.hear(Error, fmt.Sprintf("the call never ends: %d replies in a row without a prompt, a transfer or a hangup", autoLimit+1), "", nil)
			c.finish(ctx)
			return
		}
		status, digits = "ACTION_COMPLETED", nil
	}
}

// play carries out a callflow; it reports whether 8x8 would come back for
// more right away (nothing left waiting).
func (c *Call) play(ctx context.Context, r callflow.Reply) bool {
	for i := range r.Callflow {
		a := &r.Callflow[i]
		c.last = a.Name
		switch a.Name {
		case callflow.Say:
			c.hear(Say, stringParam(a.Params, "text"), "", a)
			c.line.advance(speechTime(stringParam(a.Params, "text")))
		case callflow.PlayFile:
			c.hear(Play, stringParam(a.Params, "fileUrl"), "", a)
		case callflow.SayAndCapture:
			c.hear(Prompt, stringParam(a.Params, "promptMessage"), r.ClientActionID, a)
			c.line.advance(speechTime(stringParam(a.Params, "promptMessage")))
			c.capture, c.tries = a, 0
			return false
		case callflow.MakeCall:
			c.hear(Bridge, stringParam(a.Params, "destination"), "", a)
			c.bridged = true
			c.legs = append(c.legs, stringParam(a.Params, "destination"))
			return false
		case callflow.Hangup:
			c.hear(Hangup, "", "", a)
			c.finish(ctx)
			return false
		}
	}
	return true
}

// webhook builds the JSON 8x8 would post, with digits where 8x8 puts them today.
func (c *Call) webhook(typ, status string, digits *string) []byte {
	c.seq++
	p := map[string]any{
		"eventId":       fmt.Sprintf("%s-e%d", c.session, c.seq),
		"callId":        c.session + "-a",
		"sessionId":     c.session,
		"subAccountId":  "luaivr_simulator",
		"callDirection": c.direction(),
		"callType":      "PSTN",
		"source":        c.source(),
		"destination":   c.destination(),
		"timestamp":     c.line.Now().UTC().Format(time.RFC3339Nano),
	}
	switch typ {
	case webhook.SessionSummary:
		for _, k := range []string{"eventId", "callId", "callDirection", "callType", "source", "destination", "timestamp"} {
			delete(p, k) // a summary has them per leg
		}
		c.summarize(p, status)
	default:
		p["callStatus"] = status
	}
	if c.actionID != "" && typ == webhook.CallAction {
		p["clientActionId"] = c.actionID
	}
	if digits != nil {
		p["eventData"] = map[string]any{"dtmf": *digits}
	}
	b, _ := json.Marshal(map[string]any{"namespace": "VOICE", "eventType": typ, "description": "simulated", "payload": p})
	return b
}

// summarize fills a SESSION_SUMMARY payload as 8x8 does (see
// fixtures/8x8/vss_ivr_completed_bridged__docs.json): the session's times,
// its last action, and one entry in details per leg: callA the caller's,
// callB the party a makeCall connected them to.
func (c *Call) summarize(p map[string]any, status string) {
	end := c.line.Now().UTC()
	leg := func(id, source, destination string) map[string]any {
		return map[string]any{
			"callId": id, "callDirection": c.direction(), "callType": "PSTN",
			"source": source, "destination": destination, "callStatus": status,
			"initiatedTimestamp": c.started.UTC().Format(time.RFC3339), "disconnectedTimestamp": end.Format(time.RFC3339),
			"callDuration": int(end.Sub(c.started).Seconds()),
		}
	}
	details := map[string]any{"callA": leg(c.session+"-a", c.source(), c.destination())}
	if n := len(c.legs); n > 0 { // placed by 8x8 from our number
		b := leg(c.session+"-b", c.opts.Number, c.legs[n-1])
		b["callDirection"] = "OUTBOUND"
		details["callB"] = b
	}
	last := "HANGUP" // the caller hung up, or the script did
	if c.last != "" && c.last != callflow.Hangup {
		last = strings.ToUpper(snake.ReplaceAllString(c.last, "${1}_${2}"))
	}
	p["sessionStatus"] = status
	p["startTime"] = c.started.UTC().Format(time.RFC3339)
	p["endTime"] = end.Format(time.RFC3339)
	p["callCount"] = len(details)
	p["lastAction"] = last
	p["details"] = details
}

var snake = regexp.MustCompile(`([a-z])([A-Z])`)

// speechTime is roughly how long 8x8 takes to say text: 15 characters a second.
func speechTime(text string) time.Duration {
	return time.Duration(len(text)) * time.Second / 15
}

func stringParam(p map[string]any, k string) string {
	s, _ := p[k].(string)
	return s
}

func intParam(p map[string]any, k string, def int) int {
	if f, ok := p[k].(float64); ok {
		return int(f)
	}
	return def
}

func boolParam(p map[string]any, k string, def bool) bool {
	if b, ok := p[k].(bool); ok {
		return b
	}
	return def
}
