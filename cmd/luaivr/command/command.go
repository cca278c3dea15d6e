// Package command is luaivr's command line: one file per command, each a thin
// layer that reads flags (every flag also an LUAIVR_* environment variable) and
// calls into runtime/ and store/.
package command

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/urfave/cli/v2"
)

// Main runs the command line and returns the exit code.
func Main(args []string) int {
	app := &cli.App{
		Name:  "luaivr",
		Usage: "run IVR apps written in Lua for the 8x8 Voice Callflows API",
		Description: "Each *.lua file in the script folder is an app. 8x8 POSTs a webhook at every step of a call;\n" +
			"luaivr runs the app's handler and answers with the next callflow.",
		Version:        version(),
		Commands:       []*cli.Command{serveCommand(), devCommand(), simulateCommand(), testCommand(), checkCommand(), graphCommand(), sessionsCommand(), replayCommand(), rollbackCommand(), editorCommand(), callCommand(), benchCommand()},
		ErrWriter:      os.Stderr,
		ExitErrHandler: func(*cli.Context, error) {},
		// A repeated flag (--var, --input) is repeated, never split at commas:
		// --var "note=Hello, world" is one value.
		DisableSliceFlagSeparator: true,
	}
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"} // not -v: test's verbose
	if err := app.Run(flagsFirst(app, args)); err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "luaivr:", msg)
		}
		var coder cli.ExitCoder
		if errors.As(err, &coder) {
			return coder.ExitCode()
		}
		return 1
	}
	return 0
}

// version is the module version the binary was built from (go install
// …@v1.2.3), or "devel" for a build from a work tree.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	// Built from a checkout: the commit it was built from says which code this is.
	v, rev, modified := "devel", "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" {
		v += " " + rev[:min(12, len(rev))]
		if modified {
			v += " (modified)"
		}
	}
	return v
}

// flagsFirst moves a command's flags in front of its arguments, so that
// `luaivr simulate restaurant --keys 1,2` works: urfave/cli stops reading
// flags at the first argument.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 3 {
		return args
	}
	cmd := app.Command(args[1])
	at := 2 // where the command's own arguments start
	for cmd != nil && len(cmd.Subcommands) > 0 && at < len(args) {
		sub := cmd.Command(args[at])
		if sub == nil {
			break
		}
		cmd, at = sub, at+1
	}
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, name := range f.Names() {
			takesValue[name] = !isBool
		}
	}
	var flags, rest []string
	for i := at; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			rest = append(rest, a)
		}
	}
	return append(append(append([]string{}, args[:at]...), flags...), rest...)
}

// env names the environment variable of a flag: --session-ttl → LUAIVR_SESSION_TTL.
func env(flag string) []string {
	return []string{"LUAIVR_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
}

var logFlags = []cli.Flag{
	&cli.StringFlag{Name: "log-format", EnvVars: env("log-format"), Value: "text", Usage: "log lines as `text` or json"},
	&cli.StringFlag{Name: "log-level", EnvVars: env("log-level"), Value: "info", Usage: "debug, info, warn or error"},
}

func newLogger(c *cli.Context, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", c.String("log-level"))
	}
	return newLoggerAt(c, w, level)
}

func newLoggerAt(c *cli.Context, w io.Writer, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch c.String("log-format") {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", c.String("log-format"))
}

func asScriptError(err error, target **engine.ScriptError) bool { return errors.As(err, target) }
