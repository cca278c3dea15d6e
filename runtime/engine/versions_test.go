package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
)

// menusV1 has a sales menu under its main menu; menusV2, its next version,
// has none.
const (
	menusV1 = menuApp + `function on_call(session) return main end`
	menusV2 = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
main = ivr.menu { id = "main", prompt = "New main menu", ["2"] = { ivr.say("Goodbye."), ivr.hangup() } }
function on_call(session) return main end`
)

// A call in progress across a reload that removes its menu finishes on the
// version it started on: the caller's next keys reach the old menu, while a
// new call gets the new version at once. Without pinning (the old
// behaviour) the caller starts again at the new version's root. Removing
// the file keeps each call on its own version until it ends.
func TestCallFinishesOnItsVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pin            bool
		inCallHears    string // at the sales menu, after the reload
		removedHears   string // the call started on v2, after the file is removed
		callVersionIsA bool   // the last entry of the first call names v1
	}{
		{pin: true, inCallHears: "Goodbye.", callVersionIsA: true},
		{pin: false, inCallHears: "New main menu"},
	} {
		t.Run(fmt.Sprintf("pin=%v", tc.pin), func(t *testing.T) {
			t.Parallel()
			dir := scriptDir(t, map[string]string{"shop.lua": menusV1})
			h := newHarness(t, dir, engine.Options{PinVersions: tc.pin})
			v1 := h.eng.Scripts().Apps["shop"].Version()

			c := newCall(shapeDTMF, true)
			if got := replyText(t, h.post(c.start(), "shop")); got != "Main menu" {
				t.Fatal(got)
			}
			reply := h.post(c.keys("1"), "")
			c.remember(reply)
			if got := replyText(t, reply); got != "Sales menu" {
				t.Fatal(got)
			}

			writeApp(t, dir, "shop.lua", menusV2)
			if changed, refused := h.eng.Reload(nil); strings.Join(changed, ",") != "shop" || len(refused) > 0 {
				t.Fatalf("changed %v refused %v", changed, refused)
			}
			v2 := h.eng.Scripts().Apps["shop"].Version()
			fresh := newCall(shapeDTMF, true)
			if got := replyText(t, h.post(fresh.start(), "shop")); got != "New main menu" {
				t.Fatalf("a new call after the reload heard %q, want the new version", got)
			}
			if got := replyText(t, h.post(c.keys("1"), "")); got != tc.inCallHears {
				t.Fatalf("the call in progress pressed 1 at its sales menu and heard %q, want %q", got, tc.inCallHears)
			}
			entries, err := h.st.Transcript(context.Background(), c.session)
			if err != nil {
				t.Fatal(err)
			}
			last := entries[len(entries)-1].Version
			if want := map[bool]string{true: v1, false: v2}[tc.callVersionIsA]; last != want {
				t.Fatalf("the transcript names version %s for the last event, want %s (v1 %s, v2 %s)", last, want, v1, v2)
			}
			if sess, _, _ := h.st.Session(context.Background(), c.session); sess.Version != v1 {
				t.Fatalf("the session names version %s, want the version it started on, %s", sess.Version, v1)
			}

			if !tc.pin {
				return
			}
			// Removed: the calls of v1 and of v2 each finish on their own.
			c1, c2 := newCall(shapeDTMF, true), newCall(shapeDTMF, true)
			writeApp(t, dir, "shop.lua", menusV1)
			h.eng.Reload(nil)
			c1.remember(h.post(c1.start(), "shop"))
			writeApp(t, dir, "shop.lua", menusV2)
			h.eng.Reload(nil)
			c2.remember(h.post(c2.start(), "shop"))
			writeApp(t, dir, "other.lua", greeterSrc("other", "other got"))
			if err := os.Remove(filepath.Join(dir, "shop.lua")); err != nil {
				t.Fatal(err)
			}
			if changed, _ := h.eng.Reload(nil); strings.Join(changed, ",") != "other,shop (removed)" {
				t.Fatalf("changed %v", changed)
			}
			if got := replyText(t, h.post(c1.keys("1"), "")); got != "Sales menu" {
				t.Fatalf("a call of the removed app's first version heard %q, want its sales menu", got)
			}
			if got := replyText(t, h.post(c2.keys("1"), "")); got != "New main menu" {
				t.Fatalf("a call of the removed app's last version heard %q, want its main menu again", got)
			}
		})
	}
}

// A change in a module the app requires is a new version of the app, and a
// call in progress keeps the module it started with; an unchanged folder
// is the same version.
func TestModuleChangeIsNewVersion(t *testing.T) {
	t.Parallel()
	app := voice + `
local words = require("lib.words")
function on_call(s) return ivr.say_and_capture(words.hello, { maxDigits = 1 }) end
function on_dtmf(s, d) return { ivr.say(words.bye), ivr.hangup() } end`
	dir := scriptDir(t, map[string]string{"greet.lua": app, "lib/words.lua": `return { hello = "Hello v1", bye = "Bye v1" }`})
	h := newHarness(t, dir, engine.Options{PinVersions: true})
	v1 := h.eng.Scripts().Apps["greet"].Version()
	h.eng.Reload(nil)
	if v := h.eng.Scripts().Apps["greet"].Version(); v != v1 {
		t.Fatalf("a reload of an unchanged folder made version %s of %s", v, v1)
	}

	c := newCall(shapeDTMF, true)
	h.post(c.start(), "greet")
	writeApp(t, filepath.Join(dir, "lib"), "words.lua", `return { hello = "Hello v2", bye = "Bye v2" }`)
	if changed, _ := h.eng.Reload(nil); strings.Join(changed, ",") != "greet" {
		t.Fatalf("a module change changed %v", changed)
	}
	if v := h.eng.Scripts().Apps["greet"].Version(); v == v1 {
		t.Fatalf("a change of the module the app requires kept its version %s", v)
	}
	if got := replyText(t, h.post(c.keys("1"), "")); got != "Bye v1" {
		t.Fatalf("the call in progress heard %q, want its own version's module", got)
	}
	if got := replyText(t, h.post(newCall(shapeDTMF, true).start(), "greet")); got != "Hello v2" {
		t.Fatalf("a new call heard %q", got)
	}
}

// versionsOf lists the versions the engine keeps of app, current first, with
// their live calls.
func versionsOf(t *testing.T, eng *engine.Engine, app string) []engine.VersionInfo {
	t.Helper()
	rep, err := eng.Versions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range rep.Apps {
		if a.App == app {
			return a.Versions
		}
	}
	return nil
}

// The versions kept are bounded by count: past eight of one app, the oldest
// no live call uses goes first; when every one has live calls, the oldest
// goes, said in the log, and its calls go on with the version served.
func TestVersionsBoundedByCount(t *testing.T) {
	t.Parallel()
	for _, everyOneHasACall := range []bool{false, true} {
		t.Run(fmt.Sprintf("calls on every version=%v", everyOneHasACall), func(t *testing.T) {
			t.Parallel()
			dir := scriptDir(t, map[string]string{"greet.lua": greeterSrc("v1", "v1 got")})
			h := newHarness(t, dir, engine.Options{PinVersions: true})
			var calls []*call
			for i := 1; i <= 9; i++ {
				if i > 1 {
					writeApp(t, dir, "greet.lua", greeterSrc(fmt.Sprintf("v%d", i), fmt.Sprintf("v%d got", i)))
					h.eng.Reload(nil)
				}
				c := newCall(shapeDTMF, true)
				if i == 1 || everyOneHasACall {
					h.post(c.start(), "greet")
				}
				calls = append(calls, c)
			}
			var kept []engine.VersionInfo
			for _, v := range versionsOf(t, h.eng, "greet") {
				if v.Kept {
					kept = append(kept, v)
				}
			}
			if len(kept) != 8 || !kept[0].Current {
				t.Fatalf("kept %d versions (%+v), want 8, the current first", len(kept), kept)
			}
			first := calls[0]
			if !everyOneHasACall {
				if got := replyText(t, h.post(first.keys("1"), "")); got != "v1 got 1" {
					t.Fatalf("the call on the oldest version, the only one with a call, heard %q: it was dropped before versions without calls", got)
				}
				if kept[len(kept)-1].Calls != 1 {
					t.Fatalf("the oldest version kept should be the one with a live call: %+v", kept)
				}
				return
			}
			if !strings.Contains(h.logs.String(), "app version dropped while calls still use it") {
				t.Fatalf("the log does not say a version with calls was dropped:\n%s", h.logs)
			}
			if got := replyText(t, h.post(first.keys("1"), "")); got != "v9 got 1" {
				t.Fatalf("the call on the dropped version heard %q, want the version served", got)
			}
			if !strings.Contains(h.logs.String(), "this instance does not have it") {
				t.Fatalf("the log does not warn of the call on a dropped version:\n%s", h.logs)
			}
			if got := replyText(t, h.post(calls[1].keys("1"), "")); got != "v2 got 1" {
				t.Fatalf("the call on the second version heard %q, want its own", got)
			}
		})
	}
}

// clock is a time the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// A version no event ran on for the session TTL is dropped at the next
// reload: every call that started on it has expired. One still in use is
// kept.
func TestVersionsBoundedBySessionTTL(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Now()}
	dir := scriptDir(t, map[string]string{"greet.lua": greeterSrc("v1", "v1 got")})
	h := newHarness(t, dir, engine.Options{PinVersions: true, SessionTTL: time.Hour, Now: clk.Now})
	idle, busy := newCall(shapeDTMF, true), newCall(shapeDTMF, true)
	h.post(idle.start(), "greet")
	writeApp(t, dir, "greet.lua", greeterSrc("v2", "v2 got"))
	h.eng.Reload(nil)
	h.post(busy.start(), "greet")
	writeApp(t, dir, "greet.lua", greeterSrc("v3", "v3 got"))
	h.eng.Reload(nil)
	if n := len(versionsOf(t, h.eng, "greet")); n != 3 {
		t.Fatalf("kept %d versions, want 3", n)
	}

	clk.add(40 * time.Minute)
	if got := replyText(t, h.post(busy.keys("1"), "")); got != "v2 got 1" {
		t.Fatal(got)
	}
	clk.add(40 * time.Minute) // v1 unused for 80 minutes, v2 for 40
	h.eng.Reload(nil)
	var kept []string
	for _, v := range versionsOf(t, h.eng, "greet") {
		if v.Kept {
			kept = append(kept, v.Version)
		}
	}
	if len(kept) != 2 {
		t.Fatalf("kept %v after the TTL, want the current version and the one still in use", kept)
	}
	if !strings.Contains(h.logs.String(), "app version dropped: no call can still use it") {
		t.Fatalf("the log does not say the version was dropped:\n%s", h.logs)
	}
	if got := replyText(t, h.post(busy.keys("2"), "")); got != "v2 got 2" {
		t.Fatalf("the call in use heard %q", got)
	}
}

// Versions counts the live calls of each version; an ended call is not live.
func TestVersionsCountLiveCalls(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"greet.lua": greeterSrc("v1", "v1 got")})
	h := newHarness(t, dir, engine.Options{PinVersions: true})
	a, b, ended := newCall(shapeDTMF, true), newCall(shapeDTMF, true), newCall(shapeDTMF, true)
	h.post(a.start(), "greet")
	h.post(ended.start(), "greet")
	h.post(envelope("SESSION_SUMMARY", map[string]any{"sessionId": ended.session, "sessionStatus": "COMPLETED"}), "")
	writeApp(t, dir, "greet.lua", greeterSrc("v2", "v2 got"))
	h.eng.Reload(nil)
	h.post(b.start(), "greet")
	h.post(b.keys("1"), "")
	got := versionsOf(t, h.eng, "greet")
	if len(got) != 2 || !got[0].Current || got[0].Calls != 1 || got[1].Current || got[1].Calls != 1 {
		t.Fatalf("versions %+v, want the current with 1 live call, then the first with 1", got)
	}
}

// Rollback serves the previous version to new calls, without touching the
// files, until the file changes; a change elsewhere keeps it. With no
// previous version it is an error that says so.
func TestRollback(t *testing.T) {
	t.Parallel()
	dir := scriptDir(t, map[string]string{"greet.lua": greeterSrc("v1", "v1 got"), "other.lua": greeterSrc("o1", "o1 got")})
	h := newHarness(t, dir, engine.Options{PinVersions: true})
	if _, _, err := h.eng.Rollback("greet"); err == nil || !strings.Contains(err.Error(), "no previous version") {
		t.Fatalf("a rollback with no previous version: %v", err)
	}
	if _, _, err := h.eng.Rollback("nope"); err == nil || !strings.Contains(err.Error(), "no app nope") {
		t.Fatalf("a rollback of no app: %v", err)
	}
	v1 := h.eng.Scripts().Apps["greet"].Version()
	writeApp(t, dir, "greet.lua", greeterSrc("v2", "v2 got"))
	h.eng.Reload(nil)
	inV2 := newCall(shapeDTMF, true)
	h.post(inV2.start(), "greet")

	was, now, err := h.eng.Rollback("greet")
	if err != nil || now != v1 || was == v1 {
		t.Fatalf("rollback: %s → %s, %v", was, now, err)
	}
	if got := replyText(t, h.post(newCall(shapeDTMF, true).start(), "greet")); got != "v1" {
		t.Fatalf("a new call after the rollback heard %q, want the previous version", got)
	}
	if got := replyText(t, h.post(inV2.keys("1"), "")); got != "v2 got 1" {
		t.Fatalf("a call of the version rolled back from heard %q, want its own version", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "greet.lua")); !strings.Contains(string(b), "v2 prompt") && !strings.Contains(string(b), `"v2"`) {
		t.Fatalf("the rollback touched the file:\n%s", b)
	}
	if !strings.Contains(h.logs.String(), "app rolled back") {
		t.Fatalf("the rollback is not logged:\n%s", h.logs)
	}

	writeApp(t, dir, "other.lua", greeterSrc("o2", "o2 got")) // another file: the rollback holds
	h.eng.Reload(nil)
	if got := replyText(t, h.post(newCall(shapeDTMF, true).start(), "greet")); got != "v1" || !h.eng.Scripts().RolledBack("greet") {
		t.Fatalf("after a change of another file a new call heard %q, want the rolled back version", got)
	}
	if _, _, err := h.eng.Rollback("greet"); err == nil {
		t.Fatal("a second rollback found a version before the first")
	}

	writeApp(t, dir, "greet.lua", greeterSrc("v3", "v3 got"))
	h.eng.Reload(nil)
	if got := replyText(t, h.post(newCall(shapeDTMF, true).start(), "greet")); got != "v3" || h.eng.Scripts().RolledBack("greet") {
		t.Fatalf("after the file changed a new call heard %q, want the file's version", got)
	}
	if !strings.Contains(h.logs.String(), "app's file changed since its rollback") {
		t.Fatalf("the log does not say the file is served again:\n%s", h.logs)
	}
}
