package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/luaivr/luaivr/runtime/callflow"
	"github.com/luaivr/luaivr/runtime/server"
	"github.com/luaivr/luaivr/stdlib/inputs"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/badgerstore"
	"github.com/urfave/cli/v2"
)

func sessionsCommand() *cli.Command {
	source := []cli.Flag{
		&cli.StringFlag{Name: "data", EnvVars: env("data"), Value: "./data", Usage: "data `folder` of a stopped server"},
		storeFlag(),
		&cli.StringFlag{Name: "server", Usage: "`URL` of a running server (it holds its data folder)"},
		&cli.StringFlag{Name: "admin-token", EnvVars: env("admin-token"), Usage: "the running server's admin `token`"},
		&cli.BoolFlag{Name: "json", Usage: "print JSON"},
	}
	return &cli.Command{
		Name:  "sessions",
		Usage: "list recent calls, or show one call's transcript",
		Subcommands: []*cli.Command{
			{
				Name:   "list",
				Usage:  "recent sessions, newest first",
				Flags:  append([]cli.Flag{&cli.IntFlag{Name: "limit", Value: 20, Usage: "how many"}}, source...),
				Action: listSessions,
			},
			{
				Name:      "show",
				Usage:     "one session: each event, what its handler read (clock, kv, http), the reply, the handler's time, errors",
				ArgsUsage: "ID",
				Flags:     source,
				Action:    showSession,
			},
		},
	}
}

// sessionSource is a data folder or a running server.
type sessionSource interface {
	list(limit int) ([]store.Session, error)
	show(id string) (server.SessionView, error)
	close()
}

func openSessions(c *cli.Context) (sessionSource, error) {
	if u := c.String("server"); u != "" {
		return &remoteSessions{base: strings.TrimRight(u, "/"), token: c.String("admin-token")}, nil
	}
	dir := c.String("data")
	if st, err := os.Stat(dir); c.String("store") == "" && (err != nil || !st.IsDir()) {
		return nil, fmt.Errorf("no data folder %s: pass --data DIR, --store URL, or --server URL for a running server", dir)
	}
	st, err := openStore(c, dir, store.Options{Brief: true})
	if err != nil {
		if errors.Is(err, badgerstore.ErrInUse) {
			return nil, fmt.Errorf("%w\nwhile a server runs, ask it instead: --server http://HOST:PORT --admin-token TOKEN (serve with --admin-token)", err)
		}
		return nil, err
	}
	return &localSessions{st: st}, nil
}

type localSessions struct{ st store.Store }

func (l *localSessions) close() { l.st.Close() }

func (l *localSessions) list(limit int) ([]store.Session, error) {
	var out []store.Session
	err := l.st.Sessions(context.Background(), func(s store.Session) bool {
		out = append(out, s)
		return len(out) < limit
	})
	return out, err
}

func (l *localSessions) show(id string) (server.SessionView, error) {
	s, ok, err := l.st.Session(context.Background(), id)
	if err != nil {
		return server.SessionView{}, err
	}
	if !ok {
		return server.SessionView{}, fmt.Errorf("no session %s (unknown, or expired)", id)
	}
	entries, err := l.st.Transcript(context.Background(), id)
	return server.SessionView{Session: s, Transcript: entries}, err
}

type remoteSessions struct{ base, token string }

func (r *remoteSessions) close() {}

func (r *remoteSessions) get(path string, v any) error { return r.request("GET", path, v) }

// request asks the running server's admin API and reads its JSON answer into v.
func (r *remoteSessions) request(method, path string, v any) error {
	req, err := http.NewRequest(method, r.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w", r.base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		return fmt.Errorf("%s: %s %s", r.base, resp.Status, e.Error)
	}
	return json.Unmarshal(body, v)
}

func (r *remoteSessions) list(limit int) ([]store.Session, error) {
	var out []store.Session
	return out, r.get(fmt.Sprintf("/admin/sessions?limit=%d", limit), &out)
}

func (r *remoteSessions) show(id string) (server.SessionView, error) {
	var v server.SessionView
	return v, r.get("/admin/sessions/"+url.PathEscape(id), &v)
}

func listSessions(c *cli.Context) error {
	src, err := openSessions(c)
	if err != nil {
		return err
	}
	defer src.close()
	list, err := src.list(c.Int("limit"))
	if err != nil {
		return err
	}
	out := c.App.Writer
	if c.Bool("json") {
		return json.NewEncoder(out).Encode(list)
	}
	if len(list) == 0 {
		fmt.Fprintln(out, "no sessions")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tAPP\tVERSION\tCALLER\tSTARTED\tSTATUS\tEVENTS\tLAST MENU")
	for _, s := range list {
		status := s.Status
		if s.Ended {
			status += " (ended)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", dash(s.ID), dash(s.App), dash(s.Version), dash(caller(s)),
			s.Created.Local().Format("2006-01-02 15:04:05"), dash(status), s.Events, dash(s.Menu))
	}
	return tw.Flush()
}

func showSession(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("usage: luaivr sessions show ID", 2)
	}
	src, err := openSessions(c)
	if err != nil {
		return err
	}
	defer src.close()
	v, err := src.show(c.Args().First())
	if err != nil {
		return err
	}
	out := c.App.Writer
	if c.Bool("json") {
		return json.NewEncoder(out).Encode(v)
	}
	s := v.Session
	fmt.Fprintf(out, "session %s  app %s  version %s  %s %s → %s  started %s  status %s",
		dash(s.ID), dash(s.App), dash(s.Version), dash(s.Direction), dash(s.Source), dash(s.Destination), s.Created.Local().Format(time.DateTime), dash(s.Status))
	if s.Ended {
		fmt.Fprint(out, " (ended)")
	}
	fmt.Fprintf(out, "\nvars %s\n", orBraces(s.Vars))
	fmt.Fprintln(out, recordSize(s, v.Transcript))
	for _, e := range v.Transcript {
		fmt.Fprintln(out, entryLine(e))
	}
	return nil
}

