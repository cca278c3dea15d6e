package httpmod_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/sandbox"
	httpmod "github.com/luaivr/luaivr/stdlib/http"
	"github.com/luaivr/luaivr/stdlib/luatest"
	lua "github.com/yuin/gopher-lua"
)

// businessAPI is a fake CRM on loopback, the kind of system an IVR looks callers up in.
func businessAPI(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.PathValue("id") != "42" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"no such customer"}`)
			return
		}
		fmt.Fprint(w, `{"name":"Ana","tier":"gold","visits":[3,null,5]}`)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		first := func(m map[string][]string) map[string]string {
			out := map[string]string{}
			for k, v := range m {
				out[k] = v[0]
			}
			return out
		}
		w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
		w.Header().Add("X-Seen", "a")
		w.Header().Add("X-Seen", "b")
		json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "query": first(r.URL.Query()), "headers": first(r.Header), "body": string(body),
		})
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "open 9 to 5")
	})
	mux.HandleFunc("/broken-json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"name":`)
	})
	mux.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database unavailable", http.StatusInternalServerError)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("length") {
			w.Header().Set("Content-Length", "2000")
		}
		w.Write([]byte(strings.Repeat("x", 1000)))
		w.(http.Flusher).Flush() // no Content-Length: the limit is found while reading
		w.Write([]byte(strings.Repeat("x", 1000)))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func host(srv *httptest.Server) string { return srv.Listener.Addr().String() }

