package command_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// inbound is a CALL_ACTION of an inbound call from caller (digits "" for the
// first event).
func inbound(session, event, caller, digits string) string {
	status, d := "CALL_RECEIVED", ""
	if digits != "" {
		status, d = "ACTION_COMPLETED", fmt.Sprintf(`,"eventData":{"dtmf":%q}`, digits)
	}
	return fmt.Sprintf(`{"eventType":"CALL_ACTION","payload":{"sessionId":%q,"eventId":%q,"callStatus":%q,"callDirection":"INBOUND","source":%q,"destination":"+6568332048"%s}}`,
		session, event, status, caller, d)
}

func summary(session string) string {
	return fmt.Sprintf(`{"eventType":"SESSION_SUMMARY","payload":{"sessionId":%q,"sessionStatus":"COMPLETED","details":{"callA":{"callStatus":"COMPLETED"}}}}`, session)
}

// placeCalls plays calls to the restaurant: each walks keys, and ends with
// the session summary unless it is left in progress.
func placeCalls(t *testing.T, p *proc, calls []consoleCall) {
	t.Helper()
	for _, c := range calls {
		p.post(t, "/webhooks/restaurant", inbound(c.id, c.id+"-0", c.caller, ""))
		for i, k := range c.keys {
			p.post(t, "/webhooks", inbound(c.id, fmt.Sprintf("%s-%d", c.id, i+1), c.caller, k))
		}
		if c.ended {
			p.post(t, "/webhooks", summary(c.id))
		}
	}
}

type consoleCall struct {
	id, caller string
	keys       []string
	ended      bool
}

