package vcc_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/sandbox"
	"github.com/luaivr/luaivr/stdlib/inputs"
	"github.com/luaivr/luaivr/stdlib/luatest"
	"github.com/luaivr/luaivr/stdlib/vcc"
	lua "github.com/yuin/gopher-lua"
)

// externalIVR is a fake of 8x8's externalIvrAction.php on loopback. It records
// what it was sent and answers with status and body.
type externalIVR struct {
	*httptest.Server
	status int
	body   string
	hang   bool // answer only when the request is cancelled

	mu       sync.Mutex
	requests []received
}

type received struct {
	method, contentType, body string
	form                      url.Values
	cancelled                 bool
}

func fake(t *testing.T, status int, body string, tls bool) *externalIVR {
	t.Helper()
	f := &externalIVR{status: status, body: body}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		got := received{method: r.Method, contentType: r.Header.Get("Content-Type"), body: string(raw)}
		got.form, _ = url.ParseQuery(string(raw))
		if f.hang {
			select {
			case <-r.Context().Done():
				got.cancelled = true
			case <-time.After(10 * time.Second):
			}
		}
		f.mu.Lock()
		f.requests = append(f.requests, got)
		f.mu.Unlock()
		if f.status/100 == 3 {
			w.Header().Set("Location", "http://example.com/")
		}
		w.WriteHeader(f.status)
		io.WriteString(w, f.body)
	})
	if tls {
		f.Server = httptest.NewTLSServer(handler)
	} else {
		f.Server = httptest.NewServer(handler)
	}
	t.Cleanup(f.Close)
	return f
}

func (f *externalIVR) received() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.requests...)
}

// options points the module at f over loopback http.
func (f *externalIVR) options() vcc.Options {
	return vcc.Options{URL: f.URL + "/SC/externalIvrAction.php", Tenant: "klvm2", Token: "92bd5cbf9ab120b3a47bdef9284b323d", AllowHTTP: true}
}

func lib(opts vcc.Options) sandbox.Lib { return sandbox.Lib{Name: "vcc", Open: vcc.Open(opts)} }

// sipID is the sip_id of the External IVR document's sample request.
const sipID = "MDc5ZGI5ZDgyYjY2NGRiNjNjMjQ3ZjkyMGQyMzljMzY"

func TestForward(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src  string
		extIvrData string // what the endpoint must receive; "" for absent
		rawData    string // how it must look form-encoded, when it matters
	}{
		{
			name:       "map data in sorted order",
			src:        `eq(vcc.forward { queue = "102", sip_id = SIP, data = { ["Last Name"] = "Smith", ["First Name"] = "John", ["Account ID"] = 12345678 } }, true)`,
			extIvrData: "[Account ID|12345678][First Name|John][Last Name|Smith]",
			rawData:    "extIvrData=%5BAccount+ID%7C12345678%5D%5BFirst+Name%7CJohn%5D%5BLast+Name%7CSmith%5D",
		},
		{
			name:       "pairs keep their order",
			src:        `eq(vcc.forward { queue = "102", sip_id = SIP, data = { { "Last Name", "Smith" }, { "First Name", "John" } } }, true)`,
			extIvrData: "[Last Name|Smith][First Name|John]",
		},
		{
			name:       "characters that need encoding",
			src:        `eq(vcc.forward { queue = "102", sip_id = SIP, data = { Note = "50% & more = café?" } }, true)`,
			extIvrData: "[Note|50% & more = café?]",
			rawData:    "extIvrData=%5BNote%7C50%25+%26+more+%3D+caf%C3%A9%3F%5D",
		},
		{
			name:       "a vcc.data string",
			src:        `eq(vcc.forward { queue = "102", sip_id = SIP, data = vcc.data { VIP = true, Tries = 2.5 } }, true)`,
			extIvrData: "[Tries|2.5][VIP|true]",
		},
		{
			name: "no data",
			src:  `eq(vcc.forward { queue = 102, sip_id = SIP }, true)`,
		},
		{
			name: "empty data is left out",
			src:  `eq(vcc.forward { queue = "102", sip_id = SIP, data = {} }, true)`,
		},
		{
			name: "handoff returns a hangup",
			src:  `eq(vcc.handoff { queue = "102", sip_id = SIP }, { action = "hangup" })`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := fake(t, http.StatusOK, "OK", false)
			luatest.Run(t, `SIP = "`+sipID+`" `+tt.src, lib(f.options()))
			reqs := f.received()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != http.MethodPost || r.contentType != "application/x-www-form-urlencoded" {
				t.Errorf("%s with %q, want a form POST", r.method, r.contentType)
			}
			want := url.Values{"tenant": {"klvm2"}, "token": {"92bd5cbf9ab120b3a47bdef9284b323d"}, "sip_id": {sipID},
				"action": {"wForwardACD"}, "param": {"102"}}
			if tt.extIvrData != "" {
				want.Set("extIvrData", tt.extIvrData)
			}
			if r.form.Encode() != want.Encode() {
				t.Errorf("form\n got %s\nwant %s", r.form.Encode(), want.Encode())
			}
			if !strings.Contains(r.body, tt.rawData) {
				t.Errorf("body %s does not contain %s", r.body, tt.rawData)
			}
		})
	}
}

