package command

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// idleInterval is how often serve looks whether events stopped: memory is
// given back 10 to 20 s after the last event.
const idleInterval = 10 * time.Second

// giveMemoryBack calls free once each time the server falls quiet: after an
// interval in which events (a running count) did not move, following one in
// which it did. Go keeps the heap a burst of load grew, freed, for reuse,
// and returns it only slowly (measured after 150,000 restaurant calls: 272
// MB of anonymous memory right after, 166 MB half a minute later, a live
// heap of 30 MB); once traffic stops, there is nothing to reuse it for.
func giveMemoryBack(ctx context.Context, events *atomic.Int64, every time.Duration, free func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	last, given := events.Load(), true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		switch n := events.Load(); {
		case n != last:
			last, given = n, false
		case !given:
			free()
			given = true
		}
	}
}

// freeOSMemory is debug.FreeOSMemory: a collection, then every free page
// back to the system.
func freeOSMemory() { debug.FreeOSMemory() }
