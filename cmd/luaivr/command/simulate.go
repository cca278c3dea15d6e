package command

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/phone"
	"github.com/luaivr/luaivr/store"
	"github.com/urfave/cli/v2"
)

func simulateCommand() *cli.Command {
	return &cli.Command{
		Name:      "simulate",
		Usage:     "play a call to APP in the terminal: hear the prompts, press keys",
		ArgsUsage: "APP",
		Description: "Type keys and Enter to press them; t (or an empty line) lets the prompt time out;\n" +
			"q hangs up. While connected to another party, t ends that call. --keys runs unattended.\n" +
			"8x8's capture rules are modelled: noOfTries, failureMessage, completeOnHash, min/maxDigits.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "scripts", EnvVars: env("scripts"), Value: "./scripts", Usage: "script `folder`"},
			&cli.StringFlag{Name: "keys", Usage: "run unattended: comma-separated `inputs` such as 1,2,timeout,#,hangup"},
			&cli.BoolFlag{Name: "json", Usage: "print the call as JSON lines, one per moment"},
			&cli.StringFlag{Name: "data", Usage: "keep sessions in this data `folder` (default: in memory)"},
			storeFlag(),
			&cli.BoolFlag{Name: "outbound", Usage: "simulate a call placed by the app rather than a caller dialling in"},
			&cli.StringFlag{Name: "from", Value: "+6591178965", Usage: "the caller's `number`"},
			&cli.StringFlag{Name: "to", Value: "+6568332048", Usage: "the app's `number`"},
			&cli.StringSliceFlag{Name: "var", Usage: "initial session.vars entry `k=v` (repeatable)"},
			&cli.DurationFlag{Name: "deadline", EnvVars: env("deadline"), Value: defaultDeadline, Usage: "time a handler may run per event"},
		}, append(integrationFlags, logFlags...)...),
		Action: simulate,
	}
}

func simulate(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("usage: luaivr simulate APP (an app is a *.lua file in --scripts)", 2)
	}
	app := c.Args().First()
	vars, err := parseVars(c.StringSlice("var"))
	if err != nil {
		return err
	}
	logger, err := newLogger(c, os.Stderr)
	if err != nil {
		return err
	}
	if c.String("log-level") == "info" && !c.IsSet("log-level") {
		// The transcript shows what matters; the log is for script log lines.
		logger, _ = newLoggerAt(c, os.Stderr, slog.LevelWarn)
	}
	scripts, err := loadApp(c.String("scripts"), app, logger)
	if err != nil {
		return err
	}
	data := c.String("data")
	if data == "" {
		data = "mem://"
	}
	st, err := openStore(c, data, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	engOpts := engine.Options{Deadline: c.Duration("deadline"), Logger: logger}
	if err := integrations(c, &engOpts); err != nil {
		return err
	}
	line, err := phone.NewLine(scripts, st, engOpts)
	if err != nil {
		return err
	}

	out := c.App.Writer
	shown := 0
	show := func(call *phone.Call) {
		for ; shown < len(call.Heard); shown++ {
			h := call.Heard[shown]
			if c.Bool("json") {
				b, _ := json.Marshal(h)
				fmt.Fprintln(out, string(b))
			} else if h.Kind != phone.Keys || c.IsSet("keys") {
				fmt.Fprintln(out, h.String())
			}
		}
	}
	ctx := context.Background()
	call, err := line.Start(ctx, phone.CallOptions{App: app, Outbound: c.Bool("outbound"),
		Caller: c.String("from"), Number: c.String("to"), Vars: vars})
	if err != nil {
		return err
	}
	show(call)

	var next func() (string, bool)
	if c.IsSet("keys") {
		inputs := strings.Split(c.String("keys"), ",")
		next = func() (string, bool) {
			if len(inputs) == 0 {
				return "", false
			}
			in := strings.TrimSpace(inputs[0])
			inputs = inputs[1:]
			return in, true
		}
	} else {
		next = prompter(c.App.Reader, out, call)
	}
	for !call.Ended() {
		in, ok := next()
		if !ok {
			break
		}
		var err error
		switch strings.ToLower(in) {
		case "", "t", "timeout":
			err = call.Timeout(ctx)
		case "q", "hangup":
			call.Hangup(ctx)
		default:
			err = call.Press(ctx, in)
		}
		if err != nil {
			fmt.Fprintln(out, "        !", err)
		}
		show(call)
	}
	if !call.Ended() && !c.Bool("json") {
		where := ""
		if call.Position() != "" {
			where = " at " + call.Position()
		}
		fmt.Fprintf(out, "        (no more input; the call is still up%s)\n", where)
	}
	for _, h := range call.Heard {
		if h.Kind == phone.Error && c.IsSet("keys") {
			return cli.Exit("", 1)
		}
	}
	return nil
}

// prompter reads the caller's keys from the terminal.
func prompter(r io.Reader, w io.Writer, call *phone.Call) func() (string, bool) {
	sc := bufio.NewScanner(r)
	return func() (string, bool) {
		switch {
		case call.Waiting() != nil:
			fmt.Fprint(w, "keys (t: no input, q: hang up)> ")
		case call.Bridged():
			fmt.Fprint(w, "connected (t: the other party hangs up, q: hang up)> ")
		default:
			fmt.Fprint(w, "> ")
		}
		if !sc.Scan() {
			fmt.Fprintln(w)
			return "", false
		}
		return strings.TrimSpace(sc.Text()), true
	}
}

// parseVars reads --var k=v; values that are JSON (numbers, true, {"a":1}) are
// taken as such, anything else as a string.
func parseVars(list []string) (map[string]any, error) {
	if len(list) == 0 {
		return nil, nil
	}
	vars := map[string]any{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--var %q: write name=value", kv)
		}
		var parsed any
		if json.Unmarshal([]byte(v), &parsed) == nil {
			vars[k] = parsed
		} else {
			vars[k] = v
		}
	}
	return vars, nil
}

// loadApp loads the script folder and makes sure app is among what loaded.
func loadApp(dir, app string, logger *slog.Logger) (*engine.Scripts, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("script folder %s not found: pass --scripts DIR", dir)
	}
	scripts, problems := engine.Load(dir)
	for _, p := range problems {
		var se *engine.ScriptError
		if asScriptError(p, &se) && se.File == app+".lua" {
			return nil, p
		}
		logger.Warn("script not loaded", "err", p)
	}
	if scripts.Apps[app] == nil {
		return nil, fmt.Errorf("no app %q in %s (apps: %s)", app, dir, strings.Join(scripts.Names(), ", "))
	}
	return scripts, nil
}
