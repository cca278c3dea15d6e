// Package replay runs recorded calls again against a script folder and says,
// per call, whether callers would now hear the same thing: `luaivr replay`,
// the golden-calls gate of a change to an IVR. Each call's events are rebuilt
// from the payloads the transcript recorded and handled, in order, by a real
// engine on a store of their own (memstore), with the clock set to when each
// event was handled; each reply is compared with the recorded one. The first
// reply that differs ends that call's replay, since the caller's later keys
// answered a prompt the new script no longer gives; it is shown action by
// action and parameter by parameter, with the script line behind the new one.
//
// Each event's handler is served what it read when the call was recorded
// (stdlib/inputs): its clock reads, kv answers, http and vcc responses. A
// replay never reaches the network: a request the call did not make is a Lua
// error that says so (the http and vcc modules also get a transport that
// refuses every request, should one get past the record), and the
// difference lists it.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/stdlib/inputs"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/memstore"
)

// Call is one recorded call: its session and transcript as the store keeps
// them (what `luaivr sessions show --json` prints).
type Call struct {
	Session    store.Session `json:"session"`
	Transcript []store.Entry `json:"transcript"`
}

// What a call's replay came to.
const (
	Same    = "same"    // every reply as recorded
	Differs = "differs" // a reply is not what the caller heard
	Cannot  = "cannot"  // the call cannot be replayed; Why says why
	// Placeholder: the same up to an event that ran on placeholder digits
	// (a sensitive capture's, never stored) and was answered otherwise, as
	// other digits may well be; what follows cannot be compared. Diff shows
	// that event. It does not fail the gate: nothing is shown to differ. A
	// handler that now fails there (the caller gets the fallback) is not
	// this but Differs: no digits excuse an error.
	Placeholder = "placeholder"
)

// Result is one call's replay.
type Result struct {
	Session string    `json:"session"`
	App     string    `json:"app"`
	Caller  string    `json:"caller,omitempty"`
	Started time.Time `json:"started"`
	Outcome string    `json:"outcome"`
	Why     string    `json:"why,omitempty"`
	// Events is how many recorded events were handled again.
	Events int `json:"events"`
	// Diff is the first event whose reply differs.
	Diff *Difference `json:"diff,omitempty"`
	// Notes say where the replay cannot be exact: digits redacted at a
	// sensitive capture ran on a placeholder, a placed call's first vars
	// were not recorded, a handler needed more than the deadline.
	Notes []string `json:"notes,omitempty"`
	// positions are the (app, position) pairs whose callers this call
	// counts for in the per-menu summary.
	positions []string
}

// Difference is the first event of a call that the new script answers
// otherwise than it was answered.
type Difference struct {
	Seq        int     `json:"seq"`
	EventType  string  `json:"event_type"`
	CallStatus string  `json:"call_status,omitempty"`
	Digits     *string `json:"digits,omitempty"`
	Position   string  `json:"position,omitempty"` // the clientActionId the event answered
	// Recorded and Replayed are the replies (for CALL_ACTION).
	Recorded json.RawMessage `json:"recorded,omitempty"`
	Replayed json.RawMessage `json:"replayed,omitempty"`
	Changes  []Change        `json:"changes,omitempty"`
	// Where is the script line behind the new reply (engine.Handled.Where),
	// and Menu the declaration of the menu the new reply waits at, when it
	// is one.
	Where string `json:"where,omitempty"`
	Menu  string `json:"menu,omitempty"`
	// Written is the script line that holds the new text (a prompt, a
	// say), found by looking for it in the app's source and the modules
	// beside it: the line to look at when the text came out otherwise.
	Written string `json:"written,omitempty"`
	// Error is why the new script's own reply was not used (the caller got
	// the fallback); RecordedError the same of the recorded event.
	Error         string `json:"error,omitempty"`
	RecordedError string `json:"recorded_error,omitempty"`
	// Elsewhere says the new reply takes the caller on another path: to
	// another position (clientActionId), or it ends or transfers the call
	// otherwise (hangup, makeCall and its destination); a fallback counts so
	// when it does. Otherwise only what the caller hears changed.
	Elsewhere bool `json:"elsewhere"`
	// Unrecorded are the reads of the new handler that the recording could
	// not answer (an http request the call did not make, a kv key it did
	// not read): often why it answers otherwise.
	Unrecorded []string `json:"unrecorded,omitempty"`

	timedOut bool // the new reply is a fallback for the deadline
}

