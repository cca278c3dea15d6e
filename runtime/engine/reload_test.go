package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/badgerstore"
)

const greeter = voice + `
function on_call(s) return ivr.say_and_capture("%s", { maxDigits = 1 }) end
function on_dtmf(s, d) return { ivr.say("%s " .. d), ivr.hangup() } end
`

func writeApp(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func greeterSrc(prompt, answer string) string {
	return strings.Replace(strings.Replace(greeter, "%s", prompt, 1), "%s", answer, 1)
}

// A changed script takes effect; a broken one is refused and the previous
// version serves on; a call in progress keeps its place across both.
func TestReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeApp(t, dir, "greet.lua", greeterSrc("v1 prompt", "v1 got"))
	h := newHarness(t, dir, engine.Options{})

	inProgress := newCall(shapeDTMF, true)
	if got := replyText(t, h.post(inProgress.start(), "greet")); got != "v1 prompt" {
		t.Fatal(got)
	}

	writeApp(t, dir, "greet.lua", greeterSrc("v2 prompt", "v2 got"))
	changed, refused := h.eng.Reload(nil)
	if len(refused) > 0 || strings.Join(changed, ",") != "greet" {
		t.Fatalf("changed %v refused %v", changed, refused)
	}
	if got := replyText(t, h.post(inProgress.keys("5"), "")); got != "v2 got 5" {
		t.Fatalf("the call in progress heard %q from the new version", got)
	}

	writeApp(t, dir, "greet.lua", "function on_call(s) return ivr.hangup( end") // syntax error
	changed, refused = h.eng.Reload(nil)
	if len(changed) != 0 || len(refused) != 1 || !strings.Contains(refused[0].Error(), "greet.lua:1:") ||
		!strings.HasSuffix(refused[0].Error(), "; its previous version serves on") {
		t.Fatalf("changed %v refused %v", changed, refused)
	}
	c := newCall(shapeDTMF, true)
	if got := replyText(t, h.post(c.start(), "greet")); got != "v2 prompt" {
		t.Fatalf("after a refused edit a new call heard %q", got)
	}

	writeApp(t, dir, "greet.lua", greeterSrc("v3 prompt", "v3 got"))
	vetErr := errors.New("check found an error")
	changed, refused = h.eng.Reload(func(*engine.Scripts, string) error { return vetErr })
	if len(changed) != 0 || len(refused) != 1 || !errors.Is(refused[0], vetErr) {
		t.Fatalf("a version vet refuses: changed %v refused %v", changed, refused)
	}

	// Removed: no new calls, but the call in progress finishes.
	mid := newCall(shapeDTMF, true)
	h.post(mid.start(), "greet")
	writeApp(t, dir, "other.lua", greeterSrc("other prompt", "other got"))
	if err := os.Remove(filepath.Join(dir, "greet.lua")); err != nil {
		t.Fatal(err)
	}
	changed, _ = h.eng.Reload(nil)
	if strings.Join(changed, ",") != "greet (removed),other" {
		t.Fatalf("changed %v", changed)
	}
	if got := replyText(t, h.post(mid.keys("1"), "")); got != "v2 got 1" {
		t.Fatalf("a call of a removed app heard %q", got)
	}
	fresh := newCall(shapeDTMF, true)
	if got := replyText(t, h.post(fresh.start(), "greet")); got != "other prompt" {
		t.Fatalf("a new call to a removed app heard %q (want the only app left)", got)
	}
}

// Watch calls at once for the folder as it is, then again for each change.
func TestWatchSeesChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeApp(t, dir, "a.lua", "x = 1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := make(chan struct{}, 10)
	go engine.Watch(ctx, dir, 5*time.Millisecond, func() { calls <- struct{}{} })
	<-calls // the folder as it is
	writeApp(t, dir, "b.lua", "x = 2")
	select {
	case <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("an added script was not noticed")
	}
}

