// Package metrics exposes what the engine and server do in Prometheus's text
// format, for GET /metrics: events by type and outcome, handler time per app,
// fallbacks by reason, redeliveries answered from the cache, calls started and
// ended, connections, whether the store takes events, the data folder's size,
// and Go's runtime.
//
// Every label value comes from a closed set: the four eventTypes 8x8 sends,
// the engine's fallback reasons, the apps loaded. Anything else a sender made
// up is counted as "other": each distinct label value is a series kept for
// the life of the process, so an open set would let anyone grow the memory and
// /metrics without end.
package metrics

import (
	"bytes"
	"sync/atomic"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/server"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// Metrics is one server's registry.
type Metrics struct {
	eng     *engine.Engine
	reg     *prometheus.Registry
	events  *prometheus.CounterVec
	handler *prometheus.HistogramVec
	calls   *prometheus.CounterVec

	// The store is asked in Text, not by a GaugeFunc: the registry calls
	// those in goroutines of its own, where a panic would end the process.
	sizer      store.Sizer
	storeBytes prometheus.Gauge
	storeReady prometheus.Gauge
}

// other is the label value of everything outside a closed set.
const other = "other"

// eventTypes and outcomes are the closed sets of the type and outcome labels.
var (
	eventTypes = set(webhook.CallAction, webhook.CallStatus, webhook.SessionSummary, webhook.CallRecordingStatus)
	outcomes   = set("ok", engine.ReasonScriptError, engine.ReasonTimeout, engine.ReasonInvalid, engine.ReasonEmpty,
		engine.ReasonNoApp, engine.ReasonNoHandler, engine.ReasonMemory, engine.ReasonBusy, engine.ReasonStore)
)

func set(values ...string) map[string]bool {
	m := map[string]bool{}
	for _, v := range values {
		m[v] = true
	}
	return m
}

// closed is v when it is in the set, else "other".
func closed(set map[string]bool, v string) string {
	if set[v] {
		return v
	}
	return other
}

// New makes the registry for an engine; kept, its store, may be a store.Sizer.
func New(eng *engine.Engine, kept any) *Metrics {
	m := &Metrics{eng: eng, reg: prometheus.NewRegistry()}
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "luaivr_events_total", Help: "Webhook events handled, by event type and outcome (ok, or the fallback reason); made-up types are \"other\".",
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
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.storeReady = prometheus.NewGauge(prometheus.GaugeOpts{Name: "luaivr_store_ready", Help: "1 while the data folder takes events; 0 while callers get the fallback (GET /readyz says why)."})
	m.reg.MustRegister(m.storeReady)
	if sz, ok := kept.(store.Sizer); ok {
		m.sizer = sz
		m.storeBytes = prometheus.NewGauge(prometheus.GaugeOpts{Name: "luaivr_store_bytes", Help: "Size of the data folder (Badger LSM tree and value log)."})
		m.reg.MustRegister(m.storeBytes)
	}
	return m
}

// CountConns adds the server's connections to the metrics.
func (m *Metrics) CountConns(c *server.ConnStats) {
	gauge := func(name, help string, n *atomic.Int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return float64(n.Load()) })
	}
	counter := func(name, help string, labels prometheus.Labels, n *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, func() float64 { return float64(n.Load()) })
	}
	const refused = "Connections closed at once, by the limit reached (--max-conns, --max-conns-per-ip) while every connection was being answered."
	const shed = "Connections closed to make room at a limit: idle ones, else those in the middle of sending a request, that waited longest."
	m.reg.MustRegister(
		counter("luaivr_webhooks_rejected_total", "Webhooks refused by --webhook-auth or --allow-from.", nil, &c.Rejected),
		gauge("luaivr_connections", "Connections held open now.", &c.Open),
		gauge("luaivr_connections_idle", "Of those, connections waiting for a request.", &c.Idle),
		gauge("luaivr_connections_reading", "Of those, connections waiting for the rest of a request.", &c.Reading),
		counter("luaivr_connections_refused_total", refused, prometheus.Labels{"limit": "max_conns"}, &c.RefusedMaxConns),
		counter("luaivr_connections_refused_total", refused, prometheus.Labels{"limit": "max_conns_per_ip"}, &c.RefusedMaxPerIP),
		counter("luaivr_connections_shed_total", shed, prometheus.Labels{"state": "idle"}, &c.ShedIdle),
		counter("luaivr_connections_shed_total", shed, prometheus.Labels{"state": "reading"}, &c.ShedReading),
		counter("luaivr_accept_errors_total", "Failed accepts (out of file descriptors, mostly), waited out and retried.", nil, &c.AcceptErrors),
	)
}

// Observe records one handled event (the server tells it each webhook's
// engine.Handled).
func (m *Metrics) Observe(h engine.Handled) {
	outcome := "ok"
	if h.Reason != "" {
		outcome = h.Reason
	}
	m.events.WithLabelValues(closed(eventTypes, h.Type), closed(outcomes, outcome)).Inc()
	if h.Handler != "" {
		app := h.App
		if m.eng.Scripts().Apps[app] == nil { // a session's app since removed
			app = other
		}
		m.handler.WithLabelValues(app).Observe(h.Took.Seconds())
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
	ready := 1.0
	if store.Ready(m.eng.Store()) != nil {
		ready = 0
	}
	m.storeReady.Set(ready)
	if m.sizer != nil {
		lsm, vlog := m.sizer.Size()
		m.storeBytes.Set(float64(lsm + vlog))
	}
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
