package command

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/voiceapi"
	"github.com/luaivr/luaivr/store"
	"github.com/urfave/cli/v2"
)

// apiFlags configure the 8x8 Callflows API, for call and for serve's /calls.
var apiFlags = []cli.Flag{
	&cli.StringFlag{Name: "api-key", EnvVars: env("api-key"), Usage: "8x8 API `key` of the sub-account (connect.8x8.com)"},
	&cli.StringFlag{Name: "subaccount", EnvVars: env("subaccount"), Usage: "8x8 sub-account `id`"},
	&cli.StringFlag{Name: "api-base", EnvVars: env("api-base"), Value: voiceapi.DefaultBase, Usage: "8x8 voice API `URL`"},
}

// newSender makes the Callflows API client the flags describe.
func newSender(c *cli.Context, logger *slog.Logger) (engine.Send, error) {
	client, err := voiceapi.New(voiceapi.Options{Base: c.String("api-base"), APIKey: c.String("api-key"),
		SubAccount: c.String("subaccount"), Logger: logger})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, cf []callflow.Action) (string, error) {
		created, err := client.Send(ctx, cf)
		return created.SessionID, err
	}, nil
}

func callCommand() *cli.Command {
	return &cli.Command{
		Name:      "call",
		Usage:     "place an outbound call through the 8x8 Callflows API, with APP driving it",
		ArgsUsage: "APP",
		Description: "Builds the callflow from makeCall and the app's on_call, places it, prints 8x8's session id and\n" +
			"records the session, so that the call's webhooks reach the app at the right menu when they arrive at\n" +
			"serve. A running serve holds the data folder: then pass --server and --admin-token, and the server\n" +
			"places the call (POST /calls).",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "to", Required: true, Usage: "the `number` to call, E.164 (+6591234567)"},
			&cli.StringFlag{Name: "from", Required: true, Usage: "our 8x8 `number`, the caller ID"},
			&cli.StringSliceFlag{Name: "var", Usage: "initial session.vars entry `k=v` (repeatable)"},
			&cli.StringFlag{Name: "scripts", EnvVars: env("scripts"), Value: "./scripts", Usage: "script `folder`"},
			&cli.StringFlag{Name: "data", EnvVars: env("data"), Value: "./data", Usage: "the data `folder` serve uses"},
			storeFlag(),
			&cli.StringFlag{Name: "server", Usage: "`URL` of a running serve: it places the call"},
			&cli.StringFlag{Name: "admin-token", EnvVars: env("admin-token"), Usage: "the running server's admin `token`"},
		}, append(apiFlags, integrationFlags...)...),
		Action: placeCall,
	}
}

func placeCall(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("usage: luaivr call APP --to NUMBER --from NUMBER [--var k=v ...]", 2)
	}
	vars, err := parseVars(c.StringSlice("var"))
	if err != nil {
		return err
	}
	req := engine.CallRequest{App: c.Args().First(), To: c.String("to"), From: c.String("from"), Vars: vars}
	out := c.App.Writer
	if u := c.String("server"); u != "" {
		placed, err := callThroughServer(u, c.String("admin-token"), req)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, placed.SessionID)
		return nil
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	scripts, err := loadApp(c.String("scripts"), req.App, logger)
	if err != nil {
		return err
	}
	st, err := openStore(c, c.String("data"), store.Options{Brief: true})
	if err != nil {
		if strings.Contains(err.Error(), "in use") {
			return fmt.Errorf("%w\na server runs on this data folder: let it place the call with --server http://HOST:PORT --admin-token TOKEN", err)
		}
		return err
	}
	defer st.Close()
	send, err := newSender(c, logger)
	if err != nil {
		return err
	}
	engOpts := engine.Options{Store: st, Logger: logger}
	if err := integrations(c, &engOpts); err != nil { // on_call may use http, vcc or time as under serve
		return err
	}
	eng, err := engine.New(scripts, engOpts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, 60*time.Second)
	defer cancel()
	placed, err := eng.Call(ctx, req, send)
	var ce *engine.CallError
	if errors.As(err, &ce) && ce.Step == "record" {
		// The call is placed: exiting with an error would invite a retry,
		// and a retry rings the phone twice.
		fmt.Fprintln(os.Stderr, "warning:", err)
		err = nil
	}
	if placed.SessionID != "" {
		fmt.Fprintln(out, placed.SessionID)
	}
	return err
}

// callThroughServer asks a running serve to place the call.
func callThroughServer(base, token string, req engine.CallRequest) (engine.Placed, error) {
	var placed engine.Placed
	body, _ := json.Marshal(req)
	hreq, err := http.NewRequest("POST", strings.TrimRight(base, "/")+"/calls", bytes.NewReader(body))
	if err != nil {
		return placed, err
	}
	hreq.Header.Set("Authorization", "Bearer "+token)
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(hreq)
	if err != nil {
		return placed, fmt.Errorf("cannot reach %s: %w", base, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(b, &e)
		return placed, fmt.Errorf("%s: %s %s", base, resp.Status, e.Error)
	}
	var answer struct {
		engine.Placed
		Warning string `json:"warning"`
	}
	if err := json.Unmarshal(b, &answer); err != nil {
		return placed, err
	}
	if answer.Warning != "" {
		fmt.Fprintln(os.Stderr, "warning:", answer.Warning)
	}
	return answer.Placed, nil
}