func get(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// crashy fails at its line 3 when the caller presses 1.
const crashy = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
on_call = ivr.menu { id = "ask", prompt = "Press 1.",
  ["1"] = function(session) return session.nothing.here end }
`

func testConsole(t *testing.T, browser context.Context) {
	dir := copyScripts(t)
	if err := os.WriteFile(filepath.Join(dir, "crashy.lua"), []byte(crashy), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, t.TempDir(), "LUAIVR_ADMIN_TOKEN=s3cret", "LUAIVR_SCRIPTS="+dir)
	placeCalls(t, srv, []consoleCall{
		{id: "call-a", caller: "+6590000001", keys: []string{"1", "1", "2"}, ended: true},
		{id: "call-b", caller: "+6590000002", keys: []string{"1", "1", "1"}, ended: true},
		{id: "call-c", caller: "+6590000003", keys: []string{"1"}},
		{id: "call-d", caller: "+6590000004", keys: []string{"2"}, ended: true}, // hangs up at connect_call
	})
	srv.post(t, "/webhooks/crashy", inbound("crash-1", "crash-1-0", "+6590000005", ""))
	srv.post(t, "/webhooks", inbound("crash-1", "crash-1-1", "+6590000005", "1"))
	if err := os.WriteFile(filepath.Join(dir, "late.lua"), []byte("function on_call(session) return end end\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// No access without the token, on every path; the bearer works.
	for _, path := range []string{"/console", "/console/sessions", "/console/sessions/call-a", "/console/apps/restaurant", "/console/live", "/console/static/luaivr.css", "/console/events"} {
		if code, body := get(t, srv.url+path, ""); code != http.StatusSeeOther && code != http.StatusUnauthorized || strings.Contains(body, "call-a") {
			t.Errorf("GET %s without the token: %d %.200s", path, code, body)
		}
		if code, _ := get(t, srv.url+path, "Bearer wrong"); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: %d, want 401", path, code)
		}
	}
	if code, body := get(t, srv.url+"/console/sessions/call-a", "Bearer s3cret"); code != 200 || !strings.Contains(body, "call-a") {
		t.Errorf("GET /console/sessions/call-a with the bearer: %d %.200s", code, body)
	}

	p := &page{t: t, ctx: tab(t, browser), show: "main, #login-error"}
	p.do("open the console", chromedp.Navigate(srv.url+"/console"), chromedp.WaitVisible(chromedp.CSS("#token")))
	if !strings.HasSuffix(p.eval(`location.pathname`), "/console/login") {
		t.Fatalf("without the token the console should send to its login form, not %s", p.eval(`location.href`))
	}
	p.do("log in with a wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "guess"), chromedp.Submit(chromedp.CSS("#token")))
	p.until("the refusal", textHas("#login-error", "not the admin token"))
	p.do("log in", chromedp.SendKeys(chromedp.CSS("#token"), "s3cret"), chromedp.Submit(chromedp.CSS("#token")))
	p.until("the overview", `document.body.dataset.ready === "1"`)
	if cookies := p.eval(`document.cookie`); cookies != "" {
		t.Errorf("the login cookie must be HttpOnly; the page sees %q", cookies)
	}

	// Live calls, updating without a reload.
	p.until("the call in progress", textHas(`#live-calls tr[data-session="call-c"]`, "reservations"))
	if p.eval(`[...document.querySelectorAll("#live-calls tr[data-session]")].map(r => r.dataset.session).sort().join(",")`) != "call-c,crash-1" {
		t.Errorf("live calls: %s", p.eval(`document.querySelector("#live").textContent`))
	}
	p.eval(`window.sameDocument = true; "ok"`)
	srv.post(t, "/webhooks", inbound("call-c", "call-c-2", "+6590000003", "2"))
	p.until("the call moved on", textHas(`#live-calls tr[data-session="call-c"]`, "reschedule_table"))
	if p.eval(`String(window.sameDocument)`) != "true" {
		t.Error("the live calls should update without reloading the page")
	}
	p.until("the apps", textHas("#apps", "restaurant")+" && "+textHas("#apps", "simple_ivr"))
	// serve refuses late.lua at its next look at the folder: the page shows
	// it without being loaded again.
	p.until("the refused reload", textHas("#refused", "late.lua:1:")+" && "+textHas("#refused", "late is not served"))
	if p.eval(`String(window.sameDocument)`) != "true" {
		t.Error("the refused reload should show without reloading the page")
	}
	p.screenshot("console")

	// Sessions, searched.
	p.do("search by caller", chromedp.Navigate(srv.url+"/console/sessions?caller=%2B6590000002"), chromedp.WaitVisible(chromedp.CSS("#sessions")))
	if got := p.eval(`[...document.querySelectorAll("#sessions tr[data-session]")].map(r => r.dataset.session).join(",")`); got != "call-b" {
		t.Errorf("sessions of caller +6590000002: %q", got)
	}
	p.do("search ended calls", chromedp.Navigate(srv.url+"/console/sessions?status=ended&app=restaurant"), chromedp.WaitVisible(chromedp.CSS("#sessions")))
	if got := p.eval(`[...document.querySelectorAll("#sessions tr[data-session]")].map(r => r.dataset.session).sort().join(",")`); got != "call-a,call-b,call-d" {
		t.Errorf("ended sessions: %q", got)
	}
	p.do("search a period with no call", chromedp.Navigate(srv.url+"/console/sessions?from=2020-01-01T00:00&to=2020-01-02T00:00"), chromedp.WaitVisible(chromedp.CSS("#sessions")))
	if got := p.eval(`String(document.querySelectorAll("#sessions tr[data-session]").length)`); got != "0" {
		t.Errorf("sessions in 2020: %s", got)
	}

	// A session's transcript: the lines of `sessions show`, replies expandable.
	show, err := runLuaivr(t, nil, "sessions", "show", "call-a", "--server", srv.url, "--admin-token", "s3cret")
	if err != nil {
		t.Fatalf("sessions show: %v\n%s", err, show)
	}
	p.do("open call-a", chromedp.Navigate(srv.url+"/console/sessions"), chromedp.Click(chromedp.CSS(`a[href="/console/sessions/call-a"]`)), chromedp.WaitVisible(chromedp.CSS("#transcript")))
	lines := p.eval(`[...document.querySelectorAll("#transcript > li > pre")].map(e => e.textContent).join("\n")`)
	entries := show[strings.Index(show, "\n   1  ")+1:] // after the session's line and its vars
	if got := strings.TrimRight(lines, "\n"); got != strings.TrimRight(entries, "\n") {
		t.Errorf("the page's transcript is not sessions show's:\n--- page\n%s\n--- sessions show\n%s", got, entries)
	}
	p.do("expand the first reply", chromedp.Click(chromedp.CSS("#transcript details summary")))
	p.until("the reply's callflow", `[...document.querySelectorAll("#transcript details[open] pre")].some(e => e.offsetHeight > 0 && e.textContent.includes("sayAndCapture"))`)
	p.screenshot("console-session")

	// The restaurant's graph with its traffic: the counts are the calls made.
	p.do("open the restaurant's traffic", chromedp.Navigate(srv.url+"/console/apps/restaurant"), chromedp.WaitVisible(chromedp.CSS("#calls")))
	p.until("the graph", `document.body.dataset.ready === "1"`)
	list, err := runLuaivr(t, nil, "sessions", "list", "--server", srv.url, "--admin-token", "s3cret")
	if err != nil {
		t.Fatalf("sessions list: %v\n%s", err, list)
	}
	if n := strings.Count(list, " restaurant "); !strings.HasPrefix(p.eval(`document.querySelector("#calls").textContent`), fmt.Sprintf("%d calls", n)) || n != 4 {
		t.Errorf("the page counts %q; sessions list has %d restaurant sessions:\n%s", p.eval(`document.querySelector("#calls").textContent`), n, list)
	}
	// Edge labels in the graph's order: main_menu, reservations, connect_call,
	// book_table, reschedule_table, the transfer. All three calls pressed 1,
	// then a and b 1 at reservations (a 2 at book_table, b 1) and c 2.
	labels := p.eval(`[...document.querySelectorAll("#graph g.edgeLabel")].map(e => e.textContent.trim()).join("|")`)
	if want := "1 (3)|2 (1)|3 (0)|other, no input (0)|1 (2)|2 (1)|3 (0)|other, no input (0)|1 (0)|2 (0)|other, no input (0)|" +
		"1 (1)|2 (1)|other, no input (0)|1 (0)|2 (0)|other, no input (0)|transfer ends"; labels != want {
		t.Errorf("traffic on the graph:\n got %s\nwant %s", labels, want)
	}
	if got := p.eval(`[...document.querySelectorAll("#hungup tbody tr")].map(r => [...r.cells].map(c => c.textContent).join(" ")).join("|")`); got != "connect_call 1" {
		t.Errorf("where callers hung up: %q", got)
	}
	p.screenshot("console-traffic")
	p.do("a period before the calls", chromedp.Navigate(srv.url+"/console/apps/restaurant?from=2020-01-01T00:00&to=2020-01-02T00:00"), chromedp.WaitVisible(chromedp.CSS("#calls")))
	if got := p.eval(`document.querySelector("#calls").textContent`); !strings.HasPrefix(got, "0 calls") {
		t.Errorf("traffic in 2020: %q", got)
	}

	// A script error: its file:line and the session it hit.
	p.do("open crashy's traffic", chromedp.Navigate(srv.url+"/console/apps/crashy"), chromedp.WaitVisible(chromedp.CSS("#fallbacks")))
	p.until("the script error", textHas("#fallbacks", "crashy.lua:3:")+" && "+textHas("#fallbacks", "crash-1"))
	p.do("open the session it hit", chromedp.Click(chromedp.CSS(`#fallbacks a[href="/console/sessions/crash-1"]`)), chromedp.WaitVisible(chromedp.CSS("#transcript")))
	p.until("the fallback in the transcript", textHas("#transcript", "the caller got the fallback"))
}