// Report is a replay of many calls.
type Report struct {
	Calls   []Result `json:"calls"`
	Same    int      `json:"same"`
	Differs int      `json:"differs"`
	Cannot  int      `json:"cannot"`
	// Placeholder counts the calls replayed the same up to placeholder digits.
	Placeholder int `json:"placeholder"`
	// Menus counts, per position, the callers who answered there, how many
	// of them would now be taken elsewhere from it, and how many would hear
	// other words on the same path.
	Menus []MenuCount `json:"menus,omitempty"`
}

// MenuCount is one position of the per-menu summary.
type MenuCount struct {
	App      string `json:"app"`
	Position string `json:"position"` // "" is the call's start
	Callers  int    `json:"callers"`
	// Elsewhere: the new reply there takes the caller to another position
	// (another clientActionId), or ends or transfers the call otherwise.
	Elsewhere int `json:"elsewhere"`
	// Reworded: the new reply there differs (a prompt, a voice, a file),
	// but the caller goes where they went.
	Reworded int `json:"reworded"`
}

// OK reports whether every call replayed the same: the gate's verdict.
func (r Report) OK() bool { return r.Differs == 0 && r.Cannot == 0 && r.Same+r.Placeholder > 0 }

// Options configure a replay.
type Options struct {
	// Engine are the options the apps are served with (deadline, zone,
	// allow-list, kv quotas, logger); Store and Now are replay's.
	Engine engine.Options
	// Dir names the script folder in messages.
	Dir string
	// Broken are the apps of the folder that did not load, with why: their
	// calls cannot be replayed, and say so.
	Broken map[string]string
}

// Run replays each call against scripts, in the order given.
func Run(ctx context.Context, scripts *engine.Scripts, calls []Call, opts Options) Report {
	var rep Report
	menus := map[string]*MenuCount{}
	for _, c := range calls {
		r := Replay(ctx, scripts, c, opts)
		switch r.Outcome {
		case Same:
			rep.Same++
		case Differs:
			rep.Differs++
		case Placeholder:
			rep.Placeholder++
		default:
			rep.Cannot++
		}
		for _, p := range r.positions {
			m := menus[p]
			if m == nil {
				app, pos, _ := strings.Cut(p, "\x00")
				m = &MenuCount{App: app, Position: pos}
				menus[p] = m
			}
			m.Callers++
			if r.Outcome == Differs && p == r.App+"\x00"+r.Diff.Position {
				if r.Diff.Elsewhere {
					m.Elsewhere++
				} else {
					m.Reworded++
				}
			}
		}
		rep.Calls = append(rep.Calls, r)
	}
	for _, m := range menus {
		rep.Menus = append(rep.Menus, *m)
	}
	sort.Slice(rep.Menus, func(i, j int) bool {
		a, b := rep.Menus[i], rep.Menus[j]
		if a.App != b.App {
			return a.App < b.App
		}
		return a.Position < b.Position
	})
	return rep
}

// Replay runs one recorded call again. A reply that differs because a
// handler ran out of its deadline is played again with twenty times the
// deadline (at most two seconds more), as check does: a busy machine is not
// a changed script.
func Replay(ctx context.Context, scripts *engine.Scripts, c Call, opts Options) Result {
	r := replay(ctx, scripts, c, opts)
	if r.Outcome != Differs || !r.Diff.timedOut {
		return r
	}
	slow := opts
	d := slow.Engine.Deadline
	if d <= 0 {
		d = engine.DefaultDeadline
	}
	slow.Engine.Deadline = min(20*d, d+2*time.Second)
	again := replay(ctx, scripts, c, slow)
	if again.Outcome == Same {
		again.Notes = append(again.Notes, fmt.Sprintf("event %d ran past --deadline %s on this machine, and answered as recorded with %s", r.Diff.Seq, d, slow.Engine.Deadline))
	}
	return again
}

