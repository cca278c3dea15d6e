// Package loadgen plays realistic 8x8 calls against a running luaivr server and
// measures it: many calls at once, each the sequence of webhooks 8x8 sends for
// one inbound call (CALL_ACTION CALL_RECEIVED, a CALL_STATUS, the caller's keys
// at every prompt the replies ask for, a no-input now and then, redeliveries,
// the hang-up's CALL_STATUS and the SESSION_SUMMARY). It reports calls and
// events per second, webhook latency percentiles and every kind of error, and
// can run the same load against a bare fasthttp handler in the same process
// first, and against a peer server answering the same JSON (Baseline,
// Compare), since a figure means something only next to those references
// measured on the same machine in the same run.
//
// It refuses targets that are not on this machine unless told otherwise: a
// load generator pointed at someone else's server is an attack.
package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// DefaultURL is where `luaivr serve` answers the restaurant app by default.
const DefaultURL = "http://127.0.0.1:8080/webhooks/restaurant"

// DefaultKeys is a mix of paths through the restaurant app of scripts/: book
// for today, reschedule, the representative's menu and back, the opening hours,
// an invalid key, and a call bridged to the front desk.
const DefaultKeys = "1,1,1;1,2,2;2,2,3;3;9;2,1"

// FallbackText starts the server's own apology, said when a script cannot
// answer: a reply that holds it is counted as an error.
const FallbackText = "We are sorry, we cannot take your call right now"

// The kinds of error a Report counts. An HTTP status other than 200 is counted
// as "http_" and the status, e.g. "http_500".
const (
	ErrTransport         = "transport"          // connection refused, reset, closed
	ErrTimeout           = "timeout"            // no reply within Options.Timeout
	ErrNotCallflow       = "not_callflow"       // a CALL_ACTION answered with anything but a callflow
	ErrFallback          = "fallback"           // the server's apology: a script failed
	ErrDuplicateMismatch = "duplicate_mismatch" // a redelivered event got a different reply
)

// Options configure a run. Zero values take the defaults noted.
type Options struct {
	// URL is the webhook URL the events are POSTed to; default DefaultURL.
	URL string
	// AllowRemote lets URL name a host that is not this machine.
	AllowRemote bool
	// Concurrency is how many calls are in progress at once; default 64.
	Concurrency int
	// Calls is how many calls to place; 0 places calls until Duration is up.
	Calls int
	// Duration stops placing calls when it is up (calls in progress finish);
	// 0 places Calls calls however long they take. One of the two must be set.
	Duration time.Duration
	// Rate is how many calls start per second; 0 starts them as fast as the
	// server takes them.
	Rate float64
	// Paths are the keys callers press, one path per call chosen at random:
	// each element is one prompt's digits, or "timeout" for no input. A caller
	// whose path runs out at a prompt hangs up. Default ParseKeys(DefaultKeys).
	Paths [][]string
	// Timeouts is the fraction of prompts (0 to 1) the caller lets time out
	// before pressing the path's next key.
	Timeouts float64
	// Duplicates is the fraction of events (0 to 1) delivered a second time,
	// as 8x8 may: the second reply must be byte-identical to the first.
	Duplicates float64
	// Timeout bounds each webhook; default 5 s.
	Timeout time.Duration
	// Seed makes the choices of paths, timeouts and duplicates repeatable;
	// 0 picks one at random.
	Seed uint64
	// Number is the number called (the app's 8x8 number); default the
	// restaurant's, +6568332048.
	Number string
	// Peer is, for Compare, another server answering the same webhooks (the
	// stateless Node app a user might write instead: examples/bench/peer.js),
	// loaded the same way between the baseline and the target; "" for none.
	// Run ignores it.
	Peer string
}

const (
	defaultConcurrency = 64
	defaultTimeout     = 5 * time.Second
	defaultNumber      = "+6568332048"
	// maxEvents ends a call whose replies never hang up, so a script that
	// loops cannot hold a worker forever.
	maxEvents = 64
)

