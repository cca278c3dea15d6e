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
	err      error         // set when the operation ended: cancel, or a hook Done armed
	stopBoth func()        // stops the timer and the parent's hook, once Done armed them
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
// passed, or cancel; nil while none holds. Once Done is armed, Err says
// what closed it, so the two agree.
func (c *opContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || c.done != nil {
		return c.err
	}
	return c.ended()
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
}
