package loadgen

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Report is what one run measured.
type Report struct {
	Target       string
	Settings     Settings
	Calls        int // calls played to the end: the hang-up's CALL_STATUS and the SESSION_SUMMARY sent
	CallsFailed  int // of those, calls where anything went wrong
	CallsAborted int // calls cut off because the run was stopped
	Events       int // webhooks sent, redeliveries included
	Duplicates   int // redeliveries
	Elapsed      time.Duration
	CallsPerSec  float64
	EventsPerSec float64
	Latency      Latency // of every webhook, from sending it to reading the whole reply
	// StartLag is how late calls started against the --rate schedule, because
	// every worker was busy: nil for a flat-out run. Its tail is latency the
	// webhook figures do not show.
	StartLag *Latency
	Errors   map[string]int // by kind: ErrTransport, ErrTimeout, ErrNotCallflow, ErrFallback, ErrDuplicateMismatch, "http_NNN"
	Outcomes map[string]int // how calls ended: OutcomeAppHungUp, ...
	Menus    map[string]int // clientActionIds the replies carried, and how often
	// Server is what the server's /healthz counted during the run, when it has
	// one (luaivr does; the baseline does not).
	Server *ServerStats
}

// Settings are the options a run used, as reported.
type Settings struct {
	Concurrency int     `json:"calls_at_once"`
	Calls       int     `json:"calls"`      // 0: no limit
	Duration    float64 `json:"duration_s"` // 0: no limit
	Rate        float64 `json:"rate"`       // calls per second; 0: flat out
	Keys        string  `json:"keys"`
	Timeouts    float64 `json:"timeouts"`
	Duplicates  float64 `json:"duplicates"`
	Timeout     float64 `json:"timeout_s"`
	Seed        uint64  `json:"seed"`
}

func settingsOf(o Options) Settings {
	paths := make([]string, len(o.Paths))
	for i, p := range o.Paths {
		paths[i] = strings.Join(p, ",")
	}
	return Settings{
		Concurrency: o.Concurrency, Calls: o.Calls, Duration: o.Duration.Seconds(), Rate: o.Rate,
		Keys: strings.Join(paths, ";"), Timeouts: o.Timeouts, Duplicates: o.Duplicates,
		Timeout: o.Timeout.Seconds(), Seed: o.Seed,
	}
}

// ServerStats are the differences of luaivr's /healthz counters over a run.
type ServerStats struct {
	Events        int64 `json:"events"`
	Duplicates    int64 `json:"duplicates"`
	Fallbacks     int64 `json:"fallbacks"`
	StoreFailures int64 `json:"store_failures"`
}

// Latency summarizes webhook latencies. Percentiles are nearest-rank: P99 is
// the smallest latency that at least 99% of webhooks did not exceed.
type Latency struct {
	P50, P90, P99, Max, Mean time.Duration
}

// ErrorCount is the number of errors of every kind.
func (r Report) ErrorCount() int {
	n := 0
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// The epsilon keeps float error from moving an exact rank up: 99.9% of
	// 1000 is 999, not 999.0000000000001.
	rank := int(math.Ceil(p*float64(len(sorted))/100 - 1e-9))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func latencyOf(sorted []time.Duration) Latency {
	if len(sorted) == 0 {
		return Latency{}
	}
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	return Latency{
		P50: percentile(sorted, 50), P90: percentile(sorted, 90), P99: percentile(sorted, 99),
		Max: sorted[len(sorted)-1], Mean: sum / time.Duration(len(sorted)),
	}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// MarshalJSON writes latencies in milliseconds.
func (l Latency) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]float64{"p50_ms": ms(l.P50), "p90_ms": ms(l.P90), "p99_ms": ms(l.P99), "max_ms": ms(l.Max), "mean_ms": ms(l.Mean)})
}

