// Package server is luaivr's HTTP face: it takes 8x8's webhooks on one URL,
// hands each to the engine, and writes the reply.
//
// Routes:
//
//	POST /webhooks          every event type; the app comes from the session, the called number or the default
//	POST /webhooks/{app}    the same, with the app for new calls named in the URL
//	GET  /healthz           liveness: 200, what is being served and counts; needs the admin token when one is set
//	GET  /readyz            readiness: 503 while the store cannot take events; open, and says only that
//	GET  /metrics           Prometheus text format; needs the admin token when one is set (or see ServeMetrics)
//	GET  /admin/sessions    recent sessions, newest first (?limit=N); needs the admin token
//	GET  /admin/sessions/{id}  one session and its transcript; needs the admin token
//	GET  /admin/apps        per app, the versions served (current first) and their live calls; needs the admin token
//	POST /admin/apps/{app}/rollback  serve the app's previous version to new calls; needs the admin token
//	POST /calls             place an outbound call driven by an app; needs the admin token
//	/console…               Options.Pages: serve's console for people, behind the admin token (runtime/console)
//
// It never answers a webhook with a 5xx: bad input gets a 4xx with a JSON body
// that says what is wrong, and anything that goes wrong after the input was
// understood is the engine's to answer with a fallback callflow; a panic of
// ours on the way is logged and answered with the server's apology. A panic in
// any other endpoint is logged and answered 500, for that request alone.
// Connections are limited as listener.go describes.
package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/store"
	"github.com/valyala/fasthttp"
)

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	Engine       *engine.Engine
	Logger       *slog.Logger
	MaxBodySize  int           // default 1 MiB; larger requests get 413
	ReadTimeout  time.Duration // default 5 s: a slow client cannot hold a connection
	WriteTimeout time.Duration // default 5 s
	IdleTimeout  time.Duration // default 60 s between keep-alive requests
	// MaxConns bounds the connections held at once (default DefaultMaxConns).
	MaxConns int
	// MaxConnsPerIP bounds those from one IPv4 address or IPv6 /64, other
	// than Guard.TrustProxy's; 0: no such limit.
	MaxConnsPerIP int
	// AdminToken guards /admin/*, /calls, /healthz and /metrics, sent as
	// "Authorization: Bearer <token>". Empty turns /admin/* and /calls off
	// and leaves /healthz and /metrics open.
	AdminToken string
	// Guard checks who may post webhooks.
	Guard Guard
	// Send places calls for POST /calls (the 8x8 Callflows API); nil turns
	// the endpoint off.
	Send engine.Send
	// Metrics, when set, is served at /metrics and told how each webhook
	// was handled (runtime/metrics).
	Metrics interface {
		Text() ([]byte, error)
		Observe(engine.Handled)
	}
	// Pages, when set, may answer the requests no endpoint above takes: the
	// pages people look at (runtime/console: serve's /console, dev's phone).
	// It reports whether it answered; if not, the request gets the 404.
	Pages func(ctx *fasthttp.RequestCtx) bool
}

// Server serves webhooks over HTTP.
type Server struct {
	opts    Options
	log     *slog.Logger
	srv     *fasthttp.Server
	metrics *fasthttp.Server // ServeMetrics'
	conns   ConnStats
	logs    quiet // for what senders do: at most a line every ten seconds each
}

// New makes a server.
func New(opts Options) *Server {
	if opts.MaxBodySize <= 0 {
		opts.MaxBodySize = 1 << 20
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 5 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 5 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 60 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns()
	}
	s := &Server{opts: opts, log: opts.Logger}
	s.srv = s.fasthttp(s.Handle, opts.MaxConns)
	s.metrics = s.fasthttp(s.serveMetrics, metricsConns)
	return s
}

// metricsConns bounds the connections of ServeMetrics' listener: it is for a
// scraper or two.
const metricsConns = 64

func (s *Server) fasthttp(handler fasthttp.RequestHandler, maxConns int) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:      handler,
		ErrorHandler: s.requestError,
		Name:         "luaivr",
		Logger:       fasthttpLog{s},
		// The listener limits connections; this is only so that fasthttp
		// never refuses one the listener let through.
		Concurrency:                  2 * maxConns,
		ReadTimeout:                  s.opts.ReadTimeout,
		WriteTimeout:                 s.opts.WriteTimeout,
		IdleTimeout:                  s.opts.IdleTimeout,
		MaxRequestBodySize:           s.opts.MaxBodySize,
		NoDefaultDate:                true,
		NoDefaultContentType:         true,
		CloseOnShutdown:              true,
		DisablePreParseMultipartForm: true,
	}
}

