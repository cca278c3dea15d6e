package engine

import (
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
// something else if it ran for this event (see pure). A state whose handler
// failed is closed, not reused, and so is one past warmEvents events or
// whose handler added more than warmAdded entries to the top level's tables
// (gopher-lua keeps the slot of a removed key, so such a state only grows).
type warm struct {
	L      *lua.LState
	std    *stdlib
	snap   *sandbox.Snapshot // nil: a state for one event (the app's top level is not pure)
	events int
}

// Bounds on a warm state; see warm.
const (
	warmEvents = 10000
	warmAdded  = 1000
)

// warmState is a state for one event of app: a warm one from its pool, a new
// warm one when the pool is empty, or, for an app whose top level is not
// pure, a new state whose top level the event runs (snap nil).
func (e *Engine) warmState(ctx context.Context, app *App, logger *slog.Logger, tags ...slog.Attr) (*warm, error) {
	if !app.pure {
		std := e.libs.instances(ivr.New(), app.Name, logger, tags...)
		return &warm{L: sandbox.New(app.set, std.libs...), std: std}, nil
	}
	select {
	case w := <-e.pool(app):
		w.std.begin(logger, tags...)
		return w, nil
	default:
	}
	std := e.libs.instances(ivr.New(), app.Name, logger, tags...)
	L := sandbox.New(app.set, std.libs...)
	L.SetContext(ctx)
	defer L.RemoveContext()
	err := callProtected(L, func(L *lua.LState) {
		L.Push(L.NewFunctionFromProto(app.proto))
		L.Call(0, 0)
	})
	if err != nil {
		L.Close()
		return nil, err
	}
	std.ivr.Loaded() // the tree is closed: handlers cannot declare menus (it was checked when the script loaded)
	return &warm{L: L, std: std, snap: sandbox.Take(L, std.ivr.Values()...)}, nil
}

// putWarm gives a warm state back to its app's pool after an event, restored
// to its snapshot, or closes it (see warm); ok is false when its handler
// failed.
func (e *Engine) putWarm(app *App, w *warm, ok bool) {
	if w.snap == nil {
		return // closed by the event that ran its top level
	}
	w.events++
	if !ok || w.snap.Restore() > warmAdded || w.events >= warmEvents {
		w.L.Close()
		return
	}
	w.L.SetTop(0)
	select {
	case e.pool(app) <- w:
	default: // as many warm states as scripts can run at once are kept
		w.L.Close()
	}
}

// pool is app's warm states in this engine: one pool per app version, kept
// on the App, so a version's states go when it is no longer served.
func (e *Engine) pool(app *App) chan *warm {
	if p, ok := app.warm.Load(e); ok {
		return p.(chan *warm)
	}
	p, _ := app.warm.LoadOrStore(e, make(chan *warm, cap(e.slots)))
	return p.(chan *warm)
}
