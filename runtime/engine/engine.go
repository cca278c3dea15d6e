// Package engine handles one 8x8 webhook event from start to finish: find the
// app, run its handler in a sandboxed Lua state under a deadline, turn what
// it returned into a callflow, validate it, persist the session and transcript,
// and produce the reply.
//
// By concern: engine.go is the event pipeline (Handle); script.go runs a
// script with its turn, deadline and watchdog, on workers.go's goroutines,
// in warm.go's states; session.go moves a session between Go and Lua;
// stdlib.go assembles the modules a state gets; apps.go loads and probes the
// scripts, reload.go and versions.go change what is served; locks.go orders
// a session's events through the store; redact.go keeps sensitive digits
// out of what is stored; memguard.go stops scripts past the memory limit;
// call.go places outbound calls.
//
// The rules it keeps (SPEC §3):
//   - Never dead air: any script error, timeout, empty or invalid callflow is
//     answered with the app's fallback (or the server's apology and hangup),
//     logged with the script's file and line, and counted.
//   - Idempotent: a redelivered event gets the stored reply; the script does not
//     run again.
//   - Ordered: events of one session are handled one at a time, also across
//     instances sharing the store (the store's lease, locks.go); sessions run
//     in parallel.
//   - Isolated: nothing a script leaves behind reaches the next event or
//     another call. Each event gets a new Lua state, or a warm one restored to
//     what its top level built (warm.go); a menu answer known at load needs
//     no state at all (ivr.Answers).
//   - Recorded: what the handler reads from outside its script (the clock, kv,
//     http, vcc, math.random) is kept with its transcript entry, bounded
//     (package inputs), so that replay can run the event again; under
//     inputs.Replay the record is served instead.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/webhook"
	httpmod "github.com/luaivr/luaivr/stdlib/http"
	"github.com/luaivr/luaivr/stdlib/inputs"
	"github.com/luaivr/luaivr/stdlib/ivr"
	kvmod "github.com/luaivr/luaivr/stdlib/kv"
	clock "github.com/luaivr/luaivr/stdlib/time"
	"github.com/luaivr/luaivr/stdlib/vcc"
	"github.com/luaivr/luaivr/store"
)

// Options configure an Engine.
type Options struct {
	Store store.Store
	// DefaultApp answers calls no other rule places; empty means the only app
	// when the folder has exactly one.
	DefaultApp string
	// Deadline bounds one event's Lua work (default DefaultDeadline).
	Deadline time.Duration
	// Voice is the voiceProfile of the server's own fallback.
	Voice  string
	Logger *slog.Logger
	// Now is the clock (tests and the simulator replace it).
	Now func() time.Time
	// Concurrency is how many scripts run at once (default four per CPU).
	// The deadline is wall-clock time: with many scripts sharing few cores, a
	// handler could pass it waiting for a core. Events beyond this wait their
	// turn before their deadline starts. Scripts waiting on http hold a place.
	Concurrency int
	// MemoryLimit is the Go heap size, in bytes, past which running scripts
	// are stopped (see memGuard); 0 turns the guard off.
	MemoryLimit uint64
	// HTTP configures the http module (the operator's allow-list).
	HTTP httpmod.Options
	// VCC configures the vcc module (the contact center's tenant and token).
	VCC vcc.Options
	// KVQuota bounds what each app keeps in kv (zero fields: kv's defaults).
	KVQuota store.KVQuota
	// StoreTimeout bounds each store operation of an event (default
	// store.DefaultTimeout): a store that does not answer within it means the
	// fallback for the caller.
	StoreTimeout time.Duration
	// Zone is the time module's default time zone ("" is UTC).
	Zone string
	// PinVersions runs each event of a call on the app version the call
	// started on, while this engine keeps it (see versions.go); off, an
	// event runs the version served when it arrives.
	PinVersions bool
	// SessionTTL is how long the store keeps a session after its last event
	// (default 24h, the stores' default): a version no event ran on for
	// that long is no call's any more.
	SessionTTL time.Duration
}

