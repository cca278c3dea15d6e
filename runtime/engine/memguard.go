package engine

import (
	"context"
	"errors"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// errMemory is the cause a script is stopped with when the heap passes the limit.
var errMemory = errors.New("stopped: the process's memory passed its limit while scripts ran (is a string or table growing without end?)")

// memGuard bounds the memory scripts can take. gopher-lua has no allocation
// hook, and one VM instruction (s = s .. s) can double a string, so the guard
// samples the Go heap every millisecond while any script runs. Past the limit
// it cancels every script running at that moment: the VM checks its context
// before the next instruction. It does not collect garbage first to be sure:
// on a large heap a collection takes seconds while a runaway script keeps
// allocating; it collects after cancelling, so the runaways' garbage does not
// count against the next call. With Go's default GC pacing the heap holds at
// most about twice the live data, and luaivr's live data is tens of MiB, so a
// heap over the limit means a script is running away. (A soft memory limit at
// the same value, tried first, made the collector thrash once a script
// crossed it, and slowed every call.) Scripts cannot be told apart by memory,
// so an innocent script running alongside a runaway one is stopped too; it
// gets the fallback like the runaway.
//
// Limits of the mechanism: the bound is approximate. The instruction in
// progress finishes first, so the peak can reach about twice the limit while
// a string doubles; and memory held by Go code the deadline cannot interrupt
// is only released when that code returns.
type memGuard struct {
	limit uint64

	mu      sync.Mutex
	running map[uint64]context.CancelCauseFunc // by a serial number: pointers to empty structs may all be equal
	serial  uint64
	wake    chan struct{}
}

func newMemGuard(limit uint64) *memGuard {
	g := &memGuard{limit: limit, running: map[uint64]context.CancelCauseFunc{}, wake: make(chan struct{}, 1)}
	if limit > 0 {
		go g.loop()
	}
	return g
}

// watch registers a running script; stop unregisters it.
func (g *memGuard) watch(cancel context.CancelCauseFunc) (stop func()) {
	if g.limit == 0 {
		return func() {}
	}
	g.mu.Lock()
	g.serial++
	t := g.serial
	g.running[t] = cancel
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
	return func() {
		g.mu.Lock()
		delete(g.running, t)
		g.mu.Unlock()
	}
}

func (g *memGuard) loop() {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		g.mu.Lock()
		idle := len(g.running) == 0
		g.mu.Unlock()
		if idle {
			<-g.wake // sleep until a script starts
			continue
		}
		<-tick.C
		metrics.Read(sample)
		if sample[0].Value.Uint64() < g.limit {
			continue
		}
		g.mu.Lock()
		for _, cancel := range g.running {
			cancel(errMemory)
		}
		g.mu.Unlock()
		// Now that the runaways stop, collect what they left, so that their
		// garbage does not count against the next call.
		runtime.GC()
	}
}
