package console

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/explore"
	"github.com/luaivr/luaivr/store"
)

// ConsoleOptions configure serve's console.
type ConsoleOptions struct {
	Engine *engine.Engine
	// Token is serve's --admin-token; without one the console is off.
	Token string
	// Entry renders a transcript entry as `luaivr sessions show` does.
	Entry func(store.Entry) string
	// Deadline is a handler's time per event while exploring an app's graph.
	Deadline time.Duration
	Logger   *slog.Logger
}

// Console is serve's /console: the calls a server handles, for a person with
// the admin token. Every request is checked: the token as "Authorization:
// Bearer", or the cookie the login form sets (Secure, HttpOnly,
// SameSite=Strict; it holds a MAC of the token, not the token).
type Console struct {
	opts   ConsoleOptions
	cookie string // the cookie's value for the token

	// reloads counts the reloads serve made or refused: with the events
	// handled, the version the pages watch (version), so that the apps and
	// the refused reloads show without a reload of the page either.
	reloads atomic.Uint64

	mu      sync.Mutex
	refused []refusedReload
	logged  time.Time            // the last refusal logged
	unsaid  int                  // refusals since, not logged
	graphs  map[string]*graphJob // by app and version
}

type refusedReload struct {
	At  time.Time
	Err string
}

// NewConsole makes serve's console.
func NewConsole(opts ConsoleOptions) *Console {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Console{opts: opts, cookie: mac(opts.Token), graphs: map[string]*graphJob{}}
}

// How much the console keeps and reads: it must not take what calls need.
const (
	refusalsKept = 50
	// sessionsRead bounds the sessions one page reads (newest first); the
	// page says when it stopped there.
	sessionsRead = 5000
	// sessionsShown bounds the rows of a list.
	sessionsShown = 200
	// transcriptsRead bounds the transcripts one traffic page reads.
	transcriptsRead = 2000
	// pageTime bounds the store reads of one page.
	pageTime = 10 * time.Second
)

// Refused records a reload serve refused, to show it.
func (c *Console) Refused(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refused = append(c.refused, refusedReload{At: time.Now(), Err: err.Error()})
	if len(c.refused) > refusalsKept {
		c.refused = c.refused[len(c.refused)-refusalsKept:]
	}
	c.reloads.Add(1)
}

// Reloaded tells the pages that serve loaded changed scripts: the apps they
// show have changed.
func (c *Console) Reloaded() { c.reloads.Add(1) }

// version moves whenever what the overview shows may have changed: an event
// handled, a reload made or refused.
func (c *Console) version() uint64 {
	return uint64(c.opts.Engine.Stats().Events.Load()) + c.reloads.Load()
}

const cookieName = "luaivr_console"

// mac is what the cookie holds for a token.
func mac(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("luaivr console session"))
	return hex.EncodeToString(m.Sum(nil))
}

// allowed reports whether the request carries the token, as a bearer or as
// the login cookie. Both are compared as MACs, in constant time.
func (c *Console) allowed(r *http.Request) bool {
	if c.opts.Token == "" {
		return false
	}
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return hmac.Equal([]byte(mac(bearer)), []byte(c.cookie))
	}
	if ck, err := r.Cookie(cookieName); err == nil {
		return hmac.Equal([]byte(ck.Value), []byte(c.cookie))
	}
	return false
}

// refusalLogEvery bounds the log lines of refused requests: anyone can send them.
const refusalLogEvery = 10 * time.Second

func (c *Console) refusal(msg string, r *http.Request) {
	c.mu.Lock()
	if time.Since(c.logged) < refusalLogEvery {
		c.unsaid++
		c.mu.Unlock()
		return
	}
	unsaid := c.unsaid
	c.logged, c.unsaid = time.Now(), 0
	c.mu.Unlock()
	c.opts.Logger.Warn(msg, "path", r.URL.Path, "remote", r.RemoteAddr, "not_logged", unsaid)
}