// Handled describes one handled event: what Handle answered and why.
type Handled struct {
	// Body is the answer: a callflow reply for a CALL_ACTION (the fallback
	// when the script failed), {} for other events.
	Body []byte
	// Duplicate: a redelivery answered with the stored reply; the script did
	// not run, and the fields below are empty.
	Duplicate bool

	App      string // "" when no app took the call
	Session  string
	Type     string // eventType
	Handler  string // on_call, on_dtmf, …, "menu" for the menu router; "" when none ran
	Position string // the clientActionId the event answered
	Digits   string
	Reply    callflow.Reply // for CALL_ACTION: what was sent (the fallback on failure)
	Err      error          // why the script's own reply was not used
	Reason   string         // fallback reason; "" when the reply is the script's
	Note     string         // a warning, e.g. an unknown menu position
	Vars     json.RawMessage
	Took     time.Duration // time in Lua
	NewCall  bool          // the first event luaivr saw of this session

	// Where is the script line behind the reply: the handler's "file:line",
	// or what the menu tree chose with its line (`option ["1"] of menu
	// "main" (app.lua:12)`); "" when no handler ran. Replay names it beside
	// a reply that changed.
	Where string
}

// DefaultDeadline is an event's Lua work when Options.Deadline is not set.
const DefaultDeadline = 100 * time.Millisecond

// Engine handles webhook events. It is safe for concurrent use.
type Engine struct {
	opts     Options
	log      *slog.Logger
	scripts  atomic.Pointer[Scripts]
	locks    keyedMutex
	renewals renewals // of the leases of the events in progress
	stats    Stats
	mem      *memGuard
	libs     libs
	slots    chan struct{} // one per script allowed to run at once
	workers  workers       // the goroutines scripts run in
	shares   sync.Map      // app name → chan struct{}: its share of the slots
	pools    sync.Map      // *App → chan *warm: each app version's warm states (warm.go)
	// versions are the app versions kept for the calls that started on
	// them, and for Rollback; reloading orders Reload and Rollback.
	versions  versions
	reloading sync.Mutex
}

// Stats counts what the engine did, for health and metrics.
type Stats struct {
	Events     atomic.Int64
	Duplicates atomic.Int64
	Fallbacks  sync.Map // reason → *atomic.Int64
	StoreFails atomic.Int64
}

// Fallback reasons.
const (
	ReasonScriptError = "script_error"
	ReasonTimeout     = "timeout"
	ReasonInvalid     = "invalid_callflow"
	ReasonEmpty       = "empty_callflow"
	ReasonNoApp       = "no_app"
	ReasonNoHandler   = "no_handler"
	ReasonMemory      = "memory"
	ReasonBusy        = "busy"
	ReasonStore       = "store" // the store cannot save the event
)

// New makes an engine serving scripts. The server's own fallback must pass
// 8x8's rules, so a bad Voice is refused here rather than on a live call.
func New(scripts *Scripts, opts Options) (*Engine, error) {
	if opts.Deadline <= 0 {
		opts.Deadline = DefaultDeadline
	}
	if opts.Voice == "" {
		opts.Voice = "en-US-BenjaminRUS"
	}
	if opts.Logger == nil {
		opts.Logger = discardLogger
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4 * runtime.GOMAXPROCS(0)
	}
	if opts.StoreTimeout <= 0 {
		opts.StoreTimeout = store.DefaultTimeout
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 24 * time.Hour
	}
	e := &Engine{slots: make(chan struct{}, opts.Concurrency), workers: newWorkers(), opts: opts, log: opts.Logger, mem: newMemGuard(opts.MemoryLimit, opts.Logger), libs: libs{
		kv:   kvmod.Options{Store: opts.Store, Quota: opts.KVQuota},
		time: clock.Open(clock.Options{Now: opts.Now, Zone: opts.Zone}),
		http: httpmod.Open(opts.HTTP),
		vcc:  vcc.Open(opts.VCC),
	}}
	if err := callflow.Check(e.serverFallback().Callflow, callflow.AsReply); err != nil {
		return nil, fmt.Errorf("voice %q for the server's fallback: %w", opts.Voice, err)
	}
	e.scripts.Store(scripts)
	e.versions.serve(scripts, opts.Now())
	return e, nil
}

