package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/store"
)

// Placing a call runs in the server's POST /calls handler, which has no
// recover: a panic there is a CallError of its step, and never reported as
// "not placed" once 8x8 may have placed the call.
func TestPlacedCallPanics(t *testing.T) {
	t.Parallel()
	h := newHarness(t, scriptDir(t, map[string]string{"reminder.lua": greeterSrc("Your appointment", "ok")}), engine.Options{})
	req := engine.CallRequest{App: "reminder", To: "+6591234567", From: "+6568332048"}

	_, err := h.eng.Call(context.Background(), req, func(context.Context, []callflow.Action) (string, error) {
		panic("the API client failed")
	})
	var ce *engine.CallError
	if !errors.As(err, &ce) || ce.Step != "send" || !strings.Contains(err.Error(), "8x8 may have placed it") {
		t.Fatalf("a panic while sending: %v", err)
	}

	eng, err := engine.New(h.eng.Scripts(), engine.Options{Store: panickyStore{h.st}})
	if err != nil {
		t.Fatal(err)
	}
	placed, err := eng.Call(context.Background(), req, func(context.Context, []callflow.Action) (string, error) { return "sess-1", nil })
	if !errors.As(err, &ce) || ce.Step != "record" || placed.SessionID != "sess-1" {
		t.Fatalf("a panic while recording a placed call: %+v, %v", placed, err)
	}
}

// panickyStore fails to record a session.
type panickyStore struct{ store.Store }

func (panickyStore) Register(context.Context, store.Session) (store.Session, error) {
	panic("the store failed")
}
