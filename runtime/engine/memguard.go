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
// it collects garbage once and, if the heap is still over, cancels every
// script running at that moment: the VM checks its context before the next
// instruction. Scripts cannot be told apart by memory, so an innocent script
// running alongside a runaway one is stopped too; it gets the fallback like
// the runaway.
//
// Limits of the mechanism: the bound is approximate. The instruction in
// progress finishes first, so the peak can reach about twice the limit while
// a string doubles; and memory held by Go code the deadline cannot interrupt
// is only released when that code returns.
type memGuard struct {
	limit uint64

	mu      sync.Mutex
	running map[*runToken]context.CancelCauseFunc
	wake    chan struct{}
}

type runToken struct{}

func newMemGuard(limit uint64) *memGuard {
	g := &memGuard{limit: limit, running: map[*runToken]context.CancelCauseFunc{}, wake: make(chan struct{}, 1)}
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
	t := &runToken{}
	g.mu.Lock()
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
		runtime.GC() // garbage not yet swept counts too: look again after a collection
		metrics.Read(sample)
		if sample[0].Value.Uint64() < g.limit {
			continue
		}
		g.mu.Lock()
		for _, cancel := range g.running {
			cancel(errMemory)
		}
		g.mu.Unlock()
	}
}
