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
	"strings"

	"github.com/urfave/cli/v2"
)

// Main runs the command line and returns the exit code.
func Main(args []string) int {
	app := &cli.App{
		Name:  "luaivr",
		Usage: "run IVR apps written in Lua for the 8x8 Voice Callflows API",
		Description: "Each *.lua file in the script folder is an app. 8x8 POSTs a webhook at every step of a call;\n" +
			"luaivr runs the app's handler and answers with the next callflow.",
		Commands:       []*cli.Command{serveCommand()},
		ErrWriter:      os.Stderr,
		ExitErrHandler: func(*cli.Context, error) {},
	}
	if err := app.Run(args); err != nil {
		fmt.Fprintln(os.Stderr, "luaivr:", err)
		var coder cli.ExitCoder
		if errors.As(err, &coder) {
			return coder.ExitCode()
		}
		return 1
	}
	return 0
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
	opts := &slog.HandlerOptions{Level: level}
	switch c.String("log-format") {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", c.String("log-format"))
}
