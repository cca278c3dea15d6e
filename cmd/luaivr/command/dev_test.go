package command_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/luaivr/luaivr/runtime/logtest"
)

// TestBrowser drives the pages in a real headless Chromium, one browser for
// the whole test binary: the dev phone (calls placed by clicking, live
// reload, flow tests) and serve's console.
func TestBrowser(t *testing.T) {
	browser := startBrowser(t)
	t.Run("dev_phone", func(t *testing.T) { testDevPhone(t, browser) })
	t.Run("dev_new_app_clock_vars_kv", func(t *testing.T) { testDevNewApp(t, browser) })
	t.Run("dev_awkward_apps", func(t *testing.T) { testDevAwkward(t, browser) })
	t.Run("dev_small_screen", func(t *testing.T) { testDevSmallScreen(t, browser) })
	t.Run("console", func(t *testing.T) { testConsole(t, browser) })
}

// startBrowser starts headless Chromium. Without one, the test skips, unless
// LUAIVR_REQUIRE_BROWSER is set (CI sets it, so CI never skips).
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("LUAIVR_REQUIRE_BROWSER") != "" {
			t.Fatal("LUAIVR_REQUIRE_BROWSER is set but no Chromium is on PATH: apt-get install -y chromium")
		}
		t.Skip("no Chromium on PATH (apt-get install -y chromium); the browser tests need one")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 1000), chromedp.UserDataDir(t.TempDir()))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// tab opens a new tab of the browser, closed when the test ends; every step
// in it must be done within three minutes.
func tab(t *testing.T, browser context.Context) context.Context {
	ctx, cancel := chromedp.NewContext(browser)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTime(); cancel() })
	return ctx
}

// page is a tab and what a failing step prints of it.
type page struct {
	t    *testing.T
	ctx  context.Context
	show string // a CSS selector whose text explains a failure
}

func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v%s", what, err, p.state())
	}
}

// until waits (20 s at most: the machine may be busy) for a JavaScript condition to hold; the page
// may reload meanwhile.
func (p *page) until(what, js string) {
	p.t.Helper()
	// Long enough for an exploration under the race detector on two cores
	// shared with the rest of the suite (the graph of an app that reads the
	// clock and kv); a tab has three minutes in all.
	const patience = 60 * time.Second
	deadline := time.Now().Add(patience)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+js+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.screenshot("failed")
			p.t.Fatalf("waiting for %s: not within %s (last error: %v)%s", what, patience, err, p.state())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *page) eval(js string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("%s: %v", js, err)
	}
	return v
}

