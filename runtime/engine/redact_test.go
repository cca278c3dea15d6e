package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/store"
)

// bank asks a PIN (the builder's flag), a card number (ivr.sensitive's
// list) and a passcode (a menu's flag); its handlers branch on the digits,
// say them back, log them, copy one into vars and put one in an error.
const bank = `
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
ivr.sensitive { "card" }
local PIN = "4321"

local function ask_card()
  return { clientActionId = "card", ivr.say_and_capture("Your card number, please.", { maxDigits = 16 }) }
end

local main = ivr.menu {
  id = "main", prompt = "For your card press 1, for your passcode press 2.",
  ["1"] = function() return ask_card() end,
  ["2"] = "passcode",
}
ivr.menu {
  id = "passcode", prompt = "Your passcode, please.", maxDigits = 6, sensitive = true,
  other = function(session, digits)
    if digits == "918273" then return { ivr.say("Passcode " .. digits .. " accepted."), ivr.hangup() } end
    error("passcode " .. digits .. " refused")
  end,
}

function on_call(session)
  return { clientActionId = "pin", ivr.say_and_capture("Please enter your PIN.", { maxDigits = 4, sensitive = true }) }
end

function on_dtmf(session, digits)
  if session.action_id == "pin" then
    log.info("checking the PIN", { pin = digits, raw = session.event })
    session.vars.pin = digits
    session.vars.pin_number = tonumber(digits)
    if digits == PIN then
      return { ivr.say("You entered " .. digits:gsub("%d", "%0 ") .. "."), main }
    end
    return { ivr.say("That PIN is not right."), ivr.hangup() }
  end
  print("card " .. digits)
  return { ivr.say("Card " .. digits .. " noted."), ivr.hangup() }
end
`

// What a caller types at a sensitive capture reaches the handler in clear,
// for that event; the transcript, the session, the reply kept for
// redeliveries and the log hold it as "•" only, whichever way the capture
// was marked and wherever 8x8 put the digits.
func TestSensitiveDigitsNeverStored(t *testing.T) {
	t.Parallel()
	const pin, card, passcode = "4321", "4000123412341234", "918273"
	dir := scriptDir(t, map[string]string{"bank.lua": bank})
	tests := []struct {
		name  string
		shape int
		keys  []string // pressed after the call starts
		heard string   // in the last reply 8x8 gets: the handler saw the digits
		clear string   // the secret
	}{
		{"PIN, builder flag", shapeEventDataDTMF, []string{pin}, "You entered 4 3 2 1 .", pin},
		{"card, ivr.sensitive", shapeDTMF, []string{pin, "1", card}, "Card " + card + " noted.", card},
		{"passcode, menu flag", shapeEventData, []string{pin, "2", passcode}, "Passcode " + passcode + " accepted.", passcode},
		{"passcode refused: the error", shapeEventDataDTMF, []string{pin, "2", "555666"}, "We are sorry", "555666"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, dir, engine.Options{})
			c := newCall(tt.shape, true)
			c.remember(h.post(c.start(), "bank"))
			var reply []byte
			var last []byte
			for _, k := range tt.keys {
				last = c.keys(k)
				reply = h.post(last, "")
				c.remember(reply)
			}
			if !strings.Contains(string(reply), tt.heard) {
				t.Fatalf("the reply to 8x8 lacks %q (the handler did not get the digits?): %s", tt.heard, reply)
			}
			if strings.Contains(string(reply), "sensitive") {
				t.Errorf("the reply names luaivr's sensitive: %s", reply)
			}
			again := h.post(last, "") // a redelivery: from the reply cache
			entries, err := h.st.Transcript(context.Background(), c.session)
			if err != nil {
				t.Fatal(err)
			}
			stored := storedText(h, c.session, entries)
			for what, text := range map[string]string{"the store": stored, "the log": h.logs.String(), "the redelivered reply": string(again)} {
				if strings.Contains(text, tt.clear) {
					t.Errorf("%s holds the secret %s:\n%s", what, tt.clear, text)
				}
			}
			e := entries[len(entries)-1]
			if !e.Redacted || e.Digits == nil || *e.Digits != strings.Repeat("•", len(tt.clear)) {
				t.Errorf("last entry: redacted %v, digits %v", e.Redacted, e.Digits)
			}
			if tt.clear == pin && !strings.Contains(h.logs.String(), "bank.lua:27: on_dtmf kept the digits of a sensitive capture in session.vars.pin, session.vars.pin_number") {
				t.Errorf("no warning about the PIN in vars:\n%s", h.logs)
			}
		})
	}
}