// A script whose _G raises on unknown names ("strict globals") loads and
// serves: its handlers still reach the libraries, and a read of a name it
// never defined is its own error, answered with the fallback and its line.
func TestStrictGlobalsScriptServes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeApp(t, dir, "good.lua", greeterSrc("good", "good got"))
	writeApp(t, dir, "strict.lua", voice+`
setmetatable(_G, { __index = function(_, k) error("undefined global " .. k, 2) end })
function on_call(s) return ivr.say_and_capture(json.encode({ "strict" }), { maxDigits = 1 }) end
function on_dtmf(s, d)
  if d == "1" then return { ivr.say(greeting), ivr.hangup() } end
  return ivr.hangup()
end`)
	h := newHarness(t, dir, engine.Options{}) // fails on any load error
	if names := strings.Join(h.eng.Scripts().Names(), ","); names != "good,strict" {
		t.Fatalf("served %s", names)
	}
	c := newCall(shapeDTMF, true)
	if got := replyText(t, h.post(c.start(), "strict")); got != `["strict"]` {
		t.Fatalf("the strict script's on_call said %q, want what it built with ivr and json", got)
	}
	if got := replyText(t, h.post(c.keys("1"), "")); !strings.Contains(got, "We are sorry") {
		t.Fatalf("a read of an undefined global answered %q, want the fallback", got)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "strict.lua:") || !strings.Contains(logs, "undefined global greeting") {
		t.Fatalf("the log does not name the line and the global:\n%s", logs)
	}
}

