package command_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// apps writes a script folder of its own for a test.
func apps(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const authorVoice = `ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1 }` + "\n"

// A handler with no reply to give (on_status, on_end) that fails is seen in
// every command of the authoring loop, at its line; the app's log lines are
// shown with the call they belong to.
func TestHandlerFailuresAndLogsAreSeen(t *testing.T) {
	t.Parallel()
	dir := apps(t, map[string]string{
		"crm.lua": authorVoice + `function on_call(s)
  log.info("greeting", { caller = s.source })
  return ivr.say_and_capture("Press 1")
end
function on_dtmf(s, d)
  print("pressed", d)
  return ivr.say_and_capture("Press 1 again")
end
function on_timeout(s) return ivr.say_and_capture("Press 1 again") end
function on_end(s, summary)
  local crm = nil
  crm.save(summary.sessionStatus)
end`,
		"crm_test.lua": `function test_press(t)
  local call = t:call("crm")
  call:press("1")
  call:hears("again")
end`,
		"status.lua": authorVoice + `function on_call(s) return { ivr.say("bye"), ivr.hangup() } end
function on_status(s, status) error("status feed down: " .. status) end`,
	})
	env := []string{"LUAIVR_SCRIPTS=" + dir, "LUAIVR_DEADLINE=2s"}
	tests := []struct {
		args []string
		fail bool
		want []string // in the output, in this order
	}{
		{args: []string{"simulate", "crm", "--keys", "1,hangup"}, fail: true, want: []string{
			"log            greeting caller=+6591178965 [crm.lua:3]", "asks           Press 1 [1 key]", "caller presses 1",
			"log            pressed\t1 [crm.lua:7]", "asks           Press 1 again", "call ended     the caller hung up",
			"WARNING        on_end failed on SESSION_SUMMARY COMPLETED: crm.lua:13: attempt to index a non-table object(nil) with key 'save'"}},
		{args: []string{"simulate", "status", "--keys", ""}, fail: true, want: []string{
			"says           bye", "WARNING        on_status failed on CALL_STATUS CALL_DISCONNECTED: status.lua:3: status feed down: CALL_DISCONNECTED"}},
		{args: []string{"test", "-v"}, fail: false, want: []string{
			"=== RUN   test_press", "crm log: greeting caller=+6591178965 [crm.lua:3]", "crm log: pressed\t1 [crm.lua:7]", "--- PASS: test_press"}},
		{args: []string{"check"}, fail: true, want: []string{
			"crm.lua:13: error: on_end failed on SESSION_SUMMARY COMPLETED: attempt to index a non-table object(nil) with key 'save' (after: call",
			"status.lua:3: error: on_status failed on CALL_STATUS CALL_DISCONNECTED: status feed down: CALL_DISCONNECTED (after: call)"}},
	}
	for _, tt := range tests {
		out, err := runLuaivr(t, env, tt.args...)
		if (err != nil) != tt.fail {
			t.Errorf("luaivr %v: exit %v, want failure %v\n%s", tt.args, err, tt.fail, out)
			continue
		}
		rest := out
		for _, want := range tt.want {
			i := strings.Index(rest, want)
			if i < 0 {
				t.Errorf("luaivr %v: output lacks %q (or not in order):\n%s", tt.args, want, out)
				break
			}
			rest = rest[i+len(want):]
		}
	}
}

// --var keeps what is typed as a string, as a caller's keys are; --var-json
// gives typed values.
func TestVars(t *testing.T) {
	t.Parallel()
	dir := apps(t, map[string]string{"vars.lua": authorVoice + `function on_call(s)
  local out = {}
  for _, k in ipairs({ "account", "number", "twenty", "name", "tries", "vip", "big" }) do
    out[#out + 1] = k .. "=" .. type(s.vars[k]) .. ":" .. tostring(s.vars[k])
  end
  return { ivr.say(table.concat(out, " ")), ivr.hangup() }
end`})
	out, err := runLuaivr(t, []string{"LUAIVR_SCRIPTS=" + dir}, "simulate", "vars", "--keys", "",
		"--var", "account=00123456", "--var", "number=12345678", "--var", "twenty=12345678901234567890", "--var", "name=Tan, Ann",
		"--var-json", "tries=2", "--var-json", "vip=true", "--var-json", "big=12345678901234567890")
	want := "account=string:00123456 number=string:12345678 twenty=string:12345678901234567890 name=string:Tan, Ann " +
		"tries=number:2 vip=boolean:true big=number:1.2345678901234567e+19"
	if err != nil || !strings.Contains(out, want) {
		t.Fatalf("%v\n%s\nwant %s", err, out, want)
	}
	if out, err := runLuaivr(t, []string{"LUAIVR_SCRIPTS=" + dir}, "simulate", "vars", "--var-json", "name=Ann"); err == nil || !strings.Contains(out, `--var-json name: "Ann" is not JSON`) {
		t.Fatalf("a --var-json that is not JSON: %v\n%s", err, out)
	}
}

// Every command that runs apps reads one set of flags, the same way: the
// script folder, the deadline, the zone.
func TestOneConfiguration(t *testing.T) {
	t.Parallel()
	dir := apps(t, map[string]string{
		"app.lua": authorVoice + `function on_call(s)
  local n = 0
  for i = 1, 300000 do n = n + i end -- long enough that a 1 ms deadline stops it, whatever the machine
  return { ivr.say("counted " .. n), ivr.hangup() }
end`,
		"app_test.lua": `function test_counts(t) t:call("app"):hears("counted") end`,
	})
	fake := newFake8x8(t)
	scripts := "LUAIVR_SCRIPTS=" + dir
	api := []string{scripts, "LUAIVR_API_BASE=" + fake.URL, "LUAIVR_SUBACCOUNT=acme_voice", "LUAIVR_API_KEY=good-key", "LUAIVR_DATA=" + t.TempDir()}
	zone := `--zone "Mars/Olympus": unknown time zone: use an IANA name like Asia/Singapore`
	tests := []struct {
		env  []string
		args []string
		fail bool
		want string
	}{
		// --scripts / LUAIVR_SCRIPTS everywhere; DIR where a command takes one.
		{env: []string{scripts}, args: []string{"check"}, want: "checked 1 apps (app): 0 errors"},
		{env: []string{scripts}, args: []string{"test"}, want: "PASS (1 test)"},
		{args: []string{"check", "--scripts", dir}, want: "checked 1 apps (app): 0 errors"},
		{args: []string{"check", dir}, want: "checked 1 apps (app): 0 errors"},
		{env: []string{scripts}, args: []string{"check", "app"}, fail: true, want: "check app: check takes a script folder, not an app"},
		// --deadline reaches every command that runs a handler.
		{env: []string{scripts, "LUAIVR_DEADLINE=1ms"}, args: []string{"graph", "app"}, want: "deadline"},
		{env: []string{scripts, "LUAIVR_DEADLINE=1ms"}, args: []string{"check"}, fail: true, want: "deadline"},
		{env: []string{scripts, "LUAIVR_DEADLINE=1ms"}, args: []string{"simulate", "app", "--keys", ""}, fail: true, want: "deadline"},
		{env: []string{scripts, "LUAIVR_DEADLINE=1ms"}, args: []string{"test"}, fail: true, want: "deadline"},
		{env: append(api, "LUAIVR_DEADLINE=1ms"), args: []string{"call", "app", "--to", "+6591234567", "--from", "+6568332048"}, fail: true, want: "deadline"},
		// --zone is checked at the start, not on every call.
		{env: []string{scripts, "LUAIVR_ZONE=Mars/Olympus"}, args: []string{"check"}, fail: true, want: zone},
		{env: []string{scripts, "LUAIVR_ZONE=Mars/Olympus"}, args: []string{"graph", "app"}, fail: true, want: zone},
		{env: []string{scripts, "LUAIVR_ZONE=Mars/Olympus"}, args: []string{"simulate", "app", "--keys", ""}, fail: true, want: zone},
		{env: []string{scripts, "LUAIVR_ZONE=Mars/Olympus"}, args: []string{"test"}, fail: true, want: zone},
		{env: []string{scripts, "LUAIVR_ZONE=Mars/Olympus", "LUAIVR_DATA=" + t.TempDir()}, args: []string{"serve"}, fail: true, want: zone},
		// call says everything it lacks at once.
		{env: []string{scripts}, args: []string{"call", "app"}, fail: true,
			want: "luaivr call needs:\n  --to (LUAIVR_TO, the number to call, E.164 such as +6591234567)\n  --from (LUAIVR_FROM, our 8x8 number, the caller ID)\n" +
				"  --api-key (LUAIVR_API_KEY, the sub-account's API key, made in connect.8x8.com)\n  --subaccount (LUAIVR_SUBACCOUNT, the sub-account id shown in connect.8x8.com)"},
		{args: []string{"--version"}, want: "luaivr version devel"},
	}
	for _, tt := range tests {
		// Time enough on two busy cores under the race detector, unless the case sets its own.
		out, err := runLuaivr(t, append([]string{"LUAIVR_DEADLINE=20s"}, tt.env...), tt.args...)
		if (err != nil) != tt.fail || !strings.Contains(out, tt.want) {
			t.Errorf("luaivr %v with %v: exit %v (want failure: %v)\n%s\nwant %q", tt.args, tt.env, err, tt.fail, out, tt.want)
		}
	}
	if len(fake.sent) != 0 {
		t.Errorf("a call whose on_call ran out of time was placed: %v", fake.sent)
	}
}

// Hot reload vets a new version in the environment it will serve in (here
// --zone), says once why a version is refused and what serves instead, and
// says when a refused app is served again.
func TestReloadSays(t *testing.T) {
	t.Parallel()
	const ok = authorVoice + `function on_call(s) return { ivr.say("v1"), ivr.hangup() } end`
	// 2026-01-01 00:00 UTC is 08:00 in Singapore: valid only in that zone.
	const zoned = authorVoice + `function on_call(s)
  local speed = time.format(1767225600, "%H") == "08" and 1 or 3
  return { ivr.say("v2", { speed = speed }), ivr.hangup() }
end`
	const broken = authorVoice + `function on_call(s) return { ivr.say("v3", { speed = 3 }), ivr.hangup() } end`
	const numbered = `numbers = { "+6568330001" }` + "\n" + ok
	dir := apps(t, map[string]string{"clock.lua": ok, "other.lua": numbered})
	p := serve(t, t.TempDir(), "LUAIVR_SCRIPTS="+dir, "LUAIVR_ZONE=Asia/Singapore", "LUAIVR_RELOAD_INTERVAL=50ms")
	write := func(name, src string) { // whole, as an editor saves: the poll never sees half a file
		tmp := filepath.Join(dir, name+".tmp")
		if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve's log:\n%s", p.stderr)
		}
	})
	waitLog := func(want string) {
		t.Helper()
		eventually(t, "the log to say "+want, func() bool { return strings.Contains(p.stderr.String(), want) })
	}
	waitLog(`"msg":"scripts loaded"`)
	write("clock.lua", zoned)
	waitLog(`"changed":["clock"]`)
	if strings.Contains(p.stderr.String(), "script refused") {
		t.Fatalf("a version valid in the served zone was refused:\n%s", p.stderr)
	}
	write("clock.lua", broken)
	waitLog(`clock.lua: fails check: clock.lua:2: error: ivr.say: -1009`)
	waitLog(`; its previous version serves on"`)
	write("twin.lua", numbered) // other's number: refused, and loaded again at every reload
	waitLog(`twin.lua: number +6568330001 is answered by other (other.lua), and a number has one app: remove it from one of them; twin is not served"`)
	write("other.lua", numbered+"\n-- edited")
	waitLog(`"changed":["other"]`)
	write("clock.lua", ok+"\n-- fixed")
	waitLog(`"msg":"script served again: its refusal is fixed","app":"clock"`)
	write("fresh.lua", broken)
	waitLog(`fresh.lua: fails check: fresh.lua:2: error: ivr.say: -1009`)
	waitLog(`; fresh is not served"`)
	write("fresh.lua", ok) // never served before: served, not served again
	waitLog(`"msg":"script served: its refusal is fixed","app":"fresh"`)
	time.Sleep(200 * time.Millisecond) // a few more polls: nothing is said again
	if strings.Contains(p.stderr.String(), `"script served again: its refusal is fixed","app":"fresh"`) {
		t.Errorf("fresh.lua, never served, was said to be served again")
	}
	for _, refusal := range []string{"clock.lua: fails check", "twin.lua: number"} {
		if n := strings.Count(p.stderr.String(), refusal); n != 1 {
			t.Errorf("%q was logged %d times", refusal, n)
		}
	}
	// Broken, then put back as it was served: the refusal is withdrawn, and said.
	write("clock.lua", broken+"\n-- again")
	eventually(t, "the second refusal", func() bool { return strings.Count(p.stderr.String(), "clock.lua: fails check") == 2 })
	write("clock.lua", ok+"\n-- fixed")
	waitLog(`"msg":"script refusal withdrawn: the file is back to the version being served","app":"clock"`)
	p.stop(t)
}
