// Package metrics exposes what the engine and server do in Prometheus's text
// format, for GET /metrics: events by type and outcome, handler time per app,
// fallbacks by reason, redeliveries answered from the cache, calls in
// progress, whether the store takes events, the data folder's size, and Go's
// runtime.
package metrics

import (
	"bytes"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// Metrics is one server's registry.
type Metrics struct {
	reg     *prometheus.Registry
	events  *prometheus.CounterVec
	handler *prometheus.HistogramVec
	calls   *prometheus.CounterVec
}

// Sizer reports the data folder's size in bytes (badgerstore does).
type Sizer interface{ Size() (lsm, vlog int64) }

// New makes the registry for an engine; store may be a Sizer.
func New(eng *engine.Engine, store any) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "luaivr_events_total", Help: "Webhook events handled, by event type and outcome (ok, or the fallback reason).",
	}, []string{"type", "outcome"})
	m.handler = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "luaivr_handler_seconds", Help: "Time in Lua per event, by app.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, []string{"app"})
	// Counters, not a gauge of calls in progress: a call may start in another
	// process (placed with luaivr call, or before a restart) and end here.
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "luaivr_calls_total", Help: "Calls this process saw start (first event) and end (session summary).",
	}, []string{"phase"})
	st := eng.Stats()
	m.reg.MustRegister(m.events, m.handler, m.calls,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "luaivr_dedupe_hits_total", Help: "Redelivered events answered from the reply cache."},
			func() float64 { return float64(st.Duplicates.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "luaivr_store_failures_total", Help: "Events whose state could not be read or saved."},
			func() float64 { return float64(st.StoreFails.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "luaivr_webhooks_rejected_total", Help: "Webhooks refused by --webhook-auth or --allow-from."},
			func() float64 { return float64(st.Rejected.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "luaivr_store_ready", Help: "1 while the data folder takes events; 0 while callers get the fallback (GET /readyz says why)."},
			func() float64 {
				if eng.Store().Ready() != nil {
					return 0
				}
				return 1
			}),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if sz, ok := store.(Sizer); ok {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "luaivr_store_bytes", Help: "Size of the data folder (Badger LSM tree and value log)."},
			func() float64 { lsm, vlog := sz.Size(); return float64(lsm + vlog) }))
	}
	return m
}

// Observe records one handled event; give it to engine.Options.Observe.
func (m *Metrics) Observe(h engine.Handled) {
	outcome := "ok"
	if h.Reason != "" {
		outcome = h.Reason
	}
	m.events.WithLabelValues(h.Type, outcome).Inc()
	if h.Handler != "" {
		m.handler.WithLabelValues(h.App).Observe(h.Took.Seconds())
	}
	switch {
	case h.Type == webhook.SessionSummary:
		m.calls.WithLabelValues("ended").Inc()
	case h.NewCall:
		m.calls.WithLabelValues("started").Inc()
	}
}

// Text renders every metric in Prometheus's text format.
func (m *Metrics) Text() ([]byte, error) {
	families, err := m.reg.Gather()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}
