package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// workers are the goroutines scripts run in. A script runs in a goroutine
// other than the one answering its caller, so that script's watchdog can
// answer a caller whose script is stuck in Go code; but a goroutine started
// per event, with its stack grown to what Lua needs every time, cost more
// than a small handler itself. So a worker outlives its script and takes the
// next one; one that waits workerIdle without a script ends, so an engine no
// longer used leaves no goroutine behind. How many run at once is bounded by
// the engine's turns (script), not here.
type workers struct {
	jobs chan job // unbuffered: a send succeeds only into an idle worker
}

// job is one script to run: run gets a context that ends deadline after the
// script starts, or with the event's ctx.
type job struct {
	ctx      context.Context
	deadline time.Duration
	run      func(*scriptContext)
}

// workerIdle is how long an idle worker waits for a script before it ends.
const workerIdle = 10 * time.Second

func newWorkers() workers { return workers{jobs: make(chan job)} }

// run runs j in an idle worker, or in a new one when none is idle.
func (w workers) run(j job) {
	select {
	case w.jobs <- j:
	default:
		go w.work(j)
	}
}

// work runs j, then the jobs it is handed until it idles. Its timer ends
// each script at its deadline: one timer per worker, reset per script, not
// one per event.
func (w workers) work(j job) {
	var current atomic.Pointer[scriptContext]
	deadline := time.AfterFunc(time.Hour, func() {
		if c := current.Load(); c != nil {
			c.expire()
		}
	})
	defer deadline.Stop()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		c := newScriptContext(j.ctx, j.deadline)
		current.Store(c)
		deadline.Reset(j.deadline)
		j.run(c)
		deadline.Stop()
		current.Store(nil)
		c.stop(context.Canceled) // what the script started stops with it
		idle.Reset(workerIdle)
		select {
		case j = <-w.jobs:
		case <-idle.C:
			return
		}
	}
}

// scriptContext is the context a script runs under: its event's, ended at
// the script's deadline, or early by stop with a cause (the memory guard's
// errMemory). It does what context.WithCancelCause and WithTimeout did
// together, which made two contexts, a timer and ten allocations per event;
// its deadline is its worker's timer.
type scriptContext struct {
	parent   context.Context
	deadline time.Time
	done     chan struct{}

	mu      sync.Mutex
	err     error // context.DeadlineExceeded or context.Canceled, once done
	cause   error
	unwatch func() bool // stops following the parent, when it can end
}

var _ context.Context = (*scriptContext)(nil)

func newScriptContext(parent context.Context, d time.Duration) *scriptContext {
	c := &scriptContext{parent: parent, deadline: time.Now().Add(d), done: make(chan struct{})}
	if parent.Done() != nil { // the server's events have none: no cost for them
		c.mu.Lock()
		c.unwatch = context.AfterFunc(parent, func() { c.end(parent.Err(), context.Cause(parent)) })
		c.mu.Unlock()
	}
	return c
}

// Deadline is the script's, or the event's when that is sooner.
func (c *scriptContext) Deadline() (time.Time, bool) {
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c *scriptContext) Done() <-chan struct{} { return c.done }

func (c *scriptContext) Err() error {
	select {
	case <-c.done: // library functions ask as they go: no lock until done
	default:
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Value is the event's values, and the scriptContext itself under
// scriptContextKey, so that causeOf finds it through contexts wrapping it.
func (c *scriptContext) Value(key any) any {
	if key == (scriptContextKey{}) {
		return c
	}
	return c.parent.Value(key)
}

type scriptContextKey struct{}

// Cause is why the script was stopped, as context.Cause tells it for the
// standard contexts (which cannot see this one's).
func (c *scriptContext) Cause() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// stop ends the script now, for cause.
func (c *scriptContext) stop(cause error) { c.end(context.Canceled, cause) }

// expire ends the script at its deadline. The worker's timer may fire late
// for a script that has finished: then the worker's next script is current,
// and its deadline is not due yet.
func (c *scriptContext) expire() {
	if !time.Now().Before(c.deadline) {
		c.end(context.DeadlineExceeded, context.DeadlineExceeded)
	}
}

func (c *scriptContext) end(err, cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	if cause == nil {
		cause = err
	}
	c.err, c.cause = err, cause
	close(c.done)
	if c.unwatch != nil {
		c.unwatch()
	}
}