// storedText is what the store holds of a session and its transcript, as
// JSON, without its clock readings and durations, whose digits may hold
// a secret's by chance.
func storedText(h *harness, session string, entries []store.Entry) string {
	sess, _, _ := h.st.Session(context.Background(), session)
	sess.Created, sess.Updated = time.Time{}, time.Time{}
	for i := range entries {
		entries[i].At, entries[i].Duration = time.Time{}, 0
	}
	b, _ := json.Marshal(struct {
		E []store.Entry
		S store.Session
	}{entries, sess})
	return string(b)
}

// The session remembers where it asked for sensitive digits: the answer is
// redacted though the version that answers it no longer marks the capture
// (the script changed during the call), while other digits are kept.
func TestSensitiveAcrossVersions(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"bank.lua": bank})
	h := newHarness(t, dir, engine.Options{})
	c := newCall(shapeEventDataDTMF, true)
	c.remember(h.post(c.start(), "bank"))
	unmarked := strings.ReplaceAll(bank, "sensitive = true", "sensitive = false")
	if err := os.WriteFile(filepath.Join(dir, "bank.lua"), []byte(unmarked), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, refused := h.eng.Reload(nil); len(refused) > 0 {
		t.Fatal(refused)
	}
	c.remember(h.post(c.keys("4321"), ""))
	c.remember(h.post(c.keys("2"), "")) // a menu choice: not sensitive
	entries, _ := h.st.Transcript(context.Background(), c.session)
	if len(entries) != 3 || !entries[1].Redacted || *entries[1].Digits != "••••" {
		t.Fatalf("the PIN after the change: %+v", entries)
	}
	if entries[2].Redacted || *entries[2].Digits != "2" {
		t.Errorf("a menu key was redacted: %+v", entries[2])
	}
	if stored := storedText(h, c.session, entries); strings.Contains(stored, "4321") {
		t.Errorf("the PIN is in the transcript: %s", stored)
	}
}

// What a caller says at a sensitive prompt (8x8's asrCaptured), or keys
// 8x8 could not read, are blanked in the transcript's payload though the
// event carries no digits, and the log does not quote them.
func TestSensitiveSpeechBlanked(t *testing.T) {
	t.Parallel()
	h := newHarness(t, scriptDir(t, map[string]string{"bank.lua": bank + "function on_timeout() return ivr.hangup() end\n"}), engine.Options{})
	c := newCall(shapeEventDataDTMF, true)
	c.remember(h.post(c.start(), "bank"))
	p := c.payload("ACTION_COMPLETED")
	p["eventData"] = map[string]any{"asrCaptured": "four three two one", "dtmf": "4x"}
	h.post(envelope("CALL_ACTION", p), "")
	entries, _ := h.st.Transcript(context.Background(), c.session)
	b, _ := json.Marshal(entries)
	if len(entries) != 2 || !entries[1].Redacted || strings.Contains(string(b), "four three") || strings.Contains(string(b), `"4x"`) {
		t.Fatalf("what the caller said at the PIN prompt: %s", b)
	}
	if strings.Contains(h.logs.String(), "4x") {
		t.Errorf("the log quotes the keys 8x8 could not read at the PIN prompt:\n%s", h.logs)
	}
}

