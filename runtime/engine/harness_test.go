package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/luaivr/luaivr/runtime/logtest"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/badgerstore"
)

// harness is an engine on real Badger (in memory) with its log captured.
type harness struct {
	t    testing.TB
	eng  *engine.Engine
	st   store.Store
	logs *syncBuffer
}

type syncBuffer = logtest.Buffer

func newHarness(t testing.TB, dir string, opts engine.Options) *harness {
	t.Helper()
	scripts, errs := engine.Load(dir)
	for _, err := range errs {
		t.Fatalf("loading %s: %v", dir, err)
	}
	st, err := badgerstore.Open(badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &syncBuffer{}
	if opts.Deadline == 0 {
		// Time no busy machine runs out of (the race detector, a browser test
		// beside): a test about deadlines sets its own.
		opts.Deadline = 2 * time.Second
	}
	opts.Store = st
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng, err := engine.New(scripts, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, eng: eng, st: st, logs: logs}
}

// scriptDir writes scripts (name → source) into a temp folder.
func scriptDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// post sends a raw webhook body, as the server would, and returns the reply.
func (h *harness) post(body []byte, app string) []byte {
	h.t.Helper()
	return h.handle(body, app).Body
}

// handle is post with the engine's whole account of the event.
func (h *harness) handle(body []byte, app string) engine.Handled {
	h.t.Helper()
	ev, err := webhook.Parse(body)
	if err != nil {
		h.t.Fatalf("test built a bad webhook: %v\n%s", err, body)
	}
	return h.eng.Handle(context.Background(), ev, app)
}

// The three places 8x8 has put digits over the years.
const (
	shapeDTMF          = iota // payload.dtmf (2023)
	shapeEventData            // payload.eventData as a string (2025)
	shapeEventDataDTMF        // payload.eventData.dtmf (current)
)

var shapeNames = []string{"payload.dtmf", "payload.eventData", "payload.eventData.dtmf"}

var eventSeq atomic.Int64

// call builds the webhooks of one call.
type call struct {
	session   string
	direction string
	shape     int
	echo      bool // whether 8x8 echoes our clientActionId
	lastID    string
}

func newCall(shape int, echo bool) *call {
	return &call{session: fmt.Sprintf("sess-%d", eventSeq.Add(1)), direction: "INBOUND", shape: shape, echo: echo}
}

func (c *call) payload(status string) map[string]any {
	p := map[string]any{
		"eventId":       fmt.Sprintf("ev-%d", eventSeq.Add(1)),
		"callId":        c.session + "-call",
		"sessionId":     c.session,
		"subAccountId":  "8x8_test",
		"callStatus":    status,
		"callDirection": c.direction,
		"callType":      "PSTN",
		"source":        "+6591178965",
		"destination":   "+6568332048",
		"callDuration":  0,
		"sipCode":       200,
		"timestamp":     time.Now().UTC().Format(time.RFC3339),
	}
	if c.direction == "OUTBOUND" {
		p["source"], p["destination"] = p["destination"], p["source"]
	}
	if c.echo && c.lastID != "" {
		p["clientActionId"] = c.lastID
	}
	return p
}

func envelope(typ string, p map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"namespace": "VOICE", "eventType": typ, "description": "test", "payload": p})
	if err != nil {
		panic(err)
	}
	return b
}

// start is the first CALL_ACTION of an inbound call.
func (c *call) start() []byte { return envelope(webhook.CallAction, c.payload("CALL_RECEIVED")) }

// keys is a CALL_ACTION with digits in this call's shape; "" means no input.
func (c *call) keys(digits string) []byte {
	status := "ACTION_COMPLETED"
	if c.shape == shapeDTMF {
		status = "DTMF_RECEIVED"
	}
	p := c.payload(status)
	if digits != "" {
		switch c.shape {
		case shapeDTMF:
			p["dtmf"] = digits
		case shapeEventData:
			p["eventData"] = digits
		case shapeEventDataDTMF:
			p["eventData"] = map[string]any{"dtmf": digits}
		}
	}
	return envelope(webhook.CallAction, p)
}

// remember notes the clientActionId of a reply, as 8x8 does.
func (c *call) remember(reply []byte) {
	var r struct {
		ClientActionID string `json:"clientActionId"`
	}
	_ = json.Unmarshal(reply, &r)
	c.lastID = r.ClientActionID
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(t *testing.T, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("reply is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("golden is not JSON: %v", err)
	}
	return reflect.DeepEqual(g, w)
}

// replyText pulls what the caller hears first, for short assertions.
func replyText(t *testing.T, reply []byte) string {
	t.Helper()
	var r struct {
		Callflow []struct {
			Action string         `json:"action"`
			Params map[string]any `json:"params"`
		} `json:"callflow"`
	}
	if err := json.Unmarshal(reply, &r); err != nil || len(r.Callflow) == 0 {
		t.Fatalf("not a callflow reply: %s", reply)
	}
	for _, a := range r.Callflow {
		for _, k := range []string{"text", "promptMessage"} {
			if s, ok := a.Params[k].(string); ok {
				return s
			}
		}
	}
	return r.Callflow[0].Action
}
