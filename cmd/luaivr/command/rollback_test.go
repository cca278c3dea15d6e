package command_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	shopV1 = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
local bye = { ivr.say("Goodbye."), ivr.hangup() }
sales = ivr.menu { id = "sales", prompt = "Sales menu", ["1"] = bye, ["9"] = "main" }
main = ivr.menu { id = "main", prompt = "Main menu", ["1"] = sales, ["2"] = bye }
function on_call(session) return main end`
	shopV2 = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
main = ivr.menu { id = "main", prompt = "New main menu", ["2"] = { ivr.say("Goodbye."), ivr.hangup() } }
function on_call(session) return main end`
)

// serve with hot reload: a call in progress across a reload that removes
// its menu finishes on its version (the old behaviour with
// --pin-versions=false); /admin/apps lists the versions and their calls;
// luaivr rollback serves the previous version to new calls, and says so
// clearly when there is none; sessions show names the version per entry.
func TestServeReloadMidCallAndRollback(t *testing.T) {
	t.Parallel()
	for _, pin := range []bool{true, false} {
		t.Run(fmt.Sprintf("pin-versions=%v", pin), func(t *testing.T) {
			t.Parallel()
			scripts := t.TempDir()
			shop := filepath.Join(scripts, "shop.lua")
			if err := os.WriteFile(shop, []byte(shopV1), 0o644); err != nil {
				t.Fatal(err)
			}
			p := serve(t, t.TempDir(), "LUAIVR_SCRIPTS="+scripts, "LUAIVR_RELOAD_INTERVAL=20ms", "LUAIVR_ADMIN_TOKEN=tok",
				fmt.Sprintf("LUAIVR_PIN_VERSIONS=%v", pin))
			if got := p.post(t, "/webhooks/shop", vca("c1", "e1", "CALL_RECEIVED", "")); !strings.Contains(got, "Main menu") {
				t.Fatal(got)
			}
			if got := p.post(t, "/webhooks", vca("c1", "e2", "ACTION_COMPLETED", "1")); !strings.Contains(got, "Sales menu") {
				t.Fatal(got)
			}
			if err := os.WriteFile(shop, []byte(shopV2), 0o644); err != nil {
				t.Fatal(err)
			}
			for i := 0; ; i++ { // new calls get the new version once it is vetted
				if got := p.post(t, "/webhooks/shop", vca(fmt.Sprintf("n%d", i), "e1", "CALL_RECEIVED", "")); strings.Contains(got, "New main menu") {
					break
				}
				if i == 300 {
					t.Fatalf("the new version was not served within 30 s:\n%s", p.stderr)
				}
				time.Sleep(100 * time.Millisecond)
			}
			want := "Goodbye."
			if !pin {
				want = "New main menu"
			}
			if got := p.post(t, "/webhooks", vca("c1", "e3", "ACTION_COMPLETED", "1")); !strings.Contains(got, want) {
				t.Fatalf("the call in progress pressed 1 at its sales menu after the reload: %s, want %q", got, want)
			}
			if !pin {
				return
			}

			var rep struct {
				Apps []struct {
					App      string
					Versions []struct {
						Version string
						Current bool
						Calls   int `json:"live_calls"`
					}
				}
			}
			req, _ := http.NewRequest("GET", p.url+"/admin/apps", nil)
			req.Header.Set("Authorization", "Bearer tok")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			err = json.NewDecoder(resp.Body).Decode(&rep)
			resp.Body.Close()
			if err != nil || len(rep.Apps) != 1 || len(rep.Apps[0].Versions) != 2 || !rep.Apps[0].Versions[0].Current ||
				rep.Apps[0].Versions[1].Calls < 1 || rep.Apps[0].Versions[0].Calls < 1 {
				t.Fatalf("/admin/apps: %v %+v", err, rep)
			}
			v1, v2 := rep.Apps[0].Versions[1].Version, rep.Apps[0].Versions[0].Version

			out, err := runLuaivr(t, []string{"LUAIVR_SERVER=" + p.url, "LUAIVR_ADMIN_TOKEN=tok"}, "rollback", "shop")
			if err != nil || !strings.Contains(out, "shop: new calls get version "+v1+" again (was "+v2+")") {
				t.Fatalf("luaivr rollback: %v\n%s", err, out)
			}
			if got := p.post(t, "/webhooks/shop", vca("after", "e1", "CALL_RECEIVED", "")); !strings.Contains(got, `"Main menu`) {
				t.Fatalf("a new call after the rollback: %s", got)
			}
			if !strings.Contains(p.stderr.String(), `"msg":"app rolled back`) {
				t.Fatalf("the rollback is not in serve's log:\n%s", p.stderr)
			}
			out, err = runLuaivr(t, []string{"LUAIVR_SERVER=" + p.url, "LUAIVR_ADMIN_TOKEN=tok"}, "rollback", "shop")
			if err == nil || !strings.Contains(out, "app shop has no previous version to roll back to") {
				t.Fatalf("a rollback with no previous version: %v\n%s", err, out)
			}

			out, err = runLuaivr(t, nil, "sessions", "show", "c1", "--server", p.url, "--admin-token", "tok")
			if err != nil || !strings.Contains(out, "version "+v1) || strings.Contains(out, v2) {
				t.Fatalf("sessions show does not name the call's version %s per entry: %v\n%s", v1, err, out)
			}
		})
	}
}
