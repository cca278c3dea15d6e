package inputs_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/stdlib/inputs"
	"github.com/luaivr/luaivr/store"
)

func TestNoTape(t *testing.T) {
	var tape *inputs.Tape = inputs.From(context.Background())
	if tape != nil {
		t.Fatal("a context without a tape has one")
	}
	at := time.Unix(100, 0)
	if got := tape.Clock(func() time.Time { return at }); !got.Equal(at) {
		t.Errorf("clock %v, want the live %v", got, at)
	}
	if tape.Inputs() != nil {
		t.Error("a nil tape recorded something")
	}
}

// A recorded event, replayed, gets the same answers in the same order and
// never calls the live source for what was recorded.
func TestRecordThenReplay(t *testing.T) {
	ctx, tape := inputs.Record(context.Background())
	if inputs.From(ctx) != tape {
		t.Fatal("Record's context does not carry its tape")
	}
	t1, t2 := time.Unix(1000, 0).UTC(), time.Unix(2000, 0).UTC()
	clocks := []time.Time{t1, t2}
	for _, c := range clocks {
		tape.Clock(func() time.Time { return c })
	}
	tape.KV("get", "a", func() store.KVRead { return store.KVRead{Value: json.RawMessage(`1`), Found: true} })
	tape.KV("get", "a", func() store.KVRead { return store.KVRead{Value: json.RawMessage(`2`), Found: true} })
	tape.KV("incr", "n", func() store.KVRead { return store.KVRead{Err: "kv.incr: the store failed"} })
	req := store.Exchange{Module: "http", Method: "GET", URL: "http://127.0.0.1:1/x"}
	if _, err := tape.Exchange("http.get http://127.0.0.1:1/x", req, func() store.Exchange {
		return store.Exchange{Status: 200, Headers: map[string]string{"content-type": "text/plain"}, Reply: "hi"}
	}); err != nil {
		t.Fatal(err)
	}
	in := tape.Inputs()
	b, err := json.Marshal(in) // through the store's JSON, as replay gets it
	if err != nil {
		t.Fatal(err)
	}
	var stored store.Inputs
	if err := json.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored.Clock) != 2 || len(stored.KV) != 3 || len(stored.HTTP) != 1 || stored.Clipped {
		t.Fatalf("recorded %s", b)
	}

	rctx := inputs.Replay(context.Background(), &stored)
	rctx, replay := inputs.Record(rctx) // the engine records under the replay
	if inputs.From(rctx) != replay {
		t.Fatal("Record under Replay made another tape")
	}
	live := func() time.Time { t.Error("the live clock was read in a replay"); return time.Time{} }
	for _, want := range []time.Time{t1, t2, t2} { // past the end: the last one
		if got := replay.Clock(live); !got.Equal(want) {
			t.Errorf("clock %v, want %v", got, want)
		}
	}
	noStore := func() store.KVRead { t.Error("the store was read for a recorded read"); return store.KVRead{} }
	for _, want := range []string{"1", "2"} {
		if r := replay.KV("get", "a", noStore); string(r.Value) != want {
			t.Errorf("kv.get a = %s, want %s", r.Value, want)
		}
	}
	if r := replay.KV("incr", "n", noStore); r.Err != "kv.incr: the store failed" {
		t.Errorf("kv.incr's recorded error not served: %+v", r)
	}
	if r := replay.KV("get", "a", func() store.KVRead { return store.KVRead{} }); r.Found {
		t.Errorf("a third kv.get of a, not recorded, did not go to the store: %+v", r)
	}
	if u := replay.Unrecorded(); len(u) != 1 || !strings.Contains(u[0], `kv.get "a" was not read when this call was recorded`) {
		t.Errorf("unrecorded reads %q", u)
	}
	ex, err := replay.Exchange("http.get http://127.0.0.1:1/x", req, func() store.Exchange {
		t.Error("a recorded request was made in a replay")
		return store.Exchange{}
	})
	if err != nil || ex.Status != 200 || ex.Reply != "hi" || ex.Headers["content-type"] != "text/plain" {
		t.Errorf("exchange %+v, %v", ex, err)
	}
	other := req
	other.URL = "http://127.0.0.1:1/y"
	_, err = replay.Exchange("http.get http://127.0.0.1:1/y", other, func() store.Exchange {
		t.Error("an unrecorded request was made in a replay")
		return store.Exchange{}
	})
	want := "http.get http://127.0.0.1:1/y was not made when this call was recorded: replay serves only recorded responses; stub it in a flow test instead"
	if err == nil || err.Error() != want {
		t.Errorf("unrecorded request: %v, want %q", err, want)
	}
	other.URL = req.URL + "?phone=1"
	_, err = replay.Exchange("http.get http://127.0.0.1:1/x", other, nil)
	if err == nil || !strings.HasSuffix(err.Error(), "instead (the call made it with another query or body)") {
		t.Errorf("a request recorded with another query: %v", err)
	}

	// Handled again (a refused commit): the same answers from the start.
	_, again := inputs.Record(rctx)
	if got := again.Clock(live); !got.Equal(t1) {
		t.Errorf("after starting over, clock %v, want %v", got, t1)
	}
}

// Replaying an event that read nothing still refuses requests.
func TestReplayNothingRecorded(t *testing.T) {
	_, tape := inputs.Record(inputs.Replay(context.Background(), nil))
	at := time.Unix(5, 0).UTC()
	if got := tape.Clock(func() time.Time { return at }); !got.Equal(at) {
		t.Errorf("clock %v, want the engine's %v", got, at)
	}
	_, err := tape.Exchange("vcc.forward", store.Exchange{Module: "vcc", Method: "POST"}, func() store.Exchange {
		t.Error("a request was made in a replay")
		return store.Exchange{}
	})
	if err == nil {
		t.Error("a request not recorded was answered")
	}
}

