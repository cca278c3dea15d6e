package loadgen

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// newID is a UUID as 8x8 names sessions, calls and events (see the
// fixtures): version 1, the time in 100 ns steps since 1582 with its low
// bits first, then a clock sequence and node of the host that made it, here
// one per run. So a run's ids are as alike as 8x8's and as unique, within a
// run and across runs against the same server, and what it measures (the
// bytes stored a call, how well they compress, where they land in the
// store's key order) is what 8x8's traffic costs.
func newID() string { return string(appendID(make([]byte, 0, 36))) }

var (
	idClock atomic.Uint64 // the last time given, so that no two ids share one
	idHost  = func() (h [8]byte) {
		binary.BigEndian.PutUint64(h[:], mrand.Uint64())
		h[0] = h[0]&0x3f | 0x80 // the variant, in the clock sequence's first byte
		h[2] |= 1               // a node that is not a MAC address, as RFC 9562 asks
		return h
	}()
)

// uuidEpoch is 1582-10-15 in Unix 100 ns steps before 1970.
const uuidEpoch = 0x01b21dd213814000

func appendID(b []byte) []byte {
	t := uint64(time.Now().UnixNano()/100) + uuidEpoch
	for {
		last := idClock.Load()
		t = max(t, last+1)
		if idClock.CompareAndSwap(last, t) {
			break
		}
	}
	var u [16]byte
	binary.BigEndian.PutUint32(u[0:], uint32(t))            // time low
	binary.BigEndian.PutUint16(u[4:], uint16(t>>32))        // time mid
	binary.BigEndian.PutUint16(u[6:], uint16(t>>48)|0x1000) // time high, version 1
	copy(u[8:], idHost[:])
	var h [32]byte
	hex.Encode(h[:], u[:])
	b = append(b, h[:8]...)
	b = append(b, '-')
	b = append(b, h[8:12]...)
	b = append(b, '-')
	b = append(b, h[12:16]...)
	b = append(b, '-')
	b = append(b, h[16:20]...)
	b = append(b, '-')
	return append(b, h[20:]...)
}

// worker places calls one after another on its own request and response, and
// keeps its own counts, merged into the Report at the end.
type worker struct {
	o      *Options
	client *fasthttp.HostClient
	hard   context.Context
	pcg    *mrand.PCG // reseeded per call: call n makes the same choices in every run
	rng    *mrand.Rand
	req    *fasthttp.Request
	resp   *fasthttp.Response
	body   []byte // the event being sent
	first  []byte // the first reply to an event that is sent twice

	latencies  []time.Duration
	lags       []time.Duration // how late paced calls started
	events     int
	duplicates int
	calls      int
	failed     int
	aborted    int
	errors     map[string]int
	outcomes   map[string]int
	menus      map[string]int
}

func newWorker(o *Options, client *fasthttp.HostClient, tgt target, hard context.Context) *worker {
	w := &worker{
		o: o, client: client, hard: hard,
		pcg:    mrand.NewPCG(o.Seed, 0),
		req:    fasthttp.AcquireRequest(),
		resp:   fasthttp.AcquireResponse(),
		errors: map[string]int{}, outcomes: map[string]int{}, menus: map[string]int{},
	}
	w.rng = mrand.New(w.pcg)
	w.req.SetRequestURI(tgt.url)
	w.req.Header.SetMethod(fasthttp.MethodPost)
	w.req.Header.SetContentType("application/json")
	return w
}

func (w *worker) release() {
	fasthttp.ReleaseRequest(w.req)
	fasthttp.ReleaseResponse(w.resp)
}

// How a call ended, as Report.Outcomes counts it.
const (
	OutcomeAppHungUp    = "app_hung_up"    // the app's reply ended with hangup
	OutcomeCallerHungUp = "caller_hung_up" // the caller's path ran out at a prompt
	OutcomeFailed       = "failed"         // a CALL_ACTION got no usable reply
	OutcomeNeverEnds    = "never_ends"     // maxEvents without a hangup
)

// call is one inbound call, as 8x8 plays it.
type call struct {
	id       string // the session's
	callA    string // the caller's leg
	callB    string // the leg a makeCall bridged
	caller   string
	seq      int       // events sent
	actionID string    // the last clientActionId we were given: 8x8 echoes it
	started  time.Time // for the summary
	bridged  bool
}