// Scripts returns the scripts being served; while serve's first load is
// under way, it waits for it a moment (see served).
func (e *Engine) Scripts() *Scripts { return e.served() }

// Store is where the engine keeps sessions (for the admin endpoints).
func (e *Engine) Store() store.Store { return e.opts.Store }

// Stats returns the engine's counters.
func (e *Engine) Stats() *Stats { return &e.stats }

// Handle answers one event; pathApp is the app named in the URL, if any. The
// returned body is always a valid answer: for CALL_ACTION a callflow reply.
//
// The events of one session are ordered by the store's lease on it (see
// package store), so they take turns across every engine sharing the store;
// within this engine they first queue on an in-process lock, in arrival
// order, instead of polling the store for a lease held next door. A commit
// the store refuses (ErrConflict: another event committed first, or this
// one's lease expired) is handled again from the lease on, a few times.
func (e *Engine) Handle(ctx context.Context, ev *webhook.Event, pathApp string) Handled {
	e.stats.Events.Add(1)
	unlock := e.locks.lock(ev.SessionID)
	defer unlock()
	for attempt := 1; ; attempt++ {
		h, conflict := e.handle(ctx, ev, pathApp, attempt == conflictAttempts)
		if !conflict {
			return h
		}
		e.log.Warn("another event of the session was saved first (on another instance, or this event's lease expired); handling the event again",
			"session", ev.SessionID, "event", ev.EventID, "attempt", attempt)
	}
}

// conflictAttempts bounds how often one event is handled again after the
// store refused its commit; the last refusal gives the caller the fallback.
const conflictAttempts = 3

