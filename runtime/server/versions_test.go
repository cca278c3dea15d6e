package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/server"
)

const greetV = `ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_call(s) return ivr.say_and_capture("PROMPT", { maxDigits = 1 }) end
function on_dtmf(s, d) return { ivr.say("PROMPT got " .. d), ivr.hangup() } end`

func writeGreet(t *testing.T, dir, prompt string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "greet.lua"), []byte(strings.ReplaceAll(greetV, "PROMPT", prompt)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// callStart is the first webhook of an inbound call.
func callStart(session string) []byte {
	return []byte(`{"eventType":"CALL_ACTION","payload":{"sessionId":"` + session + `","eventId":"` + session + `-1","callStatus":"CALL_RECEIVED","callDirection":"INBOUND"}}`)
}

func adminPost(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// GET /admin/apps lists each app's versions, current first, with the live
// calls that started on each; POST /admin/apps/{app}/rollback serves the
// previous version to new calls, and says clearly when there is none.
func TestAdminAppsAndRollback(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeGreet(t, dir, "v1")
	r := start(t, dir, t.TempDir(), server.Options{AdminToken: "tok"}, func(o *engine.Options) { o.PinVersions = true })
	apps := func() []engine.VersionInfo {
		t.Helper()
		code, body := get(t, r.url+"/admin/apps", "tok")
		var rep engine.VersionReport
		if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || len(rep.Apps) != 1 || rep.Apps[0].App != "greet" {
			t.Fatalf("GET /admin/apps: %d %s", code, body)
		}
		return rep.Apps[0].Versions
	}
	if code, body := adminPost(t, r.url+"/admin/apps/greet/rollback", "tok"); code != 409 || !strings.Contains(body, "no previous version") {
		t.Fatalf("a rollback with no previous version: %d %s", code, body)
	}
	r.post(t, "/webhooks/greet", callStart("s1"))
	r.post(t, "/webhooks/greet", callStart("s2"))
	writeGreet(t, dir, "v2")
	r.eng.Reload(nil)
	r.post(t, "/webhooks/greet", callStart("s3"))

	vs := apps()
	if len(vs) != 2 || !vs[0].Current || vs[0].Calls != 1 || vs[1].Current || vs[1].Calls != 2 {
		t.Fatalf("versions %+v: want the current with 1 live call, then the first with 2", vs)
	}
	code, body := adminPost(t, r.url+"/admin/apps/greet/rollback", "tok")
	var rb server.RollbackResult
	if code != 200 || json.Unmarshal([]byte(body), &rb) != nil || rb.Version != vs[1].Version || rb.Was != vs[0].Version {
		t.Fatalf("rollback: %d %s", code, body)
	}
	if _, reply := r.post(t, "/webhooks/greet", callStart("s4")); !strings.Contains(string(reply), `"v1"`) {
		t.Fatalf("a new call after the rollback got %s, want the first version", reply)
	}
	if vs := apps(); !vs[0].Current || vs[0].Version != rb.Version || vs[0].Calls != 3 {
		t.Fatalf("after the rollback the versions are %+v", vs)
	}

	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"POST", "/admin/apps/nope/rollback", 404},
		{"POST", "/admin/apps/greet", 404},
		{"GET", "/admin/apps/greet/rollback", 405},
		{"POST", "/admin/apps", 405},
	} {
		req, _ := http.NewRequest(tc.method, r.url+tc.path, nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.code)
		}
	}
	if code, _ := get(t, r.url+"/admin/apps", ""); code != 401 {
		t.Fatalf("GET /admin/apps without the token: %d", code)
	}
}