func TestForwardOverHTTPS(t *testing.T) {
	t.Parallel()
	f := fake(t, http.StatusOK, "", true)
	opts := f.options()
	opts.AllowHTTP, opts.HTTP = false, f.Client()
	luatest.Run(t, `eq(vcc.forward { queue = "102", sip_id = "abc" }, true)`, lib(opts))
	if n := len(f.received()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

// TestForwardFails: every failure is nil and a message, and a request the
// module refuses never leaves.
func TestForwardFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		opts      func(f *externalIVR) vcc.Options
		status    int
		requests  int
	}{
		{name: "not configured", src: `
			local ok, err = vcc.forward { queue = "102", sip_id = "abc" }
			eq(ok, nil) eq(err, "vcc is not configured: start luaivr with --vcc-url, --vcc-tenant and --vcc-token (LUAIVR_VCC_*)")
			local bye, err2 = vcc.handoff { queue = "102", sip_id = "abc" }
			eq(bye, nil) eq(err2, err)`,
			opts: func(*externalIVR) vcc.Options { return vcc.Options{} }},
		{name: "no token", src: `local ok, err = vcc.forward { queue = "102", sip_id = "abc" } eq(ok, nil) assert(err:find("vcc is not configured", 1, true), err)`,
			opts: func(f *externalIVR) vcc.Options { o := f.options(); o.Token = ""; return o }},
		{name: "http refused", src: `
			local ok, err = vcc.forward { queue = "102", sip_id = "abc" }
			eq(ok, nil) assert(err:find("vcc.forward: refusing http://127.0.0.1:", 1, true) and err:find("accepts only HTTPS", 1, true), err)`,
			opts: func(f *externalIVR) vcc.Options { o := f.options(); o.AllowHTTP = false; return o }},
		{name: "http refused off loopback even when allowed", src: `
			local ok, err = vcc.handoff { queue = "102", sip_id = "abc" }
			eq(err, "vcc.handoff: refusing http://vcc-na4.8x8.com/SC/externalIvrAction.php: the External IVR API accepts only HTTPS")`,
			opts: func(f *externalIVR) vcc.Options {
				o := f.options()
				o.URL = "http://vcc-na4.8x8.com/SC/externalIvrAction.php"
				return o
			}},
		{name: "redirect to http refused", src: `
			local ok, err = vcc.forward { queue = "102", sip_id = "abc" }
			eq(ok, nil) assert(err:find("refusing a redirect: refusing http://example.com/", 1, true), err)`,
			status: http.StatusTemporaryRedirect, requests: 1,
			opts: func(f *externalIVR) vcc.Options { return f.options() }},
		{name: "server error", src: `
			local ok, err = vcc.forward { queue = "102", sip_id = "abc" }
			eq(ok, nil) eq(err, 'vcc.forward: the contact center answered 500 Internal Server Error: "invalid token"')`,
			status: http.StatusInternalServerError, requests: 1,
			opts: func(f *externalIVR) vcc.Options { return f.options() }},
		{name: "handoff server error", src: `
			local bye, err = vcc.handoff { queue = "102", sip_id = "abc" }
			eq(bye, nil) eq(err, 'vcc.handoff: the contact center answered 500 Internal Server Error: "invalid token"')`,
			status: http.StatusInternalServerError, requests: 1,
			opts: func(f *externalIVR) vcc.Options { return f.options() }},
		{name: "missing queue", src: `eq({ vcc.forward { sip_id = "abc" } }, { nil, "vcc.forward: queue is missing: the id of a queue in the Configuration Manager" })`,
			opts: func(f *externalIVR) vcc.Options { return f.options() }},
		{name: "queue of the wrong type", src: `eq(select(2, vcc.forward { queue = {}, sip_id = "abc" }), "vcc.forward: queue: a queue id (string or number) expected, got table")`,
			opts: func(f *externalIVR) vcc.Options { return f.options() }},
		{name: "missing sip_id", src: `eq(select(2, vcc.forward { queue = "102", sip_id = "" }), "vcc.forward: sip_id is missing: the SIP Call-ID of the call the contact center forwarded")`,
			opts: func(f *externalIVR) vcc.Options { return f.options() }},
		{name: "data over 500 characters", src: `
			local ok, err = vcc.forward { queue = "102", sip_id = "abc", data = { Note = string.rep("x", 494) } }
			eq(ok, nil) eq(err, "vcc.forward: data is 501 characters as extIvrData, over the External IVR API's limit of 500")`,
			opts: func(f *externalIVR) vcc.Options { return vcc.Options{} }},
		{name: "huge data string", src: `
			eq(select(2, vcc.forward { queue = "102", sip_id = "abc", data = string.rep("[a|b]", 1000) }),
			   "vcc.forward: data is over 500 characters as extIvrData, the External IVR API's limit")`,
			opts: func(f *externalIVR) vcc.Options { return f.options() }},
		{name: "sip_id over 500 characters", src: `
			eq(select(2, vcc.forward { queue = "102", sip_id = string.rep("é", 501) }),
			   "vcc.forward: sip_id is 501 characters, over the External IVR API's limit of 500")`,
			opts: func(f *externalIVR) vcc.Options { return f.options() }},
		{name: "queue over 500 characters", src: `
			eq(select(2, vcc.forward { queue = string.rep("1", 1000), sip_id = "abc" }),
			   "vcc.forward: queue is 1000 characters, over the External IVR API's limit of 500")`,
			opts: func(f *externalIVR) vcc.Options { return f.options() }},
		{name: "data string over 500 characters", src: `
			eq(select(2, vcc.forward { queue = "102", sip_id = "abc", data = "[Note|" .. string.rep("x", 494) .. "]" }),
			   "vcc.forward: data is 501 characters, over the External IVR API's limit of 500")`,
			opts: func(f *externalIVR) vcc.Options { return f.options() }},
		{name: "bad character in data", src: `
			eq(select(2, vcc.forward { queue = "102", sip_id = "abc", data = { Name = "John [Jr]" } }),
			   [[vcc.forward: data["Name"]: "John [Jr]" contains '[', which extIvrData cannot carry ([name|value] pairs)]])`,
			opts: func(f *externalIVR) vcc.Options { return f.options() }},
		{name: "data string not pairs", src: `
			eq(select(2, vcc.forward { queue = "102", sip_id = "abc", data = "First Name=John" }),
			   [[vcc.forward: data "First Name=John" is not [name|value] pairs (make it with vcc.data)]])`,
			opts: func(f *externalIVR) vcc.Options { return f.options() }},
		{name: "data of the wrong type", src: `
			eq(select(2, vcc.forward { queue = "102", sip_id = "abc", data = 5 }), "vcc.forward: data: a table of fields or a vcc.data string expected, got number")`,
			opts: func(f *externalIVR) vcc.Options { return f.options() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			f := fake(t, status, `invalid token`, false)
			luatest.Run(t, tt.src, lib(tt.opts(f)))
			if n := len(f.received()); n != tt.requests {
				t.Errorf("%d requests reached the endpoint, want %d", n, tt.requests)
			}
		})
	}
}

