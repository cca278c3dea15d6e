package explore

import (
	"context"
	"time"
)

// Pacer makes exploring a background job of a live server (serve's vetting).
// Exploring is CPU work in bursts: each call it plays runs the app's handlers
// flat out. On a small machine that burst competes with live calls, whose
// handlers then miss their deadline. After each call played, the pacer sleeps
// long enough that exploring uses at most Share of one core, and at most
// BusyShare while live calls are being handled (Busy reports whether any were
// since the last call played). Time is measured on the wall clock, which
// counts what the explorer waited for a core as work too: the share is an
// upper bound. A share of 0, or of 1 or more, does not pace.
type Pacer struct {
	Share, BusyShare float64
	Busy             func() bool
}

// Pace is an Options.Pace: it sleeps Rest(took), or until ctx ends.
func (p Pacer) Pace(ctx context.Context, took time.Duration) error {
	t := time.NewTimer(p.Rest(took))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Rest is how long to sleep after a call that took took, so that the work
// is at most the share of the time.
func (p Pacer) Rest(took time.Duration) time.Duration {
	share := p.Share
	if p.Busy != nil && p.Busy() {
		share = p.BusyShare
	}
	if share <= 0 || share >= 1 {
		return 0
	}
	return time.Duration(float64(took) * (1/share - 1))
}
