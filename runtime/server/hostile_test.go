package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/luaivr/luaivr/store"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/server"
)

func TestGuard(t *testing.T) {
	t.Parallel()
	loopback, _ := server.ParseNets("127.0.0.0/8")
	elsewhere, _ := server.ParseNets("203.0.113.0/24, 198.51.100.7")
	tests := []struct {
		name   string
		guard  server.Guard
		header [][2]string // in order: a proxy appends its line after the client's
		code   int
	}{
		{"off", server.Guard{}, nil, 200},
		{"right header", server.Guard{Authorization: "mdp1234"}, [][2]string{{"Authorization", "mdp1234"}}, 200},
		{"wrong header", server.Guard{Authorization: "mdp1234"}, [][2]string{{"Authorization", "mdp1235"}}, 401},
		{"no header", server.Guard{Authorization: "mdp1234"}, nil, 401},
		{"allowed source", server.Guard{AllowFrom: loopback}, nil, 200},
		{"other source", server.Guard{AllowFrom: elsewhere}, nil, 403},
		{"forwarded, proxy not trusted", server.Guard{AllowFrom: elsewhere}, [][2]string{{"X-Forwarded-For", "203.0.113.9"}}, 403},
		{"forwarded by a trusted proxy", server.Guard{AllowFrom: elsewhere, TrustProxy: loopback}, [][2]string{{"X-Forwarded-For", "203.0.113.9"}}, 200},
		{"forged hop before the real one", server.Guard{AllowFrom: elsewhere, TrustProxy: loopback}, [][2]string{{"X-Forwarded-For", "203.0.113.9, 192.0.2.1"}}, 403},
		{"forged line before the proxy's", server.Guard{AllowFrom: elsewhere, TrustProxy: loopback}, [][2]string{{"X-Forwarded-For", "203.0.113.9"}, {"x-forwarded-for", "192.0.2.66"}}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := start(t, "../../scripts", t.TempDir(), server.Options{Guard: tt.guard})
			req, _ := http.NewRequest("POST", r.url+"/webhooks/restaurant", bytes.NewReader(vca("g-1", "e1", "1")))
			for _, h := range tt.header {
				req.Header.Add(h[0], h[1]) // two spellings of a name make two header lines
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Fatalf("%d %s, want %d", resp.StatusCode, b, tt.code)
			}
			if tt.code != 200 && (strings.Contains(string(b), "mdp") || strings.Contains(string(b), "allow")) {
				t.Fatalf("a rejection leaks detail: %s", b)
			}
			resp, err = http.Get(r.url + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			health, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := `"rejected":0`
			if tt.code != 200 {
				want = `"rejected":1`
			}
			if !strings.Contains(string(health), want) {
				t.Fatalf("healthz %s, want %s", health, want)
			}
		})
	}
	if _, err := server.ParseNets("10.0.0.0/33"); err == nil {
		t.Error("a bad network parsed")
	}
}

// Slow clients are cut off by the read timeout, and while they hang on, other
// requests are served; many idle connections do not stop the server either.
func TestSlowAndManyClients(t *testing.T) {
	t.Parallel()
	r := start(t, "../../scripts", t.TempDir(), server.Options{ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	addr := strings.TrimPrefix(r.url, "http://")
	var slow []net.Conn
	for i := 0; i < 50; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"eventType\"") // and then nothing
		slow = append(slow, c)
	}
	code, _ := r.post(t, "/webhooks/restaurant", vca("slow-ok", "e1", "1"))
	if code != 200 {
		t.Fatalf("a normal request beside 50 slow ones got %d", code)
	}
	var wg sync.WaitGroup
	for _, c := range slow {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil { // cut off with an answer: must be a 4xx
				if resp.StatusCode < 400 || resp.StatusCode >= 500 {
					t.Errorf("slow client got %d", resp.StatusCode)
				}
				return
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Error("a slow client was not cut off within 5s")
			}
		}(c)
	}
	wg.Wait()
}

// Admin endpoints take only "Bearer <token>".
func TestAdminToken(t *testing.T) {
	t.Parallel()
	r := start(t, "../../scripts", t.TempDir(), server.Options{AdminToken: "tok"})
	for _, tt := range []struct {
		header string
		code   int
	}{{"", 401}, {"tok", 401}, {"Bearer to", 401}, {"Bearer tokk", 401}, {"Bearer tok", 200}} {
		req, _ := http.NewRequest("GET", r.url+"/admin/sessions", nil)
		if tt.header != "" {
			req.Header.Set("Authorization", tt.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("Authorization %q: %d, want %d", tt.header, resp.StatusCode, tt.code)
		}
	}
}

// A page of /admin/sessions is bounded whatever limit is asked for: by count,
// and by the bytes of the sessions' vars, so that an admin request cannot
// take the memory calls need.
func TestAdminSessionsPageBounded(t *testing.T) {
	t.Parallel()
	r := start(t, "../../scripts", t.TempDir(), server.Options{AdminToken: "tok"})
	vars := []byte(`{"blob":"` + strings.Repeat("v", 900<<10) + `"}`)
	for i := range 12 {
		if err := r.eng.Register(context.Background(), store.Session{ID: fmt.Sprint("big-", i), App: "restaurant", Vars: vars}); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest("GET", r.url+"/admin/sessions?limit=100000", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []store.Session
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 || len(list) >= 12 {
		t.Fatalf("a page of %d sessions of 900 KiB each, want it stopped past 8 MiB of vars", len(list))
	}
}