// handle is one attempt at an event; conflict reports that the store refused
// its commit with ErrConflict and last was false, so that nothing of it was
// saved or answered.
func (e *Engine) handle(ctx context.Context, ev *webhook.Event, pathApp string, last bool) (h Handled, conflict bool) {
	key := ev.ReplyKey()
	begun, err := e.begin(ctx, ev.SessionID, key)
	if err == nil && begun.Replied {
		if ev.Type != webhook.CallAction || isCallflow(begun.Reply) {
			e.stats.Duplicates.Add(1)
			e.log.Info("redelivered event answered from the reply cache", "session", ev.SessionID, "event", ev.EventID)
			return Handled{Body: begun.Reply, Duplicate: true, Session: ev.SessionID, Type: ev.Type}, false
		}
		e.log.Error("store: the reply stored for this event is not a callflow; handling the event again", "session", ev.SessionID)
		begun, err = e.begin(ctx, ev.SessionID, "")
	}
	if err != nil {
		reason := ReasonStore // the store did not answer
		if errors.Is(err, store.ErrLocked) {
			reason = ReasonBusy // another event of the call held it too long
		}
		// Without the session we would run the script on empty vars and then
		// overwrite what is stored: answer, but change nothing.
		return e.unsaved(ev, reason, fmt.Errorf("store: starting the event (its lease and session) failed, so nothing is saved: %w", err)), false
	}
	lease, sess, known := begun.Lease, begun.Session, begun.Known
	committed := false
	e.keepLease(lease)
	defer func() {
		e.dropLease(lease)
		if !committed { // a commit releases its lease
			e.release(lease)
		}
	}()

	now := e.opts.Now()
	if !known {
		sess = store.Session{ID: ev.SessionID, Created: now, Direction: ev.Direction, Source: ev.Source, Destination: ev.Destination}
	}
	read := sess.Events
	scripts := e.Scripts()
	app := e.route(scripts, &sess, known, ev, pathApp)
	version := ""
	if app != nil {
		version = app.Version()
		e.versions.ran(app, now)
	}
	if app != nil && app.Name == sess.App && sess.Version != "" && sess.Version != version {
		why := "this instance does not have it (another instance started the call, this one restarted since, or the version was dropped)"
		if !e.opts.PinVersions && e.versions.find(app.Name, sess.Version) != nil {
			why = "versions are not pinned (--pin-versions=false)"
		}
		e.log.Warn("this call started on another version of its app, and goes on with the version served: "+why,
			"app", app.Name, "session", ev.SessionID, "version", version, "call_version", sess.Version)
	}

	// What the handler reads is recorded on the tape, within what is left of
	// the call's bound (a replay's tape serves its record).
	ctx, tape := inputs.Record(ctx)
	tape.Limit(inputs.MaxSession - sess.Recorded)
	// A store that cannot save this event gets the fallback without running
	// the script: its reply would be lost (and a redelivery would run it again).
	var out outcome
	red, why := newRedaction(ev, &sess, position(ev, &sess), known)
	if why != "" {
		e.log.Warn(why, "session", ev.SessionID, "menu", position(ev, &sess))
	}
	if err := store.Ready(e.opts.Store); err != nil {
		out = outcome{reason: ReasonStore, reply: e.appFallback(app), err: fmt.Errorf("store: %w", err)}
	} else {
		out = e.run(ctx, app, &sess, ev, red)
	}
	if ev.Unreadable != "" && red.sensitive() { // the reason quotes what 8x8 sent
		e.log.Warn("digits not understood, taken as no input (what 8x8 sent is not shown: the capture is sensitive)", "session", ev.SessionID)
	} else if ev.Unreadable != "" {
		e.log.Warn("digits not understood", "session", ev.SessionID, "reason", ev.Unreadable)
	}
	recorded := tape.Inputs()
	sess.Recorded += tape.Size()
	if ev.Type == webhook.CallAction {
		// The position is what we last told 8x8, fallback included.
		sess.ActionID = out.reply.ClientActionID
		if sess.ActionID != "" {
			sess.Menu = sess.ActionID
		}
		sess.Sensitive = markSensitive(sess.Sensitive, out.reply)
	}
	var body []byte
	if ev.Type == webhook.CallAction {
		body = out.body
		if body == nil {
			body = encodeReply(out.reply)
		}
	} else {
		body = []byte("{}")
	}

	if app != nil && sess.App == "" {
		sess.App = app.Name
	}
	if app != nil && sess.Version == "" { // the version the call started on
		sess.Version = version
	}
	if ev.CallStatus != "" {
		sess.Status = ev.CallStatus
	}
	if ev.Type == webhook.SessionSummary {
		sess.Ended = true
	}
	if out.vars != nil {
		sess.Vars = out.vars
	}
	if out.menus != nil {
		sess.Root, sess.Tries = out.menus.Root, out.menus.Tries
	}
	sess.Updated = now
	entry := store.Entry{
		At: now, App: sess.App, EventType: ev.Type, EventID: ev.EventID,
		CallStatus: ev.CallStatus, ActionID: out.position, Handler: out.handler, Duration: out.took,
		Event: clipPayload(ev.RawPayload()), Fallback: out.reason != "", Version: version, Inputs: recorded,
	}
	if ev.HasDigits {
		d := ev.Digits
		entry.Digits = &d
	}
	if out.err != nil {
		entry.Error = out.err.Error()
	}
	if ev.Type == webhook.CallAction {
		entry.Reply = body
	}
	// A sensitive capture's digits are redacted last, once the entry is
	// whole; kept is the reply a redelivery gets.
	kept := body
	if red.sensitive() {
		red.entry(&entry)
		kept = red.reply(body)
	}
	if out.reason != ReasonStore {
		op, cancel := e.storeOp(ctx)
		err := e.opts.Store.Commit(op, store.Commit{Lease: lease, Read: read, Session: sess, Entry: entry, ReplyKey: key, Reply: kept})
		cancel()
		committed = err == nil
		if errors.Is(err, store.ErrConflict) && !last {
			return Handled{}, true
		}
		if err != nil {
			// Nothing of this event is saved: the caller hears the fallback,
			// not a reply the next event would know nothing about.
			out.reason, out.reply, out.err = ReasonStore, e.appFallback(app), fmt.Errorf("store: saving the event failed: %w", err)
			if ev.Type == webhook.CallAction {
				body = encodeReply(out.reply)
			}
		}
	}
	if out.reason == ReasonStore {
		e.stats.StoreFails.Add(1)
	}
	if out.reason != "" {
		e.fallback(out.reason, app, ev, out)
	}
	return Handled{Body: body, App: sess.App, Session: sess.ID, Type: ev.Type, Handler: out.handler,
		Position: out.position, Digits: ev.Digits, Reply: out.reply, Err: out.err, Reason: out.reason,
		Where: out.where, Note: out.note, Vars: sess.Vars, Took: out.took, NewCall: !known}, false
}