// A link may point anywhere inside the script folder, but require never
// follows one out of it: the linked file is refused, with why.
func TestRequireStaysInFolder(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	writeApp(t, outside, "secret.lua", `return { text = "read from outside" }`)
	dir := scriptDir(t, map[string]string{
		"shared/inside.lua": `return { text = "read from inside" }`,
		"app.lua": voice + `
function on_call(s) return { ivr.say(require("lib." .. s.vars.lib).text), ivr.hangup() } end`,
	})
	if err := os.Mkdir(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"lib/secret.lua":   filepath.Join(outside, "secret.lua"),              // absolute, out
		"lib/relative.lua": "../../" + filepath.Base(outside) + "/secret.lua", // relative, out
		"lib/inside.lua":   "../shared/inside.lua",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	scripts, errs := engine.Load(dir)
	if len(errs) != 2 {
		t.Fatalf("want lib/secret.lua and lib/relative.lua refused, got %v", errs)
	}
	for _, err := range errs {
		if !strings.Contains(err.Error(), "outside the script folder") {
			t.Errorf("a link out of the folder refused without saying why: %v", err)
		}
	}
	h := harnessFor(t, scripts)
	say := func(lib string) string {
		c := newCall(shapeDTMF, true)
		if err := h.eng.Register(context.Background(), store.Session{ID: c.session, App: "app", Vars: []byte(`{"lib":"` + lib + `"}`)}); err != nil {
			t.Fatal(err)
		}
		return replyText(t, h.post(c.start(), "app"))
	}
	if got := say("inside"); got != "read from inside" {
		t.Fatalf("a link inside the folder: %q", got)
	}
	for _, lib := range []string{"secret", "relative"} {
		if got := say(lib); strings.Contains(got, "outside") {
			t.Fatalf("require followed lib/%s.lua out of the folder: %q", lib, got)
		}
	}
}

// harnessFor is newHarness for scripts loaded by the test.
func harnessFor(t *testing.T, scripts *engine.Scripts) *harness {
	t.Helper()
	st, err := badgerstore.Open(badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &syncBuffer{}
	eng, err := engine.New(scripts, engine.Options{Store: st, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, eng: eng, st: st, logs: logs}
}

// Apps whose top level does not end hold up neither the start nor a reload:
// the good app answers while they load, each is refused once with why, and
// a reload after an edit runs only the edited app. (Not parallel: it counts
// the top levels this process runs.)
func TestSlowTopLevels(t *testing.T) {
	files := map[string]string{"good.lua": greeterSrc("good prompt", "good got"), "other.lua": greeterSrc("other", "got")}
	for _, name := range []string{"loop1", "loop2", "loop3", "loop4"} {
		files[name+".lua"] = "local n = 0\nwhile true do n = n + 1 end"
	}
	files["late.lua"] = voice + "for i = 1, 1e12 do end\nfunction on_call(s) return ivr.hangup() end"
	dir := scriptDir(t, files)
	scripts, errs := engine.Scan(dir)
	if len(errs) > 0 || len(scripts.Loading()) != 7 || len(scripts.Apps) != 0 {
		t.Fatalf("scan: loading %v, apps %v, errors %v", scripts.Loading(), scripts.Names(), errs)
	}
	h := harnessFor(t, scripts)
	type reload struct {
		changed []string
		refused []error
	}
	loaded := make(chan reload, 1)
	go func() {
		changed, refused := h.eng.Reload(nil)
		loaded <- reload{changed, refused}
	}()

	// Posted while the folder loads: the good app answers, a slow one's
	// caller gets the fallback.
	c := newCall(shapeDTMF, true)
	if got := replyText(t, h.post(c.start(), "good")); got != "good prompt" {
		t.Fatalf("the good app, while the others load, answered %q", got)
	}
	if got := replyText(t, h.post(newCall(shapeDTMF, true).start(), "loop1")); !strings.Contains(got, "We are sorry") {
		t.Fatalf("a call to an app still loading heard %q, want the fallback", got)
	}

	r := <-loaded
	if strings.Join(r.changed, ",") != "good,other" || len(r.refused) != 5 {
		t.Fatalf("first load: changed %v, refused %v", r.changed, r.refused)
	}
	for _, err := range r.refused {
		if msg := err.Error(); !strings.Contains(msg, "its top level ran past the 1s it may take at load") || !strings.HasSuffix(msg, " is not served") {
			t.Errorf("refused without saying why and what happens: %v", err)
		}
	}

	writeApp(t, dir, "good.lua", greeterSrc("good v2", "good got"))
	before := engine.TopLevelsRun()
	changed, refused := h.eng.Reload(nil)
	if ran := engine.TopLevelsRun() - before; ran != 1 || strings.Join(changed, ",") != "good" || len(refused) != 0 {
		t.Fatalf("a reload after one edit ran %d top levels, changed %v, refused %v: want the edited app alone", ran, changed, refused)
	}
	if got := replyText(t, h.post(newCall(shapeDTMF, true).start(), "good")); got != "good v2" {
		t.Fatalf("after the edit: %q", got)
	}
}

// A version vet refused is not vetted again until it changes, and a reload
// says so only once.
func TestVetRefusalIsRemembered(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"a.lua": greeterSrc("a1", "a"), "b.lua": greeterSrc("b1", "b")})
	h := newHarness(t, dir, engine.Options{})
	vetted := map[string]int{}
	vet := func(_ *engine.Scripts, app string) error {
		vetted[app]++
		if app == "b" {
			return errors.New("b fails check")
		}
		return nil
	}
	writeApp(t, dir, "b.lua", greeterSrc("b2", "b"))
	if _, refused := h.eng.Reload(vet); len(refused) != 1 || vetted["b"] != 1 {
		t.Fatalf("refused %v, vetted %v", refused, vetted)
	}
	for i := 2; i <= 3; i++ {
		writeApp(t, dir, "a.lua", greeterSrc(fmt.Sprintf("a%d", i), "a"))
		changed, refused := h.eng.Reload(vet)
		if strings.Join(changed, ",") != "a" || len(refused) != 0 || vetted["b"] != 1 {
			t.Fatalf("reload %d after editing a: changed %v, refused %v, vetted %v", i, changed, refused, vetted)
		}
	}
	if got := replyText(t, h.post(newCall(shapeDTMF, true).start(), "b")); got != "b1" {
		t.Fatalf("b's refused version answered: %q", got)
	}
}

// A number has one app. At load, the first app by name keeps it and the
// other is refused; on reload, the app that answered it keeps it: a new app
// or a new version that claims it is refused, and the log says what serves.
func TestNumberHasOneApp(t *testing.T) {
	t.Parallel()
	claims := func(prompt, number string) string {
		return fmt.Sprintf("numbers = { %q }\n", number) + greeterSrc(prompt, "got")
	}
	dir := scriptDir(t, map[string]string{"zeta.lua": claims("zeta", "+6568332048")})
	h := newHarness(t, dir, engine.Options{})
	byNumber := func() string { // no app in the URL: routed by the called number
		return replyText(t, h.post(newCall(shapeDTMF, true).start(), ""))
	}

	writeApp(t, dir, "alpha.lua", claims("alpha", "+65 6833 2048"))
	changed, refused := h.eng.Reload(nil)
	if len(changed) != 0 || len(refused) != 1 || !strings.Contains(refused[0].Error(),
		"alpha.lua: number +6568332048 is answered by zeta (zeta.lua), and a number has one app: remove it from one of them; alpha is not served") {
		t.Fatalf("a new app claiming zeta's number: changed %v, refused %v", changed, refused)
	}
	if got := byNumber(); got != "zeta" {
		t.Fatalf("the number's calls went to %q, want zeta", got)
	}

	writeApp(t, dir, "alpha.lua", claims("alpha", "+6500000000"))
	writeApp(t, dir, "beta.lua", greeterSrc("beta", "got"))
	if changed, refused := h.eng.Reload(nil); strings.Join(changed, ",") != "alpha,beta" || len(refused) != 0 {
		t.Fatalf("changed %v, refused %v", changed, refused)
	}
	writeApp(t, dir, "beta.lua", claims("beta v2", "+6568332048"))
	changed, refused = h.eng.Reload(nil)
	if len(changed) != 0 || len(refused) != 1 || !strings.HasSuffix(refused[0].Error(), "; its previous version serves on") {
		t.Fatalf("a new version claiming zeta's number: changed %v, refused %v", changed, refused)
	}
	if got := byNumber(); got != "zeta" {
		t.Fatalf("the number's calls went to %q, want zeta", got)
	}

	writeApp(t, dir, "beta.lua", greeterSrc("beta", "got"))
	writeApp(t, dir, "alpha.lua", claims("alpha", "+6568332048"))
	_, errs := engine.Load(dir)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "zeta.lua: number +6568332048 is answered by alpha (alpha.lua)") {
		t.Fatalf("check of two apps claiming one number: %v", errs)
	}
}

