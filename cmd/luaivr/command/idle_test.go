package command

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// Memory is given back once when events stop after a busy spell: not while
// they come, not again and again while idle, and again after the next spell.
func TestMemoryGivenBackWhenIdle(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var events atomic.Int64
	freed := make(chan struct{}, 10)
	go giveMemoryBack(ctx, &events, 20*time.Millisecond, func() { freed <- struct{}{} })
	quiet := func(d time.Duration) int { // how many times it freed in d
		n := 0
		for end := time.After(d); ; {
			select {
			case <-freed:
				n++
			case <-end:
				return n
			}
		}
	}
	if n := quiet(100 * time.Millisecond); n != 0 {
		t.Fatalf("freed %d times before any event", n)
	}
	busy := func(d time.Duration) int {
		n := 0
		for end := time.Now().Add(d); time.Now().Before(end); {
			events.Add(1)
			select {
			case <-freed:
				n++
			case <-time.After(time.Millisecond):
			}
		}
		return n
	}
	for round := range 2 {
		if n := busy(200 * time.Millisecond); n != 0 {
			t.Fatalf("round %d: freed %d times while events came", round, n)
		}
		if n := quiet(300 * time.Millisecond); n != 1 {
			t.Fatalf("round %d: freed %d times once events stopped, want once", round, n)
		}
	}
}
