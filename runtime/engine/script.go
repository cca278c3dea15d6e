package engine

// Running a script: its turn among the scripts running at once, its
// deadline and watchdog, the handler call and what its errors say.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/stdlib/ivr"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	"github.com/luaivr/luaivr/store"
	lua "github.com/yuin/gopher-lua"
)

// script runs one script (fn) when its turn comes, in a worker goroutine
// (workers.go), not the caller's, under a context that ends at the
// deadline. Every library function a script can call stops at the deadline
// (patterns, sorts and joins look at it as they go), so the worker is done
// with its event. The watchdog is the net under that rule:
// if Go code ever does not stop (a store that hangs), the caller is still
// answered within twice the deadline; the worker keeps its turn until fn
// returns, and its result is dropped. Waiting for a turn is bounded too, and
// one app takes at most its share of the turns (appSlots): when stuck or
// flooded scripts hold them, callers must not wait in silence. A turn that is
// free is taken without a timer, and the watchdog's timer is reused: an event
// starts no goroutine and makes no timer of its own.
func (e *Engine) script(ctx context.Context, app *App, session, handler string, fn func(*scriptContext) luaOutcome) luaOutcome {
	share := e.appSlots(app.Name)
	if err := e.takeTurn(ctx, app.Name, share); err != nil {
		return luaOutcome{reason: ReasonBusy, err: err}
	}
	done := make(chan luaOutcome, 1)
	e.workers.run(job{ctx: ctx, deadline: e.opts.Deadline, run: func(sc *scriptContext) {
		defer func() { <-e.slots; <-share }()
		defer func() { // a worker is outside the server's recover: a panic would end the process
			if p := recover(); p != nil {
				e.log.Error("panic while running a script", "app", app.Name, "session", session, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				done <- luaOutcome{err: fmt.Errorf("internal error while running the script: %v", p), reason: ReasonScriptError}
			}
		}()
		done <- fn(sc)
	}})
	watchdog := watchdogs.Get().(*time.Timer)
	watchdog.Reset(2 * e.opts.Deadline)
	defer func() {
		watchdog.Stop() // since Go 1.23 a stopped timer delivers nothing late: safe to reuse
		watchdogs.Put(watchdog)
	}()
	select {
	case lo := <-done:
		return lo
	case <-watchdog.C:
		return luaOutcome{took: 2 * e.opts.Deadline, reason: ReasonTimeout, err: fmt.Errorf(
			"%s did not return within twice its %s deadline: stuck in a call that does not stop at the deadline (a store or network call that hangs), or the machine too busy to run it; its result will be dropped",
			handler, e.opts.Deadline)}
	}
}

// watchdogs are stopped timers for script's watchdog.
var watchdogs = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// takeTurn takes a place in the app's share of the turns, then one of the
// engine's places; the script's deadline starts after. It waits at most
// slotWait, and no longer than ctx.
func (e *Engine) takeTurn(ctx context.Context, app string, share chan struct{}) error {
	var wait *time.Timer
	limit := e.slotWait()
	for _, sem := range [2]chan struct{}{share, e.slots} { // the app's share first, then a place
		select {
		case sem <- struct{}{}: // free: no timer
			continue
		default:
		}
		if wait == nil {
			wait = time.NewTimer(limit)
			defer wait.Stop()
		}
		select {
		case sem <- struct{}{}:
		case <-wait.C:
			if sem == e.slots {
				<-share
			}
			return fmt.Errorf(
				"no script could start within %s: %d of %s's scripts and %d in all are running (--concurrency %d); the server is overloaded or the app's scripts are slow",
				limit, len(share), app, len(e.slots), cap(e.slots))
		case <-ctx.Done():
			if sem == e.slots {
				<-share
			}
			return ctx.Err()
		}
	}
	return nil
}

// slotWait bounds how long an event waits for a script to start.
func (e *Engine) slotWait() time.Duration { return max(500*time.Millisecond, e.opts.Deadline) }

// appSlots is how many scripts of one app may run at once: all the places
// when the folder has one app; otherwise three quarters of them, so that an
// app whose scripts are slow or flooded leaves room for the others' calls.
func (e *Engine) appSlots(app string) chan struct{} {
	share := cap(e.slots)
	if len(e.scripts.Load().Apps) > 1 {
		share = max(1, share-share/4)
	}
	if v, ok := e.shares.Load(app); ok && cap(v.(chan struct{})) == share {
		return v.(chan struct{})
	}
	// First use, or the number of apps changed: a new share. Scripts running
	// on the old one give their place back to it.
	v, _ := e.shares.LoadOrStore(app, make(chan struct{}, share))
	if cap(v.(chan struct{})) != share {
		v = make(chan struct{}, share)
		e.shares.Store(app, v)
	}
	return v.(chan struct{})
}

// luaOutcome is what running the script produced, made in the script's goroutine.
type luaOutcome struct {
	reply  callflow.Reply
	vars   json.RawMessage
	took   time.Duration
	err    error
	reason string
	note   string
	where  string      // " (file:line)" of the handler, or ": " and what the menu tree chose, for errors about what it returned
	menus  *ivr.Memory // what the menu tree remembers of the call; nil when the script failed
}

// runLua runs the handler in a warm state (or the app's top level and the
// handler in a new one), under ctx (its deadline and the memory guard's
// stop), and turns the result into a reply and vars.
func (e *Engine) runLua(ctx *scriptContext, app *App, sess *store.Session, ev *webhook.Event, position, handler string, red *redaction) (lo luaOutcome) {
	defer e.mem.watch(ctx.stop)()
	scriptsRun.Add(1)
	tags := []slog.Attr{slog.String("app", app.Name), slog.String("session", ev.SessionID)}
	start := time.Now()
	w, err := e.warmState(ctx, app, red.logger(e.log), tags...)
	if err != nil {
		lo.took = time.Since(start)
		return e.failed(ctx, lo, err)
	}
	ok := false
	defer func() { e.putWarm(app, w, ok) }()
	L, mod := w.L, w.std.ivr
	if w.snap == nil { // a state of its own: the top level runs for this event
		defer L.Close()
	}
	L.SetContext(ctx)
	defer L.RemoveContext()

	session := L.NewTable()
	var replyErr error
	err = callProtected(L, func(L *lua.LState) {
		if !w.ran {
			L.Push(L.NewFunctionFromProto(app.proto))
			L.Call(0, 0)
			mod.Loaded() // the tree is closed: handlers cannot declare menus (it was checked when the script loaded)
		}
		fillSession(L, session, app, sess, ev, position)
		mod.Answer(session, position, ivr.Memory{Root: sess.Root, Tries: sess.Tries})
		if fn, ok := L.GetGlobal(handler).(*lua.LFunction); ok && fn.Proto != nil {
			lo.where = fmt.Sprintf(" (%s:%d)", fn.Proto.SourceName, fn.Proto.LineDefined)
		}
		result, from, note := e.callHandler(L, mod, handler, session, ev)
		if from != "" { // the menu tree chose the answer
			lo.where = ": " + from
		}
		lo.note = note
		if ev.Type == webhook.CallAction { // in the call: a menu's on_enter runs as it is rendered
			lo.reply, replyErr = mod.Reply(L, result)
		}
	})
	lo.took = time.Since(start)
	if err != nil {
		return e.failed(ctx, lo, err)
	}
	if lo.vars, lo.err = readVars(session); lo.err != nil {
		lo.reason = ReasonScriptError
		return lo
	}
	if replyErr != nil {
		lo.err, lo.reason = fmt.Errorf("%s%s %s", handler, lo.where, replyErr), ReasonInvalid
		return lo
	}
	mem := mod.Memory()
	lo.menus = &mem
	ok = true
	return lo
}

// failed is the outcome of a script that raised err (or ran out of time or
// memory).
func (e *Engine) failed(ctx *scriptContext, lo luaOutcome, err error) luaOutcome {
	lo.err, lo.reason = errors.New(luaError(ctx, err)), ReasonScriptError
	switch {
	case errors.Is(ctx.Cause(), errMemory):
		lo.reason = ReasonMemory
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		lo.reason = ReasonTimeout
	}
	return lo
}

// scriptsRun counts the events that ran Lua, in this process, so that a test
// can prove which events Answers served.
var scriptsRun atomic.Int64

// callHandler runs the handler; from is where its answer comes from when the
// menu tree chose it, note a warning for the log.
func (e *Engine) callHandler(L *lua.LState, mod *ivr.Module, handler string, session *lua.LTable, ev *webhook.Event) (answer lua.LValue, from, note string) {
	if handler == "menu" {
		return mod.Route(L, ev.Digits, ev.HasDigits)
	}
	fn := L.GetGlobal(handler)
	if _, ok := fn.(*lua.LFunction); !ok { // on_call = <menu>
		return fn, "", ""
	}
	args := []lua.LValue{session}
	switch handler {
	case OnDTMF:
		args = append(args, lua.LString(ev.Digits))
	case OnStatus:
		args = append(args, lua.LString(ev.CallStatus))
	case OnEnd:
		args = append(args, luaconv.ToLua(L, ev.Payload()))
	}
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	L.Call(len(args), 1)
	ret := L.Get(-1)
	L.Pop(1)
	return ret, "", ""
}

// whereOf is Handled.Where from luaOutcome.where, which is written to follow
// the handler's name in an error.
func whereOf(where string) string {
	if line, ok := strings.CutPrefix(where, " ("); ok {
		return strings.TrimSuffix(line, ")")
	}
	return strings.TrimPrefix(where, ": ")
}

// callProtected runs fn inside a protected Lua call, so any error a script
// raises, in the top level, a handler or a menu option, comes back as an error.
func callProtected(L *lua.LState, fn func(*lua.LState)) error {
	L.Push(L.NewFunction(func(L *lua.LState) int { fn(L); return 0 }))
	return L.PCall(0, 0, nil)
}

// luaError turns a Lua failure into one line that names the script and line.
func luaError(ctx context.Context, err error) string {
	var apiErr *lua.ApiError
	msg := err.Error()
	if errors.As(err, &apiErr) {
		if t, ok := apiErr.Object.(*lua.LTable); ok { // error({...})
			if v, e := luaconv.FromLua(t, "error"); e == nil {
				b, _ := json.Marshal(v)
				msg = "error value " + string(b)
			}
		} else {
			msg = apiErr.Object.String()
		}
		// Errors raised with a table, with level 0 or by a Go panic carry no
		// position: take the innermost script line from the traceback.
		if !scriptLine.MatchString(msg) {
			if where := scriptLine.FindString(apiErr.StackTrace); where != "" {
				msg = where + " " + msg
			}
		}
	}
	if errors.Is(causeOf(ctx), errMemory) {
		msg = strings.Replace(msg, "context canceled", errMemory.Error(), 1)
	} else if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		msg = strings.Replace(msg, "context deadline exceeded", "stopped: the handler ran past its deadline", 1)
	}
	return luaconv.Clip(msg, maxErrorBytes)
}

// causeOf is why ctx ended: context.Cause, which cannot see the cause of a
// scriptContext (ctx or one it wraps).
func causeOf(ctx context.Context) error {
	if sc, ok := ctx.Value(scriptContextKey{}).(*scriptContext); ok {
		return sc.Cause()
	}
	return context.Cause(ctx)
}

// maxErrorBytes bounds the message of a script's error: it goes to the log
// and the transcript, and error(s) may carry a megabyte.
const maxErrorBytes = 8 << 10

// scriptLine finds "name.lua:12:" in an error or a traceback.
var scriptLine = regexp.MustCompile(`[\w./-]+\.lua:\d+:`)
