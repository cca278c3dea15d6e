package command

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	httpmod "github.com/luaivr/luaivr/stdlib/http"
	kvmod "github.com/luaivr/luaivr/stdlib/kv"
	clock "github.com/luaivr/luaivr/stdlib/time"
	"github.com/luaivr/luaivr/stdlib/vcc"
	"github.com/luaivr/luaivr/store"
	"github.com/urfave/cli/v2"
)

// defaultDeadline is a handler's time per event unless --deadline says otherwise.
const defaultDeadline = 100 * time.Millisecond

// scriptFlags say where the apps are and how they run: every command that
// runs apps (serve, simulate, test, check, graph, call) takes them, and
// engineOptions is the one reader of them, so that an app is simulated,
// tested, checked and vetted for hot reload in the environment it is served
// in. A flag that changes how scripts run belongs here.
var scriptFlags = []cli.Flag{
	scriptsFlag,
	&cli.DurationFlag{Name: "deadline", EnvVars: env("deadline"), Value: defaultDeadline, Usage: "time a handler may run per event before the caller gets the fallback"},
	&cli.StringFlag{Name: "zone", EnvVars: env("zone"), Usage: "default time `zone` of the time module (IANA, e.g. Asia/Singapore); UTC if unset"},
	&cli.StringFlag{Name: "http-allow", EnvVars: env("http-allow"), Usage: "`hosts` the http module may call, comma-separated (api.example.com, *.example.com, 127.0.0.1:8081); none by default"},
	&cli.StringFlag{Name: "vcc-url", EnvVars: env("vcc-url"), Usage: "the contact center's External IVR action `URL` (https://vcc-….8x8.com/SC/externalIvrAction.php)"},
	&cli.StringFlag{Name: "vcc-tenant", EnvVars: env("vcc-tenant"), Usage: "the contact center `tenant` name"},
	&cli.StringFlag{Name: "vcc-token", EnvVars: env("vcc-token"), Usage: "the contact center's Action Request `token`"},
	&cli.IntFlag{Name: "kv-max-keys", EnvVars: env("kv-max-keys"), Value: kvmod.DefaultMaxKeys, Usage: "`keys` one app may keep in kv; past it kv.set and kv.incr of a new key raise"},
	&cli.Int64Flag{Name: "kv-max-bytes", EnvVars: env("kv-max-bytes"), Value: kvmod.DefaultMaxBytes, Usage: "`bytes` of keys and values one app may keep in kv"},
}

// scriptsFlag names the script folder; editor takes it alone.
var scriptsFlag = &cli.StringFlag{Name: "scripts", EnvVars: env("scripts"), Value: "./scripts", Usage: "script `folder`: one app per *.lua file"}

// offlineScriptFlags are scriptFlags without the contact center's: flow tests
// hand vcc to a stub (t:stub) at a test URL, and check and graph explore
// calls that must not reach a real contact center.
func offlineScriptFlags() []cli.Flag {
	var out []cli.Flag
	for _, f := range scriptFlags {
		if !strings.HasPrefix(f.Names()[0], "vcc-") {
			out = append(out, f)
		}
	}
	return out
}

// engineOptions reads scriptFlags into the engine's options, checking each
// value before any script runs: a mistake in a flag is said once, at the
// start, rather than on every call as if the script had made it. Options
// that only serve has (store, default app, …) are serve's to add.
func engineOptions(c *cli.Context, logger *slog.Logger) (engine.Options, error) {
	opts := engine.Options{Deadline: c.Duration("deadline"), Logger: logger}
	if opts.Deadline <= 0 {
		return opts, fmt.Errorf("--deadline %s: give a handler some time, e.g. 100ms", opts.Deadline)
	}
	var allow []string
	for _, h := range strings.Split(c.String("http-allow"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			allow = append(allow, h)
		}
	}
	if err := httpmod.CheckAllow(allow); err != nil {
		return opts, fmt.Errorf("--http-allow: %w", err)
	}
	opts.HTTP = httpmod.Options{Allow: allow}
	opts.VCC = vcc.Options{URL: c.String("vcc-url"), Tenant: c.String("vcc-tenant"), Token: c.String("vcc-token")}
	if zone := c.String("zone"); zone != "" {
		if _, err := clock.LoadZone(zone); err != nil {
			return opts, fmt.Errorf("--zone %q: unknown time zone: use an IANA name like Asia/Singapore (LUAIVR_ZONE)", zone)
		}
		opts.Zone = zone
	}
	opts.KVQuota = store.KVQuota{Keys: c.Int("kv-max-keys"), Bytes: c.Int64("kv-max-bytes")}
	if opts.KVQuota.Keys < 1 || opts.KVQuota.Bytes < 1 {
		return opts, fmt.Errorf("--kv-max-keys and --kv-max-bytes are at least 1 (got %d and %d)", opts.KVQuota.Keys, opts.KVQuota.Bytes)
	}
	return opts, nil
}

// scriptsDir is the script folder, which must exist: --scripts
// (LUAIVR_SCRIPTS), or, for the commands whose argument is a folder (test,
// check), DIR, which wins.
func scriptsDir(c *cli.Context, argIsDir bool) (string, error) {
	dir, err := scriptsArg(c, argIsDir)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		arg := c.Args().First()
		if argIsDir && arg != "" && isAppIn(c.String("scripts"), arg) {
			return "", fmt.Errorf("%s %s: %s takes a script folder, not an app, and looks at every app in it: luaivr %s --scripts %s (or luaivr %s %s)",
				c.Command.Name, arg, c.Command.Name, c.Command.Name, c.String("scripts"), c.Command.Name, c.String("scripts"))
		}
		return "", fmt.Errorf("script folder %s not found: run from the folder that holds it, or pass --scripts DIR", dir)
	}
	return dir, nil
}

// isAppIn reports whether name (restaurant, or restaurant.lua) is an app of dir.
func isAppIn(dir, name string) bool {
	st, err := os.Stat(filepath.Join(dir, strings.TrimSuffix(name, ".lua")+".lua"))
	return err == nil && !st.IsDir()
}

// scriptsArg names the script folder as scriptsDir does, existing or not
// (editor makes it).
func scriptsArg(c *cli.Context, argIsDir bool) (string, error) {
	dir := c.String("scripts")
	if argIsDir {
		if c.NArg() > 1 {
			return "", fmt.Errorf("one script folder, not %d: %s", c.NArg(), strings.Join(c.Args().Slice(), " "))
		}
		if arg := c.Args().First(); arg != "" {
			dir = arg
		}
	}
	return dir, nil
}
