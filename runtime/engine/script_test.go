package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Taking a free turn, making the script's context and running the script
// make no timer and start no goroutine per event: what is left is the
// context, the result's channel and the closure handed to the worker (a
// goroutine, two timers and two contexts per event made 19).
func TestScriptTurnAllocations(t *testing.T) {
	e, err := New(&Scripts{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	app, ctx := &App{Name: "demo"}, context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		if lo := e.script(ctx, app, "s1", OnCall, func(*scriptContext) luaOutcome { return luaOutcome{} }); lo.err != nil {
			t.Fatal(lo.err)
		}
	})
	t.Logf("%.2f allocations per event", allocs)
	if allocs > 6 {
		t.Errorf("script made %.1f allocations per event; at most 6 expected", allocs)
	}
}

// Scripts that follow each other on one worker each end at their own
// deadline: the worker's one timer, reset per script, is not left pointing
// at an earlier one. Each script is handed to the worker once it idles, so
// the same worker runs them all; no watchdog races the deadline here.
func TestScriptDeadlineOnReusedWorker(t *testing.T) {
	t.Parallel()
	w := newWorkers()
	results := make(chan error, 1)
	for i := range 6 {
		quick := i%2 == 0 // a script that ends at once, then one that runs into its deadline
		j := job{ctx: context.Background(), deadline: 20 * time.Millisecond, run: func(sc *scriptContext) {
			switch {
			case sc.Err() != nil:
				results <- errors.New("started already stopped")
			case quick:
				results <- nil
			default:
				<-sc.Done()
				results <- sc.Err()
			}
		}}
		if i == 0 {
			w.run(j) // starts the worker
		} else {
			handOver(t, w, j)
		}
		select {
		case err := <-results:
			if quick && err != nil || !quick && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("script %d ended with %v", i, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("script %d was never stopped at its deadline", i)
		}
	}
}

// handOver gives j to the idle worker of w, waiting for it to idle.
func handOver(t *testing.T, w workers, j job) {
	t.Helper()
	for range 60_000 {
		select {
		case w.jobs <- j:
			return
		default:
			time.Sleep(time.Millisecond)
		}
	}
	t.Fatal("the worker never took the next script")
}

func TestScriptContext(t *testing.T) {
	t.Parallel()
	// The worker's timer may fire late, for a script that has finished: the
	// next script, whose deadline is not due, goes on.
	sc := newScriptContext(context.Background(), time.Hour)
	sc.expire()
	if sc.Err() != nil {
		t.Fatalf("a deadline an hour away expired: %v", sc.Err())
	}
	if d, ok := sc.Deadline(); !ok || time.Until(d) < 59*time.Minute {
		t.Fatalf("deadline %v %v", d, ok)
	}
	// The memory guard stops a script with its cause.
	sc.stop(errMemory)
	<-sc.Done()
	if !errors.Is(sc.Err(), context.Canceled) || !errors.Is(causeOf(sc), errMemory) {
		t.Fatalf("stopped: err %v, cause %v", sc.Err(), causeOf(sc))
	}
	type key struct{}
	if wrapped := context.WithValue(sc, key{}, 1); !errors.Is(causeOf(wrapped), errMemory) { // as a recorder wraps it
		t.Fatalf("through a wrapping context: cause %v", causeOf(wrapped))
	}
	// The event's context ending ends the script's, with its cause.
	parent, cancel := context.WithCancelCause(context.Background())
	sc = newScriptContext(parent, time.Hour)
	gone := errors.New("caller gone")
	cancel(gone)
	<-sc.Done()
	if !errors.Is(sc.Err(), context.Canceled) || !errors.Is(sc.Cause(), gone) {
		t.Fatalf("parent ended: err %v, cause %v", sc.Err(), sc.Cause())
	}
	// An event's own deadline, when sooner, is the script's.
	soon := time.Now().Add(time.Minute)
	parent2, cancel2 := context.WithDeadline(context.Background(), soon)
	defer cancel2()
	if d, _ := newScriptContext(parent2, time.Hour).Deadline(); !d.Equal(soon) {
		t.Fatalf("deadline %v, want the event's %v", d, soon)
	}
}