// MarshalJSON writes the report with snake_case names, seconds and milliseconds.
func (r Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Target       string         `json:"target"`
		Settings     Settings       `json:"settings"`
		Calls        int            `json:"calls"`
		CallsFailed  int            `json:"calls_failed"`
		CallsAborted int            `json:"calls_aborted"`
		Events       int            `json:"events"`
		Duplicates   int            `json:"duplicates"`
		Elapsed      float64        `json:"elapsed_s"`
		CallsPerSec  float64        `json:"calls_per_s"`
		EventsPerSec float64        `json:"events_per_s"`
		Latency      Latency        `json:"latency"`
		StartLag     *Latency       `json:"start_lag,omitempty"`
		ErrorCount   int            `json:"error_count"`
		Errors       map[string]int `json:"errors"`
		Outcomes     map[string]int `json:"outcomes"`
		Menus        map[string]int `json:"menus"`
		Server       *ServerStats   `json:"server,omitempty"`
	}{
		r.Target, r.Settings, r.Calls, r.CallsFailed, r.CallsAborted, r.Events, r.Duplicates,
		round(r.Elapsed.Seconds(), 3), round(r.CallsPerSec, 1), round(r.EventsPerSec, 1), r.Latency, r.StartLag,
		r.ErrorCount(), orEmpty(r.Errors), orEmpty(r.Outcomes), orEmpty(r.Menus), r.Server,
	})
}

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

func orEmpty(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}

// Comparison is the same load run against the bare baseline server, the
// peer (when there is one) and then the target.
type Comparison struct {
	Baseline Report  `json:"baseline"`
	Peer     *Report `json:"peer,omitempty"`
	Target   Report  `json:"target"`
	Ratios   Ratios  `json:"ratios"` // the target's to the baseline's
	// PeerRatios are the target's figures divided by the peer's: an
	// events/s ratio over 1 means ahead of the peer.
	PeerRatios *Ratios `json:"peer_ratios,omitempty"`
}

// ErrorCount is what went wrong in all the runs.
func (c Comparison) ErrorCount() int {
	n := c.Baseline.ErrorCount() + c.Target.ErrorCount()
	if c.Peer != nil {
		n += c.Peer.ErrorCount()
	}
	return n
}

// Ratios are the target's figures divided by the baseline's: an events/s
// ratio of 0.1 means a tenth of the bare HTTP stack's throughput, a p99 ratio
// of 10 a tail ten times as long. 0 when the baseline has no figure.
type Ratios struct {
	CallsPerSec  float64 `json:"calls_per_s"`
	EventsPerSec float64 `json:"events_per_s"`
	P50          float64 `json:"p50"`
	P90          float64 `json:"p90"`
	P99          float64 `json:"p99"`
	Max          float64 `json:"max"`
}

func ratio(target, baseline float64) float64 {
	if baseline == 0 {
		return 0
	}
	return round(target/baseline, 3)
}

func ratiosOf(target, baseline Report) Ratios {
	t, b := target.Latency, baseline.Latency
	return Ratios{
		CallsPerSec:  ratio(target.CallsPerSec, baseline.CallsPerSec),
		EventsPerSec: ratio(target.EventsPerSec, baseline.EventsPerSec),
		P50:          ratio(float64(t.P50), float64(b.P50)),
		P90:          ratio(float64(t.P90), float64(b.P90)),
		P99:          ratio(float64(t.P99), float64(b.P99)),
		Max:          ratio(float64(t.Max), float64(b.Max)),
	}
}

// WriteText writes the report as a table.
func (r Report) WriteText(w io.Writer) error {
	t := newTable(w, r.Settings, r.Target, "", "")
	t.header("", "value")
	for _, row := range rows {
		t.row(row.name, row.value(r))
	}
	t.countRows([]map[string]int{r.Errors}, []map[string]int{r.Outcomes})
	t.serverRows(r.Server, 1)
	t.menus(r.Menus)
	t.flush()
	return shortRunNote(w, r)
}

