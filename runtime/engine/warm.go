package engine

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/luaivr/luaivr/runtime/sandbox"
	"github.com/luaivr/luaivr/stdlib/ivr"
	lua "github.com/yuin/gopher-lua"
)

// A warm state is a Lua state whose top level has run once and that serves
// event after event of its app version, instead of a new state and the top
// level again for each: the two were two fifths of an event's CPU.
//
// Isolation is kept by a snapshot taken when the top level has run
// (sandbox.Take, with the tables ivr holds as roots): after each event
// Restore puts back every entry, metatable and upvalue the handler changed,
// so the next event, of this call or another, starts from what the top level
// built, unchanged. The stdlib's per-event parts (log budget, kv's writes,
// the ivr event) start again at begin; per-event data (the deadline, the
// recorded inputs) comes from the event's context, read at call time.
//
// Only apps whose top level is pure get warm states: one that read the
// clock, kv, the network or random numbers, or logged, would build or do
// something else if it ran for this event (see watchOutside). Each warm
// state's own run of the top level is watched as the probe's was: a top
// level may take another course in another run, and one that reads from
// outside ends the app's warm states. A state whose handler
// failed is closed, not reused, and so is one past warmEvents events. An
// app keeps as many warm states as scripts can run at once, fewer when its
// top level builds a lot (warmBudget): each holds a copy of what it built.
type warm struct {
	L    *lua.LState
	std  *stdlib
	snap *sandbox.Snapshot // nil: a state for one event, closed after it
	// ran: the top level has run in L (for a state for one event, the
	// event runs it, unless warmState did).
	ran    bool
	events int
}

// Bounds on warm states; see warm. warmBudget is in table entries of the top
// level's tables (sandbox.Snapshot.Size), all of an app version's warm states
// together: a top level of 20,000 small tables is ~18 MB a state.
const (
	warmEvents = 10000
	warmBudget = 100_000
)

// warmState is a state for one event of app: a warm one from its pool, a new
// warm one when the pool is empty, or, for an app whose top level is not
// pure, a new state whose top level the event runs (snap nil).
func (e *Engine) warmState(ctx context.Context, app *App, logger *slog.Logger, tags ...slog.Attr) (*warm, error) {
	if !app.warm() {
		std := e.libs.instances(ivr.New(), app.Name, logger, tags...)
		return &warm{L: sandbox.New(app.set, std.libs...), std: std}, nil
	}
	select {
	case w := <-e.pool(app):
		w.std.begin(logger, tags...)
		return w, nil
	default:
	}
	// The probe's run of the top level read nothing from outside, but a
	// top level may take another course in another run (on pairs order, an
	// address): this run is watched too, and one that reads from outside
	// serves only its own event, and makes the app's events run the top
	// level again from then on.
	std := e.libs.instances(ivr.New(), app.Name, logger, tags...)
	L, reads, err := app.runTopLevel(ctx, std.libs)
	if err != nil {
		return nil, err
	}
	defer L.RemoveContext()
	std.ivr.Loaded() // the tree is closed: handlers cannot declare menus (it was checked when the script loaded)
	if reads != (Outside{}) {
		if app.readsAtEvents.CompareAndSwap(false, true) {
			e.log.Warn("the app's top level read from outside in this run, though not when it loaded: every event of it runs the top level again from now on",
				"app", app.Name, "reads", reads.What, "at", reads.Where)
			e.drainPool(app)
		}
		return &warm{L: L, std: std, ran: true}, nil
	}
	if app.answering() && !bytes.Equal(std.ivr.Answers(L.G.Global.RawGetString(OnCall), encodeAnswer).Fingerprint(), app.fingerprint) {
		if app.answersDiffer.CompareAndSwap(false, true) {
			e.log.Warn("the app's top level built other menus or replies in this run than when it loaded (an address, from tostring of a table or function, in what it builds?): its menus are answered by running its Lua from now on",
				"app", app.Name)
		}
	}
	sandbox.Preopen(L)
	return &warm{L: L, std: std, snap: sandbox.Take(L, std.ivr.Values()...), ran: true}, nil
}

// putWarm gives a warm state back to its app's pool after an event, restored
// to its snapshot, or closes it (see warm); ok is false when its handler
// failed.
func (e *Engine) putWarm(app *App, w *warm, ok bool) {
	if w.snap == nil {
		return // closed by the event that ran its top level
	}
	w.events++
	if !ok || w.events >= warmEvents || !app.warm() { // !warm: the app lost its warm states while this one ran
		w.L.Close()
		return
	}
	w.std.end()
	w.snap.Restore()
	w.L.SetTop(0)
	p := e.pool(app)
	if len(p) >= max(1, warmBudget/max(1, w.snap.Size())) {
		w.L.Close()
		return
	}
	select {
	case p <- w:
	default: // as many warm states as scripts can run at once are kept
		w.L.Close()
	}
}

// drainPool closes the warm states app's pool holds.
func (e *Engine) drainPool(app *App) {
	for {
		select {
		case w := <-e.pool(app):
			w.L.Close()
		default:
			return
		}
	}
}

// pool is app's warm states in this engine: one pool per app version.
func (e *Engine) pool(app *App) chan *warm {
	if p, ok := e.pools.Load(app); ok {
		return p.(chan *warm)
	}
	p, _ := e.pools.LoadOrStore(app, make(chan *warm, cap(e.slots)))
	return p.(chan *warm)
}

// prunePools closes the warm states of app versions s does not serve (nor
// keep for the calls of a removed script). A call still on an older version
// (pinned) makes itself a warm state again if it needs one: the pools only
// save work, so a folder edited all day does not pile up states.
func (e *Engine) prunePools(s *Scripts) {
	e.pools.Range(func(k, p any) bool {
		app := k.(*App)
		if s.Apps[app.Name] == app || s.Retired[app.Name] == app {
			return true
		}
		e.drainPool(app)
		e.pools.Delete(app)
		return true
	})
}