// Serve accepts connections on ln until Shutdown, within the connection
// limits. It returns nil after Shutdown, and nothing stops it before.
func (s *Server) Serve(ln net.Listener) error {
	return s.srv.Serve(newConnListener(ln, s.opts.MaxConns, s.opts.MaxConnsPerIP, s.opts.Guard.TrustProxy, &s.conns, s.log))
}

// ServeMetrics serves GET /metrics alone on ln, to anyone who reaches it,
// until Shutdown: a private address for a Prometheus scraper, when the main
// one needs the admin token.
func (s *Server) ServeMetrics(ln net.Listener) error {
	return s.metrics.Serve(newConnListener(ln, metricsConns, 0, nil, new(ConnStats), s.log))
}

// Conns counts the connections of Serve's listener.
func (s *Server) Conns() *ConnStats { return &s.conns }

// MaxConns is the connection limit in force.
func (s *Server) MaxConns() int { return s.opts.MaxConns }

// Shutdown stops accepting connections and waits for requests in flight to be
// answered, or for ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.srv.ShutdownWithContext(ctx), s.metrics.ShutdownWithContext(ctx))
}

// isAppName: 1 to 100 of A-Z, a-z, 0-9, _ . - (a loop, not a regexp: it
// runs for every webhook).
func isAppName(name string) bool {
	if len(name) == 0 || len(name) > 100 {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

// Handle is the request handler (exported for in-process tests and benchmarks).
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	if path == "/webhooks" || strings.HasPrefix(path, "/webhooks/") {
		s.webhook(ctx, path)
		return
	}
	defer s.recoverAdmin(ctx)
	switch {
	case path == "/healthz":
		if !ctx.IsGet() && !ctx.IsHead() {
			s.notAllowed(ctx, "GET, HEAD", "use GET /healthz")
			return
		}
		if s.monitoring(ctx) {
			s.health(ctx)
		}
	case path == "/readyz":
		s.ready(ctx)
	case path == "/metrics" && s.opts.Metrics != nil:
		if s.monitoring(ctx) {
			s.metricsText(ctx)
		}
	case path == "/admin/sessions" || strings.HasPrefix(path, "/admin/sessions/"):
		if !ctx.IsGet() {
			s.notAllowed(ctx, "GET", "use GET "+path)
			return
		}
		if !s.admin(ctx) {
			return
		}
		if id := strings.TrimPrefix(path, "/admin/sessions/"); id != path && id != "" {
			s.session(ctx, id)
		} else {
			s.sessions(ctx)
		}
	case path == "/admin/apps":
		if !ctx.IsGet() {
			s.notAllowed(ctx, "GET", "use GET /admin/apps")
			return
		}
		if s.admin(ctx) {
			s.apps(ctx)
		}
	case strings.HasPrefix(path, "/admin/apps/"):
		name, ok := strings.CutSuffix(strings.TrimPrefix(path, "/admin/apps/"), "/rollback")
		if !ok || !isAppName(name) {
			s.fail(ctx, fasthttp.StatusNotFound, "no such endpoint: use GET /admin/apps or POST /admin/apps/{app}/rollback")
			return
		}
		if !ctx.IsPost() {
			s.notAllowed(ctx, "POST", "use POST "+path)
			return
		}
		if s.admin(ctx) {
			s.rollback(ctx, name)
		}
	case path == "/calls":
		if !ctx.IsPost() {
			s.notAllowed(ctx, "POST", "use POST /calls with {\"app\":…,\"to\":…,\"from\":…}")
			return
		}
		if !s.admin(ctx) {
			return
		}
		s.placeCall(ctx)
	default:
		if s.opts.Pages != nil && s.opts.Pages(ctx) {
			return
		}
		s.fail(ctx, fasthttp.StatusNotFound, "no such endpoint: 8x8 webhooks go to POST /webhooks or POST /webhooks/{app}")
	}
}

// serveMetrics is ServeMetrics' handler.
func (s *Server) serveMetrics(ctx *fasthttp.RequestCtx) {
	defer s.recoverAdmin(ctx)
	if string(ctx.Path()) != "/metrics" || s.opts.Metrics == nil {
		s.fail(ctx, fasthttp.StatusNotFound, "this address serves GET /metrics only; webhooks and the rest are on --addr")
		return
	}
	s.metricsText(ctx)
}

func (s *Server) metricsText(ctx *fasthttp.RequestCtx) {
	body, err := s.opts.Metrics.Text()
	if err != nil {
		s.fail(ctx, fasthttp.StatusServiceUnavailable, err.Error())
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	ctx.SetBody(body)
}

// recoverAdmin turns a panic of ours in an endpoint other than the webhooks
// into a 500 for that request, and a log line the answer points to: the
// process goes on serving.
func (s *Server) recoverAdmin(ctx *fasthttp.RequestCtx) {
	p := recover()
	if p == nil {
		return
	}
	s.log.Error("panic while answering a request; answered 500, serving on", "path", string(ctx.Path()),
		"request", ctx.ID(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	ctx.Response.Reset()
	s.fail(ctx, fasthttp.StatusInternalServerError, fmt.Sprintf("internal error (logged as request %d): please report it", ctx.ID()))
}

func (s *Server) webhook(ctx *fasthttp.RequestCtx, path string) {
	var ev *webhook.Event
	defer func() {
		// A bug of ours must not become silence on a live call: the apology
		// is a valid callflow, and harmless for the events that need none.
		if p := recover(); p != nil {
			session := ""
			body := s.opts.Engine.PanicReply()
			if ev != nil {
				session = ev.SessionID
				if ev.Type != webhook.CallAction {
					body = []byte("{}")
				}
			}
			s.log.Error("panic while handling a webhook", "session", session, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			ctx.Response.Reset()
			s.reply(ctx, fasthttp.StatusOK, body)
		}
	}()
	if !ctx.IsPost() {
		s.notAllowed(ctx, "POST", "8x8 webhooks are POSTed: use POST "+path)
		return
	}
	app := strings.TrimPrefix(strings.TrimPrefix(path, "/webhooks"), "/")
	if app != "" && !isAppName(app) {
		s.fail(ctx, fasthttp.StatusNotFound, "no such app: app names are script file names (letters, digits, _ . -)")
		return
	}
	if status, reason := s.opts.Guard.check(ctx); status != 0 {
		s.conns.Rejected.Add(1)
		s.logs.log(s.log, slog.LevelWarn, "webhook refused", "remote", ctx.RemoteIP().String(), "reason", reason)
		s.fail(ctx, status, fasthttp.StatusMessage(status)) // no detail for strangers
		return
	}
	ev, err := webhook.Parse(ctx.PostBody())
	if err != nil {
		var bad *webhook.BadRequest
		if !errors.As(err, &bad) {
			err = &webhook.BadRequest{Msg: err.Error()}
		}
		s.logs.log(s.log, slog.LevelWarn, "webhook rejected", "remote", ctx.RemoteIP().String(), "reason", err)
		s.fail(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if app != "" && s.opts.Engine.Scripts().Apps[app] == nil {
		s.logs.log(s.log, slog.LevelWarn, "webhook URL names an app that is not loaded; routing by session, number or default",
			"app", app, "session", ev.SessionID, "apps", s.opts.Engine.Scripts().Names())
		app = ""
	}
	if ev.Type != webhook.CallAction && ev.Type != webhook.CallStatus &&
		ev.Type != webhook.SessionSummary && ev.Type != webhook.CallRecordingStatus {
		s.logs.log(s.log, slog.LevelWarn, "unknown eventType; recorded and answered 200", "event_type", clip(ev.Type), "session", ev.SessionID)
	}
	// The engine's context is not the request's: a caller's event finishes even
	// while the server shuts down.
	h := s.opts.Engine.Handle(context.Background(), ev, app)
	if s.opts.Metrics != nil && !h.Duplicate {
		s.opts.Metrics.Observe(h)
	}
	s.reply(ctx, fasthttp.StatusOK, h.Body)
}

// admin lets a request to an admin endpoint through; it answers the request
// itself when it may not pass. Admin endpoints are off without a token.
func (s *Server) admin(ctx *fasthttp.RequestCtx) bool {
	if s.opts.AdminToken == "" {
		s.fail(ctx, fasthttp.StatusForbidden, "admin endpoints are off: start serve with --admin-token (LUAIVR_ADMIN_TOKEN)")
		return false
	}
	return s.bearer(ctx)
}

// monitoring lets a request to /healthz or /metrics through: they name the
// apps and count the calls, so with a token set only its holders see them.
func (s *Server) monitoring(ctx *fasthttp.RequestCtx) bool {
	return s.opts.AdminToken == "" || s.bearer(ctx)
}

// bearer checks the admin token in constant time; it answers the request
// itself when the check fails.
func (s *Server) bearer(ctx *fasthttp.RequestCtx) bool {
	got, bearer := bytes.CutPrefix(ctx.Request.Header.Peek("Authorization"), []byte("Bearer "))
	if !bearer || !sameSecret(got, s.opts.AdminToken) {
		s.logs.log(s.log, slog.LevelWarn, "admin request rejected", "remote", ctx.RemoteIP().String())
		s.fail(ctx, fasthttp.StatusUnauthorized, "send the admin token as Authorization: Bearer <token>")
		return false
	}
	return true
}

// A page of /admin/sessions holds at most maxSessionsPage sessions and stops
// once their vars pass maxSessionsPageVars: an admin request must not take
// the memory that calls need (a call's vars may be 1 MiB).
const (
	maxSessionsPage     = 1000
	maxSessionsPageVars = 8 << 20
)

func (s *Server) sessions(ctx *fasthttp.RequestCtx) {
	limit := 50
	if n, err := strconv.Atoi(string(ctx.QueryArgs().Peek("limit"))); err == nil && n > 0 {
		limit = min(n, maxSessionsPage)
	}
	list, varsBytes := []store.Session{}, 0
	listCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.opts.Engine.Store().Sessions(listCtx, func(sess store.Session) bool {
		list = append(list, sess)
		varsBytes += len(sess.Vars)
		return len(list) < limit && varsBytes < maxSessionsPageVars
	})
	if err != nil {
		s.fail(ctx, fasthttp.StatusServiceUnavailable, "store: "+err.Error())
		return
	}
	body, _ := json.Marshal(list)
	s.reply(ctx, fasthttp.StatusOK, body)
}

func (s *Server) session(ctx *fasthttp.RequestCtx, id string) {
	st := s.opts.Engine.Store()
	sess, ok, err := st.Session(context.Background(), id)
	if err == nil && !ok {
		s.fail(ctx, fasthttp.StatusNotFound, "no session "+id+" (unknown, or expired)")
		return
	}
	var entries []store.Entry
	if err == nil {
		entries, err = st.Transcript(context.Background(), id)
	}
	if err != nil {
		s.fail(ctx, fasthttp.StatusServiceUnavailable, "store: "+err.Error())
		return
	}
	body, _ := json.Marshal(SessionView{Session: sess, Transcript: entries})
	s.reply(ctx, fasthttp.StatusOK, body)
}

// apps answers the versions of each app being served, with their live calls.
func (s *Server) apps(ctx *fasthttp.RequestCtx) {
	rep, err := s.opts.Engine.Versions(context.Background())
	if err != nil {
		s.fail(ctx, fasthttp.StatusServiceUnavailable, "store: "+err.Error())
		return
	}
	body, _ := json.Marshal(rep)
	s.reply(ctx, fasthttp.StatusOK, body)
}

// RollbackResult is what POST /admin/apps/{app}/rollback answers.
type RollbackResult struct {
	App     string `json:"app"`
	Version string `json:"version"` // what new calls get now
	Was     string `json:"was"`
}

func (s *Server) rollback(ctx *fasthttp.RequestCtx, name string) {
	was, now, err := s.opts.Engine.Rollback(name)
	if err != nil {
		status := fasthttp.StatusConflict // no previous version
		if s.opts.Engine.Scripts().Apps[name] == nil {
			status = fasthttp.StatusNotFound
		}
		s.fail(ctx, status, err.Error())
		return
	}
	body, _ := json.Marshal(RollbackResult{App: name, Version: now, Was: was})
	s.reply(ctx, fasthttp.StatusOK, body)
}

func (s *Server) placeCall(ctx *fasthttp.RequestCtx) {
	if s.opts.Send == nil {
		s.fail(ctx, fasthttp.StatusServiceUnavailable, "placing calls needs the 8x8 API: start serve with --api-key and --subaccount (LUAIVR_API_KEY, LUAIVR_SUBACCOUNT)")
		return
	}
	var req engine.CallRequest
	dec := json.NewDecoder(bytes.NewReader(ctx.PostBody()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.fail(ctx, fasthttp.StatusBadRequest, "body: "+err.Error()+`; expected {"app":"reminder","to":"+6591234567","from":"+6568332048","vars":{…}}`)
		return
	}
	if req.App == "" || req.To == "" || req.From == "" {
		s.fail(ctx, fasthttp.StatusBadRequest, "app, to and from are required")
		return
	}
	callCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	placed, err := s.opts.Engine.Call(callCtx, req, s.opts.Send)
	var ce *engine.CallError
	if errors.As(err, &ce) && ce.Step != "record" {
		status := fasthttp.StatusBadGateway // 8x8 refused, or could not be reached
		if ce.Step == "app" {
			status = fasthttp.StatusUnprocessableEntity
		}
		s.log.Warn("call not placed", "app", req.App, "to", req.To, "err", err)
		s.fail(ctx, status, err.Error())
		return
	}
	if err != nil { // placed but not recorded: the caller must know both
		s.log.Error("call placed but not recorded", "app", req.App, "session", placed.SessionID, "err", err)
		body, _ := json.Marshal(map[string]any{"sessionId": placed.SessionID, "clientActionId": placed.ActionID, "callflow": placed.Callflow, "warning": err.Error()})
		s.reply(ctx, fasthttp.StatusOK, body)
		return
	}
	s.log.Info("call placed", "app", req.App, "to", req.To, "session", placed.SessionID)
	body, _ := json.Marshal(placed)
	s.reply(ctx, fasthttp.StatusOK, body)
}

// SessionView is one session with its transcript, as /admin/sessions/{id}
// answers it and `luaivr sessions show --json` prints it.
type SessionView struct {
	Session    store.Session `json:"session"`
	Transcript []store.Entry `json:"transcript"`
}

// ready answers 503 while the store cannot take events, so a load balancer
// sends calls elsewhere. Anyone may ask, so it says no more than that:
// /healthz says why.
func (s *Server) ready(ctx *fasthttp.RequestCtx) {
	if s.notReady() != nil {
		s.reply(ctx, fasthttp.StatusServiceUnavailable, []byte(`{"status":"not ready"}`))
		return
	}
	s.reply(ctx, fasthttp.StatusOK, []byte(`{"status":"ready"}`))
}

// notReady is why the store cannot take events, or nil.
func (s *Server) notReady() error { return store.Ready(s.opts.Engine.Store()) }

func (s *Server) health(ctx *fasthttp.RequestCtx) {
	st := s.opts.Engine.Stats()
	fallbacks := map[string]int64{}
	st.Fallbacks.Range(func(k, v any) bool {
		fallbacks[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	body, _ := json.Marshal(map[string]any{
		"status":         "ok",
		"apps":           s.opts.Engine.Scripts().Names(),
		"events":         st.Events.Load(),
		"duplicates":     st.Duplicates.Load(),
		"fallbacks":      fallbacks,
		"store_failures": st.StoreFails.Load(),
		"rejected":       s.conns.Rejected.Load(),
		"not_ready":      errText(s.notReady()),
		"connections":    s.conns.Open.Load(),
	})
	s.reply(ctx, fasthttp.StatusOK, body)
}

// requestError answers requests fasthttp could not read: too large, too slow,
// malformed. All are the client's doing: 4xx.
func (s *Server) requestError(ctx *fasthttp.RequestCtx, err error) {
	status, msg := fasthttp.StatusBadRequest, "malformed HTTP request"
	var small *fasthttp.ErrSmallBuffer
	var timeout interface{ Timeout() bool }
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status, msg = fasthttp.StatusRequestEntityTooLarge, fmt.Sprintf("body over the limit of %d bytes", s.opts.MaxBodySize)
	case errors.As(err, &small):
		status, msg = fasthttp.StatusRequestHeaderFieldsTooLarge, "request headers too large"
	case errors.As(err, &timeout) && timeout.Timeout():
		status, msg = fasthttp.StatusRequestTimeout, "request not received in time"
	}
	s.logs.log(s.log, slog.LevelWarn, "request rejected", "remote", ctx.RemoteIP().String(), "status", status, "err", err)
	s.fail(ctx, status, msg)
}

// fasthttpLog sends fasthttp's own messages (a connection that failed in an
// unusual way) to the server's log, as quietly as what senders do.
type fasthttpLog struct{ s *Server }

func (l fasthttpLog) Printf(format string, args ...any) {
	l.s.logs.log(l.s.log, slog.LevelWarn, "fasthttp", "detail", fmt.Sprintf(format, args...))
}

// errText is err's message, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// clip shortens a value a sender chose for a log line, at a character.
func clip(v string) string {
	if len(v) <= 64 {
		return v
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + "…"
}

func (s *Server) notAllowed(ctx *fasthttp.RequestCtx, allow, msg string) {
	ctx.Response.Header.Set("Allow", allow)
	s.fail(ctx, fasthttp.StatusMethodNotAllowed, msg)
}

func (s *Server) fail(ctx *fasthttp.RequestCtx, status int, msg string) {
	body, _ := json.Marshal(map[string]string{"error": msg})
	s.reply(ctx, status, body)
}

func (s *Server) reply(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}