// What one event records is bounded; past the bound, nothing more, and the
// record says Clipped.
func TestBounds(t *testing.T) {
	limits := []int{inputs.MaxSession} // the event's bound
	for n := 1000; n < 1100; n += 3 {  // what the session has left, at any point of a read
		limits = append(limits, n)
	}
	for _, limit := range limits {
		_, tape := inputs.Record(context.Background())
		tape.Limit(limit)
		for i := 0; i < 10_000; i++ {
			tape.KV("get", "counter", func() store.KVRead {
				return store.KVRead{Value: json.RawMessage(`"` + strings.Repeat("x", 20) + `"`), Found: true}
			})
		}
		in := tape.Inputs()
		if !in.Clipped || in.Size() > min(limit, inputs.MaxEvent) || len(in.KV) == 0 {
			t.Errorf("limit %d: %d reads recorded, %d bytes, clipped %v; want at most %d bytes and clipped", limit, len(in.KV), in.Size(), in.Clipped, min(limit, inputs.MaxEvent))
		}
	}
	_, tape := inputs.Record(context.Background())
	tape.Limit(0) // the session's record is full
	tape.Clock(time.Now)
	if in := tape.Inputs(); in == nil || !in.Clipped || len(in.Clock) != 0 {
		t.Errorf("a full session recorded %+v", in)
	}
	_, tape = inputs.Record(context.Background())
	big := strings.Repeat("é", inputs.MaxBody) // twice MaxBody bytes
	ex, _ := tape.Exchange("http.post", store.Exchange{Module: "http", Method: "POST", Body: big}, func() store.Exchange {
		return store.Exchange{Status: 200, Reply: big}
	})
	if ex.Reply != big {
		t.Error("the handler did not get the whole body")
	}
	in := tape.Inputs()
	if !in.Clipped || len(in.HTTP) != 1 || len(in.HTTP[0].Reply) > inputs.MaxBody || len(in.HTTP[0].Body) > inputs.MaxBody {
		t.Errorf("a large exchange recorded as %d and %d bytes, clipped %v", len(in.HTTP[0].Body), len(in.HTTP[0].Reply), in.Clipped)
	}
	if !strings.HasPrefix(big, in.HTTP[0].Reply) {
		t.Error("the body was not cut at a character")
	}
}

// A replay told how the record hid a sensitive capture's keys matches the
// handler's requests and kv keys, made with placeholder keys, against the
// record with them hidden; without it they are not recorded.
func TestReplayHidesPlaceholderKeys(t *testing.T) {
	rec := &store.Inputs{
		KV:   []store.KVRead{{Op: "get", Key: "tries:••••", Value: json.RawMessage(`2`), Found: true}},
		HTTP: []store.Exchange{{Module: "http", Method: "POST", URL: "http://bank.test/check?pin=••••", Body: `{"pin":"••••"}`, Status: 200, Reply: "ok"}},
	}
	hide := func(s string) string { return strings.ReplaceAll(s, "1111", "••••") }
	req := store.Exchange{Module: "http", Method: "POST", URL: "http://bank.test/check?pin=1111", Body: `{"pin":"1111"}`}
	noLive := func() store.KVRead { return store.KVRead{} }
	for _, hidden := range []bool{false, true} {
		tape := inputs.From(inputs.Replay(context.Background(), rec))
		if hidden {
			tape.Hide(hide)
		}
		ex, err := tape.Exchange("http.post http://bank.test/check", req, func() store.Exchange {
			t.Error("a replay made a request")
			return store.Exchange{}
		})
		kv := tape.KV("get", "tries:1111", noLive)
		if got := err == nil && ex.Reply == "ok" && kv.Found; got != hidden {
			t.Errorf("hidden %v: served %v (%v, %q, kv %s)", hidden, got, err, ex.Reply, kv.Value)
		}
	}
}

// TestSizeIsTheRecordsJSON: what a tape counts of its record is its size as
// JSON, byte for byte, whichever lists it holds and when it is clipped (the
// session's bound on what it records adds these up).
func TestSizeIsTheRecordsJSON(t *testing.T) {
	reads := []func(*inputs.Tape){
		func(tp *inputs.Tape) { tp.Clock(func() time.Time { return time.Unix(1700000000, 123456789) }) },
		func(tp *inputs.Tape) { tp.Random(func() float64 { return 0.25 }) },
		func(tp *inputs.Tape) {
			tp.KV("get", `k"<&>`, func() store.KVRead { return store.KVRead{Value: json.RawMessage(`{"a": [1, 2]}`), Found: true} })
		},
		func(tp *inputs.Tape) {
			tp.KV("incr", "n", func() store.KVRead { return store.KVRead{Err: "kv.incr: the store failed"} })
		},
		func(tp *inputs.Tape) {
			tp.Exchange("http.get", store.Exchange{Module: "http", Method: "GET", URL: "http://crm/x?a=<1>"}, func() store.Exchange {
				return store.Exchange{Status: 200, Headers: map[string]string{"content-type": "application/json"}, Reply: `{"name":"Ana"}`}
			})
		},
	}
	for mask := range 1 << len(reads) {
		for _, limit := range []int{1 << 20, 150, 0} {
			_, tape := inputs.Record(context.Background())
			tape.Limit(limit)
			for i, read := range reads {
				if mask&(1<<i) != 0 {
					read(tape)
					read(tape)
				}
			}
			if got, want := tape.Size(), tape.Inputs().Size(); got != want {
				b, _ := json.Marshal(tape.Inputs())
				t.Errorf("reads %05b, limit %d: Size %d, the record's JSON is %d bytes: %s", mask, limit, got, want, b)
			}
		}
	}
}