func (o *Options) normalize() error {
	if o.URL == "" {
		o.URL = DefaultURL
	}
	if o.Concurrency <= 0 {
		o.Concurrency = defaultConcurrency
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Number == "" {
		o.Number = defaultNumber
	}
	if o.Paths == nil {
		o.Paths, _ = ParseKeys(DefaultKeys)
	}
	switch {
	case len(o.Paths) == 0:
		return errors.New("no key paths: give at least one, e.g. \"1,1,1;3\"")
	case o.Calls < 0 || o.Duration < 0 || o.Rate < 0:
		return errors.New("calls, duration and rate cannot be negative")
	case o.Calls == 0 && o.Duration == 0:
		return errors.New("unbounded run: set a number of calls, a duration, or both")
	case o.Timeouts < 0 || o.Timeouts > 1:
		return fmt.Errorf("timeouts %v: a fraction from 0 to 1", o.Timeouts)
	case o.Duplicates < 0 || o.Duplicates > 1:
		return fmt.Errorf("duplicates %v: a fraction from 0 to 1", o.Duplicates)
	}
	if o.Seed == 0 {
		o.Seed = mrand.Uint64()
	}
	return nil
}

// Run plays calls against o.URL until o.Calls are done or o.Duration is up,
// and reports what it measured. Cancelling ctx stops it early: the calls in
// progress are abandoned, and the report covers what was done. An error means
// the run could not start (bad options, a refused or unreachable target);
// what went wrong during the run is in Report.Errors.
func Run(ctx context.Context, o Options) (Report, error) {
	if err := o.normalize(); err != nil {
		return Report{}, err
	}
	if err := CheckTarget(o.URL, o.AllowRemote); err != nil {
		return Report{}, err
	}
	tgt, err := parseTarget(o.URL)
	if err != nil {
		return Report{}, err
	}
	if err := reachable(ctx, o.URL); err != nil {
		return Report{}, err
	}

	client := &fasthttp.HostClient{
		Addr:                          tgt.addr,
		IsTLS:                         tgt.tls,
		MaxConns:                      o.Concurrency + 1, // one more for /healthz
		ReadTimeout:                   o.Timeout,
		WriteTimeout:                  o.Timeout,
		MaxIdleConnDuration:           time.Minute,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
	}
	defer client.CloseIdleConnections()
	before := serverStats(client, tgt)

	// Placing calls stops when Duration is up; calls in progress then finish,
	// within a grace that bounds a server that stopped answering.
	placing, stopPlacing := ctx, context.CancelFunc(func() {})
	hard, stopHard := ctx, context.CancelFunc(func() {})
	if o.Duration > 0 {
		placing, stopPlacing = context.WithTimeout(ctx, o.Duration)
		hard, stopHard = context.WithTimeout(ctx, o.Duration+max(2*o.Timeout, 2*time.Second))
	}
	defer stopPlacing()
	defer stopHard()

	next := flatOut(placing, o.Calls)
	if o.Rate > 0 {
		next = paced(placing, o.Calls, o.Rate)
	}
	workers := make([]*worker, o.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := newWorker(&o, client, tgt, hard)
		workers[i] = w
		wg.Go(func() {
			defer w.release()
			for {
				n, due, ok := next()
				if !ok || hard.Err() != nil {
					return
				}
				if !due.IsZero() {
					w.lags = append(w.lags, time.Since(due))
				}
				w.call(n)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	r := merge(workers, elapsed)
	r.Target = o.URL
	r.Settings = settingsOf(o)
	if after := serverStats(client, tgt); before != nil && after != nil {
		r.Server = &ServerStats{
			Events:        after.Events - before.Events,
			Duplicates:    after.Duplicates - before.Duplicates,
			Fallbacks:     after.Fallbacks - before.Fallbacks,
			StoreFailures: after.StoreFailures - before.StoreFailures,
		}
	}
	return r, nil
}

// flatOut hands out call numbers as fast as workers ask, until calls are
// placed (0: no limit) or ctx ends. Calls are due when asked for.
func flatOut(ctx context.Context, calls int) func() (int, time.Time, bool) {
	var n atomic.Int64
	return func() (int, time.Time, bool) {
		if ctx.Err() != nil {
			return 0, time.Time{}, false
		}
		i := int(n.Add(1) - 1)
		return i, time.Time{}, calls == 0 || i < calls
	}
}

// paced hands out call numbers at rate per second, on a schedule fixed from
// the start, each with the time it was due: when every worker is busy, calls
// start late, and the lateness is reported (Report.StartLag) instead of
// hidden, as webhook latencies alone would hide it.
func paced(ctx context.Context, calls int, rate float64) func() (int, time.Time, bool) {
	type due struct {
		n  int
		at time.Time
	}
	ch := make(chan due)
	go func() {
		defer close(ch)
		start := time.Now()
		t := time.NewTimer(0)
		defer t.Stop()
		for i := 0; calls == 0 || i < calls; i++ {
			at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			t.Reset(time.Until(at))
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			select {
			case <-ctx.Done():
				return
			case ch <- due{i, at}:
			}
		}
	}()
	return func() (int, time.Time, bool) {
		d, ok := <-ch
		return d.n, d.at, ok
	}
}

// serverStats reads the server's counters from GET /healthz, or nil when the
// target does not have them (another server, or the baseline).
func serverStats(client *fasthttp.HostClient, tgt target) *ServerStats {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(tgt.admin + "/healthz")
	if err := client.DoTimeout(req, resp, 2*time.Second); err != nil || resp.StatusCode() != fasthttp.StatusOK {
		return nil
	}
	var h struct {
		Status        string           `json:"status"`
		Events        int64            `json:"events"`
		Duplicates    int64            `json:"duplicates"`
		Fallbacks     map[string]int64 `json:"fallbacks"`
		StoreFailures int64            `json:"store_failures"`
	}
	if json.Unmarshal(resp.Body(), &h) != nil || h.Status != "ok" {
		return nil
	}
	s := &ServerStats{Events: h.Events, Duplicates: h.Duplicates, StoreFailures: h.StoreFailures}
	for _, n := range h.Fallbacks {
		s.Fallbacks += n
	}
	return s
}

// merge adds up the workers' counts.
func merge(workers []*worker, elapsed time.Duration) Report {
	r := Report{Elapsed: elapsed, Errors: map[string]int{}, Outcomes: map[string]int{}, Menus: map[string]int{}}
	var all, lags []time.Duration
	for _, w := range workers {
		lags = append(lags, w.lags...)
		r.Calls += w.calls
		r.CallsFailed += w.failed
		r.CallsAborted += w.aborted
		r.Events += w.events
		r.Duplicates += w.duplicates
		for k, v := range w.errors {
			r.Errors[k] += v
		}
		for k, v := range w.outcomes {
			r.Outcomes[k] += v
		}
		for k, v := range w.menus {
			r.Menus[k] += v
		}
		all = append(all, w.latencies...)
	}
	slices.Sort(all)
	r.Latency = latencyOf(all)
	if len(lags) > 0 {
		slices.Sort(lags)
		l := latencyOf(lags)
		r.StartLag = &l
	}
	if s := elapsed.Seconds(); s > 0 {
		r.CallsPerSec = float64(r.Calls) / s
		r.EventsPerSec = float64(r.Events) / s
	}
	return r
}
