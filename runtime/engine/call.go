package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/store"
)

// CallRequest asks for an outbound call driven by an app.
type CallRequest struct {
	App  string         `json:"app"`
	To   string         `json:"to"`   // the number to call
	From string         `json:"from"` // our 8x8 number, the caller ID
	Vars map[string]any `json:"vars,omitempty"`
}

// Placed is a call 8x8 accepted.
type Placed struct {
	SessionID string            `json:"sessionId"`
	ActionID  string            `json:"clientActionId,omitempty"` // the menu the callee will answer
	Callflow  []callflow.Action `json:"callflow"`
}

// CallError says at which step placing a call failed.
type CallError struct {
	// Step is "app" (the request or the script), "send" (8x8 refused or could
	// not be reached: nothing was placed, unless the error says the outcome is
	// unknown) or "record" (placed, but not recorded: report success with a
	// warning, never retry).
	Step string
	Err  error
}

func (e *CallError) Error() string { return e.Err.Error() }
func (e *CallError) Unwrap() error { return e.Err }

// Send places a callflow with 8x8 and returns 8x8's session id.
type Send func(ctx context.Context, cf []callflow.Action) (sessionID string, err error)

// Call places an outbound call: makeCall to req.To, then what the app's
// on_call returns. The session is recorded under 8x8's session id with the
// app, its vars and the position it waits at, because the first CALL_ACTION
// of a placed call carries no clientActionId.
//
// Call runs in the caller's goroutine (the server's POST /calls), which has no
// recover of its own: a panic in luaivr's part is returned as a CallError of
// the step it happened in, so that a call is never reported as not placed
// when it may have been.
func (e *Engine) Call(ctx context.Context, req CallRequest, send Send) (placed Placed, err error) {
	fail := func(step string, err error) (Placed, error) { return Placed{}, &CallError{Step: step, Err: err} }
	step := "app"
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("panic while placing a call", "app", req.App, "step", step, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			why := map[string]string{
				"app":    "before anything was sent to 8x8",
				"send":   "while sending it: 8x8 may have placed it, so look for the call before trying again",
				"record": "after 8x8 placed it, while recording it: its webhooks may reach the app without its vars",
			}[step]
			err = &CallError{Step: step, Err: fmt.Errorf("placing the call failed inside luaivr %s (%v)", why, p)}
		}
	}()
	scripts := e.Scripts()
	app := scripts.Apps[req.App]
	if app == nil {
		return fail("app", fmt.Errorf("no app %q (apps: %v)", req.App, scripts.Names()))
	}
	if _, ok := app.Handlers[OnCall]; !ok {
		return fail("app", fmt.Errorf("%s has no on_call: it decides what the callee hears first", app.File))
	}
	vars, err := json.Marshal(orEmpty(req.Vars))
	if err != nil {
		return fail("app", fmt.Errorf("vars: %w", err))
	}
	sess := store.Session{App: app.Name, Vars: vars, Direction: "OUTBOUND", Source: req.From, Destination: req.To}
	ev := &webhook.Event{Type: webhook.CallAction, CallStatus: "CALL_RECEIVED", Direction: "OUTBOUND",
		Source: req.From, Destination: req.To}
	lo := e.script(ctx, app, "", OnCall, func(sc *scriptContext) luaOutcome {
		return e.runLua(sc, app, &sess, ev, "", OnCall, &redaction{})
	})
	if lo.err != nil {
		return fail("app", fmt.Errorf("on_call: %w", lo.err))
	}
	cf := append([]callflow.Action{{Name: callflow.MakeCall, Params: map[string]any{"source": req.From, "destination": req.To}}},
		lo.reply.Callflow...)
	if err := callflow.Check(cf, callflow.AsPlaced); err != nil {
		return fail("app", fmt.Errorf("the callflow to place: %w", err))
	}
	step = "send"
	id, err := send(ctx, cf)
	step = "record"
	placed = Placed{SessionID: id, ActionID: lo.reply.ClientActionID, Callflow: cf}
	if err != nil {
		return fail("send", err)
	}
	if id == "" { // placed all the same: say so, never invite a second try
		return placed, &CallError{Step: "record", Err: errors.New(
			"8x8 accepted the call but gave no session id: its webhooks will reach the app without its vars or menu")}
	}
	sess.ID, sess.Vars, sess.ActionID, sess.Menu = id, lo.vars, lo.reply.ClientActionID, lo.reply.ClientActionID
	sess.Sensitive = markSensitive(nil, lo.reply)
	if lo.menus != nil { // the root the call's first menu gives
		sess.Root = lo.menus.Root
	}
	if err := e.Register(ctx, sess); err != nil {
		return placed, &CallError{Step: "record", Err: fmt.Errorf(
			"the call is placed (session %s) but could not be recorded: its webhooks will reach the app without its vars: %w", id, err)}
	}
	return placed, nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
