package engine

import (
	"context"
	"testing"
)

// Taking a free turn and running a script make no timer and start no
// goroutine per event: what is left is the result's channel and the
// closure handed to the worker (two timers and a goroutine per event made 9).
func TestScriptTurnAllocations(t *testing.T) {
	e, err := New(&Scripts{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	app, ctx := &App{Name: "demo"}, context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		if lo := e.script(ctx, app, "s1", OnCall, func() luaOutcome { return luaOutcome{} }); lo.err != nil {
			t.Fatal(lo.err)
		}
	})
	t.Logf("%.2f allocations per event", allocs)
	if allocs > 4 {
		t.Errorf("script made %.1f allocations per event; at most 4 expected", allocs)
	}
}