// shortRunNote warns that a run too short to settle gives noisy figures.
func shortRunNote(w io.Writer, runs ...Report) error {
	for _, r := range runs {
		if r.Elapsed < time.Second {
			_, err := fmt.Fprintf(w, "\nnote: a run of %s is too short for steady figures; raise --calls or --duration\n", fmtDuration(r.Elapsed))
			return err
		}
	}
	return nil
}

// WriteText writes the runs side by side, with the target's figures as
// ratios to the baseline's and the peer's.
func (c Comparison) WriteText(w io.Writer) error {
	runs, ratios := []Report{c.Baseline}, []Ratios{c.Ratios}
	header, ratioHeader := []string{"", "baseline"}, []string{"target/baseline"}
	peer := ""
	if c.Peer != nil {
		runs, ratios = append(runs, *c.Peer), append(ratios, *c.PeerRatios)
		header, ratioHeader = append(header, "peer"), append(ratioHeader, "target/peer")
		peer = c.Peer.Target
	}
	runs = append(runs, c.Target)
	t := newTable(w, c.Target.Settings, c.Target.Target, c.Baseline.Target, peer)
	t.header(append(append(header, "target"), ratioHeader...)...)
	for _, row := range rows {
		cells := []string{row.name}
		for _, r := range runs {
			cells = append(cells, row.value(r))
		}
		for _, x := range ratios {
			rt := ""
			if row.ratio != nil {
				rt = fmt.Sprintf("%.3f", row.ratio(x))
			}
			cells = append(cells, rt)
		}
		t.row(cells...)
	}
	var errs, outs []map[string]int
	for _, r := range runs {
		errs, outs = append(errs, r.Errors), append(outs, r.Outcomes)
	}
	t.countRows(errs, outs)
	t.serverRows(c.Target.Server, len(runs))
	t.menus(c.Target.Menus)
	t.flush()
	if _, err := fmt.Fprintf(w, "\ntarget vs bare fasthttp: events/s ratio %.3f, p99 ratio %.2f\n", c.Ratios.EventsPerSec, c.Ratios.P99); err != nil {
		return err
	}
	if c.PeerRatios != nil {
		if _, err := fmt.Fprintf(w, "target vs peer: events/s ratio %.3f, p99 ratio %.2f\n", c.PeerRatios.EventsPerSec, c.PeerRatios.P99); err != nil {
			return err
		}
	}
	return shortRunNote(w, runs...)
}

type rowDef struct {
	name  string
	value func(Report) string
	ratio func(Ratios) float64
}

// rows are the figures of the table, in order.
var rows = func() []rowDef {
	n := func(f func(Report) int) func(Report) string {
		return func(r Report) string { return fmt.Sprint(f(r)) }
	}
	d := func(f func(Latency) time.Duration) func(Report) string {
		return func(r Report) string { return fmtDuration(f(r.Latency)) }
	}
	lag := func(f func(Latency) time.Duration) func(Report) string {
		return func(r Report) string {
			if r.StartLag == nil {
				return "-" // flat out: calls start when a worker is free
			}
			return fmtDuration(f(*r.StartLag))
		}
	}
	return []rowDef{
		{name: "calls", value: n(func(r Report) int { return r.Calls })},
		{name: "  failed", value: n(func(r Report) int { return r.CallsFailed })},
		{name: "  aborted", value: n(func(r Report) int { return r.CallsAborted })},
		{name: "events", value: n(func(r Report) int { return r.Events })},
		{name: "  duplicates", value: n(func(r Report) int { return r.Duplicates })},
		{name: "elapsed", value: func(r Report) string { return fmtDuration(r.Elapsed) }},
		{name: "calls/s", value: func(r Report) string { return fmt.Sprintf("%.1f", r.CallsPerSec) },
			ratio: func(x Ratios) float64 { return x.CallsPerSec }},
		{name: "events/s", value: func(r Report) string { return fmt.Sprintf("%.1f", r.EventsPerSec) },
			ratio: func(x Ratios) float64 { return x.EventsPerSec }},
		{name: "latency p50", value: d(func(l Latency) time.Duration { return l.P50 }), ratio: func(x Ratios) float64 { return x.P50 }},
		{name: "latency p90", value: d(func(l Latency) time.Duration { return l.P90 }), ratio: func(x Ratios) float64 { return x.P90 }},
		{name: "latency p99", value: d(func(l Latency) time.Duration { return l.P99 }), ratio: func(x Ratios) float64 { return x.P99 }},
		{name: "latency max", value: d(func(l Latency) time.Duration { return l.Max }), ratio: func(x Ratios) float64 { return x.Max }},
		{name: "start lag p99", value: lag(func(l Latency) time.Duration { return l.P99 })},
		{name: "start lag max", value: lag(func(l Latency) time.Duration { return l.Max })},
		{name: "errors", value: func(r Report) string { return fmt.Sprint(r.ErrorCount()) }},
	}
}()