// Handler serves /console and what is under it.
func (c *Console) Handler() http.Handler {
	open := http.NewServeMux()
	open.HandleFunc("GET /console/login", c.loginPage)
	open.HandleFunc("POST /console/login", c.login)
	guarded := http.NewServeMux()
	guarded.Handle("GET /console/static/", http.StripPrefix("/console", static()))
	guarded.HandleFunc("GET /console", c.overview)
	guarded.HandleFunc("GET /console/{$}", c.overview)
	guarded.HandleFunc("GET /console/live", c.liveCalls)
	guarded.HandleFunc("GET /console/events", c.events)
	guarded.HandleFunc("GET /console/sessions", c.sessions)
	guarded.HandleFunc("GET /console/sessions/{id}", c.session)
	guarded.HandleFunc("GET /console/apps/{app}", c.appPage)
	guarded.HandleFunc("POST /console/logout", c.logout)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if r.URL.Path == "/console/login" {
			open.ServeHTTP(w, r)
			return
		}
		if c.opts.Token == "" {
			http.Error(w, "the console is off: start serve with --admin-token (LUAIVR_ADMIN_TOKEN)", http.StatusForbidden)
			return
		}
		if !c.allowed(r) {
			c.refusal("console request refused: no admin token", r)
			if r.Method == http.MethodGet && r.Header.Get("Authorization") == "" && !strings.HasPrefix(r.URL.Path, "/console/events") {
				http.Redirect(w, r, "/console/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "the console needs the admin token: log in at /console/login, or send Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	render(w, "login.html", map[string]any{"Off": c.opts.Token == ""})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if c.opts.Token == "" || !hmac.Equal([]byte(mac(r.FormValue("token"))), []byte(c.cookie)) {
		c.refusal("console login refused: not the admin token", r)
		w.WriteHeader(http.StatusUnauthorized)
		render(w, "login.html", map[string]any{"Off": c.opts.Token == "", "Wrong": c.opts.Token != ""})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: c.cookie, Path: "/console", MaxAge: 12 * 3600,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/console", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// events tells the pages when events were handled or scripts reloaded: the
// live parts refresh.
func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	events(w, r, func(since uint64, stop <-chan struct{}) uint64 {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			if n := c.version(); n != since {
				return n
			}
			select {
			case <-tick.C:
			case <-stop:
				return since
			}
		}
	})
}

// appRow is an app as the overview shows it.
type appRow struct {
	Name, File, Version, Status string
	Numbers                     []string
	Menus                       int
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	s := c.opts.Engine.Scripts()
	var apps []appRow
	for _, name := range s.Names() {
		a := s.Apps[name]
		apps = append(apps, appRow{Name: name, File: a.File, Version: a.Version(), Status: "served", Numbers: a.Numbers, Menus: len(a.Menus)})
	}
	for _, name := range s.Loading() {
		apps = append(apps, appRow{Name: name, Status: "loading"})
	}
	for name, a := range s.Retired {
		apps = append(apps, appRow{Name: name, File: a.File, Version: a.Version(), Status: "removed: finishing its calls"})
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
	c.mu.Lock()
	refused := append([]refusedReload(nil), c.refused...)
	c.mu.Unlock()
	sort.Slice(refused, func(i, j int) bool { return refused[i].At.After(refused[j].At) })
	render(w, "console.html", map[string]any{"Apps": apps, "Refused": refused, "Version": c.version(), "Reloads": c.reloads.Load()})
}

// liveRow is a call in progress.
type liveRow struct {
	ID, App, Caller, Menu, InCall string
	Events                        int
}

// liveCalls is the overview's table of calls in progress, refreshed by the page.
func (c *Console) liveCalls(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pageTime)
	defer cancel()
	var rows []liveRow
	read := 0
	now := time.Now()
	err := c.opts.Engine.Store().Sessions(ctx, func(s store.Session) bool {
		read++
		if !s.Ended {
			rows = append(rows, liveRow{ID: s.ID, App: s.App, Caller: caller(s), Menu: s.Menu, Events: s.Events,
				InCall: now.Sub(s.Created).Round(time.Second).String()})
		}
		return read < sessionsRead && len(rows) < sessionsShown
	})
	render(w, "live.html", map[string]any{"Calls": rows, "Err": err, "Cut": read >= sessionsRead || len(rows) >= sessionsShown,
		"Reloads": c.reloads.Load()})
}

func caller(s store.Session) string {
	if strings.EqualFold(s.Direction, "OUTBOUND") {
		return s.Destination
	}
	return s.Source
}

// filter is the sessions search: every field optional.
type filter struct {
	Caller, App, Status string
	From, To            string // datetime-local, in the server's zone
	from, to            time.Time
}

func readFilter(r *http.Request) (filter, error) {
	q := r.URL.Query()
	f := filter{Caller: strings.TrimSpace(q.Get("caller")), App: strings.TrimSpace(q.Get("app")),
		Status: strings.TrimSpace(q.Get("status")), From: q.Get("from"), To: q.Get("to")}
	var err error
	if f.From != "" {
		if f.from, err = time.ParseInLocation("2006-01-02T15:04", f.From, time.Local); err != nil {
			return f, fmt.Errorf("from: write a date and time like 2026-11-21T08:00")
		}
	}
	if f.To != "" {
		if f.to, err = time.ParseInLocation("2006-01-02T15:04", f.To, time.Local); err != nil {
			return f, fmt.Errorf("to: write a date and time like 2026-11-21T18:00")
		}
	}
	return f, nil
}

// status is a session's status as `sessions list` shows it.
func status(s store.Session) string {
	if s.Ended {
		return s.Status + " (ended)"
	}
	return s.Status
}

func (f filter) match(s store.Session) bool {
	switch {
	case f.Caller != "" && !strings.Contains(caller(s), f.Caller):
		return false
	case f.App != "" && s.App != f.App:
		return false
	case f.Status == "live" && s.Ended, f.Status == "ended" && !s.Ended:
		return false
	case f.Status != "" && f.Status != "live" && f.Status != "ended" && !strings.Contains(strings.ToLower(status(s)), strings.ToLower(f.Status)):
		return false
	case !f.from.IsZero() && s.Created.Before(f.from), !f.to.IsZero() && s.Created.After(f.to):
		return false
	}
	return true
}

// find returns the sessions that match f, newest first, and whether it
// stopped before reading them all.
func (c *Console) find(ctx context.Context, f filter, max int) ([]store.Session, bool, error) {
	var out []store.Session
	read := 0
	err := c.opts.Engine.Store().Sessions(ctx, func(s store.Session) bool {
		read++
		if f.match(s) {
			s.Vars = nil // not shown; may be large
			out = append(out, s)
		}
		return read < sessionsRead && len(out) < max
	})
	return out, read >= sessionsRead || len(out) >= max, err
}

func (c *Console) sessions(w http.ResponseWriter, r *http.Request) {
	f, err := readFilter(r)
	var list []store.Session
	cut := false
	if err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), pageTime)
		defer cancel()
		list, cut, err = c.find(ctx, f, sessionsShown)
	}
	type row struct {
		store.Session
		Caller, Status string
	}
	rows := make([]row, 0, len(list))
	for _, s := range list {
		rows = append(rows, row{s, caller(s), status(s)})
	}
	render(w, "sessions.html", map[string]any{"Filter": f, "Sessions": rows, "Err": err, "Cut": cut, "Apps": c.opts.Engine.Scripts().Names()})
}