// unsaved answers an event that nothing could be saved of, before any app
// was chosen: the server's fallback for a CALL_ACTION.
func (e *Engine) unsaved(ev *webhook.Event, reason string, err error) Handled {
	if reason == ReasonStore {
		e.stats.StoreFails.Add(1)
	}
	out := outcome{reason: reason, reply: e.serverFallback(), err: err}
	e.fallback(reason, nil, ev, out)
	h := Handled{Body: []byte("{}"), Session: ev.SessionID, Type: ev.Type, Reply: out.reply, Err: out.err, Reason: reason}
	if ev.Type == webhook.CallAction {
		h.Body = encodeReply(out.reply)
	}
	return h
}

// Register records a session before its first webhook, e.g. a call we place:
// its app, vars and the position it will answer, so that 8x8's webhooks land
// in the right app at the right menu even though the first carries no
// clientActionId. The store merges it with what 8x8's first events may have
// stored already (store.Registered).
func (e *Engine) Register(ctx context.Context, s store.Session) error {
	s.Updated = e.opts.Now()
	if app := e.Scripts().Apps[s.App]; app != nil && s.Version == "" {
		s.Version = app.Version()
		e.versions.ran(app, s.Updated)
	}
	op, cancel := e.storeOp(ctx)
	defer cancel()
	_, err := e.opts.Store.Register(op, s)
	return err
}

// Version names this version of the app: its ID, shortened. A session
// records the version the call started on, and each transcript entry the
// version that handled it.
func (a *App) Version() string { return a.version }

// route picks the app for an event (SPEC §3): the session's app, at the
// version the call started on when it is pinned and kept; the app named in
// the URL, the app that claims the called number, the default app.
func (e *Engine) route(s *Scripts, sess *store.Session, known bool, ev *webhook.Event, pathApp string) *App {
	if known && sess.App != "" {
		app := s.Apps[sess.App]
		if app == nil {
			app = s.Retired[sess.App]
		}
		if e.opts.PinVersions && sess.Version != "" && (app == nil || app.Version() != sess.Version) {
			if pinned := e.versions.find(sess.App, sess.Version); pinned != nil {
				return pinned
			}
		}
		return app // nil: a call keeps its app, though not served here (see run)
	}
	if pathApp != "" {
		if app := s.Apps[pathApp]; app != nil {
			return app
		}
	}
	ours := ev.Destination
	if strings.EqualFold(ev.Direction, "OUTBOUND") {
		ours = ev.Source
	}
	if app := s.byNumber[digitsOf(ours)]; app != nil {
		return app
	}
	if e.opts.DefaultApp != "" {
		return s.Apps[e.opts.DefaultApp]
	}
	if len(s.Apps) == 1 {
		for _, app := range s.Apps {
			return app
		}
	}
	return nil
}

// outcome is what running a handler produced.
type outcome struct {
	reply    callflow.Reply
	vars     json.RawMessage
	handler  string
	position string
	took     time.Duration
	err      error
	reason   string // fallback reason; "" when the reply is the script's own
	note     string
	where    string // Handled.Where
	menus    *ivr.Memory
	body     []byte // the reply encoded, when known before (Answers)
}