// Keys that reach a session this server cannot vouch for are redacted as a
// sensitive capture's, since the flag of the capture that asked for them
// (sensitive = true on it) is known only from the reply: the session expired
// during the call or was lost (an in-memory store restarted, the first event
// never arrived), or it was made again by a status event and last asked
// nowhere. The log says why; the handler still gets them in clear, and a
// menu's one key is kept.
func TestSensitiveFailsClosed(t *testing.T) {
	t.Parallel()
	const pin = "86420975" // long, so that no id or number of the test holds it by chance
	dir := scriptDir(t, map[string]string{"bank.lua": strings.Replace(bank, `local PIN = "4321"`, `local PIN = "`+pin+`"`, 1)})
	tests := []struct {
		name, why string
		before    func(h *harness, c *call) // what reached this server of the call before the PIN
	}{
		{"no session", "this server has no session for the call", func(*harness, *call) {}},
		{"a status event made the session", "the session knows no position (a status event made it", func(h *harness, c *call) {
			h.post(envelope("CALL_STATUS", c.payload("CALL_IN_PROGRESS")), "bank")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, dir, engine.Options{})
			c := newCall(shapeEventDataDTMF, true)
			tt.before(h, c)
			c.lastID = "pin" // 8x8 echoes the position that asked for the PIN
			first := c.keys(pin)
			reply := h.post(first, "bank")
			if !strings.Contains(string(reply), "You entered 8 6 4 2 0 9 7 5 .") {
				t.Fatalf("the handler did not get the PIN in clear: %s", reply)
			}
			again := h.post(first, "bank") // the reply kept for redeliveries
			c.remember(reply)
			h.post(c.keys("1"), "bank") // a menu key after it
			entries, err := h.st.Transcript(context.Background(), c.session)
			if err != nil {
				t.Fatal(err)
			}
			stored := storedText(h, c.session, entries)
			for what, text := range map[string]string{"the store": stored, "the log": h.logs.String(), "the redelivered reply": string(again)} {
				if strings.Contains(text, pin) {
					t.Errorf("%s holds the PIN %s:\n%s", what, pin, text)
				}
			}
			if !strings.Contains(h.logs.String(), "what the caller entered is redacted") || !strings.Contains(h.logs.String(), tt.why) {
				t.Errorf("the log does not say why the keys were redacted (%s):\n%s", tt.why, h.logs)
			}
			last := entries[len(entries)-1]
			if last.Redacted || last.Digits == nil || *last.Digits != "1" {
				t.Errorf("the menu key after the PIN: redacted %v, digits %v", last.Redacted, last.Digits)
			}
		})
	}
}

// TestSensitiveDeclaredAfterThePrompt: a position the served version
// declares sensitive is redacted even when the prompt was sent by a version
// that did not (so the call carries no mark of it).
func TestSensitiveDeclaredAfterThePrompt(t *testing.T) {
	dir := t.TempDir()
	app := voice + `%s
on_call = ivr.menu { id = "pin", prompt = "Your PIN?", maxDigits = 4, ["4321"] = ivr.say("Welcome."), other = ivr.say("Wrong.") }`
	writeApp(t, dir, "vault.lua", fmt.Sprintf(app, ""))
	h := newHarness(t, dir, engine.Options{})
	c := newCall(shapeEventDataDTMF, true)
	c.remember(h.post(c.start(), "vault"))
	writeApp(t, dir, "vault.lua", fmt.Sprintf(app, `ivr.sensitive { "pin" }`))
	if _, refused := h.eng.Reload(nil); len(refused) > 0 {
		t.Fatal(refused)
	}
	if got := replyText(t, h.post(c.keys("4321"), "vault")); got != "Welcome." {
		t.Fatalf("the right PIN heard %q", got)
	}
	entries, err := h.st.Transcript(context.Background(), c.session)
	if err != nil {
		t.Fatal(err)
	}
	if stored := storedText(h, c.session, entries); strings.Contains(stored, "4321") || strings.Contains(h.logs.String(), "4321") {
		t.Fatalf("the PIN is kept in clear:\n%s", stored)
	}
}
