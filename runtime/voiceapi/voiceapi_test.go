package voiceapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/callflow"
)

const (
	testKey = "test-key-123"
	testSub = "8x8_Testing"
)

// fixture reads one of 8x8's documented samples.
func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "webhook", "testdata", "8x8", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// openapiExample is the example answer of the Send Callflow operation for an HTTP
// status in 8x8's OpenAPI description (the 500 one has no fixture of its own).
func openapiExample(t *testing.T, status string) string {
	t.Helper()
	var doc struct {
		Paths map[string]struct {
			Post struct {
				Responses map[string]struct {
					Content map[string]struct {
						Examples map[string]struct {
							Value json.RawMessage `json:"value"`
						} `json:"examples"`
					} `json:"content"`
				} `json:"responses"`
			} `json:"post"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(fixture(t, "voice-v1-openapi.json")), &doc); err != nil {
		t.Fatal(err)
	}
	v := doc.Paths["/api/v1/subaccounts/{subAccountId}/callflows"].Post.Responses[status].Content["application/json"].Examples["response"].Value
	if v == nil {
		t.Fatalf("no %s example in the OpenAPI description", status)
	}
	return string(v)
}

// seedCallflow is the Simple IVR guide's request: makeCall then sayAndCapture.
func seedCallflow(t *testing.T) []callflow.Action {
	t.Helper()
	r, err := callflow.Parse([]byte(fixture(t, "callflows_request_simple_ivr__seed.json")))
	if err != nil {
		t.Fatal(err)
	}
	return r.Callflow
}

// reply is one canned response of the fake.
type reply struct {
	status int
	body   string
}

// fake8x8 serves the answers in turn (the last one again once they run out), after
// checking that each request is a well-formed Send of want. It counts requests.
func fake8x8(t *testing.T, want []callflow.Action, answers ...reply) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/subaccounts/"+testSub+"/callflows" {
			t.Errorf("request %s %s, want POST /api/v1/subaccounts/%s/callflows", r.Method, r.URL.Path, testSub)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
			t.Errorf("Authorization = %q", got)
		}
		if ct, acc := r.Header.Get("Content-Type"), r.Header.Get("Accept"); ct != "application/json" || acc != "application/json" {
			t.Errorf("Content-Type = %q, Accept = %q; want application/json", ct, acc)
		}
		body, _ := io.ReadAll(r.Body)
		got, err := callflow.Parse(body)
		if err != nil || !reflect.DeepEqual(got.Callflow, want) || strings.Contains(string(body), "clientActionId") {
			t.Errorf("body = %s (%v), want the callflow sent", body, err)
		}
		a := answers[min(i, len(answers)-1)]
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func newClient(t *testing.T, base string, opts Options) *Client {
	t.Helper()
	opts.Base, opts.APIKey, opts.SubAccount = base, testKey, testSub
	if opts.Backoff == 0 {
		opts.Backoff = time.Millisecond
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: 5 * time.Second}
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSendCreated(t *testing.T) {
	t.Parallel()
	cf := seedCallflow(t)
	srv, n := fake8x8(t, cf, reply{200, fixture(t, "callflows_response_created__openapi.json")})
	got, err := newClient(t, srv.URL, Options{}).Send(context.Background(), cf)
	if err != nil {
		t.Fatal(err)
	}
	want := Created{
		SessionID:  "03cc8cac-376b-11ef-a28b-0582ff0039d5",
		RequestID:  "03cc3e8b-376b-11ef-a28b-4dd5d900ecb3",
		ValidUntil: "2024-07-01T05:50:23.550Z",
	}
	if got != want || n.Load() != 1 {
		t.Errorf("Send = %+v after %d requests, want %+v after 1", got, n.Load(), want)
	}
}

// notCreated is a NOT_CREATED body as 8x8 writes them.
func notCreated(code int, msg string) string {
	return fmt.Sprintf(`{"sessionStatus":"NOT_CREATED","callFlowRequestId":"req-%d","statusCode":%d,"statusMessage":%q}`, -code, code, msg)
}

func TestSendNotCreated(t *testing.T) {
	t.Parallel()
	type tc struct {
		name       string
		answer     reply
		wantCode   int
		wantReqID  string
		wantHint   string // a word the hint must contain
		wantTries  int32  // 3 when the answer is retried (Retries 2)
		wantMsgHas string
	}
	tests := []tc{
		{"400 fixture", reply{400, fixture(t, "callflows_response_400_not_created__openapi.json")}, -1007, "c6e6dee5-3846-11ef-9e95-b903e2ed7273", "makeCall, say", 1, "should be one of"},
		{"401 fixture", reply{401, fixture(t, "callflows_response_401__openapi.json")}, 401, "fd2fc658-3845-11ef-9e95-b903e2ed7273", "LUAIVR_API_KEY", 1, "token invalid"},
		{"404 fixture", reply{404, fixture(t, "callflows_response_404__openapi.json")}, 404, "9e209996-3845-11ef-9e95-b903e2ed7273", "LUAIVR_SUBACCOUNT", 1, "SubAccount not found"},
		{"422 fixture", reply{422, fixture(t, "callflows_response_422__openapi.json")}, -1013, "767ca1b8-3846-11ef-9e95-b903e2ed7273", "start with makeCall", 1, "First action"},
		// The Simple IVR guide's "Failure" sample, with no HTTP status given: a 200.
		{"200 NOT_CREATED (guide)", reply{200, `{"sessionStatus":"NOT_CREATED","callFlowRequestId":"0564e804-0a7e-11ee-9c83-6df9c048a122","statusCode":-1002,"statusMessage":"Speech profile or language parameter invalid"}`},
			-1002, "0564e804-0a7e-11ee-9c83-6df9c048a122", "/api/v1/subaccounts/" + testSub + "/speech-profiles", 1, "Speech profile"},
		{"500 (OpenAPI example, retried)", reply{500, openapiExample(t, "500")}, 500, "767ca1b8-3846-11ef-9e95-b903e2ed7273", "safe", 3, "Internal server error"},
		{"-9999 (retried)", reply{400, notCreated(-9999, callflow.StatusMessage(-9999))}, -9999, "req-9999", "safe", 3, "unknown error"},
		{"no statusMessage", reply{400, `{"sessionStatus":"NOT_CREATED","statusCode":-1017}`}, -1017, "", "E.164", 1, "Invalid MSISDN"},
		{"undocumented code", reply{400, notCreated(-4242, "Something new")}, -4242, "req-4242", "does not document", 1, "Something new"},
	}
	for code := -1001; code >= -1020; code-- {
		if hints[code] == "" {
			t.Errorf("no hint for %d", code)
		}
		tests = append(tests, tc{fmt.Sprint(code), reply{400, notCreated(code, callflow.StatusMessage(code))},
			code, fmt.Sprintf("req-%d", -code), hints[code][:12], 1, callflow.StatusMessage(code)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cf := seedCallflow(t)
			srv, n := fake8x8(t, cf, tt.answer)
			_, err := newClient(t, srv.URL, Options{}).Send(context.Background(), cf)
			var e *APIError
			if !errors.As(err, &e) {
				t.Fatalf("Send error = %v, want an *APIError", err)
			}
			if e.HTTPStatus != tt.answer.status || e.StatusCode != tt.wantCode || e.RequestID != tt.wantReqID ||
				!strings.Contains(e.StatusMessage, tt.wantMsgHas) || !strings.Contains(e.Hint, tt.wantHint) {
				t.Errorf("APIError = %+v, want HTTP %d, code %d, request %q, message with %q, hint with %q",
					*e, tt.answer.status, tt.wantCode, tt.wantReqID, tt.wantMsgHas, tt.wantHint)
			}
			prefix := fmt.Sprintf("8x8 did not create the call: %d %s", tt.wantCode, e.StatusMessage)
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, e.Hint) ||
				(e.RequestID != "" && !strings.Contains(msg, "(request "+e.RequestID+")")) {
				t.Errorf("Error() = %q", msg)
			}
			if errors.Is(err, ErrOutcomeUnknown) {
				t.Error("a NOT_CREATED answer is certain, yet the error says the outcome is unknown")
			}
			if got := n.Load(); got != tt.wantTries {
				t.Errorf("%d requests, want %d", got, tt.wantTries)
			}
		})
	}
}

func TestSendDocumentedErrorMessage(t *testing.T) {
	t.Parallel()
	e := &APIError{HTTPStatus: 400, StatusCode: -1002, StatusMessage: "Speech profile or language parameter invalid", RequestID: "c6e6", Hint: "Fix it."}
	if got, want := e.Error(), "8x8 did not create the call: -1002 Speech profile or language parameter invalid (request c6e6). Fix it."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestSendInvalidLocally(t *testing.T) {
	t.Parallel()
	say := callflow.Action{Name: callflow.Say, Params: map[string]any{"text": "Hi", "voiceProfile": "en-US-BenjaminRUS"}}
	tests := []struct {
		name     string
		cf       []callflow.Action
		wantCode int
	}{
		{"first action is not makeCall", []callflow.Action{say}, -1013},
		{"empty", nil, -1009},
		{"bad destination", append([]callflow.Action{{Name: callflow.MakeCall, Params: map[string]any{"source": "6561115777", "destination": "12"}}}, say), -1017},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, n := fake8x8(t, tt.cf, reply{200, fixture(t, "callflows_response_created__openapi.json")})
			_, err := newClient(t, srv.URL, Options{}).Send(context.Background(), tt.cf)
			inv, ok := err.(*callflow.Invalid)
			if !ok || inv.Code() != tt.wantCode {
				t.Errorf("Send error = %#v, want a *callflow.Invalid with code %d", err, tt.wantCode)
			}
			if n.Load() != 0 {
				t.Errorf("%d requests, want none", n.Load())
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    Options
		wantErr string // "" means New succeeds
	}{
		{"ok", Options{APIKey: "k", SubAccount: "8x8_Testing"}, ""},
		{"ok with every allowed character", Options{APIKey: "k", SubAccount: "a.b-c_d&e", Base: "http://127.0.0.1:1/"}, ""},
		{"no sub-account", Options{APIKey: "k"}, "LUAIVR_SUBACCOUNT or --subaccount"},
		{"sub-account too short", Options{APIKey: "k", SubAccount: "ab"}, "LUAIVR_SUBACCOUNT or --subaccount"},
		{"sub-account too long", Options{APIKey: "k", SubAccount: strings.Repeat("a", 51)}, "LUAIVR_SUBACCOUNT"},
		{"sub-account with a slash", Options{APIKey: "k", SubAccount: "acme/../x"}, "LUAIVR_SUBACCOUNT"},
		{"sub-account with a space", Options{APIKey: "k", SubAccount: "my account"}, "LUAIVR_SUBACCOUNT"},
		{"no key", Options{SubAccount: "8x8_Testing"}, "LUAIVR_API_KEY or --api-key"},
		{"key with a newline", Options{APIKey: "k\n", SubAccount: "8x8_Testing"}, "LUAIVR_API_KEY"},
		{"base without scheme", Options{APIKey: "k", SubAccount: "8x8_Testing", Base: "voice.8x8.com"}, "base URL"},
		{"base ftp", Options{APIKey: "k", SubAccount: "8x8_Testing", Base: "ftp://voice.8x8.com"}, "base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tt.opts)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("New error = %v, want one mentioning %q", err, tt.wantErr)
			case tt.wantErr != "" && c != nil:
				t.Error("New returned a client with its error")
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	c, err := New(Options{APIKey: "k", SubAccount: "a&b.c"})
	if err != nil {
		t.Fatal(err)
	}
	if c.endpoint != "https://voice.8x8.com/api/v1/subaccounts/a&b.c/callflows" || c.retries != 2 ||
		c.backoff != 500*time.Millisecond || c.http.Timeout != 15*time.Second || c.log == nil {
		t.Errorf("defaults: endpoint %s, retries %d, backoff %v, timeout %v", c.endpoint, c.retries, c.backoff, c.http.Timeout)
	}
}

func TestRetryAfter500ThenCreated(t *testing.T) {
	t.Parallel()
	cf := seedCallflow(t)
	srv, n := fake8x8(t, cf,
		reply{500, openapiExample(t, "500")},
		reply{200, fixture(t, "callflows_response_created__openapi.json")})
	got, err := newClient(t, srv.URL, Options{}).Send(context.Background(), cf)
	if err != nil || got.SessionID != "03cc8cac-376b-11ef-a28b-0582ff0039d5" || n.Load() != 2 {
		t.Errorf("Send = %+v, %v after %d requests; want the session after 2", got, err, n.Load())
	}
}

func TestNoRetryAfterTimeout(t *testing.T) {
	t.Parallel()
	cf := seedCallflow(t)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.Copy(io.Discard, r.Body)
		select { // 8x8 is placing the call, slowly
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, Options{HTTP: &http.Client{Timeout: 100 * time.Millisecond}})
	_, err := c.Send(context.Background(), cf)
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("Send error = %v, want ErrOutcomeUnknown", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("%d requests, want exactly 1: the call may exist after a timeout", got)
	}
}

// closedPort returns the address of a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// countingClient is an HTTP client that counts its dials.
func countingClient(dials *atomic.Int32) *http.Client {
	var d net.Dialer
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func TestRetryConnectionRefused(t *testing.T) {
	t.Parallel()
	var dials atomic.Int32
	c := newClient(t, "http://"+closedPort(t), Options{HTTP: countingClient(&dials), Retries: 2})
	_, err := c.Send(context.Background(), seedCallflow(t))
	var op *net.OpError
	if !errors.As(err, &op) || errors.Is(err, ErrOutcomeUnknown) || !strings.Contains(err.Error(), "not placed") || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("Send error = %v, want a dial error saying the call was not placed", err)
	}
	if got := dials.Load(); got != 3 {
		t.Errorf("%d attempts, want 1+Retries = 3", got)
	}
}

func TestNoRetriesWhenDisabled(t *testing.T) {
	t.Parallel()
	var dials atomic.Int32
	c := newClient(t, "http://"+closedPort(t), Options{HTTP: countingClient(&dials), Retries: -1})
	if _, err := c.Send(context.Background(), seedCallflow(t)); err == nil || dials.Load() != 1 {
		t.Errorf("Send error = %v after %d attempts, want an error after 1", err, dials.Load())
	}
}

func TestCancelStopsBackoff(t *testing.T) {
	t.Parallel()
	var dials atomic.Int32
	c := newClient(t, "http://"+closedPort(t), Options{HTTP: countingClient(&dials), Backoff: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Send(ctx, seedCallflow(t))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send error = %v, want the context's", err)
	}
	if took := time.Since(start); took > 5*time.Second || dials.Load() != 1 {
		t.Errorf("Send returned after %v and %d attempts, want right after the cancel, after 1", took, dials.Load())
	}
}

func TestUnexpectedAnswers(t *testing.T) {
	t.Parallel()
	page := "<html><head><title>502 Bad Gateway</title></head>\n<body>" + strings.Repeat("upstream failed ", 40) + "</body></html>"
	tests := []struct {
		name    string
		answer  reply
		wantMsg string
	}{
		{"non-JSON 502", reply{502, page}, "<html><head><title>502 Bad Gateway</title></head> <body>upstream"},
		{"JSON that is not 8x8's", reply{200, `{"ok":true}`}, `{"ok":true}`},
		{"empty 504", reply{504, ""}, ""},
		{"over 1 MiB", reply{200, `{"sessionStatus":"CREATED","pad":"` + strings.Repeat("x", maxAnswer) + `"}`}, `{"sessionStatus":"CREATED","pad":"xxx`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cf := seedCallflow(t)
			srv, n := fake8x8(t, cf, tt.answer)
			_, err := newClient(t, srv.URL, Options{}).Send(context.Background(), cf)
			var e *APIError
			if !errors.As(err, &e) || !errors.Is(err, ErrOutcomeUnknown) {
				t.Fatalf("Send error = %v, want an *APIError with an unknown outcome", err)
			}
			if e.HTTPStatus != tt.answer.status || e.StatusCode != 0 || len(e.StatusMessage) > 200 ||
				!strings.HasPrefix(e.StatusMessage, tt.wantMsg) || !strings.Contains(e.Hint, srv.URL) {
				t.Errorf("APIError = %+v", *e)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("8x8 gave an unexpected answer (HTTP %d)", tt.answer.status)) {
				t.Errorf("Error() = %q", err)
			}
			if n.Load() != 1 {
				t.Errorf("%d requests, want 1: the call may exist", n.Load())
			}
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Redirect(w, r, "https://voice.example.com"+r.URL.Path, http.StatusMovedPermanently)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{Base: srv.URL, APIKey: testKey, SubAccount: testSub}) // the default HTTP client
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(context.Background(), seedCallflow(t))
	var e *APIError
	if !errors.As(err, &e) || e.HTTPStatus != 301 || !strings.Contains(e.Hint, "https://voice.example.com/") || n.Load() != 1 {
		t.Errorf("Send error = %v after %d requests, want a 301 naming where it points, after 1", err, n.Load())
	}
}
