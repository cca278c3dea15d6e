package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/luaivr/luaivr/runtime/console"
	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/metrics"
	"github.com/luaivr/luaivr/runtime/server"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/badgerstore"
	"github.com/urfave/cli/v2"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve 8x8 webhooks with the apps in the script folder",
		Description: "POST /webhooks and /webhooks/{app} take every 8x8 event type; GET /healthz reports what is served.\n" +
			"Point the VCA, VCS and VSS webhooks of your 8x8 sub-account at https://<your host>/webhooks.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "addr", EnvVars: env("addr"), Value: ":8080", Usage: "listen `address`"},
			&cli.StringFlag{Name: "data", EnvVars: env("data"), Value: "./data", Usage: "data `folder` for sessions, transcripts and the reply cache"},
			storeFlag(),
			&cli.StringFlag{Name: "app", EnvVars: env("app"), Usage: "default `app` for calls no URL, session or number places (default: the only app, if there is one)"},
			&cli.IntFlag{Name: "concurrency", EnvVars: env("concurrency"), Usage: "scripts running at once (default 4 per CPU); more for apps that wait on http"},
			&cli.IntFlag{Name: "script-memory", EnvVars: env("script-memory"), Value: 384, Usage: "heap size in `MiB` past which running scripts are stopped (0: no guard)"},
			&cli.IntFlag{Name: "max-body", EnvVars: env("max-body"), Value: 1 << 20, Usage: "largest webhook body in `bytes`"},
			&cli.DurationFlag{Name: "read-timeout", EnvVars: env("read-timeout"), Value: 5 * time.Second, Usage: "time to read a request"},
			&cli.DurationFlag{Name: "write-timeout", EnvVars: env("write-timeout"), Value: 5 * time.Second, Usage: "time to write a reply"},
			&cli.DurationFlag{Name: "idle-timeout", EnvVars: env("idle-timeout"), Value: 60 * time.Second, Usage: "keep-alive time between requests"},
			&cli.DurationFlag{Name: "session-ttl", EnvVars: env("session-ttl"), Value: 24 * time.Hour, Usage: "how long a session is kept after its last event"},
			&cli.DurationFlag{Name: "reply-ttl", EnvVars: env("reply-ttl"), Value: 24 * time.Hour, Usage: "how long a reply is kept to answer a redelivered event"},
			&cli.BoolFlag{Name: "fsync", EnvVars: env("fsync"), Usage: "fsync every event before answering, one fsync for the events that commit together (survives power loss, not only a crash of luaivr; slower)"},
			&cli.IntFlag{Name: "min-free", EnvVars: env("min-free"), Value: badgerstore.DefaultMinFree >> 20, Usage: "free space in `MiB` to keep on the data folder's disk: below it events get the fallback and /readyz says 503 (0: no check)"},
			&cli.BoolFlag{Name: "repair", EnvVars: env("repair"), Usage: "open a damaged data folder: what cannot be read is moved aside and logged (without it serve refuses such a folder)"},
			&cli.BoolFlag{Name: "pin-versions", EnvVars: env("pin-versions"), Value: true, Usage: "finish each call on the app version it started on, across reloads and rollbacks (false: a call's next event runs the version served)"},
			&cli.DurationFlag{Name: "reload-interval", EnvVars: env("reload-interval"), Value: time.Second, Usage: "how often to look for changed scripts; 0 turns hot reload off"},
			&cli.IntFlag{Name: "reload-replay", EnvVars: env("reload-replay"), Usage: "refuse a new version of an app unless it answers the last `N` recorded calls of its served version as they were answered (0: no replay)"},
			&cli.StringFlag{Name: "webhook-auth", EnvVars: env("webhook-auth"), Usage: "require this exact Authorization header `value` on webhooks (the httpAuthHeader of your 8x8 webhooks)"},
			&cli.StringFlag{Name: "allow-from", EnvVars: env("allow-from"), Usage: "accept webhooks only from these `networks` (comma-separated, e.g. 8x8's published ranges)"},
			&cli.StringFlag{Name: "trust-proxy", EnvVars: env("trust-proxy"), Usage: "reverse proxies (`networks`) whose X-Forwarded-For names the sender"},
			&cli.StringFlag{Name: "admin-token", EnvVars: env("admin-token"), Usage: "`token` for /admin/*, POST /calls, /healthz and /metrics (luaivr sessions --server); empty turns /admin/* and /calls off and leaves /healthz and /metrics open"},
			&cli.StringFlag{Name: "metrics-addr", EnvVars: env("metrics-addr"), Usage: "also serve GET /metrics, without the admin token, on this private `address` (for a Prometheus scraper)"},
			&cli.IntFlag{Name: "max-conns", EnvVars: env("max-conns"), Usage: "connections held at once; at the limit the one idle longest is closed for a new one (default: half the open-file limit, at most 4096)"},
			&cli.IntFlag{Name: "max-conns-per-ip", EnvVars: env("max-conns-per-ip"), Value: 256, Usage: "connections from one IPv4 address or IPv6 /64, except --trust-proxy's (0: no limit)"},
			&cli.StringFlag{Name: "voice", EnvVars: env("voice"), Value: "en-US-BenjaminRUS", Usage: "voiceProfile of the server's own apology when a script fails"},
		}, append(append(scriptFlags, apiFlags...), logFlags...)...),
		Action: serve,
	}
}

