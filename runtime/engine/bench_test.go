package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
)

// BenchmarkWebhook is one CALL_ACTION of the restaurant end to end in
// process, as most of a call's events are: the caller presses a key at the
// main menu of a call in progress (calls of 8 events, the first of each a
// new call; each event its own id). Parse, session read, the menu's answer,
// encode, commit to Badger (in memory). BenchmarkBaseline is the part no IVR server can skip (parse the
// webhook, encode a fixed reply), for ratios.
func BenchmarkWebhook(b *testing.B) { benchWebhook(b, "restaurant", "main_menu", 8) }

// BenchmarkWebhookNewCall is the same for the first event of a call the
// store does not know yet: a session read that finds nothing, one written.
func BenchmarkWebhookNewCall(b *testing.B) { benchWebhook(b, "restaurant", "main_menu", 0) }

// BenchmarkWebhookDTMF is BenchmarkWebhook with a hand-written on_dtmf
// (simple_ivr) instead of the menu router: a warm Lua state runs it.
func BenchmarkWebhookDTMF(b *testing.B) { benchWebhook(b, "simple_ivr", "", 8) }

// benchWebhook plays events of app at position, in calls of perCall events
// (0: each event a new call).
func benchWebhook(b *testing.B, app, position string, perCall int) {
	h := newHarness(b, "../../scripts", engine.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		call := i
		if perCall > 0 {
			call = i / perCall
		}
		body := []byte(fmt.Sprintf(`{"eventType":"CALL_ACTION","payload":{"sessionId":"bench-%d","eventId":"e%d","callStatus":"ACTION_COMPLETED","clientActionId":%q,"eventData":{"dtmf":"1"}}}`, call, i, position))
		ev, err := webhook.Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		h.eng.Handle(ctx, ev, app)
	}
}

func BenchmarkBaseline(b *testing.B) {
	reply := callflow.Reply{ClientActionID: "reservations", Callflow: []callflow.Action{{Name: callflow.SayAndCapture,
		Params: map[string]any{"promptMessage": "Press 1", "voiceProfile": "en-US-BenjaminRUS", "maxDigits": 1.0}}}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		body := []byte(fmt.Sprintf(`{"eventType":"CALL_ACTION","payload":{"sessionId":"bench-%d","eventId":"e","callStatus":"ACTION_COMPLETED","clientActionId":"main_menu","eventData":{"dtmf":"1"}}}`, i))
		if _, err := webhook.Parse(body); err != nil {
			b.Fatal(err)
		}
		if _, err := reply.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}