func TestForwardTimeout(t *testing.T) {
	t.Parallel()
	f := fake(t, http.StatusOK, "", false)
	f.hang = true
	opts := f.options()
	opts.HTTP = &http.Client{Timeout: 100 * time.Millisecond}
	luatest.Run(t, `
		local ok, err = vcc.forward { queue = "102", sip_id = "abc" }
		eq(ok, nil)
		assert(err:find("^vcc.forward: no answer from 127.0.0.1:%d+ in time$"), err)`, lib(opts))
}

// TestForwardHonorsEventDeadline: the request ends before the Lua state's
// context does, not 3 seconds later, and the script learns it in time.
func TestForwardHonorsEventDeadline(t *testing.T) {
	t.Parallel()
	f := fake(t, http.StatusOK, "", false)
	f.hang = true
	L := luatest.State(t, lib(f.options()))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	L.SetContext(ctx)
	start := time.Now()
	err := L.DoString(`
		local ok, err = vcc.forward { queue = "102", sip_id = "abc" }
		eq(ok, nil)
		assert(err:find("^vcc.forward: no answer from 127.0.0.1:%d+ within 4%d%dms, what was left of the event's deadline$"), err)`)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("vcc.forward returned after %s; the event deadline was 500ms", took)
	}
	f.Close() // waits for the handler
	if reqs := f.received(); len(reqs) != 1 || !reqs[0].cancelled {
		t.Fatalf("the endpoint saw %+v, want one cancelled request", reqs)
	}
}

