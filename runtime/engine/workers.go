package engine

import "time"

// workers are the goroutines scripts run in. A script runs in a goroutine
// other than the one answering its caller, so that script's watchdog can
// answer a caller whose script is stuck in Go code; but a goroutine started
// per event, with its stack grown to what Lua needs every time, cost more
// than a small handler itself. So a worker outlives its script and takes the
// next one; one that waits workerIdle without a script ends, so an engine no
// longer used leaves no goroutine behind. How many run at once is bounded by
// the engine's turns (script), not here.
type workers struct {
	scripts chan func() // unbuffered: a send succeeds only into an idle worker
}

// workerIdle is how long an idle worker waits for a script before it ends.
const workerIdle = 10 * time.Second

func newWorkers() workers { return workers{scripts: make(chan func())} }

// run runs script in an idle worker, or in a new one when none is idle.
func (w workers) run(script func()) {
	select {
	case w.scripts <- script:
	default:
		go w.work(script)
	}
}

// work runs script, then the scripts it is handed until it idles.
func (w workers) work(script func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		script()
		idle.Reset(workerIdle)
		select {
		case script = <-w.scripts:
		case <-idle.C:
			return
		}
	}
}
