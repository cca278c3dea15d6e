package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// errMemory is the cause a script is stopped with when the heap passes the limit.
var errMemory = errors.New("stopped: the process's memory passed its limit while scripts ran (is a string or table growing without end?)")

// memGuard bounds the memory scripts can take. gopher-lua has no allocation
// hook, so the sandbox bounds what one instruction can allocate (no string
// over sandbox.MaxStringBytes, no table array over sandbox.MaxArrayIndex)
// and the guard bounds how much a script accumulates: it samples the live Go
// heap every millisecond while any script runs. Scripts cannot be told apart
// by memory, and the store legitimately allocates hundreds of MiB for
// moments while it compacts, so a heap over the limit alone condemns nobody:
// a script is stopped when the heap is over the limit AND grew by more than
// a quarter of the limit while that script ran. A runaway script does
// exactly that, also when several run at once; a handler that runs a
// millisecond alongside a compaction does not. Past twice the limit every
// running script is stopped, whatever the cause. The VM checks its context
// before its next instruction. After stopping scripts the guard collects
// garbage and returns it to the OS, so what they left does not count
// against the next call.
//
// The live heap is known only after each collection. serve therefore sets
// Go's soft memory limit to the same figure (unless GOMEMLIMIT is set),
// which makes the collector run, and the figure fresh, as the heap nears
// the limit. Limits of the mechanism: the bound is approximate, since the
// instructions in progress finish first; the README states what was
// measured.
// SoftMemoryLimit is Go's soft memory limit as a guard's limit: what serve
// set from --script-memory (or GOMEMLIMIT), 0 when none is set. Scripts run
// outside an engine's events (top levels at load, the checks reload runs)
// are guarded by it too.
func SoftMemoryLimit() uint64 {
	if limit := debug.SetMemoryLimit(-1); limit > 0 && limit < math.MaxInt64 {
		return uint64(limit)
	}
	return 0
}

// loadGuard watches top levels at load, which run outside any engine.
var loadGuard = sync.OnceValue(func() *memGuard { return newMemGuard(SoftMemoryLimit(), discardLogger) })

type memGuard struct {
	limit uint64
	log   *slog.Logger

	mu      sync.Mutex
	running map[uint64]watched // by a serial number: pointers to empty structs may all be equal
	serial  uint64
	wake    chan struct{}
}

type watched struct {
	cancel context.CancelCauseFunc
	heap   uint64 // the heap when the script started
}

// newMemGuard returns the guard for limit. Engines with the same limit
// share one (and its goroutine): the checks reload runs make an engine each.
func newMemGuard(limit uint64, log *slog.Logger) *memGuard {
	if limit == 0 {
		return &memGuard{}
	}
	g, loaded := guards.LoadOrStore(limit, &memGuard{limit: limit, log: log, running: map[uint64]watched{}, wake: make(chan struct{}, 1)})
	if !loaded {
		go g.(*memGuard).loop()
	}
	return g.(*memGuard)
}

var guards sync.Map // limit → *memGuard

// liveHeap is the live heap as of the last collection: what the guard
// judges by. Garbage that other calls (or the store) leave is not counted; a
// script allocating fast makes the collector run often, so the figure lags a
// runaway by one cycle at most.
func liveHeap() uint64 { return readMetric("/gc/heap/live:bytes") }

// allObjects is every object on the heap now, garbage included: a script's
// starting point. It is at least the live heap, so the growth the guard
// sees is never more than the script's own (the live figure may predate
// memory the process took since the last collection).
func allObjects() uint64 { return readMetric("/memory/classes/heap/objects:bytes") }

func readMetric(name string) uint64 {
	sample := []metrics.Sample{{Name: name}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// watch registers a running script; stop unregisters it.
func (g *memGuard) watch(cancel context.CancelCauseFunc) (stop func()) {
	if g.limit == 0 {
		return func() {}
	}
	w := watched{cancel: cancel, heap: allObjects()}
	g.mu.Lock()
	g.serial++
	t := g.serial
	g.running[t] = w
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

// loop samples the heap while scripts run. A failure of its own is logged
// and the guard goes on: it runs beside every call, outside any recover.
func (g *memGuard) loop() {
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
		if !g.check() {
			time.Sleep(100 * time.Millisecond) // not a log line a millisecond
		}
	}
}

// check stops the scripts the heap grew under when it is over the limit. It
// reports false when it failed.
func (g *memGuard) check() (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			g.log.Error("memory guard failed; it goes on", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			ok = false
		}
	}()
	heap := liveHeap()
	if heap < g.limit {
		return true
	}
	stopped := func() (n int) {
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, w := range g.running {
			if heap >= 2*g.limit || heap > w.heap && heap-w.heap > g.limit/4 {
				w.cancel(errMemory)
				n++
			}
		}
		return n
	}()
	if stopped > 0 {
		// Now that the runaways stop, collect what they left and give it
		// back to the OS, so resident memory falls too.
		debug.FreeOSMemory()
	}
	return true
}