func (p *page) state() string {
	if p.show == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.id + ": " + e.textContent).join("\n")`, p.show)))
	return "\npage:\n" + v
}

// screenshot saves the tab as NAME.png in $LUAIVR_SCREENSHOTS (the README's
// come from there), else in a temporary folder.
func (p *page) screenshot(name string) {
	p.t.Helper()
	dir := os.Getenv("LUAIVR_SCREENSHOTS")
	if dir == "" {
		dir = screenshotDir(p.t)
	}
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	file := filepath.Join(dir, name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", file)
}

var screenshots string

func screenshotDir(t *testing.T) string {
	if screenshots == "" {
		dir, err := os.MkdirTemp("", "luaivr-screens-")
		if err != nil {
			t.Fatal(err)
		}
		screenshots = dir
	}
	return screenshots
}

// textHas is JavaScript: the text of the element sel contains want.
func textHas(sel, want string) string {
	return fmt.Sprintf(`(document.querySelector(%q)?.textContent || "").includes(%q)`, sel, want)
}

// startDev runs `luaivr dev` on dir as a real process and returns its URL.
func startDev(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "dev")
	cmd.Env = append(os.Environ(), "LUAIVR_TEST_MAIN=1", "LUAIVR_DEV_ADDR=127.0.0.1:0", "LUAIVR_SCRIPTS="+dir,
		"LUAIVR_DEADLINE=2s", "LUAIVR_LOG_LEVEL=info")
	stderr := &logtest.Buffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("luaivr dev's log:\n%s", stderr)
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "luaivr dev: "); ok {
				found <- strings.Fields(rest)[0]
			}
		}
		close(found)
	}()
	select {
	case url, ok := <-found:
		if !ok {
			t.Fatalf("luaivr dev exited before listening:\n%s", stderr)
		}
		return strings.TrimSuffix(url, "/")
	case <-time.After(30 * time.Second):
		t.Fatal("luaivr dev did not print its URL within 30s")
	}
	return ""
}

// copyScripts copies the shipped apps and their flow tests into a folder the
// test may edit.
func copyScripts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, _ := filepath.Glob("../../../scripts/*.lua")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// edit rewrites file in dir, replacing old by new, and fails if old is not there.
func edit(t *testing.T, dir, file, old, new string) {
	t.Helper()
	path := filepath.Join(dir, file)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// current is JavaScript: the text of the graph's highlighted menu.
const current = `(document.querySelector("#graph g.node.current")?.textContent || "")`

func testDevPhone(t *testing.T, browser context.Context) {
	dir := copyScripts(t)
	want, err := runLuaivr(t, []string{"LUAIVR_SCRIPTS=" + dir}, "simulate", "restaurant", "--keys", "1,1,2")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, want)
	}
	url := startDev(t, dir)
	p := &page{t: t, ctx: tab(t, browser), show: "#note, #error, #heard, #transcript, #findings, #tests-summary, #tests-output"}

	// The app list, with each app's check findings.
	p.do("open the app list", chromedp.Navigate(url+"/"), chromedp.WaitVisible(chromedp.CSS(`li.app[data-app="restaurant"]`)))
	p.until("restaurant's findings", textHas(`li.app[data-app="restaurant"]`, "check: no findings"))
	p.screenshot("dev-apps")

	// A call, walked by clicking keys: what the caller hears, the highlighted
	// menu and the transcript, line for line what simulate prints.
	p.do("open restaurant", chromedp.Click(chromedp.CSS(`a[href="/apps/restaurant"]`)), chromedp.WaitVisible(chromedp.CSS("body[data-ready]")))
	// What the browser would speak, and any error of the page's scripts.
	p.eval(`window.spoken = []; speechSynthesis.speak = (u) => window.spoken.push(u.text);
		window.errs = []; addEventListener("error", (e) => errs.push(e.message));
		addEventListener("unhandledrejection", (e) => errs.push(String(e.reason))); "ok"`)
	defer func() {
		if errs := p.eval(`errs.join("\n")`); errs != "" {
			t.Errorf("the page's scripts failed:\n%s", errs)
		}
	}()
	p.do("turn sound on and call", chromedp.Click(chromedp.CSS("#sound")), chromedp.Click(chromedp.CSS("#call")))
	p.until("the welcome", textHas("#heard", "Welcome to ABC Restaurant"))
	p.until("main_menu highlighted", current+`.includes("main_menu")`)
	p.do("press 1", chromedp.Click(chromedp.CSS(`button[data-key="1"]`)))
	p.until("reservations", textHas("#heard", "Press 1 to make a new reservation"))
	p.until("reservations highlighted", current+`.includes("reservations")`)
	p.until("main_menu drawn as visited", `document.querySelectorAll("#graph g.node.visited").length === 2`)
	p.until("the way taken drawn", `[...document.querySelectorAll("#graph path")].filter(e => (e.getAttribute("style") || "").includes("0d47a1")).length === 1`)
	p.do("press 1", chromedp.Click(chromedp.CSS(`button[data-key="1"]`)))
	p.until("book_table highlighted", current+`.includes("book_table")`)
	p.screenshot("dev-phone")
	// The keypad works from the keyboard too: a focused key and Enter.
	p.do("press 2 with the keyboard", chromedp.Focus(chromedp.CSS(`button[data-key="2"]`)), chromedp.KeyEvent("\r"))
	p.until("the booking", textHas("#heard", "We have booked your table for tomorrow, thank you."))
	p.until("the call ended", textHas("#heard", "(the call has ended)"))
	p.until("the way to the end drawn", `[...document.querySelectorAll("#graph path")].filter(e => (e.getAttribute("style") || "").includes("0d47a1")).length === 3`)
	p.until("the end reached, nothing current", `document.querySelector("#graph g.node.current") === null && [...document.querySelectorAll("#graph g.node.visited")].some(n => n.textContent.includes("booked your table for tomorrow"))`)
	if got := p.eval(`document.querySelector("#transcript").textContent`); got != strings.TrimRight(want, "\n") {
		t.Errorf("the page's transcript is not simulate's:\n--- page\n%s\n--- simulate --keys 1,1,2\n%s", got, want)
	}
	if got := p.eval(`window.spoken.join("|")`); !strings.Contains(got, "Welcome to ABC Restaurant") || !strings.Contains(got, "booked your table for tomorrow") {
		t.Errorf("with sound on, the browser should speak what the caller hears; it spoke %q", got)
	}

	// A transfer: "other party hangs up" ends the bridge.
	p.do("call again, press 2 then 1", chromedp.Click(chromedp.CSS("#call")))
	p.until("the welcome", textHas("#heard", "Welcome to ABC Restaurant"))
	p.do("press 2", chromedp.Click(chromedp.CSS(`button[data-key="2"]`)))
	p.until("connect_call", current+`.includes("connect_call")`)
	p.do("press 1", chromedp.Click(chromedp.CSS(`button[data-key="1"]`)))
	p.until("the transfer", `!document.querySelector("#parted").disabled`)
	p.do("the other party hangs up", chromedp.Click(chromedp.CSS("#parted")))
	p.until("the goodbye", textHas("#heard", "Thank you for speaking to ABC Restaurant"))
	p.until("the transcript says so", textHas("#transcript", "other party    hangs up"))

	// Live reload: a call at reservations, then the script gains an option;
	// the graph changes within a second or two and the call goes on with the
	// new version.
	p.do("call, press 1", chromedp.Click(chromedp.CSS("#call")))
	p.until("the welcome", textHas("#heard", "Welcome to ABC Restaurant"))
	p.do("press 1", chromedp.Click(chromedp.CSS(`button[data-key="1"]`)))
	p.until("reservations", current+`.includes("reservations")`)
	edit(t, dir, "restaurant.lua", `  ["3"] = goodbye(`, `  ["4"] = goodbye("Today's special is laksa."),
  ["3"] = goodbye(`)
	p.until("the new option in the graph", textHas("#graph", "Today's special is laksa."))
	p.until("the note", textHas("#note", "restaurant.lua reloaded"))
	p.do("press 3 (back to the main menu)", chromedp.Click(chromedp.CSS(`button[data-key="3"]`)))
	p.until("the main menu", current+`.includes("main_menu")`)
	p.do("press 4", chromedp.Click(chromedp.CSS(`button[data-key="4"]`)))
	p.until("the special", textHas("#heard", "Today's special is laksa."))

	// Flow tests from the page: they pass, and the new option no test
	// pressed is drawn dashed red.
	p.do("run the flow tests", chromedp.Click(chromedp.CSS("#tests")))
	p.until("the tests' summary", textHas("#tests-summary", " passed, 0 failed"))
	p.until("the coverage report", textHas("#tests-output", "main_menu[4]"))
	p.until("the untested option on the graph", `[...document.querySelectorAll("#graph path")].some(e => (e.getAttribute("style") || "").includes("dasharray"))`)
	p.screenshot("dev-tests")

	// A change the tests catch: the failing line is on the page.
	edit(t, dir, "restaurant.lua", "Welcome to ABC Restaurant", "Welcome to XYZ Bistro")
	p.until("the new prompt in the graph", textHas("#graph", "Welcome to XYZ Bistro"))
	p.do("run the flow tests", chromedp.Click(chromedp.CSS("#tests")))
	p.until("a failure", textHas("#tests-summary", "failed")+" && !"+textHas("#tests-summary", " 0 failed"))
	p.until("the failing line", textHas("#tests-output", `restaurant_test.lua:5: the caller did not hear "Welcome to ABC Restaurant"`))

	// An edit that does not compile is not served: the page says so, shows
	// check's finding, and the call goes on with the version before.
	p.do("call", chromedp.Click(chromedp.CSS("#call")))
	p.until("the welcome", textHas("#heard", "Welcome to XYZ Bistro"))
	edit(t, dir, "restaurant.lua", "on_call = main", "on_call = = main")
	p.until("the refusal", textHas("#note", "your edit is not served")+" && "+textHas("#note", "its previous version serves on"))
	p.until("check's finding", textHas("#findings", "restaurant.lua:")+" && "+textHas("#findings", "error"))
	p.do("press 1", chromedp.Click(chromedp.CSS(`button[data-key="1"]`)))
	p.until("the previous version answers", textHas("#heard", "Press 1 to make a new reservation"))
}

func testDevSmallScreen(t *testing.T, browser context.Context) {
	url := startDev(t, copyScripts(t))
	p := &page{t: t, ctx: tab(t, browser), show: "#error"}
	p.do("open restaurant on a phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(url+"/apps/restaurant"),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")))
	p.until("the graph", `document.querySelector("#graph svg") !== null`)
	if w := p.eval(`String(document.documentElement.scrollWidth - window.innerWidth)`); w != "0" {
		t.Errorf("the page is %s px wider than a phone's screen", w)
	}
	if got := p.eval(`[...document.querySelectorAll(".keypad button")].map(b => b.getAttribute("aria-label")).join(",")`); got != "key 1,key 2,key 3,key 4,key 5,key 6,key 7,key 8,key 9,key *,key 0,key #" {
		t.Errorf("keypad labels: %s", got)
	}
	p.screenshot("dev-phone-small")
}

// counter is an app that is not in the repository: it says the virtual time
// and counts its calls in kv.
const counter = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
function on_call(session)
  local n = kv.incr("calls")
  session.vars.greeted = true
  return ivr.say_and_capture(time.format(time.now(), "It is %A %H:%M", "UTC") .. ", call " .. n .. ". Press 1.")
end
function on_dtmf(session, digits)
  session.vars.pressed = digits
  return { ivr.say("Goodbye."), ivr.hangup() }
end
on_timeout = on_dtmf
`

func testDevNewApp(t *testing.T, browser context.Context) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty.lua"), []byte("-- no handlers yet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url := startDev(t, dir)
	p := &page{t: t, ctx: tab(t, browser), show: "#note, #error, #heard, #transcript, #vars, #kv, .apps"}
	p.do("open the app list", chromedp.Navigate(url+"/"), chromedp.WaitVisible(chromedp.CSS(`li.app[data-app="empty"]`)))
	if err := os.WriteFile(filepath.Join(dir, "counter.lua"), []byte(counter), 0o644); err != nil {
		t.Fatal(err)
	}
	p.until("the new app in the list", `document.querySelector('li.app[data-app="counter"] a') !== null`)
	p.do("open counter", chromedp.Click(chromedp.CSS(`a[href="/apps/counter"]`)), chromedp.WaitVisible(chromedp.CSS("body[data-ready]")))
	p.until("the graph", `document.querySelector("#graph svg") !== null`) // drawn: the page redraws when it is
	p.do("set the clock", chromedp.SetValue(chromedp.CSS("#clock"), "2026-03-02T14:30"), chromedp.Click(chromedp.CSS(`#clock-form button`)))
	p.until("the clock set", `document.querySelector("#clock").value === "2026-03-02T14:30"`)
	p.do("call", chromedp.Click(chromedp.CSS("#call")))
	p.until("the virtual time heard", textHas("#heard", "It is Monday 14:30, call 1. Press 1."))
	p.until("session.vars", textHas("#vars", `"greeted": true`))
	p.until("kv", textHas("#kv", "calls")+" && "+textHas("#kv tbody", "1"))
	p.do("press 1", chromedp.Click(chromedp.CSS(`button[data-key="1"]`)))
	p.until("vars after the key", textHas("#vars", `"pressed": "1"`))
	p.do("call again", chromedp.Click(chromedp.CSS("#call")))
	p.until("kv counts on", textHas("#heard", ", call 2."))
	p.until("kv shown", textHas("#kv tbody", "2"))
}

// awkward's prompts hold what HTML and Mermaid give meaning to, and it
// collects several keys up to #.
const awkward = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 4, noOfTries = 1 }
function on_call(session)
  return ivr.say_and_capture('Say "hi" <b>now</b> & [then] {press} #, 100% (or *) -- end; #quot; %%')
