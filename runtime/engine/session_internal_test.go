package engine

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	"github.com/luaivr/luaivr/store"
	lua "github.com/yuin/gopher-lua"
)

// sessionEventBodies are webhooks whose payloads hold what a hand-made
// builder can get wrong: nulls in objects and arrays, a key given twice
// (the last wins, a null too), numbers past float64, negative zero,
// escapes and surrogate pairs, empty and nested containers, a payload that
// is not an object, and a session summary (whose legs Payload respells).
var sessionEventBodies = []string{
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","a":null,"b":[1,null,[null,{}],[]],"c":{"d":null,"e":{}}}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","k":1,"k":null,"j":null,"j":2,"k2":"x","k2":"y"}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","big":1e400,"neg":-1e400,"z":-0,"f":1.5e-7,"i":12345678901234567890}}`,
	`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","t":"\u00e9\ud83d\ude00\n\"\\\/","\u006b":true,"f":false}}`,
	`{"eventType":"CALL_STATUS","payload":{"sessionId":"s","callStatus":"CALL_RECEIVED"}}`,
	`{"eventType":"SESSION_SUMMARY","payload":{"sessionId":"s","details":{"CallA":{"x":1},"callB":{"y":2}}}}`,
}

// TestSessionEventAsPayload: session.event, built straight from the
// payload's text, is the value luaconv.ToLua makes of Payload, for 8x8's
// own payloads (testdata) and the bodies above.
func TestSessionEventAsPayload(t *testing.T) {
	bodies := append([]string(nil), sessionEventBodies...)
	names, _ := filepath.Glob("../webhook/testdata/8x8/*.json")
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil {
			bodies = append(bodies, string(b))
		}
	}
	if len(bodies) < len(sessionEventBodies)+20 {
		t.Fatalf("%d bodies: the 8x8 payloads in ../webhook/testdata/8x8 are missing", len(bodies))
	}
	parsed := 0
	for _, body := range bodies {
		ev, err := webhook.Parse([]byte(body))
		if err != nil {
			continue // a reply fixture, not a webhook
		}
		parsed++
		checkSessionEvent(t, ev, body)
	}
	if parsed < len(sessionEventBodies)+10 {
		t.Fatalf("only %d bodies parsed as webhooks", parsed)
	}
}

// FuzzSessionEvent is TestSessionEventAsPayload for any body Parse takes.
func FuzzSessionEvent(f *testing.F) {
	for _, b := range sessionEventBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if ev, err := webhook.Parse(body); err == nil {
			checkSessionEvent(t, ev, string(body))
		}
	})
}

func checkSessionEvent(t *testing.T, ev *webhook.Event, body string) {
	t.Helper()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	session := L.NewTable()
	fillSession(L, session, &App{}, &store.Session{}, ev, "")
	got, want := session.RawGetString("event"), luaconv.ToLua(L, ev.Payload())
	if why := luaDiffers(L, got, want, "event"); why != "" {
		t.Errorf("%s\nsession.%s", strings.TrimSpace(body), why)
	}
}

// luaDiffers says where a and b first differ as Lua values ("" when they
// do not), tables compared by their entries whatever their order.
func luaDiffers(L *lua.LState, a, b lua.LValue, at string) string {
	ta, aok := a.(*lua.LTable)
	tb, bok := b.(*lua.LTable)
	if !aok || !bok {
		x, xok := a.(lua.LNumber)
		y, yok := b.(lua.LNumber)
		if xok && yok && math.Float64bits(float64(x)) == math.Float64bits(float64(y)) || !xok && !yok && a == b {
			return ""
		}
		return at + " is " + a.Type().String() + " " + a.String() + ", want " + b.Type().String() + " " + b.String()
	}
	why := ""
	n := 0
	ta.ForEach(func(k, v lua.LValue) {
		n++
		if why == "" {
			why = luaDiffers(L, v, tb.RawGet(k), at+"["+k.String()+"]")
		}
	})
	tb.ForEach(func(lua.LValue, lua.LValue) { n-- })
	if why == "" && n != 0 {
		why = at + " has another number of entries"
	}
	return why
}

// TestSessionEventInPayloadOrder: pairs walks session.event's members in the
// order 8x8 sent them, every time, so that a replay builds the same prompts.
func TestSessionEventInPayloadOrder(t *testing.T) {
	ev, err := webhook.Parse([]byte(`{"eventType":"CALL_ACTION","payload":{"sessionId":"s","zeta":1,"alpha":2,"mid":{"y":1,"b":2},"alpha":3}}`))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		L := lua.NewState(lua.Options{SkipOpenLibs: true})
		session := L.NewTable()
		fillSession(L, session, &App{}, &store.Session{}, ev, "")
		var order []string
		event := session.RawGetString("event").(*lua.LTable)
		for k, _ := event.Next(lua.LNil); k != lua.LNil; k, _ = event.Next(k) {
			order = append(order, k.String())
		}
		mid := event.RawGetString("mid").(*lua.LTable)
		for k, _ := mid.Next(lua.LNil); k != lua.LNil; k, _ = mid.Next(k) {
			order = append(order, k.String())
		}
		L.Close()
		if got := strings.Join(order, " "); got != "sessionId zeta alpha mid y b" {
			t.Fatalf("session.event's members in the order %s", got)
		}
	}
}
