package command

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/luaivr/luaivr/runtime/explore"
	"github.com/urfave/cli/v2"
)

func graphCommand() *cli.Command {
	return &cli.Command{
		Name:      "graph",
		Usage:     "draw APP's call tree as Mermaid or DOT, found by exploring it",
		ArgsUsage: "APP",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "format", Value: "mermaid", Usage: "mermaid or dot"},
			&cli.BoolFlag{Name: "no-other", Usage: "leave out invalid keys and no input, as 8x8's diagrams do"},
			&cli.IntFlag{Name: "depth", Value: 10, Usage: "inputs along one path"},
			atFlag, inputFlag,
		}, offlineScriptFlags()...),
		Action: graph,
	}
}

func graph(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("usage: luaivr graph APP", 2)
	}
	app := c.Args().First()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	engOpts, err := engineOptions(c, nil)
	if err != nil {
		return err
	}
	scripts, err := loadApp(c, app, logger)
	if err != nil {
		return err
	}
	xopts := explore.Options{Depth: c.Int("depth"), Deadline: engOpts}
	if err := exploreFrom(c, &xopts); err != nil {
		return err
	}
	res, err := explore.Explore(c.Context, scripts, app, xopts)
	if err != nil {
		return err
	}
	for _, p := range res.Problems {
		fmt.Fprintln(os.Stderr, p)
	}
	opts := explore.GraphOptions{NoOther: c.Bool("no-other")}
	switch c.String("format") {
	case "mermaid":
		res.Mermaid(c.App.Writer, opts)
	case "dot":
		res.DOT(c.App.Writer, opts)
	default:
		return fmt.Errorf("--format %q: use mermaid or dot", c.String("format"))
	}
	return nil
}
