package command

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/luaivr/luaivr/runtime/server"
	"github.com/urfave/cli/v2"
)

func rollbackCommand() *cli.Command {
	return &cli.Command{
		Name:  "rollback",
		Usage: "serve an app's previous version to new calls again, on a running server",
		Description: "The files are not touched: the next change of the app's file serves the file again.\n" +
			"Calls in progress finish on the version they started on (serve --pin-versions).",
		ArgsUsage: "APP",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "server", EnvVars: env("server"), Value: "http://127.0.0.1:8080", Usage: "`URL` of the running server"},
			&cli.StringFlag{Name: "admin-token", EnvVars: env("admin-token"), Usage: "the running server's admin `token`"},
		},
		Action: rollbackApp,
	}
}

func rollbackApp(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("usage: luaivr rollback APP --server URL --admin-token TOKEN", 2)
	}
	app := c.Args().First()
	r := &remoteSessions{base: strings.TrimRight(c.String("server"), "/"), token: c.String("admin-token")}
	var res server.RollbackResult
	if err := r.request("POST", "/admin/apps/"+url.PathEscape(app)+"/rollback", &res); err != nil {
		return fmt.Errorf("rollback %s: %w", app, err)
	}
	fmt.Fprintf(c.App.Writer, "%s: new calls get version %s again (was %s); calls in progress finish on their own version.\n"+
		"The files are not touched: the next change of %s's file serves the file again.\n", res.App, res.Version, res.Was, res.App)
	return nil
}
