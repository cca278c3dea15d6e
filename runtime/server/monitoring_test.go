package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/luaivr/luaivr/runtime/logtest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/server"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/badgerstore"
)

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// What senders make up does not become metric labels: hundreds of webhooks
// with invented eventTypes, to invented app paths, leave /metrics the size it
// was, and are counted under type="other".
func TestMetricsLabelsClosed(t *testing.T) {
	t.Parallel()
	r := start(t, "../../scripts", t.TempDir(), server.Options{})
	send := func(path string, body []byte) {
		if code, b := r.post(t, path, body); code != 200 {
			t.Fatalf("%s: %d %s", path, code, b)
		}
	}
	madeUp := func(i int) []byte {
		b, _ := json.Marshal(map[string]any{
			"eventType": fmt.Sprintf("MADE_UP_%d_%s", i, strings.Repeat("x", 2000)),
			"payload":   map[string]any{"sessionId": fmt.Sprint("labels-", i), "eventId": "e1", "callStatus": fmt.Sprint("STATUS_", i)},
		})
		return b
	}
	send("/webhooks/restaurant", vca("labels-ok", "e1", "1"))
	send("/webhooks/app0", madeUp(0))
	_, before := get(t, r.url+"/metrics", "")
	for i := 1; i <= 300; i++ {
		send(fmt.Sprintf("/webhooks/app%d", i), madeUp(i))
	}
	_, after := get(t, r.url+"/metrics", "")
	if growth := len(after) - len(before); growth > 4096 {
		t.Fatalf("/metrics grew by %d bytes over 300 made-up events: labels are not a closed set\n%.2000s", growth, after)
	}
	if !strings.Contains(after, `luaivr_events_total{outcome="ok",type="other"} 301`) {
		t.Fatalf("made-up eventTypes are not counted as other:\n%s", grep(after, "luaivr_events_total"))
	}
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// With an admin token set, /healthz and /metrics (app names, counts) need it;
// /readyz stays open for load balancers and says only ready or not. Without a
// token, they are open. ServeMetrics serves /metrics alone, without the token.
func TestMonitoringNeedsToken(t *testing.T) {
	t.Parallel()
	locked := start(t, "../../scripts", t.TempDir(), server.Options{AdminToken: "tok"})
	open := start(t, "../../scripts", t.TempDir(), server.Options{})
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go locked.srv.ServeMetrics(mln) // stopped by locked's Shutdown
	private := "http://" + mln.Addr().String()
	for _, tt := range []struct {
		url, token string
		code       int
		says       string
	}{
		{locked.url + "/healthz", "", 401, "admin token"},
		{locked.url + "/healthz", "nope", 401, "admin token"},
		{locked.url + "/healthz", "tok", 200, `"apps":["restaurant","simple_ivr"]`},
		{locked.url + "/metrics", "", 401, "admin token"},
		{locked.url + "/metrics", "tok", 200, "luaivr_connections "},
		{locked.url + "/readyz", "", 200, `{"status":"ready"}`},
		{open.url + "/healthz", "", 200, `"apps":["restaurant","simple_ivr"]`},
		{open.url + "/metrics", "", 200, "luaivr_connections "},
		{private + "/metrics", "", 200, "luaivr_connections "},
		{private + "/healthz", "", 404, "GET /metrics only"},
		{private + "/webhooks", "", 404, "GET /metrics only"},
	} {
		code, body := get(t, tt.url, tt.token)
		if code != tt.code || !strings.Contains(body, tt.says) {
			t.Errorf("GET %s with token %q: %d %.200s; want %d with %q", tt.url, tt.token, code, body, tt.code, tt.says)
		}
		if code == 401 && strings.Contains(body, "restaurant") {
			t.Errorf("GET %s: a refusal leaks what is served: %s", tt.url, body)
		}
	}
}

// panicky is a store whose session listing panics (a bug of ours, say), and
// whose size does too.
type panicky struct{ *badgerstore.Store }

func (panicky) Sessions(context.Context, func(store.Session) bool) error {
	panic("listing sessions broke")
}
func (panicky) Size() (int64, int64) { panic("sizing broke") }

// A panic in an admin endpoint, or while gathering metrics, is logged and
// answered 500 for that request, with an id that finds the log line; the
// server goes on answering webhooks and the rest.
func TestAdminPanicIsOneRequest(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	r := start(t, "../../scripts", t.TempDir(), server.Options{AdminToken: "tok", Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		func(o *engine.Options) { o.Store = panicky{o.Store.(*badgerstore.Store)} })
	for _, path := range []string{"/admin/sessions", "/metrics"} {
		code, body := get(t, r.url+path, "tok")
		id := regexp.MustCompile(`logged as request (\d+)`).FindStringSubmatch(body)
		if code != 500 || id == nil {
			t.Fatalf("GET %s: %d %s; want 500 naming the log line", path, code, body)
		}
		if !regexp.MustCompile(`panic while answering.*path=` + path + ` request=` + id[1] + ` `).MatchString(logs.String()) {
			t.Fatalf("no log line for request %s:\n%s", id[1], logs.String())
		}
		if code, body := r.post(t, "/webhooks/restaurant", vca("after-"+path, "e1", "1")); code != 200 || clientActionID(t, body) != "reservations" {
			t.Fatalf("webhook after the panic: %d %s", code, body)
		}
		if code, _ := get(t, r.url+"/healthz", "tok"); code != 200 {
			t.Fatalf("healthz after the panic: %d", code)
		}
	}
}

type syncBuffer = logtest.Buffer