// fromAnswers is the event's answer from the app's Answers, worked out at
// load, when its handler is the menu tree (or on_call = <menu>) and the
// answer needs no Lua, with what chose it (Handled.Where); ok is false
// otherwise, and the script runs.
func fromAnswers(app *App, sess *store.Session, ev *webhook.Event, position, handler string) (*ivr.Answer, ivr.Memory, string, bool) {
	mem := ivr.Memory{Root: sess.Root, Tries: sess.Tries}
	switch handler {
	case "menu":
		return app.answers.Route(position, ev.Digits, ev.HasDigits, mem)
	case OnCall:
		ans, after, ok := app.answers.Call(position, mem)
		return ans, after, "", ok
	}
	return nil, mem, "", false
}

// position is the clientActionId an event answers: the one 8x8 echoes, else
// the last we sent.
func position(ev *webhook.Event, sess *store.Session) string {
	return first(ev.ActionID, sess.ActionID)
}

func (e *Engine) run(ctx context.Context, app *App, sess *store.Session, ev *webhook.Event, red *redaction) (out outcome) {
	out.position = position(ev, sess)
	isAction := ev.Type == webhook.CallAction
	if app == nil {
		if isAction && sess.App != "" {
			// Handing the call to another app would leave it there: with the
			// session's app unchanged, its next event can reach an instance
			// that serves the app.
			out.err = fmt.Errorf("this call belongs to app %s, which this instance does not serve (removed before this instance started, or not in its script folder): serve the same scripts on every instance sharing the store", sess.App)
			out.reason = ReasonNoApp
			out.reply = e.serverFallback()
		} else if isAction {
			out.err = errors.New("no app for this call: name one in the URL (/webhooks/APP), list the called number in a script's numbers, or start serve with --app")
			out.reason = ReasonNoApp
			out.reply = e.serverFallback()
		}
		return out
	}
	if app.sensitive[out.position] { // the script declares the position sensitive (ivr.sensitive, a menu's flag)
		red.mark()
	}
	out.handler = handlerFor(app, ev, out.position)
	if out.handler == "" {
		if isAction {
			out.err = fmt.Errorf("%s has no handler for this event (define %s)", app.File, wantedHandler(ev))
			if wantedHandler(ev) == OnTimeout && len(app.Menus) > 0 { // on_dtmf, not the menus, asked
				out.err = fmt.Errorf("%s has no on_timeout for a no input at a prompt that is no menu's (menus answer no input only at their own): define on_timeout", app.File)
			}
			out.reason = ReasonNoHandler
			out.reply = e.appFallback(app)
		}
		return out
	}

	if isAction && app.answering() {
		if ans, mem, from, ok := fromAnswers(app, sess, ev, out.position, out.handler); ok {
			out.reply, out.body, out.menus, out.where = ans.Reply, ans.Body, &mem, from
			if len(sess.Vars) == 0 {
				out.vars = json.RawMessage("{}") // as the script leaves a new call's
			}
			return out
		}
	}
	snapshot := *sess // the script's goroutine may outlive this call
	lo := e.script(ctx, app, ev.SessionID, out.handler, func(sc *scriptContext) luaOutcome {
		return e.runLua(sc, app, &snapshot, ev, out.position, out.handler, red)
	})
	out.reply, out.vars, out.took, out.err, out.reason, out.note, out.menus = lo.reply, lo.vars, lo.took, lo.err, lo.reason, lo.note, lo.menus
	out.where = whereOf(lo.where)
	red.outcome(&out, lo.where)
	if out.note != "" {
		e.log.Warn(out.note, "app", app.Name, "session", ev.SessionID, "menu", out.position)
	}
	if !isAction {
		return out
	}
	if out.err == nil && len(out.reply.Callflow) == 0 {
		hint := "return a callflow, e.g. ivr.hangup()"
		if (out.handler == OnDTMF || out.handler == OnTimeout) && len(app.Menus) > 0 {
			hint += ", or hand the digits to the menus: return ivr.route(session, digits)"
		}
		out.err = fmt.Errorf("%s%s returned nothing; the caller would hear silence (%s)", out.handler, lo.where, hint)
		out.reason = ReasonEmpty
	}
	if out.err == nil {
		if err := callflow.Check(out.reply.Callflow, callflow.AsReply); err != nil {
			out.err = fmt.Errorf("%s%s returned a callflow 8x8 would reject: %w", out.handler, lo.where, err)
			out.reason = ReasonInvalid
		}
	}
	if out.err != nil {
		out.reply, out.menus = e.appFallback(app), nil
	}
	return out
}