// TestForwardNoTimeLeft: past the deadline, no request is made. The function
// is called from Go, since the VM itself stops a script at its deadline.
func TestForwardNoTimeLeft(t *testing.T) {
	t.Parallel()
	f := fake(t, http.StatusOK, "", false)
	L := luatest.State(t, lib(f.options()))
	forward := L.GetGlobal("vcc").(*lua.LTable).RawGetString("forward").(*lua.LFunction)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Hour))
	defer cancel()
	L.SetContext(ctx)
	req := L.NewTable()
	req.RawSetString("queue", lua.LString("102"))
	req.RawSetString("sip_id", lua.LString("abc"))
	L.Push(req)
	if n := forward.GFunction(L); n != 2 || L.Get(-2) != lua.LNil {
		t.Fatalf("vcc.forward returned %d values, want nil and a message", n)
	}
	if got, want := L.Get(-1).String(), "vcc.forward: no time left in this event's deadline"; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
	if n := len(f.received()); n != 0 {
		t.Fatalf("%d requests, want none", n)
	}
}

// roundTripper answers every request itself.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestForwardDeadline: a request may take at most 3 s, or less when the
// event's deadline comes first, keeping a little of it for the script.
func TestForwardDeadline(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		event time.Duration // 0: no deadline
		want  time.Duration
	}{
		{"capped at 3s", 0, vcc.Timeout},
		{"a longer event deadline", time.Minute, vcc.Timeout},
		{"a shorter event deadline keeps a tenth", time.Second, 900 * time.Millisecond},
		{"a long event deadline keeps 100ms", 3050 * time.Millisecond, 2950 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var left time.Duration
			client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
				deadline, ok := r.Context().Deadline()
				if !ok {
					t.Error("the request has no deadline")
				}
				left = time.Until(deadline)
				return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
			})}
			L := luatest.State(t, lib(vcc.Options{URL: "https://vcc-na4.8x8.com/SC/externalIvrAction.php", Tenant: "t", Token: "x", HTTP: client}))
			if tt.event > 0 {
				ctx, cancel := context.WithTimeout(context.Background(), tt.event)
				defer cancel()
				L.SetContext(ctx)
			}
			if err := L.DoString(`assert(vcc.forward { queue = "102", sip_id = "abc" })`); err != nil {
				t.Fatal(err)
			}
			if left > tt.want || left < tt.want-200*time.Millisecond {
				t.Fatalf("the request had %s left, want just under %s", left, tt.want)
			}
		})
	}
}

