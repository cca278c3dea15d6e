package store

import (
	"encoding/json"
	"time"
)

// Inputs is what one event's handler read from outside its script, recorded
// with the event so that replay can run the event again as it ran: the clock
// it read, the kv values it got, the responses of its http and vcc calls, and
// its draws of math.random.
// Each list is in the order the handler read. What is recorded is bounded
// (see the engine's limits); Clipped says reads past the bound were dropped,
// so replay of that event cannot be exact and says so.
type Inputs struct {
	Clock   []time.Time `json:"clock,omitempty"`
	KV      []KVRead    `json:"kv,omitempty"`
	HTTP    []Exchange  `json:"http,omitempty"`
	Random  []float64   `json:"random,omitempty"` // math.random's draws, each in [0, 1)
	Clipped bool        `json:"clipped,omitempty"`
}

// KVRead is one kv call whose answer the handler saw (kv.get, kv.incr, …).
type KVRead struct {
	Op    string          `json:"op"`
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value,omitempty"` // the answer as the module's JSON; absent when not found
	Found bool            `json:"found,omitempty"`
	Err   string          `json:"err,omitempty"` // the error the handler got instead
}

// Exchange is one http or vcc request a handler made and what came back.
type Exchange struct {
	Module  string            `json:"module"` // "http" or "vcc"
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Body    string            `json:"body,omitempty"` // request body, bounded
	Status  int               `json:"status,omitempty"`
	Headers map[string]string `json:"headers,omitempty"` // response headers
	Reply   string            `json:"reply,omitempty"`   // response body, bounded
	Err     string            `json:"err,omitempty"`     // the error the handler got instead of a response
}

// Size is the recorded inputs' size as stored, for sessions show and the
// bounds on what one session keeps.
func (in *Inputs) Size() int {
	if in == nil {
		return 0
	}
	b, _ := json.Marshal(in)
	return len(b)
}