// reply is what the walk needs of a callflow.
type reply struct {
	ClientActionID string `json:"clientActionId"`
	Callflow       []struct {
		Action string `json:"action"`
	} `json:"callflow"`
}

// waits says what 8x8 does after playing the reply: wait at a prompt, bridge
// the caller, hang up, or (nothing to wait for) ask for the next callflow.
func (r *reply) waits() string {
	for _, a := range r.Callflow {
		switch a.Action {
		case "sayAndCapture", "makeCall", "hangup":
			return a.Action
		}
	}
	return ""
}

func (w *worker) call(n int) {
	errorsBefore := w.errorCount()
	w.pcg.Seed(w.o.Seed, uint64(n))
	c := &call{
		id:      newID(),
		callA:   newID(),
		callB:   newID(),
		caller:  fmt.Sprintf("+659%07d", mrand.IntN(10_000_000)), // a Singapore mobile, any
		started: time.Now(),
	}
	path := w.o.Paths[w.rng.IntN(len(w.o.Paths))]

	r, ok := w.action(c, "CALL_RECEIVED", "", false)
	if ok {
		w.status(c, "CALL_CONNECTED")
	}
	outcome := OutcomeFailed
walk:
	for ok {
		if c.seq >= maxEvents {
			outcome = OutcomeNeverEnds
			break
		}
		switch r.waits() {
		case "hangup":
			outcome = OutcomeAppHungUp
			break walk
		case "makeCall":
			// The other party talks, then hangs up: 8x8 asks what next.
			c.bridged = true
			r, ok = w.action(c, "ACTION_COMPLETED", "", false)
		case "sayAndCapture":
			switch {
			case w.rng.Float64() < w.o.Timeouts:
				r, ok = w.action(c, "ACTION_COMPLETED", "", false)
			case len(path) == 0:
				outcome = OutcomeCallerHungUp
				break walk
			default:
				key := path[0]
				path = path[1:]
				r, ok = w.action(c, "ACTION_COMPLETED", key, key != timeoutKey)
			}
		default:
			r, ok = w.action(c, "ACTION_COMPLETED", "", false)
		}
	}
	if w.hard.Err() != nil {
		w.aborted++
		return
	}
	w.status(c, "CALL_DISCONNECTED")
	w.summary(c)
	if w.hard.Err() != nil {
		w.aborted++
		return
	}
	w.calls++
	w.outcomes[outcome]++
	if w.errorCount() > errorsBefore {
		w.failed++
	}
}

func (w *worker) errorCount() int {
	n := 0
	for _, v := range w.errors {
		n += v
	}
	return n
}

// action sends a CALL_ACTION and reads its callflow; ok is false when the
// call cannot go on (no usable reply, or the run was stopped).
func (w *worker) action(c *call, status, digits string, hasDigits bool) (reply, bool) {
	if w.hard.Err() != nil {
		return reply{}, false
	}
	w.body = w.event(w.body[:0], c, "CALL_ACTION", "Action request of a call", status, digits, hasDigits)
	body, ok := w.send()
	if !ok {
		return reply{}, false
	}
	var r reply
	if err := json.Unmarshal(body, &r); err != nil || len(r.Callflow) == 0 {
		w.errors[ErrNotCallflow]++
		return reply{}, false
	}
	if bytes.Contains(body, fallbackText) {
		w.errors[ErrFallback]++
	}
	if r.ClientActionID != "" {
		c.actionID = r.ClientActionID
		w.menus[r.ClientActionID]++
	}
	return r, true
}

var fallbackText = []byte(FallbackText)

func (w *worker) status(c *call, status string) {
	if w.hard.Err() != nil {
		return
	}
	w.body = w.event(w.body[:0], c, "CALL_STATUS", "Status update of a call", status, "", false)
	w.send()
}

func (w *worker) summary(c *call) {
	if w.hard.Err() != nil {
		return
	}
	w.body = w.sessionSummary(w.body[:0], c)
	w.send()
}

// send POSTs w.body, redelivers it when the dice say so, and returns the
// reply's body (valid until the next send) when it is a 200.
func (w *worker) send() ([]byte, bool) {
	w.req.SetBodyRaw(w.body)
	if !w.post() {
		return nil, false
	}
	if w.rng.Float64() < w.o.Duplicates {
		w.first = append(w.first[:0], w.resp.Body()...)
		w.duplicates++
		if !w.post() {
			return nil, false
		}
		if !bytes.Equal(w.first, w.resp.Body()) {
			w.errors[ErrDuplicateMismatch]++
		}
	}
	return w.resp.Body(), true
}