func TestData(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"map in sorted order": `eq(vcc.data { ["Last Name"] = "Smith", ["First Name"] = "John", ["Account ID"] = "12345678" },
		                           "[Account ID|12345678][First Name|John][Last Name|Smith]")`,
		"pairs in order":        `eq(vcc.data { { "Last Name", "Smith" }, { "First Name", "John" } }, "[Last Name|Smith][First Name|John]")`,
		"values tostring'd":     `eq(vcc.data { n = 12345678, f = 1.5, yes = true, no = false }, "[f|1.5][n|12345678][no|false][yes|true]")`,
		"number names in pairs": `eq(vcc.data { { 1, "one" } }, "[1|one]")`,
		"empty values":          `eq(vcc.data { Note = "" }, "[Note|]")`,
		"empty":                 `eq(vcc.data {}, "")`,
		"exactly 500": `
			local s = vcc.data { Note = string.rep("x", 493) }
			eq(#s, 500)`,
		"500 characters, not bytes": `
			local s = vcc.data { Note = string.rep("é", 493) }
			eq(#s, 993)`,
		"over 500": `fails(function() vcc.data { Note = string.rep("x", 494) } end, "bad argument #1 to vcc.data (data is 501 characters as extIvrData, over the External IVR API's limit of 500)")`,
		// Refused before it is built: a huge value, a huge table.
		"far over 500": `fails(function() vcc.data { Note = string.rep("x", 10000) } end,
			"bad argument #1 to vcc.data (data is over 500 characters as extIvrData, the External IVR API's limit)")`,
		"many fields": `local t = {} for i = 1, 1000 do t["f" .. i] = "" end
			fails(function() vcc.data(t) end, "data is over 500 characters as extIvrData")`,
		"many pairs": `local t = {} for i = 1, 1000 do t[i] = { "f", "" } end
			fails(function() vcc.data(t) end, "data is over 500 characters as extIvrData")`,
		"bar in a value":     `fails(function() vcc.data { Name = "A|B" } end, [[bad argument #1 to vcc.data (data["Name"]: "A|B" contains '|', which extIvrData cannot carry ([name|value] pairs))]])`,
		"bracket in a name":  `fails(function() vcc.data { ["[x]"] = "1" } end, [[data["[x]"] (name): "[x]" contains '[']])`,
		"bracket in a pair":  `fails(function() vcc.data { { "Name", "x]" } } end, [[data[1]: "x]" contains ']']])`,
		"empty name":         `fails(function() vcc.data { { "", "x" } } end, "data[1]: a name cannot be empty")`,
		"table value":        `fails(function() vcc.data { Name = {} } end, [[data["Name"]: a string, number or boolean expected, got table]])`,
		"not a pair":         `fails(function() vcc.data { "Name" } end, "data[1]: a pair { name, value } expected")`,
		"pair missing value": `fails(function() vcc.data { { "Name" } } end, "data[1]: a pair { name, value } expected")`,
		"mixed":              `fails(function() vcc.data { { "a", "b" }, c = "d" } end, "data: either name = value fields or a list of { name, value } pairs, not both")`,
		"number keys":        `fails(function() vcc.data { [2] = "x" } end, "data: names are strings and a list of pairs is numbered from 1, got the key 2")`,
		"not a table":        `fails(function() vcc.data("[a|b]") end, "bad argument #1 to vcc.data (table of fields expected, got string)")`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			luatest.Run(t, src, lib(vcc.Options{}))
		})
	}
}