// run runs src in a state with the http module; api and other globals name
// the servers (other is not allowed).
func run(t *testing.T, ctx context.Context, opts httpmod.Options, globals map[string]string, src string) {
	t.Helper()
	L := luatest.State(t, sandbox.Lib{Name: "http", Open: httpmod.Open(opts)})
	for k, v := range globals {
		L.SetGlobal(k, lua.LString(v))
	}
	if ctx != nil {
		L.SetContext(ctx)
	}
	if err := L.DoString(src); err != nil {
		t.Fatal(err)
	}
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	api := businessAPI(t)
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) }))
	t.Cleanup(other.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	t.Cleanup(func() {
		if n := otherHits.Load(); n != 0 {
			t.Errorf("a host not in the allow-list was called %d times", n)
		}
	})
	opts := httpmod.Options{Allow: []string{host(api), closed}, MaxBody: 1024}
	globals := map[string]string{"api": api.URL, "api_host": host(api), "other": other.URL, "other_host": host(other), "closed": closed}

	tests := map[string]string{
		"get json": `
			local res = assert(http.get(api .. "/customers/42"))
			eq(res.status, 200)
			eq(res.headers["content-type"], "application/json")
			eq(res.json.name, "Ana")
			eq(res.json.visits[3], 5)`,
		"query and headers": `
			local res = assert(http.get(api .. "/echo?keep=1", {
			  query = { phone = "+6531589338", n = 3 },
			  headers = { ["X-Api-Key"] = "k1", ["User-Agent"] = "acme-ivr" },
			}))
			eq(res.json.method, "GET")
			eq(res.json.query, { keep = "1", n = "3", phone = "+6531589338" })
			eq(res.json.headers["X-Api-Key"], "k1")
			eq(res.json.headers["User-Agent"], "acme-ivr")
			eq(res.headers["x-seen"], "a, b")`,
		"user agent": `eq(assert(http.get(api .. "/echo")).json.headers["User-Agent"], "luaivr")`,
		"post json": `
			local res = assert(http.post(api .. "/echo", { caller = "+6568332048", digits = "1", tries = 2 }))
			eq(res.json.method, "POST")
			eq(res.json.headers["Content-Type"], "application/json")
			eq(res.json.body, '{"caller":"+6568332048","digits":"1","tries":2}')`,
		"post string": `
			local res = assert(http.post(api .. "/echo", "digits=1&menu=main",
			  { headers = { ["Content-Type"] = "application/x-www-form-urlencoded" } }))
			eq(res.json.body, "digits=1&menu=main")
			eq(res.json.headers["Content-Type"], "application/x-www-form-urlencoded")`,
		"text body": `
			local res = assert(http.get(api .. "/text"))
			eq(res.status, 200)
			eq(res.body, "open 9 to 5")
			eq(res.json, nil)`,
		"json that does not parse": `
			local res = assert(http.get(api .. "/broken-json"))
			eq(res.body, '{"name":')
			eq(res.json, nil)`,
		"404 is a response": `
			local res, err = http.get(api .. "/customers/7")
			eq(err, nil)
			eq(res.status, 404)
			eq(res.json.error, "no such customer")`,
		"500 is a response": `
			local res, err = http.get(api .. "/boom")
			eq(err, nil)
			eq(res.status, 500)
			eq(res.body, "database unavailable\n")`,
		"host not allowed": `
			local res, err = http.get("https://evil.example/steal")
			eq(res, nil)
			eq(err, "http: host evil.example is not in the allow-list (--http-allow)")`,
		"port not allowed": `
			local res, err = http.get(other .. "/")
			eq(res, nil)
			eq(err, "http: host " .. other_host .. " is not in the allow-list (--http-allow)")`,
		"redirect within the allow-list": `
			local res = assert(http.get(api .. "/redirect?to=/customers/42"))
			eq(res.json.name, "Ana")`,
		"redirect to a host not allowed": `
			local res, err = http.get(api .. "/redirect", { query = { to = other .. "/secret?x=1" } })
			eq(res, nil)
			eq(err, "http: GET " .. api .. "/redirect redirected to " .. other .. "/secret: host " .. other_host .. " is not in the allow-list (--http-allow)")`,
		"redirect to a file": `
			local res, err = http.get(api .. "/redirect?to=file:///etc/passwd")
			eq(res, nil)
			eq(err, "http: GET " .. api .. "/redirect redirected to file:///etc/passwd: only http and https URLs can be fetched, not file:///etc/passwd")`,
		"redirect loop": `
			local res, err = http.get(api .. "/loop")
			eq(res, nil)
			eq(err, "http: GET " .. api .. "/loop failed: stopped after 10 redirects")`,
		"timeout option": `
			local res, err = http.get(api .. "/slow?who=caller", { timeout = 0.05 })
			eq(res, nil)
			eq(err, "http: GET " .. api .. "/slow timed out after 0.05s")`,
		"body over the limit": `
			local res, err = http.get(api .. "/big")
			eq(res, nil)
			eq(err, "http: GET " .. api .. "/big: the response body is over the limit of 1024 bytes")`,
		"declared body over the limit": `
			local res, err = http.get(api .. "/big?length=1")
			eq(res, nil)
			eq(err, "http: GET " .. api .. "/big: the response body is over the limit of 1024 bytes")`,
		"connection refused": `
			local res, err = http.get("http://" .. closed .. "/")
			eq(res, nil)
			assert(err:find("http: GET http://" .. closed .. "/ failed: ", 1, true) and err:find("refused", 1, true), err)`,
		"file and ftp": `
			for _, url in ipairs({ "file:///etc/passwd", "ftp://" .. api_host .. "/x", "gopher://" .. api_host }) do
			  local res, err = http.get(url)
			  eq(res, nil)
			  eq(err, "http: only http and https URLs can be fetched, not " .. url)
			end`,
		"bad URLs": `
			local res, err = http.get("http://[::1")
			eq(res, nil)
			eq(err, 'http: bad URL "http://[::1": missing \']\' in host')
			res, err = http.get("http:///customers")
			eq(err, "http: bad URL http:///customers: no host")
			res, err = http.get("crm.example.com/customers/42")
			eq(err, "http: bad URL crm.example.com/customers/42: it needs http:// or https://")`,
		"argument errors": `
			fails(function() http.get() end, "bad argument #1 to http.get (a URL string expected, got nil)")
			fails(function() http.get({ url = api }) end, "bad argument #1 to http.get (a URL string expected, got table)")
			fails(function() http.get(api, 5) end, "bad argument #2 to http.get (a table of options expected, got number)")
			fails(function() http.get(api, { hedaers = {} }) end, [[bad argument #2 to http.get (unknown option "hedaers"; options are headers, query and timeout)]])
			fails(function() http.get(api, { headers = { ["X-Key"] = {} } }) end, [[bad argument #2 to http.get (headers["X-Key"]: a string expected, got table)]])
			fails(function() http.get(api, { query = "a=1" }) end, "bad argument #2 to http.get (query: a table expected, got string)")
			fails(function() http.get(api, { timeout = 0 }) end, "bad argument #2 to http.get (timeout: a number of seconds above 0 expected, got 0)")
			fails(function() http.post(api) end, "bad argument #2 to http.post (a body (a string, or a table sent as JSON) expected, got nil)")
			fails(function() http.post(api, { f = function() end }) end, "bad argument #2 to http.post (body.f: a function cannot be converted")
			fails(function() http.post(api, "x", { timeout = "1" }) end, "bad argument #3 to http.post (timeout:")`,
		"require": `eq(require("http"), http)`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run(t, nil, opts, globals, src)
		})
	}
}

