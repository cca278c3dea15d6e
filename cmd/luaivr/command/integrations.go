package command

import (
	"fmt"
	"strings"

	"github.com/luaivr/luaivr/runtime/engine"
	httpmod "github.com/luaivr/luaivr/stdlib/http"
	kvmod "github.com/luaivr/luaivr/stdlib/kv"
	"github.com/luaivr/luaivr/stdlib/vcc"
	"github.com/luaivr/luaivr/store"
	"github.com/urfave/cli/v2"
)

// integrationFlags configure what scripts may reach and keep: serve, simulate
// and test take them; check and graph explore offline and never call anything.
var integrationFlags = []cli.Flag{
	&cli.StringFlag{Name: "http-allow", EnvVars: env("http-allow"), Usage: "`hosts` the http module may call, comma-separated (api.example.com, *.example.com, 127.0.0.1:8081); none by default"},
	&cli.StringFlag{Name: "vcc-url", EnvVars: env("vcc-url"), Usage: "the contact center's External IVR action `URL` (https://vcc-….8x8.com/SC/externalIvrAction.php)"},
	&cli.StringFlag{Name: "vcc-tenant", EnvVars: env("vcc-tenant"), Usage: "the contact center `tenant` name"},
	&cli.StringFlag{Name: "vcc-token", EnvVars: env("vcc-token"), Usage: "the contact center's Action Request `token`"},
	&cli.StringFlag{Name: "zone", EnvVars: env("zone"), Usage: "default time `zone` of the time module (IANA, e.g. Asia/Singapore); UTC if unset"},
	&cli.IntFlag{Name: "kv-max-keys", EnvVars: env("kv-max-keys"), Value: kvmod.DefaultMaxKeys, Usage: "`keys` one app may keep in kv; past it kv.set and kv.incr of a new key raise"},
	&cli.Int64Flag{Name: "kv-max-bytes", EnvVars: env("kv-max-bytes"), Value: kvmod.DefaultMaxBytes, Usage: "`bytes` of keys and values one app may keep in kv"},
}

// integrations reads integrationFlags into engine options.
func integrations(c *cli.Context, opts *engine.Options) error {
	var allow []string
	for _, h := range strings.Split(c.String("http-allow"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			allow = append(allow, h)
		}
	}
	if err := httpmod.CheckAllow(allow); err != nil {
		return fmt.Errorf("--http-allow: %w", err)
	}
	opts.HTTP = httpmod.Options{Allow: allow}
	opts.VCC = vcc.Options{URL: c.String("vcc-url"), Tenant: c.String("vcc-tenant"), Token: c.String("vcc-token")}
	opts.Zone = c.String("zone")
	opts.KVQuota = store.KVQuota{Keys: c.Int("kv-max-keys"), Bytes: c.Int64("kv-max-bytes")}
	if opts.KVQuota.Keys < 1 || opts.KVQuota.Bytes < 1 {
		return fmt.Errorf("--kv-max-keys and --kv-max-bytes are at least 1 (got %d and %d)", opts.KVQuota.Keys, opts.KVQuota.Bytes)
	}
	return nil
}
