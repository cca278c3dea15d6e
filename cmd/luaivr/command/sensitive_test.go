package command_test

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// teller asks a PIN (sensitive = true on its capture), a card number (its
// position in ivr.sensitive) and a passcode (a menu marked sensitive). Its
// handlers branch on the digits, say them back, log them at debug and copy
// the card number into vars.
const teller = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
ivr.sensitive { "card" }

local function ask_card()
  return { clientActionId = "card", ivr.say_and_capture("Your 16 digit card number.", { minDigits = 16, maxDigits = 16 }) }
end

local accounts = ivr.menu {
  id = "accounts", prompt = "For your card press 1, for your passcode press 2.",
  ["1"] = function() return ask_card() end,
  ["2"] = "passcode",
}

ivr.menu {
  id = "passcode", prompt = "Your 8 digit passcode.", minDigits = 8, maxDigits = 8, sensitive = true,
  other = function(session, digits)
    log.debug("passcode", { passcode = digits })
    if digits == "40417253" then return { ivr.say("Passcode " .. digits .. " accepted."), ivr.hangup() } end
    return { ivr.say("Wrong passcode."), ivr.hangup() }
  end,
}

function on_call(session)
  return { clientActionId = "pin", ivr.say_and_capture("Your 6 digit PIN.", { minDigits = 6, maxDigits = 6, sensitive = true }) }
end

function on_dtmf(session, digits)
  log.debug("keys pressed", { keys = digits, at = session.action_id, event = session.event })
  if session.action_id == "pin" then
    if digits:reverse() == "641937" then -- the PIN itself is nowhere, not even here
      return { ivr.say("PIN " .. digits:gsub("%d", "%0 ") .. "is right."), accounts }
    end
    return { ivr.say("Wrong PIN."), ivr.hangup() }
  end
  session.vars.card = digits
  return { ivr.say("Card " .. digits .. " noted."), ivr.hangup() }
end