// What a script sends is bounded before anything is built or sent: each of
// these raises before a request is made. Not parallel: the big values would
// slow the tests that measure a deadline.
func TestRequestBounds(t *testing.T) {
	opts := httpmod.Options{Allow: []string{"crm.example.com"}}
	tests := map[string]string{
		"request body over the limit": `fails(function() http.post("https://crm.example.com/echo", string.rep("x", 1024 * 1024) .. "y") end,
			"bad argument #2 to http.post (the body is 1048577 bytes, over the limit of 1048576)")`,
		"shared text in a body": `local s = string.rep("x", 1024 * 1024) fails(function() http.post("https://crm.example.com/echo", { s, s }) end,
			"bad argument #2 to http.post (body[2]: more than 1048576 bytes of text)")`,
		"escapes in a body": `fails(function() http.post("https://crm.example.com/echo", { string.rep("\1", 200000) }) end, "the body is 1200004 bytes")`,
		"headers over the limit": `fails(function() http.get("https://crm.example.com/echo", { headers = { big = string.rep("h", 70000) } }) end,
			"bad argument #2 to http.get (headers: more than 65536 bytes of names and values)")`,
		"query over the limit": `local q = {} for i = 1, 10000 do q["k" .. i] = "value" end
			fails(function() http.get("https://crm.example.com/echo", { query = q }) end, "query: more than 65536 bytes")`,
		"URL over the limit": `fails(function() http.get("https://crm.example.com/" .. string.rep("u", 9000)) end, "bad argument #1 to http.get (the URL is")`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) { run(t, nil, opts, nil, src) })
	}
}

// A slow system costs the request what is left of the event's deadline, and
// leaves the script time to answer the caller.
func TestDeadline(t *testing.T) {
	t.Parallel()
	api := businessAPI(t)
	opts := httpmod.Options{Allow: []string{host(api)}}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	run(t, ctx, opts, map[string]string{"api": api.URL}, `
		local res, err = http.get(api .. "/slow")
		eq(res, nil)
		assert(err:find("http: GET " .. api .. "/slow timed out after 0.2", 1, true), err)
		assert(err:find("s (the event's deadline)", 1, true), err)`)
	if took := time.Since(start); took > 300*time.Millisecond {
		t.Errorf("the request outlived the deadline: %v", took)
	}
}