// shownEntry is a transcript entry: the line `sessions show` prints, and the
// event and reply to expand.
type shownEntry struct {
	Line, Event, Reply string
}

func (c *Console) session(w http.ResponseWriter, r *http.Request) {
	id := param(r, "id")
	st := c.opts.Engine.Store()
	s, ok, err := st.Session(r.Context(), id)
	if err == nil && !ok {
		w.WriteHeader(http.StatusNotFound)
		render(w, "session.html", map[string]any{"ID": id, "Err": fmt.Errorf("no session %s (unknown, or expired)", id)})
		return
	}
	var entries []store.Entry
	if err == nil {
		entries, err = st.Transcript(r.Context(), id)
	}
	var shown []shownEntry
	for _, e := range entries {
		shown = append(shown, shownEntry{Line: c.opts.Entry(e), Event: indent(e.Event), Reply: indent(e.Reply)})
	}
	render(w, "session.html", map[string]any{"ID": id, "S": s, "Caller": caller(s), "Status": status(s), "Vars": indent(s.Vars), "Entries": shown, "Err": err})
}

func indent(b json.RawMessage) string {
	if len(b) == 0 {
		return ""
	}
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// traffic is what the calls of one app did over a period, from their
// transcripts.
type traffic struct {
	Calls     int
	took      map[[2]string]int // menu, key → calls that pressed it there
	HungUp    map[string]int    // menu → calls that ended there without the script hanging up
	Fallbacks []*fallbackRow
	Cut       bool // stopped at transcriptsRead
}

// fallbackRow is one kind of failure at one menu: its error names the
// script's file and line.
type fallbackRow struct {
	Menu, Error string
	Count       int
	Sessions    []string // the first few
}

// fallbackSessions bounds the sessions listed per failure.
const fallbackSessions = 10

func (c *Console) traffic(ctx context.Context, app string, f filter) (*traffic, error) {
	f.App = app
	sessions, cut, err := c.find(ctx, f, transcriptsRead)
	t := &traffic{took: map[[2]string]int{}, HungUp: map[string]int{}, Cut: cut}
	if err != nil {
		return t, err
	}
	failures := map[[2]string]*fallbackRow{}
	st := c.opts.Engine.Store()
	for _, s := range sessions {
		entries, err := st.Transcript(ctx, s.ID)
		if err != nil {
			return t, err
		}
		t.Calls++
		at, hungUpByScript := "", false // where the caller is after each reply
		took := map[[2]string]bool{}
		for _, e := range entries {
			if e.EventType == "CALL_ACTION" && e.ActionID != "" && e.CallStatus != "CALL_RECEIVED" {
				key := "no input"
				if e.Digits != nil {
					key = strings.TrimSuffix(*e.Digits, "#")
				}
				if k := [2]string{e.ActionID, key}; !took[k] {
					took[k] = true
					t.took[k]++
				}
			}
			if e.Error != "" {
				k := [2]string{e.ActionID, e.Error}
				row := failures[k]
				if row == nil {
					row = &fallbackRow{Menu: e.ActionID, Error: e.Error}
					failures[k] = row
					t.Fallbacks = append(t.Fallbacks, row)
				}
				row.Count++
				if len(row.Sessions) < fallbackSessions && !slices.Contains(row.Sessions, s.ID) {
					row.Sessions = append(row.Sessions, s.ID)
				}
			}
			if len(e.Reply) > 0 {
				var r struct {
					ClientActionID string `json:"clientActionId"`
					Callflow       []struct{ Action string }
				}
				if json.Unmarshal(e.Reply, &r) == nil {
					at, hungUpByScript = r.ClientActionID, false
					for _, a := range r.Callflow {
						hungUpByScript = hungUpByScript || a.Action == "hangup"
					}
				}
			}
		}
		if s.Ended && !hungUpByScript && at != "" {
			t.HungUp[at]++
		}
	}
	sort.Slice(t.Fallbacks, func(i, j int) bool { return t.Fallbacks[i].Count > t.Fallbacks[j].Count })
	return t, nil
}

// onGraph is the app's graph with the traffic on it: each edge's label says
// how many calls took it.
func (t *traffic) onGraph(res *explore.Result, menus []engine.MenuInfo) string {
	opts := explore.GraphOptions{}
	var b strings.Builder
	res.Mermaid(&b, opts)
	_, edges := res.Drawn(opts)
	menuOf := map[string]string{}
	for _, n := range res.Nodes {
		menuOf[n.ID] = n.Menu
	}
	offered := map[string][]string{} // menu → its keys, for "other"
	for _, m := range menus {
		offered[m.ID] = m.Keys
	}
	count := func(e *explore.Edge) int {
		menu, n := menuOf[e.From], 0
		for _, k := range e.Keys {
			if k != "other" {
				n += t.took[[2]string{menu, k}]
				continue
			}
			for mk, v := range t.took {
				if mk[0] == menu && mk[1] != "no input" && !slices.Contains(offered[menu], mk[1]) && !slices.Contains(e.Keys, mk[1]) {
					n += v
				}
			}
		}
		return n
	}
	lines := strings.Split(b.String(), "\n")
	i := 0
	for l, line := range lines {
		if !strings.Contains(line, `" --> `) || i >= len(edges) {
			continue
		}
		e := edges[i]
		i++
		if menuOf[e.From] == "" { // not a menu: 8x8 names no position to count at
			continue
		}
		lines[l] = strings.Replace(line, `" --> `, fmt.Sprintf(` (%d)" --> `, count(e)), 1)
	}
	return strings.Join(lines, "\n")
}

func (c *Console) appPage(w http.ResponseWriter, r *http.Request) {
	name := param(r, "app")
	app := c.opts.Engine.Scripts().Apps[name]
	f, err := readFilter(r)
	if err == nil && f.From == "" && f.To == "" { // the last day, shown in the form
		f.from = time.Now().Add(-24 * time.Hour)
		f.From = f.from.Format("2006-01-02T15:04")
	}
	data := map[string]any{"App": name, "Filter": f, "Served": app != nil}
	if app == nil {
		w.WriteHeader(http.StatusNotFound)
		data["Err"] = fmt.Errorf("no app %s is served", name)
		render(w, "app_traffic.html", data)
		return
	}
	var t *traffic
	if err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), pageTime)
		defer cancel()
		t, err = c.traffic(ctx, name, f)
	}
	res, gerr := c.explored(app)
	if err == nil {
		err = gerr
	}
	if t != nil && res != nil {
		data["Graph"] = t.onGraph(res, app.Menus)
	}
	data["Traffic"], data["Err"] = t, err
	render(w, "app_traffic.html", data)
}

// graphWork bounds the exploration of one version of an app for its graph:
// serve explores beside live calls.
const graphWork = time.Second

// graphsKept bounds the explorations kept (an app's versions add up).
const graphsKept = 100

// explored is the app's exploration, once per version.
func (c *Console) explored(app *engine.App) (*explore.Result, error) {
	key := app.Name + "\x00" + app.Version()
	c.mu.Lock()
	job := c.graphs[key]
	c.mu.Unlock()
	if job != nil {
		return job.res, job.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), pageTime)
	defer cancel()
	res, err := explore.Explore(ctx, c.opts.Engine.Scripts(), app.Name, explore.Options{Deadline: engine.Options{Deadline: c.opts.Deadline}, Work: graphWork})
	c.mu.Lock()
	if len(c.graphs) >= graphsKept {
		c.graphs = map[string]*graphJob{}
	}
	c.graphs[key] = &graphJob{done: true, res: res, err: err}
	c.mu.Unlock()
	return res, err
}
