package command_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bankApp opens 09:00-18:00 on weekdays in Singapore; its open side has a
// menu behind a PIN whose balance option 8x8 would refuse (speed 3, worked
// out when it runs, so only exploring finds it: lint reads literals).
const bankApp = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1, noOfTries = 1 }
local balance = ivr.menu { id = "balance", prompt = "For your balance press 1.",
  ["1"] = function() return { action = "say", params = { text = "Your balance", voiceProfile = "en-US-BenjaminRUS", speed = #"abc" } } end }
function on_call(s)
  if not time.is_open({ weekdays = "09:00-18:00" }, { zone = "Asia/Singapore" }) then
    return { ivr.say("We are closed."), ivr.hangup() }
  end
  return { clientActionId = "pin", ivr.say_and_capture("We are open. Enter your PIN.", { maxDigits = 4, sensitive = true }) }
end
ivr.on("pin", function(s, d)
  if d == "4321" then return balance end
  return { ivr.say("Wrong PIN."), ivr.hangup() }
end)
`

func bankFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bank.lua"), []byte(bankApp), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// --at starts simulate's call when it says: RFC 3339, or a wall-clock time
// in --zone (UTC without it). The default start, Thursday 17:00 in
// Singapore, is open.
func TestAtFlag(t *testing.T) {
	t.Parallel()
	dir := bankFolder(t)
	for _, c := range []struct {
		args []string
		env  []string
		want string
	}{
		{nil, nil, "We are open."},
		{[]string{"--at", "2026-01-03 10:00", "--zone", "Asia/Singapore"}, nil, "We are closed."}, // a Saturday
		{[]string{"--at", "2026-01-05 10:00", "--zone", "Asia/Singapore"}, nil, "We are open."},   // a Monday
		{[]string{"--at", "2026-01-05 10:00"}, nil, "We are closed."},                             // 18:00 in Singapore
		{[]string{"--at", "2026-01-05T10:00:00+08:00"}, nil, "We are open."},
		{nil, []string{"LUAIVR_AT=2026-01-05 23:00", "LUAIVR_ZONE=Asia/Singapore"}, "We are closed."},
	} {
		out, err := runLuaivr(t, c.env, append([]string{"simulate", "bank", "--scripts", dir, "--keys", "hangup"}, c.args...)...)
		if err != nil || !strings.Contains(out, c.want) {
			t.Errorf("simulate %v %v: %v, want %q:\n%s", c.args, c.env, err, c.want, out)
		}
	}
	out, err := runLuaivr(t, nil, "simulate", "bank", "--scripts", dir, "--at", "next monday")
	if err == nil || !strings.Contains(out, `--at: "next monday" is not a time: write "2026-01-05 10:00" (in a zone) or RFC 3339`) {
		t.Errorf("a bad --at: %v\n%s", err, out)
	}
}

// check explores both sides of the clock, and the menu behind the PIN when
// --input gives it; without it, it says how to give it.
func TestCheckClockAndInputs(t *testing.T) {
	t.Parallel()
	dir := bankFolder(t)
	out, err := runLuaivr(t, nil, "check", dir, "--deadline", "2s", "--at", "2026-01-03 10:00") // closed: the open side is found all the same
	for _, want := range []string{
		`bank: warning: every key check tried at the prompt "We are open. Enter your PIN." (1, 2, 0, 1111, 9#) went the way a wrong one does`,
		"--input pin=KEYS, or check_inputs = { pin = { \"KEYS\" } } in bank.lua; not reached, maybe behind it: menu \"balance\" (bank.lua:2)",
		"checked 1 apps (bank): 0 errors, 1 warnings", // the menu behind the PIN is in the hint, not a warning of its own
	} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("check without inputs: %v; the report lacks %q:\n%s", err, want, out)
		}
	}
	out, err = runLuaivr(t, nil, "check", dir, "--deadline", "2s", "--input", "pin=4321", "--input", "pin=0000", "--at", "2026-01-03 10:00")
	want := "bank: error: menu: option [\"1\"] of menu \"balance\" (bank.lua:3) returned a callflow 8x8 would reject: -1009 Invalid call flow entry provided. $.callflow[0].params.speed: must have a maximum value of 2 (after: call, 4321, 1, at Mon 2026-01-05 13:30 +08)"
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("check --input pin=4321: %v; the report lacks %q:\n%s", err, want, out)
	}
	for _, bad := range [][]string{{"--input", "4321"}, {"--input", "pin=12ab"}, {"--at", "soon"}} {
		out, err := runLuaivr(t, nil, append([]string{"check", dir}, bad...)...)
		if err == nil || !strings.Contains(out, "luaivr: "+bad[0]) {
			t.Errorf("check %v: %v, want an error naming %s:\n%s", bad, err, bad[0], out)
		}
	}
	out, err = runLuaivr(t, nil, "graph", "bank", "--scripts", dir, "--input", "pin=4321", "--no-other")
	if err != nil || !strings.Contains(out, `pin -- "4321" --> balance`) {
		t.Errorf("graph --input pin=4321: %v\n%s", err, out)
	}
}