// A file too large to compile quickly (gopher-lua's compiler is quadratic in
// the size of a file) is refused before it is compiled, and the other apps
// are served.
func TestOversizeScriptRefused(t *testing.T) {
	t.Parallel()
	var numbers strings.Builder
	numbers.WriteString("local t = {")
	for i := 0; numbers.Len() < engine.MaxScriptBytes+1; i++ {
		fmt.Fprintf(&numbers, "%d,", i)
	}
	numbers.WriteString("}\n" + voice + `function on_call(s) return ivr.hangup() end`)
	dir := scriptDir(t, map[string]string{
		"big.lua":     numbers.String(),
		"lib/big.lua": "return {" + strings.Repeat(`"x",`, engine.MaxScriptBytes/4) + "}",
		"small.lua":   voice + `function on_call(s) return ivr.hangup() end`,
	})
	scripts, errs := engine.Load(dir)
	if len(errs) != 2 {
		t.Fatalf("want big.lua and lib/big.lua refused, got %v", errs)
	}
	for _, err := range errs {
		if !strings.Contains(err.Error(), "over the 64 KiB a script or module may be") {
			t.Errorf("refused without saying why: %v", err)
		}
	}
	if scripts.Apps["small"] == nil || scripts.Apps["big"] != nil {
		t.Fatalf("apps served: %v", scripts.Names())
	}
}

// TestReloadDropsWarmStatesNoCallUses: the warm states of a version that no
// call can reach any more are closed at the reload that replaces it, so a
// folder edited all day does not pile up states.
func TestReloadDropsWarmStatesNoCallUses(t *testing.T) {
	dir := t.TempDir()
	writeApp(t, dir, "greet.lua", greeterSrc("v0 prompt", "v0 got"))
	h := newHarness(t, dir, engine.Options{})
	for i := 1; i <= 5; i++ {
		c := newCall(shapeDTMF, true)
		c.remember(h.post(c.start(), "greet"))
		h.post(c.keys("5"), "greet") // on_dtmf: a warm state
		writeApp(t, dir, "greet.lua", greeterSrc(fmt.Sprintf("v%d prompt", i), "got"))
		if _, refused := h.eng.Reload(nil); len(refused) > 0 {
			t.Fatal(refused)
		}
	}
	if n := engine.WarmPools(h.eng); n > 1 {
		t.Errorf("after 5 reloads the engine keeps warm states for %d versions of one app; no call uses the old ones", n)
	}
}
