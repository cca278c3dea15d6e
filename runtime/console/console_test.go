package console_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/console"
	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/explore"
	"github.com/luaivr/luaivr/runtime/phone"
	"github.com/luaivr/luaivr/runtime/server"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/badgerstore"
)

// startServe serves the shipped apps with the console mounted as serve
// mounts it, on loopback.
func startServe(t *testing.T, token string) string {
	t.Helper()
	st, err := badgerstore.Open(badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	scripts, errs := engine.Load("../../scripts")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	eng, err := engine.New(scripts, engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	calls := console.NewConsole(console.ConsoleOptions{Engine: eng, Token: token, Entry: func(store.Entry) string { return "" },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := server.New(server.Options{Engine: eng, AdminToken: token, Pages: console.Pages(calls.Handler(), "/console")})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	return "http://" + ln.Addr().String()
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func request(t *testing.T, method, u, auth, cookie string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Every path under /console needs the token, as a bearer or as the login
// form's cookie; the cookie does not hold the token; without --admin-token
// the console is off.
func TestConsoleAuth(t *testing.T) {
	base := startServe(t, "s3cret")
	paths := []string{"/console", "/console/", "/console/live", "/console/sessions", "/console/sessions/x", "/console/apps/restaurant", "/console/static/luaivr.css", "/console/nope"}
	for _, p := range paths {
		if resp, body := request(t, "GET", base+p, "", "", nil); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d %.100s", p, resp.StatusCode, body)
		}
		for _, auth := range []string{"Bearer wrong", "Bearer ", "Basic czNjcmV0", "s3cret", "Bearer s3cretX", "bearer s3cret"} {
			if resp, _ := request(t, "GET", base+p, auth, "", nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s with Authorization %q: %d, want 401", p, auth, resp.StatusCode)
			}
		}
		if resp, _ := request(t, "GET", base+p, "", "luaivr_console=s3cret", nil); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s with the token itself as the cookie: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := request(t, "GET", base+"/console/sessions", "Bearer s3cret", "", nil); resp.StatusCode != 200 {
		t.Errorf("bearer: %d", resp.StatusCode)
	}

	if resp, body := request(t, "POST", base+"/console/login", "", "", url.Values{"token": {"guess"}}); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) > 0 {
		t.Errorf("login with a wrong token: %d, cookies %v, %.100s", resp.StatusCode, resp.Cookies(), body)
	}
	resp, _ := request(t, "POST", base+"/console/login", "", "", url.Values{"token": {"s3cret"}})
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	ck := resp.Cookies()[0]
	if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || strings.Contains(ck.Value, "s3cret") {
		t.Errorf("the login cookie: %+v", ck)
	}
	if resp, _ := request(t, "GET", base+"/console/sessions", "", ck.Name+"="+ck.Value, nil); resp.StatusCode != 200 {
		t.Errorf("with the login cookie: %d", resp.StatusCode)
	}
	tampered := ck.Name + "=" + strings.Repeat("0", len(ck.Value))
	if resp, _ := request(t, "GET", base+"/console/sessions", "", tampered, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("with a made-up cookie: %d", resp.StatusCode)
	}
	// Outside /console the server's own routes answer as before.
	if resp, body := request(t, "GET", base+"/nope", "Bearer s3cret", "", nil); resp.StatusCode != 404 || !strings.Contains(body, "no such endpoint") {
		t.Errorf("GET /nope: %d %s", resp.StatusCode, body)
	}

	off := startServe(t, "")
	for _, p := range paths {
		if resp, body := request(t, "GET", off+p, "", "", nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "--admin-token") {
			t.Errorf("GET %s with the console off: %d %.100s", p, resp.StatusCode, body)
		}
	}
}

// The dev pages answer requests addressed to an IP address or localhost
// only: a page on another site whose name resolves to 127.0.0.1 reads nothing.
func TestDevRefusesOtherHosts(t *testing.T) {
	st, err := badgerstore.Open(badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scripts, _ := engine.Load("../../scripts")
	line, err := phone.NewLine(scripts, st, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dev := console.NewDev(t.Context(), console.DevOptions{Line: line, Check: func(context.Context) []explore.Problem { return nil }})
	srv := httptest.NewServer(dev.Handler())
	defer srv.Close()
	for host, want := range map[string]int{"": 200, "localhost:8081": 200, "127.0.0.1": 200, "[::1]:8081": 200, "evil.example:8081": 403, "evil.example": 403} {
		req, _ := http.NewRequest("GET", srv.URL+"/apps/restaurant/state", nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
}
