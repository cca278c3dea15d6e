package command

import (
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/luaivr/luaivr/runtime/flowtest"
	"github.com/urfave/cli/v2"
)

func testCommand() *cli.Command {
	return &cli.Command{
		Name:      "test",
		Usage:     "run the flow tests (*_test.lua) beside the apps in DIR",
		ArgsUsage: "[DIR]",
		Description: "Each test_* function of a *_test.lua file gets t; t:call(\"app\") places a simulated call.\n" +
			"Exits 1 when a test fails. Lists the menu options no test pressed.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "run", Usage: "run only tests whose name matches `regexp`"},
			&cli.BoolFlag{Name: "v", Usage: "verbose: every test and what it logged"},
			&cli.DurationFlag{Name: "deadline", EnvVars: env("deadline"), Value: defaultDeadline, Usage: "time a handler may run per event"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "time one test may take"},
		}, testIntegrationFlags()...),
		Action: runTests,
	}
}

func runTests(c *cli.Context) error {
	dir := "./scripts"
	if c.NArg() > 0 {
		dir = c.Args().First()
	}
	opts := flowtest.Options{Dir: dir, Verbose: c.Bool("v"), Out: c.App.Writer,
		Deadline: c.Duration("deadline"), Timeout: c.Duration("timeout")}
	if err := integrations(c, &opts.Engine); err != nil {
		return err
	}
	if c.Bool("v") {
		logger, _ := newLoggerAt(c, os.Stderr, slog.LevelDebug)
		opts.Logger = logger
	}
	if pat := c.String("run"); pat != "" {
		re, err := regexp.Compile(pat)
		if err != nil {
			return fmt.Errorf("--run %q: %w", pat, err)
		}
		opts.Run = re
	}
	res, err := flowtest.Run(opts)
	if err != nil {
		return err
	}
	out := c.App.Writer
	apps := make([]string, 0, len(res.Unreached))
	for app := range res.Unreached {
		apps = append(apps, app)
	}
	sort.Strings(apps)
	for _, app := range apps {
		missing := res.Unreached[app]
		if len(missing) > 0 && opts.Run == nil { // with -run, the others were not meant to run
			fmt.Fprintf(out, "menu options no test pressed in %s: %s\n", app, strings.Join(missing, ", "))
		}
	}
	if !res.OK() {
		fmt.Fprintln(out, "FAIL")
		return cli.Exit("", 1)
	}
	if res.Passed == 1 {
		fmt.Fprintln(out, "PASS (1 test)")
	} else {
		fmt.Fprintf(out, "PASS (%d tests)\n", res.Passed)
	}
	return nil
}

// testIntegrationFlags are serve's integration flags without the contact
// center's: flow tests hand vcc to a stub (t:stub) at a test URL.
func testIntegrationFlags() []cli.Flag {
	var out []cli.Flag
	for _, f := range integrationFlags {
		if !strings.HasPrefix(f.Names()[0], "vcc-") {
			out = append(out, f)
		}
	}
	return out
}
