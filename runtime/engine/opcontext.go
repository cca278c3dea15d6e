package engine

import (
	"context"
	"sync"
	"time"
)

// opContext is the context of one store operation: its parent's values and
// cancellation, and a deadline of its own. context.WithTimeout arms a timer
// and makes a cancel context for every operation, three an event (six
// allocations and two changes of the timer heap); a store that only asks
// Err, as Badger's does, needs neither. opContext arms them the first time
// Done is asked for, as a store that waits on the network does (Redis).
type opContext struct {
	parent   context.Context
	deadline time.Time

	mu       sync.Mutex
	done     chan struct{} // made by Done
	err      error         // the first reason the operation ended, once known
	stopBoth func()        // stops the timer and the parent's hook, once Done armed them
	after    []*afterCall  // AfterFunc's, run when the operation ends
}

// afterCall is one function AfterFunc runs when the operation ends.
type afterCall struct {
	f    func()
	done bool // run or stopped
}

// newOpContext is parent bounded by timeout from now (or by parent's own
// deadline, if sooner), and its cancel.
func newOpContext(parent context.Context, timeout time.Duration) (*opContext, context.CancelFunc) {
	deadline := time.Now().Add(timeout)
	if d, ok := parent.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c := &opContext{parent: parent, deadline: deadline}
	return c, func() { c.finish(context.Canceled) }
}

func (c *opContext) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *opContext) Value(key any) any           { return c.parent.Value(key) }

// Err is why the operation must end: the parent's reason, the deadline
// passed, or cancel; nil while none holds. The first reason found stays,
// and once Done is armed, Err says what closed it, so the two agree.
func (c *opContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.done == nil {
		c.err = c.ended()
	}
	return c.err
}

// ended is why the operation must end, read from the parent and the clock;
// c.mu is held.
func (c *opContext) ended() error {
	if err := c.parent.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// Done is closed when the operation must end. The first call arms a timer
// for the deadline and a hook on the parent.
func (c *opContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	c.done = make(chan struct{})
	if c.err == nil {
		c.err = c.ended()
	}
	if c.err != nil {
		close(c.done)
		return c.done
	}
	t := time.AfterFunc(time.Until(c.deadline), func() { c.finish(context.DeadlineExceeded) })
	stopParent := context.AfterFunc(c.parent, func() { c.finish(c.parent.Err()) })
	c.stopBoth = func() { t.Stop(); stopParent() }
	return c.done
}

// AfterFunc runs f in its own goroutine when the operation ends, as
// context.AfterFunc does; stop keeps it from running. The context package
// uses it to pass the end on to a child context (a store's own timeout
// under this one), instead of starting a goroutine to wait on Done.
func (c *opContext) AfterFunc(f func()) (stop func() bool) {
	c.Done() // arms the timer and the parent's hook
	c.mu.Lock()
	defer c.mu.Unlock()
	a := &afterCall{f: f}
	if c.err != nil {
		a.done = true
		go f()
	} else {
		c.after = append(c.after, a)
	}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		stopped := !a.done
		a.done = true
		return stopped
	}
}

// String names the context for fmt, without reading what the lock guards.
func (c *opContext) String() string { return "engine.opContext" }

// finish ends the operation with err, if it has not ended yet.
func (c *opContext) finish(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
	if c.stopBoth != nil {
		c.stopBoth()
	}
	for _, a := range c.after {
		if !a.done {
			a.done = true
			go a.f()
		}
	}
	c.after = nil
}
