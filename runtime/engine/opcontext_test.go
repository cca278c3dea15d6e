package engine

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestOpContext: a store operation's context ends as context.WithTimeout's
// would, by its deadline, its parent or cancel, whether or not Done was
// asked for before, and Err agrees with Done once it is.
func TestOpContext(t *testing.T) {
	t.Parallel()
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "v")
	wait := func(c context.Context) error {
		select {
		case <-c.Done():
			return c.Err()
		case <-time.After(10 * time.Second): // a bound on the test, far above the timeouts
			return errors.New("Done was never closed")
		}
	}

	c, cancel := newOpContext(parent, time.Hour)
	if c.Err() != nil || c.Value(key{}) != "v" {
		t.Errorf("a new op: Err %v, value %v", c.Err(), c.Value(key{}))
	}
	if d, ok := c.Deadline(); !ok || time.Until(d) < 59*time.Minute {
		t.Errorf("deadline %v, %v", d, ok)
	}
	cancel()
	if !errors.Is(c.Err(), context.Canceled) || !errors.Is(wait(c), context.Canceled) {
		t.Errorf("after cancel: Err %v", c.Err())
	}

	c, cancel = newOpContext(parent, 20*time.Millisecond)
	if err := wait(c); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Done asked for at once, past the deadline: %v", err)
	}
	cancel()

	c, cancel = newOpContext(parent, 20*time.Millisecond)
	time.Sleep(30 * time.Millisecond)
	if !errors.Is(c.Err(), context.DeadlineExceeded) || !errors.Is(wait(c), context.DeadlineExceeded) {
		t.Errorf("Done asked for after the deadline: Err %v", c.Err())
	}
	cancel()

	p, stop := context.WithCancel(parent)
	c, cancel = newOpContext(p, time.Hour)
	done := c.Done()
	stop()
	<-done
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("parent canceled: Err %v", c.Err())
	}
	cancel()

	p, stop = context.WithCancel(parent)
	c, cancel = newOpContext(p, 5*time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	first := c.Err()
	stop()
	if !errors.Is(first, context.DeadlineExceeded) || c.Err() != first || wait(c) != first {
		t.Errorf("the first reason does not stay: %v, then %v", first, c.Err())
	}
	cancel()

	p, stop = context.WithTimeout(parent, 10*time.Millisecond)
	defer stop()
	c, cancel = newOpContext(p, time.Hour)
	if d, _ := c.Deadline(); d.After(time.Now().Add(time.Second)) {
		t.Errorf("the parent's sooner deadline is not the op's: %v", d)
	}
	if err := wait(c); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("parent's deadline: %v", err)
	}
	cancel()

	// A store's own timeout under an operation's context (Redis) is a
	// child the context package ends through AfterFunc, with no
	// goroutine of its own.
	var cancels []context.CancelFunc
	var children []context.Context
	for range 100 {
		op, cancelOp := newOpContext(parent, time.Hour)
		child, cancelChild := context.WithTimeout(op, time.Hour)
		cancels = append(cancels, cancelChild, cancelOp)
		children = append(children, child)
	}
	if n := waitingOnDone(); n > 0 {
		t.Errorf("100 children of operations' contexts started %d goroutines to wait on Done", n)
	}
	for i := 1; i < len(cancels); i += 2 {
		cancels[i]() // the operations end
	}
	for _, child := range children {
		if err := wait(child); !errors.Is(err, context.Canceled) {
			t.Fatalf("a child of an operation that ended: %v", err)
		}
	}
	for _, cancel := range cancels {
		cancel()
	}
}

// waitingOnDone is how many goroutines the context package runs to pass a
// parent's end on to a child (a parent it cannot hook into).
func waitingOnDone() int {
	buf := make([]byte, 1<<22)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "context.(*cancelCtx).propagateCancel.func")
}
