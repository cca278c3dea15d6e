package command

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/explore"
	"github.com/urfave/cli/v2"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "compile every app in DIR and explore its menus for errors, invalid callflows and dead ends",
		ArgsUsage: "[DIR]",
		Description: "From on_call, presses every key each prompt offers, an invalid key and no input, to --depth,\n" +
			"and validates every callflow against 8x8's rules. Exits 1 on errors; warnings do not fail it.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "depth", Value: 10, Usage: "inputs along one path"},
			&cli.DurationFlag{Name: "deadline", EnvVars: env("deadline"), Value: defaultDeadline, Usage: "time a handler may run per event"},
		},
		Action: check,
	}
}

func check(c *cli.Context) error {
	dir := "./scripts"
	if c.NArg() > 0 {
		dir = c.Args().First()
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("script folder %s not found", dir)
	}
	out := c.App.Writer
	problems, apps := checkDir(c.Context, dir, explore.Options{Depth: c.Int("depth"), Deadline: engine.Options{Deadline: c.Duration("deadline")}})
	errors, warnings := 0, 0
	for _, p := range problems {
		fmt.Fprintln(out, p)
		if p.Severity == explore.Error {
			errors++
		} else {
			warnings++
		}
	}
	fmt.Fprintf(out, "checked %d apps (%s): %d errors, %d warnings\n", len(apps), strings.Join(apps, ", "), errors, warnings)
	if errors > 0 {
		return cli.Exit("", 1)
	}
	return nil
}

// checkDir is check's work: what compiling and exploring every app in dir
// finds. serve's hot reload uses it to refuse a broken script.
func checkDir(ctx context.Context, dir string, opts explore.Options) ([]explore.Problem, []string) {
	scripts, loadErrs := engine.Load(dir)
	var problems []explore.Problem
	for _, err := range loadErrs {
		p := explore.Problem{Severity: explore.Error, Message: err.Error()}
		var se *engine.ScriptError
		if asScriptError(err, &se) {
			p.App, p.Message, p.Where = strings.TrimSuffix(se.File, ".lua"), se.Err.Error(), se.File
			if se.Line > 0 {
				p.Where = fmt.Sprintf("%s:%d", se.File, se.Line)
			}
		}
		problems = append(problems, p)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	for _, name := range scripts.Names() {
		res, err := explore.Explore(ctx, scripts, name, opts)
		if err != nil {
			problems = append(problems, explore.Problem{Severity: explore.Error, App: name, Message: err.Error()})
			continue
		}
		problems = append(problems, res.Problems...)
	}
	return problems, scripts.Names()
}

// vetApp is hot reload's gate: a new version of an app is served only when
// check finds no error in it.
func vetApp(deadline time.Duration) func(*engine.Scripts, string) error {
	return func(s *engine.Scripts, app string) error {
		res, err := explore.Explore(context.Background(), s, app, explore.Options{Deadline: engine.Options{Deadline: deadline}})
		if err != nil {
			return err
		}
		var errs []string
		for _, p := range res.Problems {
			if p.Severity == explore.Error {
				errs = append(errs, p.String())
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%s fails check: %s", s.Apps[app].File, strings.Join(errs, "; "))
		}
		return nil
	}
}
