package flowtest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/flowtest"
)

// slow is the handlers' deadline in these tests, far above what the apps
// need: two busy cores under the race detector slow every script, and these
// tests are about what the caller hears, not about the deadline.
const slow = 2 * time.Second

// The flow tests shipped beside the apps and examples pass, and press every
// menu option.
func TestShippedFlowTests(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"../../scripts", "../../examples"} {
		var out bytes.Buffer
		res, err := flowtest.Run(flowtest.Options{Dir: dir, Out: &out, Deadline: slow})
		if err != nil || !res.OK() || res.Passed == 0 {
			t.Fatalf("%s: %v\n%s", dir, err, out.String())
		}
		for app, missing := range res.Unreached {
			if len(missing) > 0 {
				t.Errorf("%s: no flow test presses %v", app, missing)
			}
		}
	}
}

func TestFailuresAndFilter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("app.lua", `ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1 }
main = ivr.menu { id = "main", prompt = "Press 1", ["1"] = { ivr.say("one"), ivr.hangup() }, ["2"] = { ivr.hangup() } }
on_call = main`)
	write("app_test.lua", `
function test_passes(t)
  local call = t:call("app")
  call:press("1")
  call:hears("one")
  call:ended()
end

function test_fails(t)
  local call = t:call("app")
  call:hears("zebra")
end

function test_colon(t)
  local call = t:call("app")
  call.press("1")
end`)
	var out bytes.Buffer
	res, err := flowtest.Run(flowtest.Options{Dir: dir, Out: &out, Deadline: slow})
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if res.Passed != 1 || res.Failed != 2 || res.OK() {
		t.Fatalf("passed %d failed %d\n%s", res.Passed, res.Failed, text)
	}
	for _, want := range []string{
		"--- FAIL: test_fails", `app_test.lua:11: the caller did not hear "zebra"`, "asks           Press 1 [main, 1 key]",
		"--- FAIL: test_colon", "use call:press(…) with a colon", "FAIL\tapp_test.lua",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if got := res.Unreached["app"]; len(got) != 1 || !strings.HasPrefix(got[0], "main[2]") {
		t.Errorf("unreached = %v", got)
	}

	out.Reset()
	res, _ = flowtest.Run(flowtest.Options{Dir: dir, Out: &out, Run: regexp.MustCompile("pass"), Verbose: true, Deadline: slow})
	if res.Passed != 1 || res.Failed != 0 || !strings.Contains(out.String(), "=== RUN   test_passes") {
		t.Fatalf("-run pass: %+v\n%s", res, out.String())
	}
}