// entryLine is one transcript entry: when, what came in, what ran, what went out.
func entryLine(e store.Entry) string {
	in := e.EventType + " " + e.CallStatus
	if e.Digits != nil {
		in += " keys " + *e.Digits
	} else if e.EventType == "CALL_ACTION" && e.CallStatus != "CALL_RECEIVED" {
		in += " (no input)"
	}
	if e.ActionID != "" {
		in += " at " + e.ActionID
	}
	line := fmt.Sprintf("%4d  %s  %-52s", e.Seq, e.At.Local().Format("15:04:05.000"), in)
	if e.Handler != "" {
		line += fmt.Sprintf("  %s %.1fms", e.Handler, float64(e.Duration)/float64(time.Millisecond))
	}
	if e.Version != "" {
		line += "  version " + dash(e.Version)
	}
	line = strings.TrimRight(line, " ")
	for _, read := range inputLines(e) {
		line += "\n        · " + read
	}
	if len(e.Reply) > 0 {
		line += "\n        → " + replySummary(e.Reply)
	}
	if e.Error != "" {
		line += "\n        ! " + e.Error
		if e.Fallback {
			line += " (the caller got the fallback)"
		}
	}
	return line
}

// recordSize says how much the call's record of inputs holds, against its
// bound.
func recordSize(s store.Session, entries []store.Entry) string {
	n := s.Recorded
	if n == 0 { // a server that did not count it: the entries' own
		for _, e := range entries {
			n += e.Inputs.Size()
		}
	}
	return fmt.Sprintf("recorded inputs %s of %s", store.Bytes(n), store.Bytes(inputs.MaxSession))
}

// maxInputLines bounds the reads shown of one kind per entry: a clipped
// record holds thousands.
const maxInputLines = 8

// inputLines are what the event's handler read, a compact line each: the
// clock, kv answers, http and vcc exchanges, math.random's draws, and
// whether the record was clipped.
func inputLines(e store.Entry) []string {
	in := e.Inputs
	if in == nil {
		return nil
	}
	var lines []string
	some := func(n int, what string, line func(i int) string) {
		for i := range min(n, maxInputLines) {
			lines = append(lines, line(i))
		}
		if n > maxInputLines {
			lines = append(lines, fmt.Sprintf("… and %d more %s", n-maxInputLines, what))
		}
	}
	some(len(in.Clock), "clock reads", func(i int) string {
		layout := "15:04:05.000"
		if in.Clock[i].Local().Format(time.DateOnly) != e.At.Local().Format(time.DateOnly) {
			layout = "2006-01-02 15:04:05.000"
		}
		return "clock " + in.Clock[i].Local().Format(layout)
	})
	some(len(in.KV), "kv reads", func(i int) string {
		r := in.KV[i]
		line := fmt.Sprintf("kv.%s %s", r.Op, clipText(r.Key, 60))
		switch {
		case r.Err != "":
			return line + " ! " + r.Err
		case !r.Found:
			return line + " → nil"
		}
		return line + " → " + luaconv.Clip(string(r.Value), 60)
	})
	some(len(in.HTTP), "requests", func(i int) string {
		x := in.HTTP[i]
		line := fmt.Sprintf("%s %s %s", x.Module, x.Method, luaconv.Clip(x.URL, 80))
		if x.Module == "vcc" {
			line = fmt.Sprintf("vcc %s %s", x.Method, luaconv.Clip(x.Body, 80))
		}
		if x.Err != "" {
			return line + " ! " + x.Err
		}
		line += fmt.Sprintf(" → %d", x.Status)
		if ct := x.Headers["content-type"]; ct != "" {
			line += " " + ct
		}
		return line + fmt.Sprintf(", %s", store.Bytes(len(x.Reply)))
	})
	some(len(in.Random), "draws of math.random", func(i int) string {
		return fmt.Sprintf("math.random drew %.6f", in.Random[i])
	})
	if in.Clipped {
		lines = append(lines, "clipped: reads past the record's bound are not kept, so a replay of this event cannot be exact")
	}
	return lines
}

func replySummary(b []byte) string {
	r, err := callflow.Parse(b)
	if err != nil {
		return string(b)
	}
	var parts []string
	for _, a := range r.Callflow {
		p := a.Name
		for _, k := range []string{"text", "promptMessage", "fileUrl", "destination"} {
			if s, ok := a.Params[k].(string); ok {
				p += " " + clipText(s, 60)
			}
		}
		parts = append(parts, p)
	}
	s := strings.Join(parts, "; ")
	if r.ClientActionID != "" {
		s = "[" + r.ClientActionID + "] " + s
	}
	return s
}

func clipText(s string, n int) string {
	if len(s) > n {
		return fmt.Sprintf("%q…", s[:n])
	}
	return fmt.Sprintf("%q", s)
}

func caller(s store.Session) string {
	if strings.EqualFold(s.Direction, "OUTBOUND") {
		return s.Destination
	}
	return s.Source
}

// dash is s for a table or a line: "-" when empty, quoted (%q) when it
// holds a control character, so that an id or a caller with a newline or a
// tab, as a webhook may carry, cannot break the layout or pass for another row.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return strconv.Quote(s)
	}
	return s
}

func orBraces(b []byte) string {
	if len(b) == 0 {
		return "{}"
	}
	return string(b)
}
