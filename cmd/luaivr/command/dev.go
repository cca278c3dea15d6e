package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/luaivr/luaivr/runtime/console"
	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/explore"
	"github.com/luaivr/luaivr/runtime/flowtest"
	"github.com/luaivr/luaivr/runtime/phone"
	"github.com/luaivr/luaivr/runtime/server"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/memstore"
	"github.com/urfave/cli/v2"
)

func devCommand() *cli.Command {
	return &cli.Command{
		Name:  "dev",
		Usage: "a dev phone in the browser: call the apps in --scripts, see their graph, findings and flow tests, live as you save",
		Description: "Serves the script folder on loopback, webhooks included (as serve does, with the sessions in memory),\n" +
			"and prints the URL of its page. Time is virtual: the page's clock, for calls and webhooks alike.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "addr", EnvVars: env("dev-addr"), Value: "127.0.0.1:8081", Usage: "`address` of the page and the webhooks (loopback unless you mean it)"},
			&cli.BoolFlag{Name: "open", EnvVars: env("open"), Usage: "also open the page in a browser"},
		}, append(offlineScriptFlags(), logFlags...)...),
		Action: dev,
	}
}

func dev(c *cli.Context) error {
	logger, err := newLogger(c, os.Stderr)
	if err != nil {
		return err
	}
	dir, err := scriptsDir(c, false)
	if err != nil {
		return err
	}
	engOpts, err := engineOptions(c, logger)
	if err != nil {
		return err
	}
	st := memstore.New(store.Options{}) // a dev phone's calls are not kept
	defer st.Close()
	scripts, _ := engine.Load(dir) // what fails to load is among check's findings
	line, err := phone.NewLine(scripts, st, engOpts)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	checkOpts := explore.Options{Deadline: engOpts} // as check explores: no log
	checkOpts.Deadline.Logger = nil
	testOpts := flowtest.Options{Dir: dir, Deadline: c.Duration("deadline"), Engine: engOpts}
	testOpts.Engine.Logger = nil
	page := console.NewDev(ctx, console.DevOptions{
		Line:     line,
		Check:    func(ctx context.Context) []explore.Problem { p, _ := checkDir(ctx, dir, checkOpts); return p },
		Tests:    testOpts,
		Deadline: c.Duration("deadline"),
		Logger:   logger,
	})
	srv := server.New(server.Options{Engine: line.Engine, Logger: logger, Pages: console.Pages(page.Handler(), "/"),
		// Flow tests run from the page may take longer than serve's default of 5 s.
		WriteTimeout: time.Minute})
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (is luaivr dev already running? pick another with --addr)", c.String("addr"), err)
	}
	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(c.App.Writer, "luaivr dev: %s (apps in %s; webhooks at %swebhooks/{app}; Ctrl-C stops)\n", url, dir, url)
	go page.Run()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if c.Bool("open") {
		openBrowser(url, logger)
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// openBrowser asks the desktop to open url; failing that, the URL printed
// above is still there to click.
func openBrowser(url string, logger *slog.Logger) {
	name, args := "xdg-open", []string{url}
	switch runtime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler", url}
	}
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		logger.Warn("cannot open a browser; open the URL yourself", "url", url, "err", err)
		return
	}
	go cmd.Wait()
}