// t:stub answers the app's http and vcc requests through the real modules,
// t:requests shows what was sent, and t:at sets the clock.
func TestStubsRequestsAndClock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// web: 1 GETs vars.url, 2 POSTs { caller = … } to it, 3 hands off to
	// queue 102, 4 says the time; each says what came back.
	write("web.lua", `ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1 }
local function show(res, err)
  if not res then return "error: " .. err end
  return "status " .. res.status .. " name " .. tostring(res.json and res.json.name) ..
    " body " .. res.body .. " tier " .. tostring(res.headers["x-tier"])
end
function on_call(session) return ivr.say_and_capture("Press a key") end
function on_dtmf(session, digits)
  local text
  if digits == "1" then
    text = show(http.get(session.vars.url))
  elseif digits == "2" then
    text = show(http.post(session.vars.url, { caller = session.source }))
  elseif digits == "3" then
    local bye, err = vcc.handoff { queue = "102", sip_id = "sip-1", data = { Account = "123456", Caller = session.source } }
    text = bye and "handed off" or ("error: " .. err)
  else
    text = time.format(time.now(), "%Y-%m-%d %H:%M %A", "Asia/Singapore")
  end
  return { ivr.say(text), ivr.say_and_capture("Press a key") }
end`)
	write("web_test.lua", `
local CRM = "https://crm.example.com"
local function get(t, url)
  local call = t:call { app = "web", vars = { url = url } }
  call:press("1")
  return call
end

function test_json_answer(t)
  t:stub("GET " .. CRM .. "/callers/+6591178965", { json = { name = "Ann" } })
  get(t, CRM .. "/callers/+6591178965"):hears("status 200 name Ann body {\"name\":\"Ann\"} tier nil")
  t:eq(t:requests()[1].method, "GET")
  t:eq(t:requests()[1].url, CRM .. "/callers/+6591178965")
end

function test_body_status_headers(t)
  t:stub("get " .. CRM .. "/callers/x", { status = 404, body = "not here", headers = { ["X-Tier"] = "gold" } })
  get(t, CRM .. "/callers/x"):hears("status 404 name nil body not here tier gold")
end

function test_wildcard_and_exact(t)
  t:stub("GET " .. CRM .. "/callers/*", { status = 404 })
  t:stub("GET " .. CRM .. "/callers/ann", { json = { name = "Ann" } })
  t:stub("GET " .. CRM .. "/*", { status = 500 })
  get(t, CRM .. "/callers/bob"):hears("status 404")
  get(t, CRM .. "/callers/ann"):hears("status 200 name Ann")
  get(t, CRM .. "/orders/1"):hears("status 500")
end

function test_query(t)
  t:stub("GET " .. CRM .. "/find?phone=1&x=2", { json = { name = "One" } })
  t:stub("GET " .. CRM .. "/any", { json = { name = "Any" } })
  get(t, CRM .. "/find?x=2&phone=1"):hears("name One")
  get(t, CRM .. "/find?phone=2&x=2"):hears("error: http: GET https://crm.example.com/find failed: flow test: no stub for GET https://crm.example.com/find;")
  get(t, CRM .. "/any?whatever=1"):hears("name Any")
  t:eq(t:requests()[3].url, CRM .. "/any?whatever=1")
end

function test_no_stub_is_an_error_value(t)
  t:stub("GET " .. CRM .. "/callers/ann", { json = { name = "Ann" } })
  get(t, CRM .. "/nothing"):hears([[error: http: GET https://crm.example.com/nothing failed: flow test: no stub for GET https://crm.example.com/nothing; add t:stub("GET https://crm.example.com/nothing", {…})]])
  get(t, "https://elsewhere.example.com/x"):hears("error: http: host elsewhere.example.com is not in the allow-list (--http-allow)")
  t:eq(#t:requests(), 1) -- the allow-list refused the second before it was sent
end

function test_transport_error(t)
  t:stub("GET " .. CRM .. "/down", { error = "connection refused" })
  get(t, CRM .. "/down"):hears("error: http: GET https://crm.example.com/down failed: connection refused")
end

function test_stubs_after_the_call(t)
  t:stub("GET " .. CRM .. "/a", { json = { name = "First" } })
  local call = get(t, CRM .. "/a")
  call:hears("name First")
  t:stub("GET " .. CRM .. "/a", { json = { name = "Second" } }) -- replaces the first
  call:press("1")
  call:hears("name Second")
  local ok, err = pcall(t.stub, t, "GET https://late.example.com/x", {})
  t:eq(ok, false)
  if not tostring(err):find("declare this stub before t:call", 1, true) then t:fail(tostring(err)) end
end

function test_post_json(t)
  t:stub("POST " .. CRM .. "/calls", { status = 201, json = { id = 7 } })
  local call = t:call { app = "web", vars = { url = CRM .. "/calls" } }
  call:press("2")
  call:hears("status 201")
  local r = t:requests()[1]
  t:eq(r.method, "POST")
  t:eq(r.json, { caller = "+6591178965" })
  t:eq(r.headers["content-type"], "application/json")
  t:eq(r.body, '{"caller":"+6591178965"}')
end

function test_vcc_handoff(t)
  local call = t:call("web")
  call:press("3")
  call:hears("error: vcc.handoff: Post \"https://vcc.example.test/SC/externalIvrAction.php\": flow test: no stub for POST https://vcc.example.test/SC/externalIvrAction.php")
  t:stub("POST https://vcc.example.test/SC/externalIvrAction.php", { body = "OK" }) -- the vcc host needs no allow-list
  call:press("3")
  call:hears("handed off")
  t:eq(t:requests()[2].form, { tenant = "test-tenant", token = "test-token", sip_id = "sip-1", action = "wForwardACD",
    param = "102", extIvrData = "[Account|123456][Caller|+6591178965]" })
end

function test_clock(t)
  t:at("2026-01-05 10:00", "Asia/Singapore")
  local call = t:call("web")
  call:press("4")
  call:hears("2026-01-05 10:00 Monday")
  t:at("2026-02-17")
  call = t:call("web")
  call:press("4")
  call:hears("2026-02-17 08:00 Tuesday")
end

function test_misuse(t)
  for _, bad in ipairs({
    { function() t.stub("GET https://x.example.com/") end, "use t:stub(…) with a colon" },
    { function() t:stub("https://x.example.com/") end, "write the method and the URL" },
    { function() t:stub("GET /x") end, "is not an http:// or https:// URL with a host" },
    { function() t:stub("GET https://x.example.com/", { json = {}, body = "" }) end, "json or body, not both" },
    { function() t:stub("GET https://x.example.com/", { stauts = 200 }) end, "unknown field \"stauts\"" },
    { function() t:at("tomorrow") end, "is not a time" },
    { function() t:at("2026-01-05 10:00", "Mars/Olympus") end, "unknown time zone" },
  }) do
    local ok, err = pcall(bad[1])
    if ok or not tostring(err):find(bad[2], 1, true) then t:fail("want " .. bad[2] .. ", got " .. tostring(err)) end
  end
end`)
	var out bytes.Buffer
	res, err := flowtest.Run(flowtest.Options{Dir: dir, Out: &out, Verbose: true, Deadline: slow})
	if err != nil || !res.OK() || res.Passed != 11 {
		t.Fatalf("%v passed %d failed %d\n%s", err, res.Passed, res.Failed, out.String())
	}
	// A request no stub answered is in the test's output (shown on failure and with -v).
	if want := "    no stub for GET https://crm.example.com/nothing: the app got an error value\n--- PASS: test_no_stub_is_an_error_value"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
}