// handlerFor names the handler an event goes to; "" when the script has none.
// Digits and no-input answered at a position of the menu tree (a menu or an
// ivr.on position) go to the tree ("menu"); at any other position they go to
// on_dtmf or on_timeout, and to the tree's root menu when the script lacks
// the one it wants (but a no input in an app with on_dtmf is on_timeout's).
func handlerFor(app *App, ev *webhook.Event, position string) string {
	want := wantedHandler(ev)
	if want == "" {
		return ""
	}
	answer := want == OnDTMF || want == OnTimeout
	if answer && app.IsPosition(position) {
		return "menu"
	}
	if _, ok := app.Handlers[want]; ok {
		return want
	}
	if _, dtmf := app.Handlers[OnDTMF]; want == OnTimeout && dtmf {
		return "" // on_dtmf's prompt: its no input is on_timeout's, not the root menu's
	}
	if answer && len(app.Menus) > 0 {
		return "menu"
	}
	return ""
}

func wantedHandler(ev *webhook.Event) string {
	switch ev.Type {
	case webhook.CallAction:
		switch {
		case ev.IsCallStart():
			return OnCall
		case ev.HasDigits:
			return OnDTMF
		default:
			return OnTimeout
		}
	case webhook.CallStatus:
		return OnStatus
	case webhook.SessionSummary:
		return OnEnd
	}
	return ""
}

func (e *Engine) fallback(reason string, app *App, ev *webhook.Event, out outcome) {
	c, _ := e.stats.Fallbacks.LoadOrStore(reason, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
	name := ""
	if app != nil {
		name = app.Name
	}
	level := slog.LevelError
	if ev.Type != webhook.CallAction {
		level = slog.LevelWarn // nobody waits on the line for these
	}
	e.log.Log(context.Background(), level, "handler failed; caller gets the fallback",
		"app", name, "session", ev.SessionID, "handler", out.handler, "menu", out.position,
		"reason", reason, "err", out.err)
}

func (e *Engine) appFallback(app *App) callflow.Reply {
	if app != nil && app.Fallback != nil {
		return *app.Fallback
	}
	return e.serverFallback()
}

// serverFallback is said when a script cannot answer: an apology, then hang up.
func (e *Engine) serverFallback() callflow.Reply {
	return callflow.Reply{Callflow: []callflow.Action{
		{Name: callflow.Say, Params: map[string]any{
			"text":         "We are sorry, we cannot take your call right now. Please call again later.",
			"voiceProfile": e.opts.Voice,
		}},
		{Name: callflow.Hangup},
	}}
}

// isCallflow reports whether a stored body is a callflow reply, so a cache
// entry can never answer a CALL_ACTION with anything else.
func isCallflow(body []byte) bool {
	r, err := callflow.Parse(body)
	return err == nil && len(r.Callflow) > 0
}

// PanicReply is the server's fallback, encoded, for the server to send when
// handling an event failed in a way the engine could not catch.
func (e *Engine) PanicReply() []byte { return encodeReply(e.serverFallback()) }

func encodeReply(r callflow.Reply) []byte {
	b, err := r.MarshalJSON()
	if err != nil { // cannot happen for validated callflows; never send garbage
		b = []byte(`{"callflow":[{"action":"hangup"}]}`)
	}
	return b
}

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// MaxPayload bounds the event payload a transcript entry keeps: replay runs
// the event again from it, so it is kept whole up to the server's default
// request limit (--max-body, 1 MiB); a larger one, which only a raised
// --max-body lets in, is stored as the note {"clipped": its size}.
const MaxPayload = 1 << 20

func clipPayload(b json.RawMessage) json.RawMessage {
	if len(b) > MaxPayload {
		return json.RawMessage(fmt.Sprintf(`{"clipped":%d}`, len(b)))
	}
	return b
}