function on_timeout(session) return { ivr.say("Goodbye."), ivr.hangup() } end
`

// A PIN, a card number and a passcode entered on a call through a real
// serve (debug log, admin API, console) are found nowhere but in the
// replies 8x8 got: not in the data folder's files, the log, the admin API's
// sessions and transcript, nor the console's pages; while the handlers got
// them in clear and branched on them, and luaivr's sensitive never reached
// 8x8. check is quiet about the marked captures and warns at each one
// unmarked.
func TestSensitiveInputNeverStored(t *testing.T) {
	t.Parallel()
	scripts, data := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(scripts, "teller.lua"), []byte(teller), 0o644); err != nil {
		t.Fatal(err)
	}
	const pin, card, passcode = "739146", "4556737586899855", "40417253"
	secrets := []string{pin, card, passcode, "7 3 9 1 4 6"}
	p := serve(t, data, "LUAIVR_SCRIPTS="+scripts, "LUAIVR_LOG_LEVEL=debug", "LUAIVR_ADMIN_TOKEN=tok")

	// keys is a CALL_ACTION in one of 8x8's three shapes, echoing the
	// clientActionId or not.
	keys := func(session, event, at, shape, digits string) string {
		echo := ""
		if at != "" {
			echo = fmt.Sprintf(`,"clientActionId":%q`, at)
		}
		d := map[string]string{"dtmf": `,"dtmf":%q`, "eventData": `,"eventData":%q`, "eventData.dtmf": `,"eventData":{"dtmf":%q}`}[shape]
		return fmt.Sprintf(`{"eventType":"CALL_ACTION","payload":{"sessionId":%q,"eventId":%q,"callStatus":"ACTION_COMPLETED","callDirection":"INBOUND"%s%s}}`,
			session, event, echo, fmt.Sprintf(d, digits))
	}
	steps := []struct {
		session, body, want string // want: in the reply 8x8 gets
	}{
		{"call-1", vca("call-1", "a1", "CALL_RECEIVED", ""), `"clientActionId":"pin"`},
		{"call-1", keys("call-1", "a2", "pin", "eventData.dtmf", pin), "PIN 7 3 9 1 4 6 is right."},
		{"call-1", keys("call-1", "a3", "accounts", "dtmf", "1"), `"clientActionId":"card"`},
		{"call-1", keys("call-1", "a4", "", "eventData", card), "Card " + card + " noted."},
		{"call-2", vca("call-2", "b1", "CALL_RECEIVED", ""), `"clientActionId":"pin"`},
		{"call-2", keys("call-2", "b2", "pin", "dtmf", pin), "is right"},
		{"call-2", keys("call-2", "b3", "accounts", "eventData.dtmf", "2"), `"clientActionId":"passcode"`},
		{"call-2", keys("call-2", "b4", "passcode", "eventData.dtmf", passcode), "Passcode " + passcode + " accepted."},
	}
	for i, s := range steps {
		got := p.post(t, "/webhooks/teller", s.body)
		if !strings.Contains(got, s.want) {
			t.Fatalf("step %d: the reply lacks %q (the handler did not get the digits?): %s", i+1, s.want, got)
		}
		if strings.Contains(got, "sensitive") {
			t.Fatalf("step %d: luaivr's sensitive reached 8x8: %s", i+1, got)
		}
	}
	// A redelivery is answered from the reply cache, which holds "•"s.
	if got := p.post(t, "/webhooks/teller", steps[1].body); strings.Contains(got, "7 3 9") || !strings.Contains(got, "• • • • • •") {
		t.Errorf("the redelivered PIN reply: %s", got)
	}

	leaks := func(where, text string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the secret %q:\n%.3000s", where, s, text)
			}
		}
	}
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", p.url+path, nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	for _, path := range []string{"/admin/sessions", "/admin/sessions/call-1", "/admin/sessions/call-2",
		"/console", "/console/live", "/console/sessions", "/console/sessions/call-1", "/console/sessions/call-2", "/console/apps/teller"} {
		body := get(path)
		leaks("GET "+path, body)
		if strings.HasPrefix(path, "/admin/sessions/") && (!strings.Contains(body, `"redacted":true`) || !strings.Contains(body, "••••••")) {
			t.Errorf("GET %s shows no redacted entry: %.2000s", path, body)
		}
	}
	p.stop(t)
	leaks("the log", p.stderr.String())
	if !strings.Contains(p.stderr.String(), `keys pressed`) || !strings.Contains(p.stderr.String(), "session.vars.card") {
		t.Errorf("the debug lines or the warning about vars are missing from the log:\n%.3000s", p.stderr)
	}
	files := 0
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		leaks("the data folder's "+d.Name(), string(b))
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("reading the data folder: %v (%d files)", err, files)
	}

	check := func(dir string) (string, error) {
		cmd := exec.Command(os.Args[0], "check", dir)
		cmd.Env = append(os.Environ(), "LUAIVR_TEST_MAIN=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// check_inputs gives check the PIN, so that it explores what follows.
	scripts = t.TempDir()
	if err := os.WriteFile(filepath.Join(scripts, "teller.lua"), []byte(teller+`check_inputs = { pin = { "739146" } }`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := check(scripts); err != nil || strings.Contains(out, "not marked sensitive") ||
		!strings.Contains(out, "teller.lua:27: warning: on_dtmf kept the digits of a sensitive capture in session.vars.card") {
		t.Errorf("check on the marked teller: %v\n%s", err, out)
	}
	unmarked := strings.NewReplacer(", sensitive = true", "", `ivr.sensitive { "card" }`, "").Replace(teller) + `check_inputs = { pin = { "739146" } }`
	if err := os.WriteFile(filepath.Join(scripts, "teller.lua"), []byte(unmarked), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := check(scripts)
	for _, want := range []string{"teller.lua:5: warning: this prompt asks for what looks like a PIN or a card number (it collects up to 16 digits)",
		`teller.lua:14: warning: menu "passcode" asks for what looks like a PIN or a card number (its prompt says "passcode")`,
		"teller.lua:24: warning: this prompt asks for what looks like a PIN or a card number (it collects up to 6 digits)"} {
		if !strings.Contains(out, want) {
			t.Errorf("check on the unmarked teller lacks %q:\n%s", want, out)
		}
	}
}