end
function on_dtmf(session, digits)
  if digits == "12" then return { ivr.say("You entered <i>12</i> & more"), ivr.hangup() } end
  return ivr.say_and_capture('Again: "#" or * <script>alert(1)</script>')
end
on_timeout = function(session) return { ivr.say("Bye"), ivr.hangup() } end
`

func testDevAwkward(t *testing.T, browser context.Context) {
	dir := copyScripts(t)
	if err := os.WriteFile(filepath.Join(dir, "awkward.lua"), []byte(awkward), 0o644); err != nil {
		t.Fatal(err)
	}
	url := startDev(t, dir)
	p := &page{t: t, ctx: tab(t, browser), show: "#note, #error, #heard, #transcript, #graph"}

	// A hand-written on_dtmf: its prompts have no menu id, and are found by
	// their text.
	p.do("open simple_ivr", chromedp.Navigate(url+"/apps/simple_ivr"), chromedp.WaitVisible(chromedp.CSS("body[data-ready]")))
	p.do("call", chromedp.Click(chromedp.CSS("#call")))
	p.until("the first prompt highlighted", current+`.includes("Dear customer")`)
	p.do("press 3", chromedp.Click(chromedp.CSS(`button[data-key="3"]`)))
	p.until("the repeat highlighted", current+`.includes("Sorry, we did not understand")`)
	p.do("press 2", chromedp.Click(chromedp.CSS(`button[data-key="2"]`)))
	p.until("the transfer highlighted", current+`.includes("connect to 6561115777")`)

	p.do("open awkward", chromedp.Navigate(url+"/apps/awkward"), chromedp.WaitVisible(chromedp.CSS("body[data-ready]")))
	p.do("call", chromedp.Click(chromedp.CSS("#call")))
	p.until("the prompt, as text", textHas("#heard", `Say "hi" <b>now</b> & [then] {press} #, 100% (or *) -- end; #quot; %%`))
	p.until("the graph drawn", `document.querySelector("#graph svg") !== null`)
	p.until("the prompt highlighted", current+`.includes('Say "hi"')`)
	p.do("press 1, 2 and #", chromedp.Click(chromedp.CSS(`button[data-key="1"]`)), chromedp.Click(chromedp.CSS(`button[data-key="2"]`)),
		chromedp.Click(chromedp.CSS(`button[data-key="#"]`)))
	p.until("the keys taken", textHas("#heard", "You entered <i>12</i> & more"))
	if got := p.eval(`String(document.querySelectorAll("#heard b, #heard i, #transcript b, #graph script").length)`); got != "0" {
		t.Errorf("text from the script became markup: %s elements", got)
	}
	p.do("call again, press 9 and #", chromedp.Click(chromedp.CSS("#call")))
	p.until("the prompt", textHas("#heard", `Say "hi"`))
	p.do("press 9 and #", chromedp.Click(chromedp.CSS(`button[data-key="9"]`)), chromedp.Click(chromedp.CSS(`button[data-key="#"]`)))
	p.until("the second prompt highlighted", current+`.includes("Again:")`)
}
