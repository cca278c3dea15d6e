package flowtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/luaivr/luaivr/stdlib/luaconv"
	lua "github.com/yuin/gopher-lua"
)

// web is a test's stand-in for the network: the answers t:stub declared and
// the requests the app made. It is the RoundTripper under the real http and
// vcc modules, so a stubbed answer goes through their allow-list, timeouts and
// decoding as a real one would. The engine runs scripts in its own goroutines,
// hence the lock.
type web struct {
	mu       sync.Mutex
	stubs    []*stub
	requests []seenRequest
	missing  []string // requests no stub answered, for the test's output
}

// stub is one t:stub: a method and URL, and the answer.
type stub struct {
	decl   string // as the test wrote it, "GET https://crm.example.com/callers/*"
	method string
	url    *url.URL // the URL without a trailing "*"
	prefix string   // for a URL ending with "*": what a request's URL starts with
	status int
	header http.Header
	body   []byte
	err    string // a transport failure instead of an answer
}

// seenRequest is one request the app made, as t:requests() returns it.
type seenRequest struct {
	method, url string
	header      http.Header
	body        []byte
}

// target is how stubs and requests are compared: scheme://host/path, the host
// in lower case and the path decoded.
func target(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + u.Path
}

// RoundTrip answers a request with its stub, or fails it with a message that
// says which stub is missing.
func (w *web) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	w.mu.Lock()
	w.requests = append(w.requests, seenRequest{method: req.Method, url: req.URL.String(), header: req.Header.Clone(), body: body})
	s := w.match(req)
	want := req.Method + " " + target(req.URL)
	if s == nil {
		w.missing = append(w.missing, fmt.Sprintf("no stub for %s: the app got an error value", want))
	}
	w.mu.Unlock()
	if s == nil {
		return nil, fmt.Errorf("flow test: no stub for %s; add t:stub(%q, {…})", want, want)
	}
	if s.err != "" {
		return nil, fmt.Errorf("%s", s.err)
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", s.status, http.StatusText(s.status)), StatusCode: s.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: s.header.Clone(), Body: io.NopCloser(bytes.NewReader(s.body)),
		ContentLength: int64(len(s.body)), Request: req,
	}, nil
}

// match finds the stub for a request: an exact URL before a "*" one, the
// longest "*" prefix among those, and the latest declared among equals.
func (w *web) match(req *http.Request) *stub {
	got := target(req.URL)
	full := got
	if req.URL.RawQuery != "" {
		full += "?" + req.URL.RawQuery
	}
	var best *stub
	for _, s := range w.stubs {
		if !strings.EqualFold(s.method, req.Method) {
			continue
		}
		switch {
		case s.prefix == "":
			if got == target(s.url) && (s.url.RawQuery == "" || sameQuery(s.url.Query(), req.URL.Query())) {
				best = s
			}
		case strings.HasPrefix(full, s.prefix):
			if best == nil || best.prefix != "" && len(s.prefix) >= len(best.prefix) {
				best = s
			}
		}
	}
	return best
}

func sameQuery(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, vs := range a {
		if strings.Join(vs, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

// add declares a stub; one with the same method and URL replaces it.
func (w *web) add(s *stub) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, old := range w.stubs {
		if old.method == s.method && old.url.String() == s.url.String() && old.prefix == s.prefix {
			w.stubs[i] = s
			return
		}
	}
	w.stubs = append(w.stubs, s)
}

// notes are what the test's output shows about the requests.
func (w *web) notes() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.missing...)
}

// hosts are the hosts of the stubs, as --http-allow entries.
func (w *web) hosts() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, s := range w.stubs {
		out = append(out, strings.ToLower(s.url.Host))
	}
	return out
}

