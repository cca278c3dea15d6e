package command

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/luaivr/luaivr/runtime/loadgen"
	"github.com/urfave/cli/v2"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "play realistic calls against a running server and report throughput, latency and errors",
		Description: "Each call is the webhooks 8x8 sends for one inbound call: CALL_ACTION CALL_RECEIVED, CALL_STATUS,\n" +
			"the caller's keys at every prompt (--keys), a no-input now and then (--timeouts), redeliveries whose\n" +
			"reply must be byte-identical (--duplicates), the hang-up's CALL_STATUS and the SESSION_SUMMARY.\n" +
			"--baseline runs the same load against a bare fasthttp handler first and prints ratios to it;\n" +
			"--peer URL also against another server answering the same JSON (examples/bench/peer.js, a\n" +
			"stateless Node cluster), between the two, and prints the target's ratios to it too.\n" +
			"Exits 1 when any webhook went wrong. Only targets on this machine, unless --allow-remote.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url", EnvVars: env("url"), Value: loadgen.DefaultURL, Usage: "webhook `URL` to load"},
			&cli.IntFlag{Name: "calls-at-once", EnvVars: env("calls-at-once"), Value: 64, Usage: "calls in progress at once (one connection each)"},
			&cli.IntFlag{Name: "calls", EnvVars: env("calls"), Value: 2000, Usage: "calls to place (0: until --duration is up)"},
			&cli.DurationFlag{Name: "duration", EnvVars: env("duration"), Value: 30 * time.Second, Usage: "stop placing calls after this long (0: until --calls are done)"},
			&cli.Float64Flag{Name: "rate", EnvVars: env("rate"), Usage: "calls started per second (0: flat out)"},
			&cli.StringFlag{Name: "keys", EnvVars: env("keys"), Value: loadgen.DefaultKeys, Usage: "key `paths` callers follow, one chosen per call: paths separated by ;, keys by , (\"timeout\" for no input)"},
			&cli.Float64Flag{Name: "timeouts", EnvVars: env("timeouts"), Value: 0.05, Usage: "`fraction` of prompts the caller lets time out"},
			&cli.Float64Flag{Name: "duplicates", EnvVars: env("duplicates"), Value: 0.05, Usage: "`fraction` of webhooks delivered twice (the replies must match)"},
			&cli.DurationFlag{Name: "timeout", EnvVars: env("timeout"), Value: 5 * time.Second, Usage: "time to wait for each reply"},
			&cli.Uint64Flag{Name: "seed", EnvVars: env("seed"), Usage: "seed of the random choices, to repeat a run (0: random)"},
			&cli.BoolFlag{Name: "baseline", EnvVars: env("baseline"), Usage: "run the same load against a bare fasthttp server first and report ratios to it"},
			&cli.StringFlag{Name: "peer", EnvVars: env("peer"), Usage: "also run the same load against the server at `URL` (another app answering the same JSON) and report ratios to it; implies --baseline"},
			&cli.BoolFlag{Name: "allow-remote", EnvVars: env("allow-remote"), Usage: "allow a --url that is not this machine (only a server you run)"},
			&cli.BoolFlag{Name: "json", EnvVars: env("json"), Usage: "print the report as JSON"},
		},
		Action: bench,
	}
}

func bench(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("bench takes no arguments: name the app in --url (…/webhooks/%s)", c.Args().First())
	}
	paths, err := loadgen.ParseKeys(c.String("keys"))
	if err != nil {
		return fmt.Errorf("--keys: %w", err)
	}
	opts := loadgen.Options{
		URL: c.String("url"), AllowRemote: c.Bool("allow-remote"),
		Concurrency: c.Int("calls-at-once"), Calls: c.Int("calls"), Duration: c.Duration("duration"),
		Rate: c.Float64("rate"), Paths: paths, Timeouts: c.Float64("timeouts"), Duplicates: c.Float64("duplicates"),
		Timeout: c.Duration("timeout"), Seed: c.Uint64("seed"), Peer: c.String("peer"),
	}
	if opts.Concurrency <= 0 {
		return fmt.Errorf("--calls-at-once %d: at least 1", opts.Concurrency)
	}
	// Ctrl-C ends the run early, with a report of what was done.
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var report interface {
		WriteText(w io.Writer) error
	}
	var errs int
	if c.Bool("baseline") || opts.Peer != "" {
		cmp, err := loadgen.Compare(ctx, opts)
		if err != nil {
			return err
		}
		report, errs = cmp, cmp.ErrorCount()
	} else {
		r, err := loadgen.Run(ctx, opts)
		if err != nil {
			return err
		}
		report, errs = r, r.ErrorCount()
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		err = enc.Encode(report)
	} else {
		err = report.WriteText(c.App.Writer)
	}
	if err != nil {
		return err
	}
	if errs > 0 {
		return cli.Exit(fmt.Sprintf("%d webhooks went wrong (see errors in the report)", errs), 1)
	}
	return nil
}