// TestRequestMistakes: a table that is not a request is raised, like any
// mistake in the script, even when vcc is not configured.
func TestRequestMistakes(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		`vcc.forward("102")`: `bad argument #1 to vcc.forward (table { queue = …, sip_id = …, data = … } expected, got string)`,
		`vcc.handoff()`:      `bad argument #1 to vcc.handoff (table { queue = …, sip_id = …, data = … } expected, got nil)`,
		`vcc.forward { queu = "102", sip_id = "a" }`: `bad argument #1 to vcc.forward (unknown field "queu"; fields are queue, sip_id and data)`,
		`vcc.handoff { "102" }`:                      `bad argument #1 to vcc.handoff (unknown field "1"; fields are queue, sip_id and data)`,
		`vcc.handoff { [string.rep("q", 1e6)] = 1 }`: `bad argument #1 to vcc.handoff (unknown field "` + strings.Repeat("q", 40) + `…"; fields`,
	}
	for src, want := range tests {
		t.Run(src, func(t *testing.T) {
			t.Parallel()
			luatest.Run(t, `fails(function() `+src+` end, [==[`+want+`]==])`, lib(vcc.Options{}))
		})
	}
}

func TestRequire(t *testing.T) {
	t.Parallel()
	luatest.Run(t, `eq(require("vcc"), vcc)`, lib(vcc.Options{}))
}

// A hand-off is recorded without the operator's tenant and token, and a
// replay answers it from the record with the contact center gone; another
// hand-off, not recorded, is raised.
func TestRecordAndReplay(t *testing.T) {
	f := fake(t, 200, "OK", false)
	L := luatest.State(t, sandbox.Lib{Name: "vcc", Open: vcc.Open(f.options())})
	ctx, tape := inputs.Record(context.Background())
	L.SetContext(ctx)
	if err := L.DoString(`eq(vcc.forward { queue = "102", sip_id = "abc@sip", data = { Reason = "billing" } }, true)`); err != nil {
		t.Fatal(err)
	}
	in := tape.Inputs()
	if in == nil || len(in.HTTP) != 1 {
		t.Fatalf("recorded %+v", in)
	}
	ex := in.HTTP[0]
	if ex.Module != "vcc" || ex.Method != "POST" || ex.Err != "" ||
		ex.Body != "action=wForwardACD&extIvrData=%5BReason%7Cbilling%5D&param=102&sip_id=abc%40sip" {
		t.Errorf("recorded %+v", ex)
	}
	if strings.Contains(ex.Body+ex.URL, "92bd5cbf") || strings.Contains(ex.Body, "klvm2") {
		t.Errorf("the record holds the operator's tenant or token: %+v", ex)
	}

	f.Close()
	L = luatest.State(t, sandbox.Lib{Name: "vcc", Open: vcc.Open(vcc.Options{})}) // replay needs no --vcc-*
	L.SetContext(inputs.Replay(context.Background(), in))
	if err := L.DoString(`
		eq(vcc.forward { queue = "102", sip_id = "abc@sip", data = { Reason = "billing" } }, true)
		fails(function() vcc.handoff { queue = "103", sip_id = "abc@sip" } end,
			'vcc.handoff to queue "103" was not made when this call was recorded: replay serves only recorded responses')`); err != nil {
		t.Fatal(err)
	}
	if n := len(f.received()); n != 1 {
		t.Errorf("the contact center got %d requests, want the recorded one only", n)
	}
}