// parseStub reads t:stub's arguments: "METHOD URL" and the answer
// { status =, json =, body =, headers =, error = }.
func parseStub(L *lua.LState, decl string, answer lua.LValue) *stub {
	method, rawURL, ok := strings.Cut(strings.TrimSpace(decl), " ")
	rawURL = strings.TrimSpace(rawURL)
	if !ok || method == "" || rawURL == "" {
		L.RaiseError("t:stub: %q: write the method and the URL, as in t:stub(\"GET https://crm.example.com/callers/+6591178965\", { json = { name = \"Ann\" } })", decl)
	}
	s := &stub{decl: decl, method: strings.ToUpper(method), status: http.StatusOK, header: http.Header{}}
	wild := strings.HasSuffix(rawURL, "*")
	u, err := url.Parse(strings.TrimSuffix(rawURL, "*"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		L.RaiseError("t:stub: %q is not an http:// or https:// URL with a host", rawURL)
	}
	s.url = u
	if wild {
		s.prefix = target(u)
		if u.RawQuery != "" || u.ForceQuery {
			s.prefix += "?" + u.RawQuery
		}
	}
	switch a := answer.(type) {
	case *lua.LNilType:
	case *lua.LTable:
		readAnswer(L, s, a)
	default:
		L.RaiseError("t:stub: the answer is a table { status = 200, json = {…} | body = \"…\", headers = {…} } or { error = \"…\" }, got a %s", answer.Type())
	}
	return s
}

func readAnswer(L *lua.LState, s *stub, a *lua.LTable) {
	var hasJSON, hasBody bool
	a.ForEach(func(k, v lua.LValue) {
		switch name := lua.LVAsString(k); name {
		case "status":
			n, ok := v.(lua.LNumber)
			if !ok || n < 100 || n > 999 || n != lua.LNumber(int(n)) {
				L.RaiseError("t:stub: status must be an HTTP status code such as 200 or 404, got %s", v)
			}
			s.status = int(n)
		case "json":
			g, err := luaconv.FromLua(v, "json")
			if err != nil {
				L.RaiseError("t:stub: %v", err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(g); err != nil {
				L.RaiseError("t:stub: json: %v", err)
			}
			s.body, hasJSON = bytes.TrimRight(buf.Bytes(), "\n"), true
		case "body":
			b, ok := v.(lua.LString)
			if !ok {
				L.RaiseError("t:stub: body must be a string, got a %s (use json = … for a table)", v.Type())
			}
			s.body, hasBody = []byte(b), true
		case "headers":
			h, ok := v.(*lua.LTable)
			if !ok {
				L.RaiseError("t:stub: headers must be a table { [\"Name\"] = \"value\" }, got a %s", v.Type())
			}
			h.ForEach(func(k, v lua.LValue) { s.header.Set(lua.LVAsString(k), lua.LVAsString(v)) })
		case "error":
			s.err = lua.LVAsString(v)
		default:
			L.RaiseError("t:stub: unknown field %q in the answer; fields are status, json, body, headers and error", name)
		}
	})
	if hasJSON && hasBody {
		L.RaiseError("t:stub: give json or body, not both")
	}
	if hasJSON && s.header.Get("Content-Type") == "" {
		s.header.Set("Content-Type", "application/json")
	}
}

// requestsTable is t:requests(): { { method =, url =, headers =, body =,
// json = (when the body is JSON), form = (when it is form-encoded) }, … }.
func (w *web) requestsTable(L *lua.LState) *lua.LTable {
	w.mu.Lock()
	seen := append([]seenRequest(nil), w.requests...)
	w.mu.Unlock()
	list := L.CreateTable(len(seen), 0)
	for _, r := range seen {
		t := L.CreateTable(0, 6)
		t.RawSetString("method", lua.LString(r.method))
		t.RawSetString("url", lua.LString(r.url))
		t.RawSetString("body", lua.LString(r.body))
		headers := L.CreateTable(0, len(r.header))
		for k, vs := range r.header {
			headers.RawSetString(strings.ToLower(k), lua.LString(strings.Join(vs, ", ")))
		}
		t.RawSetString("headers", headers)
		mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
		switch {
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			var v any
			if json.Unmarshal(r.body, &v) == nil {
				t.RawSetString("json", luaconv.ToLua(L, v))
			}
		case mt == "application/x-www-form-urlencoded":
			if form, err := url.ParseQuery(string(r.body)); err == nil {
				t.RawSetString("form", formTable(L, form))
			}
		}
		list.Append(t)
	}
	return list
}

// formTable is a decoded form: a name's value, or the list of them when the
// name is repeated.
func formTable(L *lua.LState, form url.Values) *lua.LTable {
	t := L.CreateTable(0, len(form))
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		vs := form[k]
		if len(vs) == 1 {
			t.RawSetString(k, lua.LString(vs[0]))
			continue
		}
		l := L.CreateTable(len(vs), 0)
		for _, v := range vs {
			l.Append(lua.LString(v))
		}
		t.RawSetString(k, l)
	}
	return t
}
