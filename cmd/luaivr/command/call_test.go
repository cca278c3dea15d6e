package command_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// fake8x8 is the Callflows API on loopback: it checks the key and records
// the callflows it is sent.
type fake8x8 struct {
	*httptest.Server
	mu   sync.Mutex
	sent []map[string]any
}

func newFake8x8(t *testing.T) *fake8x8 {
	f := &fake8x8{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer good-key" {
			w.WriteHeader(401)
			io.WriteString(w, `{"sessionStatus":"NOT_CREATED","callFlowRequestId":"r1","statusCode":401,"statusMessage":"Authentication header not found or token invalid"}`)
			return
		}
		if r.URL.Path != "/api/v1/subaccounts/acme_voice/callflows" {
			w.WriteHeader(404)
			io.WriteString(w, `{"sessionStatus":"NOT_CREATED","callFlowRequestId":"r2","statusCode":404,"statusMessage":"SubAccount not found"}`)
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		f.sent = append(f.sent, body)
		f.mu.Unlock()
		io.WriteString(w, `{"sessionId":"placed-1","sessionStatus":"CREATED","callFlowRequestId":"r3","statusCode":1,"statusMessage":"Created"}`)
	}))
	t.Cleanup(f.Close)
	return f
}

func runLuaivr(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "LUAIVR_TEST_MAIN=1"), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// call places the restaurant's first menu with 8x8 and records the session,
// so the callee's first keys (which come with no clientActionId) answer it.
func TestCall(t *testing.T) {
	t.Parallel()
	fake := newFake8x8(t)
	data := t.TempDir()
	api := []string{"LUAIVR_API_BASE=" + fake.URL, "LUAIVR_SUBACCOUNT=acme_voice", "LUAIVR_SCRIPTS=../../../scripts", "LUAIVR_DATA=" + data}

	// A local number has no country code: refused before anything is sent.
	out, err := runLuaivr(t, append(api, "LUAIVR_API_KEY=good-key"), "call", "restaurant", "--to", "91234567", "--from", "+6568332048")
	fake.mu.Lock()
	sent := len(fake.sent)
	fake.mu.Unlock()
	if err == nil || !strings.Contains(out, `--to: -1017 destination is "91234567", a local number without a country code: 8x8 dials E.164 numbers`) || sent > 0 {
		t.Fatalf("a local number: %v\n%s", err, out)
	}
	out, err = runLuaivr(t, append(api, "LUAIVR_API_KEY=wrong"), "call", "restaurant", "--to", "+6591234567", "--from", "+6568332048")
	if err == nil || !strings.Contains(out, "401") || !strings.Contains(out, "LUAIVR_API_KEY") {
		t.Fatalf("a wrong key: %v\n%s", err, out)
	}
	out, err = runLuaivr(t, append(api, "LUAIVR_API_KEY=good-key"), "call", "restaurant", "--to", "+6591234567", "--from", "+6568332048", "--var", "guest=Ann")
	if err != nil || strings.TrimSpace(out) != "placed-1" {
		t.Fatalf("call: %v\n%s", err, out)
	}
	cf := fake.sent[0]["callflow"].([]any)
	first := cf[0].(map[string]any)
	second := cf[1].(map[string]any)
	if first["action"] != "makeCall" || first["params"].(map[string]any)["destination"] != "+6591234567" ||
		second["action"] != "sayAndCapture" || !strings.HasPrefix(second["params"].(map[string]any)["promptMessage"].(string), "Welcome to ABC Restaurant") {
		t.Fatalf("placed callflow: %v", cf)
	}
	if _, has := fake.sent[0]["clientActionId"]; has {
		t.Fatal("the API body carries a clientActionId")
	}

	// The call's webhooks reach serve with no clientActionId: the recorded
	// session sends them to the restaurant's main menu.
	p := serve(t, data, "LUAIVR_ADMIN_TOKEN=tok")
	if got := p.post(t, "/webhooks", vca("placed-1", "e1", "ACTION_COMPLETED", "1")); !strings.Contains(got, `"clientActionId":"reservations"`) {
		t.Fatalf("first keys of the placed call: %s", got)
	}
	p.stop(t)
}

// With a server running on the data folder, call goes through its /calls.
func TestCallThroughServer(t *testing.T) {
	t.Parallel()
	fake := newFake8x8(t)
	data := t.TempDir()
	p := serve(t, data, "LUAIVR_ADMIN_TOKEN=tok", "LUAIVR_API_BASE="+fake.URL, "LUAIVR_SUBACCOUNT=acme_voice", "LUAIVR_API_KEY=good-key")
	defer p.stop(t)
	out, err := runLuaivr(t, []string{"LUAIVR_SCRIPTS=../../../scripts", "LUAIVR_DATA=" + data}, "call", "simple_ivr", "--to", "+6591234567", "--from", "+6568332048")
	if err == nil || !strings.Contains(out, "--server") {
		t.Fatalf("call on a folder a server holds should say to use --server: %v\n%s", err, out)
	}
	out, err = runLuaivr(t, nil, "call", "simple_ivr", "--to", "+6591234567", "--from", "+6568332048", "--server", p.url, "--admin-token", "tok")
	if err != nil || strings.TrimSpace(out) != "placed-1" {
		t.Fatalf("call --server: %v\n%s", err, out)
	}
	if out, err := runLuaivr(t, nil, "call", "nope", "--to", "+6591234567", "--from", "+6568332048", "--server", p.url, "--admin-token", "tok"); err == nil || !strings.Contains(out, "422") {
		t.Fatalf("an unknown app: %v\n%s", err, out)
	}
	if got := p.post(t, "/webhooks", vca("placed-1", "e1", "ACTION_COMPLETED", "2")); !strings.Contains(got, `"makeCall"`) {
		t.Fatalf("the placed simple_ivr call's 2: %s", got)
	}
}