func replay(ctx context.Context, scripts *engine.Scripts, c Call, opts Options) Result {
	s := c.Session
	r := Result{Session: s.ID, App: s.App, Caller: caller(s), Started: s.Created, Outcome: Cannot}
	entries := append([]store.Entry(nil), c.Transcript...)
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Seq < entries[j].Seq })
	if why := replayable(scripts, s, entries, opts); why != "" {
		r.Why = why
		return r
	}
	p, err := newPlayer(scripts, opts.Engine)
	if err != nil {
		r.Why = err.Error()
		return r
	}
	defer p.close()
	seen := map[string]bool{}
	position := func(pos string) { // the positions this caller answered at, for the summary
		if k := s.App + "\x00" + pos; !seen[k] {
			seen[k] = true
			r.positions = append(r.positions, k)
		}
	}
	for _, e := range entries {
		p.at(e.At)
		if e.EventType == "REGISTERED" { // a call we placed: the app and position it starts at
			if err := p.eng.Register(ctx, store.Session{ID: s.ID, App: s.App, ActionID: e.ActionID,
				Direction: s.Direction, Source: s.Source, Destination: s.Destination}); err != nil {
				r.Why = fmt.Sprintf("event %d: %v", e.Seq, err)
				return r
			}
			if strings.EqualFold(s.Direction, "OUTBOUND") {
				r.Notes = append(r.Notes, "a placed call: the vars it was placed with are not recorded, so it replayed from empty vars")
			}
			r.Events++
			continue
		}
		ev, hidden, err := rebuild(e)
		if err != nil {
			r.Why = fmt.Sprintf("event %d (%s): its recorded payload does not parse: %v", e.Seq, e.EventType, err)
			return r
		}
		placeholder := hidden != nil
		if placeholder {
			r.Notes = append(r.Notes, fmt.Sprintf("event %d ran on placeholder digits %s: its digits were a sensitive capture, redacted when recorded", e.Seq, ev.Digits))
		}
		if e.Inputs != nil && e.Inputs.Clipped {
			r.Notes = append(r.Notes, fmt.Sprintf("event %d read more than its record keeps: what it read past the bound was not recorded, so its replay cannot be exact", e.Seq))
		}
		if e.EventType == webhook.CallAction {
			position(e.ActionID)
		}
		body, h, unrecorded := p.handle(ctx, ev, e.Inputs, s.App, hidden)
		r.Events++
		d := compare(e, body, h, hidden, scripts, scripts.Apps[s.App])
		if d == nil {
			for _, u := range unrecorded {
				r.Notes = append(r.Notes, fmt.Sprintf("event %d: %s", e.Seq, u))
			}
			continue
		}
		d.Unrecorded = unrecorded
		r.Diff = d
		if placeholder && (d.Error == "" || d.RecordedError != "") {
			r.Outcome = Placeholder
			return r
		}
		position(d.Position) // the summary counts the caller where the path changed
		r.Outcome = Differs
		return r
	}
	r.Outcome = Same
	return r
}

// player is the engine one call is replayed on: a store of its own, the
// clock at each event's recorded time, and no network.
type player struct {
	eng *engine.Engine
	st  store.Store
	mu  sync.Mutex
	now time.Time
}

func newPlayer(scripts *engine.Scripts, opts engine.Options) (*player, error) {
	p := &player{st: memstore.New(store.Options{})}
	opts.Store = p.st
	opts.Now = func() time.Time { p.mu.Lock(); defer p.mu.Unlock(); return p.now }
	offline := &http.Client{Transport: refuse{}}
	opts.HTTP.Client, opts.VCC.HTTP = offline, offline
	eng, err := engine.New(scripts, opts)
	if err != nil {
		p.st.Close()
		return nil, err
	}
	p.eng = eng
	return p, nil
}

func (p *player) close() { p.st.Close() }

func (p *player) at(t time.Time) {
	p.mu.Lock()
	p.now = t
	p.mu.Unlock()
}

// handle runs one event with the inputs it recorded: the reply body, the
// engine's account of it, and the reads the record could not answer. hidden,
// when not nil, is the hiding of the placeholder keys the event runs on: its
// requests are matched against the record with them hidden.
func (p *player) handle(ctx context.Context, ev *webhook.Event, in *store.Inputs, app string, hidden *engine.Hidden) ([]byte, engine.Handled, []string) {
	tape := inputs.Replay(ctx, in)
	if hidden != nil {
		inputs.From(tape).Hide(hidden.Text)
	}
	h := p.eng.Handle(tape, ev, app)
	return h.Body, h, inputs.From(tape).Unrecorded()
}

// replayable says why a call cannot be replayed ("" when it can).
func replayable(scripts *engine.Scripts, s store.Session, entries []store.Entry, opts Options) string {
	dir := opts.Dir
	if dir == "" {
		dir = "the script folder"
	}
	switch {
	case s.App == "":
		return "no app took the call"
	case opts.Broken[s.App] != "":
		return fmt.Sprintf("app %s does not load: %s", s.App, opts.Broken[s.App])
	case scripts.Apps[s.App] == nil:
		return fmt.Sprintf("app %s is not in %s (apps: %s)", s.App, dir, strings.Join(scripts.Names(), ", "))
	case len(entries) == 0:
		return "its transcript is empty (expired)"
	case entries[0].Seq != 1:
		return fmt.Sprintf("its transcript starts at event %d: the first events are no longer kept", entries[0].Seq)
	}
	for _, e := range entries {
		if e.EventType == "REGISTERED" {
			continue
		}
		if len(e.Event) == 0 {
			return fmt.Sprintf("event %d (%s) has no recorded payload", e.Seq, e.EventType)
		}
		var clipped struct {
			Clipped *int `json:"clipped"`
		}
		if json.Unmarshal(e.Event, &clipped) == nil && clipped.Clipped != nil {
			return fmt.Sprintf("event %d (%s): its payload of %d bytes was too large to keep", e.Seq, e.EventType, *clipped.Clipped)
		}
	}
	return ""
}

