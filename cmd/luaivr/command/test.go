package command

import (
	"fmt"
	"io"
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
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "run", Usage: "run only tests whose name matches `regexp`"},
			&cli.BoolFlag{Name: "v", Usage: "verbose: every test, what it and the apps logged (at --log-level), and luaivr's own log on stderr"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "time one test may take"},
		}, offlineScriptFlags()...), logFlags...),
		Action: runTests,
	}
}

func runTests(c *cli.Context) error {
	dir, err := scriptsDir(c, true)
	if err != nil {
		return err
	}
	// The apps' lines are shown under their test; luaivr's own only with -v.
	logTo := io.Discard
	if c.Bool("v") {
		logTo = os.Stderr
	}
	logger, err := newLogger(c, logTo)
	if err != nil {
		return err
	}
	engOpts, err := engineOptions(c, logger)
	if err != nil {
		return err
	}
	opts := flowtest.Options{Dir: dir, Verbose: c.Bool("v"), Out: c.App.Writer,
		Deadline: engOpts.Deadline, Timeout: c.Duration("timeout"), Engine: engOpts, Logger: logger}
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
		if res.Skipped > 0 {
			fmt.Fprintf(out, "FAIL (%d skipped: they call an app that did not load)\n", res.Skipped)
		} else {
			fmt.Fprintln(out, "FAIL")
		}
		return cli.Exit("", 1)
	}
	if res.Passed == 1 {
		fmt.Fprintln(out, "PASS (1 test)")
	} else {
		fmt.Fprintf(out, "PASS (%d tests)\n", res.Passed)
	}
	return nil
}