func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// table lays rows out in columns: names on the left, figures on the right.
type table struct {
	w    io.Writer
	rows [][]string
	cols int
}

// newTable starts a table with the run's settings and the servers loaded;
// baseline and peer are "" when not run.
func newTable(w io.Writer, s Settings, target, baseline, peer string) *table {
	load := fmt.Sprintf("%d at once", s.Concurrency)
	if s.Calls > 0 {
		load = fmt.Sprintf("%d calls, ", s.Calls) + load
	}
	if s.Duration > 0 {
		load += fmt.Sprintf(", for at most %gs", s.Duration)
	}
	if s.Rate > 0 {
		load += fmt.Sprintf(", %g calls/s", s.Rate)
	} else {
		load += ", flat out"
	}
	fmt.Fprintf(w, "target    %s\n", target)
	if baseline != "" {
		fmt.Fprintf(w, "baseline  %s (bare fasthttp, in process, constant reply)\n", baseline)
	}
	if peer != "" {
		fmt.Fprintf(w, "peer      %s\n", peer)
	}
	fmt.Fprintf(w, "load      %s; keys %s; timeouts %g%%, duplicates %g%%\n\n",
		load, s.Keys, round(s.Timeouts*100, 2), round(s.Duplicates*100, 2))
	return &table{w: w}
}

func (t *table) header(cols ...string) {
	t.cols = len(cols)
	t.row(cols...)
}

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

// countRows adds a row per error kind, then per outcome, that any column has;
// errs and outs hold one map per column.
func (t *table) countRows(errs, outs []map[string]int) {
	for _, set := range []struct {
		prefix string
		cols   []map[string]int
	}{{"  ", errs}, {"ended: ", outs}} {
		keys := map[string]bool{}
		for _, m := range set.cols {
			for k := range m {
				keys[k] = true
			}
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			cells := make([]string, t.cols)
			cells[0] = set.prefix + k
			for i, m := range set.cols {
				cells[i+1] = fmt.Sprint(m[k])
			}
			t.row(cells...)
		}
	}
}

// serverRows adds the target's own counters, in column col.
func (t *table) serverRows(s *ServerStats, col int) {
	if s == nil {
		return
	}
	for _, r := range []struct {
		name string
		n    int64
	}{{"server events", s.Events}, {"server dups", s.Duplicates}, {"server fallbacks", s.Fallbacks}, {"store failures", s.StoreFailures}} {
		cells := make([]string, t.cols)
		cells[0] = r.name
		cells[col] = fmt.Sprint(r.n)
		t.row(cells...)
	}
}

func (t *table) menus(m map[string]int) {
	if len(m) == 0 {
		return
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	t.flush()
	fmt.Fprintf(t.w, "\nmenus replied: %s\n", strings.Join(parts, ", "))
}

// flush writes the rows so far.
func (t *table) flush() error {
	width := make([]int, t.cols)
	for _, r := range t.rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		line := fmt.Sprintf("%-*s", width[0], r[0])
		for i, c := range r[1:] {
			line += fmt.Sprintf("  %*s", width[i+1], c)
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	t.rows = nil
	_, err := io.WriteString(t.w, b.String())
	return err
}