func serve(c *cli.Context) error {
	logger, err := newLogger(c, os.Stderr)
	if err != nil {
		return err
	}
	dir, err := scriptsDir(c, false)
	if err != nil {
		return err
	}
	engOpts, err := engineOptions(c, logger)
	if err != nil {
		return err
	}
	// Compiled now, loaded while serving: a slow app does not hold up the start.
	scripts, problems := engine.Scan(dir)
	// Apps whose last version was refused, so that the fix is said: served
	// again, when an earlier version serves on (true), or served at last.
	refusedApps := map[string]bool{}
	refusedApp := func(err error, serving *engine.Scripts) {
		var se *engine.ScriptError
		if asScriptError(err, &se) && engine.IsApp(se.File) {
			name := strings.TrimSuffix(se.File, ".lua")
			refusedApps[name] = serving != nil && serving.Apps[name] != nil
		}
	}
	for _, p := range problems {
		logger.Error("script not served", "err", p)
		refusedApp(p, nil)
	}
	apps := scripts.Loading()
	if len(apps) == 0 {
		return fmt.Errorf("no app to serve in %s: add an app as a *.lua file (see README)", dir)
	}
	if def := c.String("app"); def != "" && !slices.Contains(apps, def) {
		return fmt.Errorf("--app %s: no such app in %s (apps: %v)", def, dir, apps)
	}

	minFree := int64(c.Int("min-free")) << 20
	if minFree <= 0 {
		minFree = -1 // no check
	}
	st, err := openStore(c, c.String("data"), store.Options{
		SessionTTL: c.Duration("session-ttl"),
		ReplyTTL:   c.Duration("reply-ttl"),
		SyncWrites: c.Bool("fsync"),
		MinFree:    minFree,
		Repair:     c.Bool("repair"),
		Logger:     logger,
	})
	if err != nil {
		return err
	}
	defer st.Close()

	limit := uint64(max(c.Int("script-memory"), 0)) << 20
	if limit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		// The memory guard judges the live heap, known after each
		// collection: collect often as the heap nears the limit.
		debug.SetMemoryLimit(int64(limit))
	}
	vetOpts := engOpts // vetting explores in the environment served, without the store serve adds
	engOpts.Store, engOpts.DefaultApp, engOpts.Voice = st, c.String("app"), c.String("voice")
	engOpts.MemoryLimit, engOpts.Concurrency = limit, c.Int("concurrency")
	engOpts.PinVersions, engOpts.SessionTTL = c.Bool("pin-versions"), c.Duration("session-ttl")
	eng, err := engine.New(scripts, engOpts)
	if err != nil {
		return fmt.Errorf("--voice: %w", err)
	}
	m := metrics.New(eng, st)
	allow, err := server.ParseNets(c.String("allow-from"))
	if err != nil {
		return fmt.Errorf("--allow-from: %w", err)
	}
	proxies, err := server.ParseNets(c.String("trust-proxy"))
	if err != nil {
		return fmt.Errorf("--trust-proxy: %w", err)
	}
	var send engine.Send // POST /calls, when the 8x8 API is configured
	if c.String("api-key") != "" || c.String("subaccount") != "" {
		if send, err = newSender(c, logger); err != nil {
			return err
		}
	}
	calls := console.NewConsole(console.ConsoleOptions{Engine: eng, Token: c.String("admin-token"), Entry: entryLine,
		Deadline: c.Duration("deadline"), Logger: logger})
	srv := server.New(server.Options{
		Pages:   console.Pages(calls.Handler(), "/console"),
		Send:    send,
		Metrics: m,
		Guard:   server.Guard{Authorization: c.String("webhook-auth"), AllowFrom: allow, TrustProxy: proxies},
		Engine:  eng, Logger: logger, MaxBodySize: c.Int("max-body"),
		ReadTimeout: c.Duration("read-timeout"), WriteTimeout: c.Duration("write-timeout"), IdleTimeout: c.Duration("idle-timeout"),
		AdminToken: c.String("admin-token"),
		MaxConns:   c.Int("max-conns"), MaxConnsPerIP: c.Int("max-conns-per-ip"),
	})
	m.CountConns(srv.Conns())
	if files := server.FileLimit(); files > 0 && uint64(srv.MaxConns()) >= files {
		logger.Warn("--max-conns is not below the open-file limit: past it, accepting fails and waiting connections are closed to make room; lower --max-conns or raise the limit (ulimit -Hn, systemd LimitNOFILE=)",
			"max_conns", srv.MaxConns(), "file_limit", files)
	}
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (is another server running? pick another with --addr)", c.String("addr"), err)
	}
	served := make(chan error, 2)
	if addr := c.String("metrics-addr"); addr != "" {
		mln, err := net.Listen("tcp", addr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--metrics-addr: cannot listen on %s: %w", addr, err)
		}
		logger.Info("serving /metrics without the admin token", "metrics_addr", mln.Addr().String())
		go func() { served <- srv.ServeMetrics(mln) }()
	}
	logger.Info("luaivr serving", "addr", ln.Addr().String(), "scripts", dir, "apps", apps, "data", c.String("data"), "store", storeInUse(c),
		"max_conns", srv.MaxConns(), "max_conns_per_ip", c.Int("max-conns-per-ip"), "file_limit", server.FileLimit())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	vet := newVetter(ctx, vetOpts, eng.Stats(), logger)
	gate := vet.vet
	if n := c.Int("reload-replay"); n > 0 {
		gate = replayGate(ctx, gate, st, eng.Scripts, vetOpts, n)
	}
	loaded := false // this and refusedApps are touched only by the goroutine that loads
	load := func() {
		runSafely(logger, "loading the scripts", func() {
			changed, refused := eng.Reload(gate)
			for _, err := range refused {
				logger.Error("script refused", "err", err)
				refusedApp(err, eng.Scripts())
				calls.Refused(err)
			}
			if len(changed) > 0 {
				logger.Info("scripts loaded", "changed", changed, "apps", eng.Scripts().Names())
				calls.Reloaded()
			}
			served := eng.Scripts()
			for name, again := range refusedApps {
				switch {
				case served.Refused(name) || served.Apps[name] == nil:
				case slices.Contains(changed, name):
					delete(refusedApps, name)
					msg := "script served: its refusal is fixed" // a file never served before
					if again {
						msg = "script served again: its refusal is fixed"
					}
					logger.Info(msg, "app", name, "file", name+".lua")
				default: // the file went back to the version that kept serving
					delete(refusedApps, name)
					logger.Info("script refusal withdrawn: the file is back to the version being served", "app", name, "file", name+".lua")
				}
			}
		})
		if loaded {
			return
		}
		loaded = true
		go runSafely(logger, "checking the apps", func() { // what check finds in the apps served: said, not refused
			s := eng.Scripts()
			for _, name := range s.Names() {
				if err := vet.report(s, name); err != nil {
					logger.Warn("app has problems (luaivr check tells more)", "app", name, "err", err)
				}
			}
		})
	}
	if iv := c.Duration("reload-interval"); iv > 0 {
		go engine.Watch(ctx, dir, iv, load)
	} else {
		go load()
	}
	go giveMemoryBack(ctx, &eng.Stats().Events, idleInterval, freeOSMemory)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal now stops the process at once
	logger.Info("shutting down: finishing the events in flight (signal again to stop now)")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); errors.Is(err, context.DeadlineExceeded) {
		logger.Error("shutdown: requests still open after 10s were cut off; their events may not be saved")
	} else if err != nil {
		logger.Error("shutdown", "err", err)
	}
	return nil
}

// runSafely runs a piece of serve's background work (loading, vetting): a
// panic in it is logged, and serving goes on.
func runSafely(logger *slog.Logger, what string, fn func()) {
	defer func() {
		if p := recover(); p != nil {
			logger.Error("panic while "+what+"; serving goes on", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// storeInUse names the store serve opened, for its "luaivr serving" line,
// password masked: the --store URL, or Badger in --data.
func storeInUse(c *cli.Context) string {
	raw := c.String("store")
	if raw == "" {
		return "badger in " + c.String("data")
	}
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return store.Redacted(u)
	}
	return raw
}
