// Package console is what people look at in a browser: the dev phone of
// `luaivr dev` (an app's phone, graph, findings and flow tests, updated live
// as its scripts are saved) and serve's /console (the calls a server handles,
// behind the admin token).
//
// Pages are Go templates rendered on the server; a little plain JavaScript
// makes the live parts, fed by server-sent events. Mermaid, vendored from npm
// with its version and licence (static/vendor: VERSIONS, refresh.sh), draws
// the graphs. Everything is embedded in the binary, so the pages work offline
// and nothing needs Node to build.
//
// Both sides are net/http handlers; Pages mounts one on runtime/server's
// fasthttp server, so dev and serve answer webhooks the same way.
package console

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"clock": func(t time.Time) string { return t.Local().Format(time.DateTime) },
	// args makes a template's argument of pairs: (args "Title" "apps" "Base" "/console").
	"args": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
}).ParseFS(templateFiles, "templates/*.html"))

// static serves the embedded assets under /static/.
func static() http.Handler {
	sub, _ := fs.Sub(staticFiles, "static")
	files := http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// Pages mounts h on runtime/server (server.Options.Pages): it answers the
// requests whose path is under one of prefixes ("/" takes every path).
// The request's strings share fasthttp's buffers, which serve the
// connection's next request: what outlives a request is cloned (param).
func Pages(h http.Handler, prefixes ...string) func(*fasthttp.RequestCtx) bool {
	adapted := fasthttpadaptor.NewFastHTTPHandler(h)
	return func(ctx *fasthttp.RequestCtx) bool {
		path := string(ctx.Path())
		for _, p := range prefixes {
			if path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
				adapted(ctx)
				return true
			}
		}
		return false
	}
}

// param is the path's {name}, safe to keep after the request.
func param(r *http.Request, name string) string { return strings.Clone(r.PathValue(name)) }

// streamFor bounds one server-sent events response: serve's write timeout
// (--write-timeout, 5 s) cuts longer ones. The browser's EventSource
// reconnects at once (retry below) and asks for what it missed.
const streamFor = 4 * time.Second

// events streams version numbers to the page: every time next returns a new
// one (it blocks until then or until its channel closes), one "change" event.
func events(w http.ResponseWriter, r *http.Request, next func(since uint64, stop <-chan struct{}) uint64) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	stop := make(chan struct{})
	timer := time.AfterFunc(streamFor, func() { close(stop) })
	defer timer.Stop()
	since := uint64(0)
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		since, _ = strconv.ParseUint(id, 10, 64)
	} else if q := r.URL.Query().Get("since"); q != "" {
		since, _ = strconv.ParseUint(q, 10, 64)
	}
	w.Write([]byte("retry: 200\n\n"))
	flusher.Flush()
	for {
		v := next(since, stop)
		if v == since {
			return
		}
		since = v
		if _, err := w.Write([]byte(fmt.Sprintf("id: %d\nevent: change\ndata: %d\n\n", v, v))); err != nil {
			return
		}
		flusher.Flush()
	}
}

// changes numbers the states of what a page shows: each change bumps the
// number, and the pages' event streams wait for it.
type changes struct {
	mu      sync.Mutex
	version uint64
	changed chan struct{} // closed at the next bump
}

func newChanges() *changes { return &changes{version: 1, changed: make(chan struct{})} }

func (c *changes) bump() {
	c.mu.Lock()
	c.version++
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *changes) current() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// next returns the version once it is not since, or since when stop closes first.
func (c *changes) next(since uint64, stop <-chan struct{}) uint64 {
	for {
		c.mu.Lock()
		v, ch := c.version, c.changed
		c.mu.Unlock()
		if v != since {
			return v
		}
		select {
		case <-ch:
		case <-stop:
			return since
		}
	}
}