// What a flow test shows of the apps it calls: an on_status or on_end that
// fails fails the test at the input that ran it, with the handler's line;
// the apps' log lines are shown under the test, in order with t:log's; and a
// script that does not load is one failure, not one per test that calls it.
func TestHandlersLogsAndLoadErrors(t *testing.T) {
	t.Parallel()
	const voice = `ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1 }` + "\n"
	tests := []struct {
		name                    string
		files                   map[string]string
		passed, failed, skipped int
		want                    []string // in the output
		not                     []string // not in it
	}{
		{name: "on_end fails", files: map[string]string{
			"app.lua": voice + `function on_call(s) return ivr.say_and_capture("Press 1") end
function on_dtmf(s, d) return ivr.hangup() end
function on_end(s, summary)
  local crm = nil
  crm.log(summary.sessionStatus)
end`,
			"app_test.lua": `function test_hangs_up(t)
  local call = t:call("app")
  call:press("1")
  call:ended()
end
function test_caller_leaves(t)
  local call = t:call("app")
  call:hangup()
end`},
			failed: 2,
			want: []string{"--- FAIL: test_hangs_up", "app_test.lua:3: on_end failed on SESSION_SUMMARY COMPLETED: app.lua:6: attempt to index a non-table object(nil) with key 'log'",
				"--- FAIL: test_caller_leaves", "app_test.lua:8: on_end failed"}},
		{name: "on_status fails", files: map[string]string{
			"app.lua": voice + `function on_call(s) return { ivr.say("bye"), ivr.hangup() } end
function on_status(s, status) if status == "CALL_DISCONNECTED" then error("status store down") end end`,
			"app_test.lua": `function test_bye(t) t:call("app"):hears("bye") end`},
			failed: 1,
			want:   []string{"--- FAIL: test_bye", "app_test.lua:1: on_status failed on CALL_STATUS CALL_DISCONNECTED: app.lua:3: status store down"}},
		{name: "logs under the test", files: map[string]string{
			"app.lua": voice + `function on_call(s) log.info("greeting", { caller = s.source }) return ivr.say_and_capture("Press 1") end
function on_dtmf(s, d) print("pressed " .. d) return ivr.hangup() end`,
			"app_test.lua": `function test_logs(t)
  local call = t:call("app")
  t:log("before the key")
  call:press("1")
end`},
			passed: 1,
			want: []string{"=== RUN   test_logs\n    app log: greeting caller=+6591178965 [app.lua:2]\n    app_test.lua:3: before the key\n" +
				"    app log: pressed 1 [app.lua:3]\n--- PASS: test_logs"}},
		{name: "an app that does not load", files: map[string]string{
			"app.lua":  voice + `function on_call(s) return ivr.hangup( end`,
			"good.lua": voice + `function on_call(s) return { ivr.say("fine"), ivr.hangup() } end`,
			"app_test.lua": `function test_one(t) t:call("app"):hears("x") end
function test_two(t) t:call("app"):hears("y") end
function test_three(t) t:call("app"):hears("z") end`,
			"good_test.lua": `function test_good(t) t:call("good"):hears("fine") end`},
			passed: 1, failed: 1, skipped: 3,
			want: []string{"--- FAIL: app.lua does not load\n    app.lua:2: syntax error", "(3 skipped: they call an app that did not load)"},
			not:  []string{`no app "app"`, "--- FAIL: test_"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, src := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			res, err := flowtest.Run(flowtest.Options{Dir: dir, Out: &out, Verbose: true, Deadline: slow})
			text := out.String()
			if err != nil || res.Passed != tt.passed || res.Failed != tt.failed || res.Skipped != tt.skipped {
				t.Fatalf("%v: passed %d failed %d skipped %d, want %d %d %d\n%s", err, res.Passed, res.Failed, res.Skipped, tt.passed, tt.failed, tt.skipped, text)
			}
			for _, want := range tt.want {
				if !strings.Contains(text, want) {
					t.Errorf("output lacks %q:\n%s", want, text)
				}
			}
			for _, not := range tt.not {
				if strings.Contains(text, not) {
					t.Errorf("output has %q:\n%s", not, text)
				}
			}
		})
	}
}