func TestNoTimeLeft(t *testing.T) {
	t.Parallel()
	api := businessAPI(t)
	L := luatest.State(t, sandbox.Lib{Name: "http", Open: httpmod.Open(httpmod.Options{Allow: []string{host(api)}})})
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Millisecond))
	defer cancel()
	L.SetContext(ctx)
	// Called from Go, since the VM itself stops a script whose deadline passed.
	get := L.GetField(L.GetGlobal("http"), "get")
	if err := L.CallByParam(lua.P{Fn: get, NRet: 2, Protect: true}, lua.LString(api.URL+"/customers/42")); err != nil {
		t.Fatal(err)
	}
	if res, msg := L.Get(-2), L.Get(-1); res != lua.LNil || msg.String() != "http: no time left in this event's deadline" {
		t.Fatalf("got %v, %v", res, msg)
	}
}

func TestWildcard(t *testing.T) {
	t.Parallel()
	api := businessAPI(t)
	// Every name resolves to the fake API: what is tested is which names the
	// allow-list lets through.
	fakeDNS := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, host(api))
		},
	}}
	opts := httpmod.Options{Allow: []string{"*.example.test", "crm.example.org:8080"}, Client: fakeDNS}
	tests := map[string]bool{
		"http://crm.example.test/customers/42":        true,
		"https://crm.example.test/customers/42":       false, // allowed, but the fake API speaks plain HTTP
		"http://eu.crm.example.test/customers/42":     true,
		"http://CRM.Example.Test./customers/42":       true,
		"http://example.test/customers/42":            false,
		"http://badexample.test/customers/42":         false,
		"http://crm.example.test:8080/customers/42":   false,
		"http://crm.example.org:8080/customers/42":    true,
		"http://crm.example.org/customers/42":         false,
		"http://eu.crm.example.org:8080/customers/42": false,
	}
	for target, allowed := range tests {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			want := `eq(err, "http: host " .. host .. " is not in the allow-list (--http-allow)")`
			if allowed {
				want = `eq(err, nil) eq(res.json.name, "Ana")`
			}
			if strings.HasPrefix(target, "https") {
				want = `assert(not err:find("allow-list", 1, true), err)`
			}
			u, err := url.Parse(target)
			if err != nil {
				t.Fatal(err)
			}
			run(t, nil, opts, map[string]string{"url": target, "host": u.Host}, `local res, err = http.get(url) `+want)
		})
	}
}

// https through a Client the caller passes (here one that trusts the test
// server's certificate); the default client refuses that certificate.
func TestTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"open":true}`)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	globals := map[string]string{"api": srv.URL}
	run(t, nil, httpmod.Options{Allow: []string{host(srv)}, Client: srv.Client()}, globals,
		`eq(assert(http.get(api)).json.open, true)`)
	run(t, nil, httpmod.Options{Allow: []string{host(srv)}}, globals, `
		local res, err = http.get(api)
		eq(res, nil)
		assert(err:find("certificate", 1, true), err)`)
}

// TestConnectionsReused: the scripts of many calls asking one system at
// once reuse their connections to it, instead of opening one a request
// (net/http's default keeps two idle a host: the rest closed, each leaving
// a socket in TIME_WAIT).
func TestConnectionsReused(t *testing.T) {
	t.Parallel()
	var opened atomic.Int32
	api := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	api.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	api.Start()
	t.Cleanup(api.Close)
	open := httpmod.Open(httpmod.Options{Allow: []string{host(api)}})
	const scripts, rounds = 16, 20
	states := make([]*lua.LState, scripts)
	for i := range states {
		states[i] = luatest.State(t, sandbox.Lib{Name: "http", Open: open})
		states[i].SetGlobal("api", lua.LString(api.URL))
	}
	for range rounds {
		done := make(chan error, scripts)
		for _, L := range states {
			go func() {
				done <- L.DoString(`local res, err = http.get(api .. "/x"); assert(res and res.status == 200, err)`)
			}()
		}
		for range scripts {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	}
	// At most one connection per script running at once, and a few more
	// when a request starts as another's connection is handed back.
	if n := opened.Load(); n > 2*scripts {
		t.Errorf("%d requests from %d scripts at once opened %d connections", scripts*rounds, scripts, n)
	}
}