// rebuild is the webhook an entry recorded. Digits redacted at a sensitive
// capture ("••••") are replaced by placeholder keys (Placeholder), and
// hidden is how the record hid them; nil when the event carries none.
func rebuild(e store.Entry) (ev *webhook.Event, hidden *engine.Hidden, err error) {
	body, err := json.Marshal(map[string]any{"eventType": e.EventType, "payload": e.Event})
	if err != nil {
		return nil, nil, err
	}
	if ev, err = webhook.Parse(body); err != nil {
		return nil, nil, err
	}
	if e.Redacted && e.Digits != nil {
		ev.Digits, ev.HasDigits, ev.Unreadable = PlaceholderKeys(*e.Digits), true, ""
		h := engine.HideKeys(ev.Digits)
		hidden = &h
	}
	return ev, hidden, nil
}

// PlaceholderKeys are the keys a replay presses for a sensitive capture the
// record shows as redacted ("•" per key, a closing '#' kept): a 1 for each
// key, as a number keeps them all (tonumber of 0000 is 0), and, for a card
// number's length (12 keys or more), a last key that makes the number pass
// the Luhn check that card-taking scripts make.
func PlaceholderKeys(redacted string) string {
	n := utf8.RuneCountInString(strings.TrimRight(redacted, "#"))
	keys := []byte(strings.Repeat("1", n))
	if n >= 12 {
		sum := 0
		for i := n - 2; i >= 0; i-- { // the Luhn sum of all but the check digit
			d := int(keys[i] - '0')
			if (n-2-i)%2 == 0 {
				if d *= 2; d > 9 {
					d -= 9
				}
			}
			sum += d
		}
		keys[n-1] = byte('0' + (10-sum%10)%10)
	}
	return string(keys) + redacted[len(strings.TrimRight(redacted, "#")):]
}

// compare is the difference between what an event recorded and what it was
// answered now; nil when they are the same. hidden, when not nil, hides the
// placeholder keys in the new reply as the record hid the caller's (a
// prompt that says them back).
func compare(e store.Entry, body []byte, h engine.Handled, hidden *engine.Hidden, scripts *engine.Scripts, app *engine.App) *Difference {
	d := &Difference{Seq: e.Seq, EventType: e.EventType, CallStatus: e.CallStatus, Digits: e.Digits,
		Position: e.ActionID, Where: h.Where, RecordedError: e.Error, timedOut: h.Reason == engine.ReasonTimeout}
	if h.Err != nil {
		d.Error = h.Err.Error()
	}
	if e.EventType != webhook.CallAction {
		// Nobody hears on_status or on_end: they differ when they now fail, or no longer do.
		if (e.Error == "") == (h.Err == nil) {
			return nil
		}
		return d
	}
	if hidden != nil {
		body = hidden.JSON(body)
	}
	d.Changes = diffReplies(e.Reply, body)
	if len(d.Changes) == 0 {
		return nil
	}
	d.Recorded, d.Replayed = e.Reply, json.RawMessage(body)
	d.Elsewhere = path(e.Reply) != path(body)
	d.Written = writtenAt(scripts, app, d.Changes)
	d.Where = chosenBy(scripts, app, d.Where)
	if id := h.Reply.ClientActionID; id != "" {
		for _, m := range app.Menus {
			if m.ID == id {
				d.Menu = fmt.Sprintf("menu %q (%s)", m.ID, m.Where)
			}
		}
	}
	return d
}

// path is where a reply takes the caller: its clientActionId, and the
// actions that end or transfer the call, with the destination. A reply that
// does not parse is its own path.
func path(reply []byte) string {
	r, err := callflow.Parse(reply)
	if err != nil {
		return string(reply)
	}
	p := []string{r.ClientActionID}
	for _, a := range r.Callflow {
		switch a.Name {
		case callflow.Hangup:
			p = append(p, a.Name)
		case callflow.MakeCall:
			p = append(p, fmt.Sprint(a.Name, " ", a.Params["destination"]))
		}
	}
	return strings.Join(p, "\x00")
}

// refuse is the network of a replay: none.
type refuse struct{}

func (refuse) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, errors.New("replay makes no network calls: " + req.Method + " " + req.URL.Redacted() + " was not answered from the recording")
}

func caller(s store.Session) string {
	if strings.EqualFold(s.Direction, "OUTBOUND") {
		return s.Destination
	}
	return s.Source
}