func (w *worker) post() bool {
	w.events++
	start := time.Now()
	err := w.client.DoTimeout(w.req, w.resp, w.o.Timeout)
	w.latencies = append(w.latencies, time.Since(start))
	switch {
	case errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout):
		w.errors[ErrTimeout]++
	case err != nil:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			w.errors[ErrTimeout]++
		} else {
			w.errors[ErrTransport]++
		}
	case w.resp.StatusCode() != fasthttp.StatusOK:
		w.errors["http_"+strconv.Itoa(w.resp.StatusCode())]++
	default:
		return true
	}
	return false
}

// The webhooks, as 8x8 sends them today (see runtime/webhook/testdata/8x8):
// digits at payload.eventData.dtmf, the last clientActionId echoed.

func (w *worker) event(b []byte, c *call, typ, desc, status, digits string, hasDigits bool) []byte {
	c.seq++
	b = append(b, `{"namespace":"VOICE","eventType":"`...)
	b = append(b, typ...)
	b = append(b, `","description":"`...)
	b = append(b, desc...)
	b = append(b, `","payload":{"eventId":"`...)
	b = appendID(b)
	b = append(b, `","callId":"`...)
	b = append(b, c.callA...)
	b = append(b, `","sessionId":"`...)
	b = append(b, c.id...)
	b = append(b, `","subAccountId":"luaivr_bench","callStatus":"`...)
	b = append(b, status...)
	b = append(b, `","callDirection":"INBOUND","callType":"PSTN","source":"`...)
	b = append(b, c.caller...)
	b = append(b, `","destination":`...)
	b = appendString(b, w.o.Number)
	b = append(b, `,"sourceFormat":"MSISDN","destinationFormat":"MSISDN","sourceCountryCode":"SG","destinationCountryCode":"SG","callDuration":`...)
	b = strconv.AppendInt(b, int64(time.Since(c.started)/time.Second), 10)
	if hasDigits {
		b = append(b, `,"eventData":{"dtmf":`...)
		b = appendString(b, digits)
		b = append(b, '}')
	}
	b = append(b, `,"sipCode":200,"timestamp":"`...)
	b = appendTime(b, time.Now())
	b = append(b, '"')
	if typ == "CALL_ACTION" && c.actionID != "" {
		b = append(b, `,"clientActionId":`...)
		b = appendString(b, c.actionID)
	}
	return append(b, "}}"...)
}

func (w *worker) sessionSummary(b []byte, c *call) []byte {
	now := time.Now()
	last, count := "HANGUP", "1"
	if c.bridged {
		last, count = "MAKE_CALL", "2"
	}
	b = append(b, `{"namespace":"VOICE","eventType":"SESSION_SUMMARY","description":"Summary of a completed call session","version":5,"payload":{"sessionId":"`...)
	b = append(b, c.id...)
	b = append(b, `","subAccountId":"luaivr_bench","sessionStatus":"COMPLETED","startTime":"`...)
	b = appendTime(b, c.started)
	b = append(b, `","endTime":"`...)
	b = appendTime(b, now)
	b = append(b, `","lastAction":"`...)
	b = append(b, last...)
	b = append(b, `","callCount":`...)
	b = append(b, count...)
	b = append(b, `,"details":{"callA":{"callId":"`...)
	b = append(b, c.callA...)
	b = append(b, `","callDirection":"INBOUND","callType":"PSTN","initiatedTimestamp":"`...)
	b = appendTime(b, c.started)
	b = append(b, `","disconnectedTimestamp":"`...)
	b = appendTime(b, now)
	b = append(b, `","source":"`...)
	b = append(b, c.caller...)
	b = append(b, `","destination":`...)
	b = appendString(b, w.o.Number)
	b = append(b, `,"callStatus":"COMPLETED","callDuration":`...)
	b = strconv.AppendInt(b, int64(now.Sub(c.started)/time.Second), 10)
	b = append(b, '}')
	if c.bridged {
		b = append(b, `,"callB":{"callId":"`...)
		b = append(b, c.callB...)
		b = append(b, `","callDirection":"OUTBOUND","callType":"PSTN","callStatus":"COMPLETED"}`...)
	}
	return append(b, "}}}"...)
}

func appendTime(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
}

// appendString appends s as a JSON string. Strings from replies (a
// clientActionId) may hold anything.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
