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
// process: parse, session read, a fresh Lua state, the menu router, validate,
// encode, commit to Badger (in memory). BenchmarkBaseline is the part no IVR
// server can skip (parse the webhook, encode a fixed reply), for ratios.
func BenchmarkWebhook(b *testing.B) { benchWebhook(b, "restaurant", "main_menu") }

// BenchmarkWebhookDTMF is the same with a hand-written on_dtmf (simple_ivr)
// instead of the menu router.
func BenchmarkWebhookDTMF(b *testing.B) { benchWebhook(b, "simple_ivr", "") }

func benchWebhook(b *testing.B, app, position string) {
	h := newHarness(b, "../../scripts", engine.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		body := []byte(fmt.Sprintf(`{"eventType":"CALL_ACTION","payload":{"sessionId":"bench-%d","eventId":"e","callStatus":"ACTION_COMPLETED","clientActionId":%q,"eventData":{"dtmf":"1"}}}`, i, position))
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
