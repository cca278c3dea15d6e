package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/replay"
	clock "github.com/luaivr/luaivr/stdlib/time"
	"github.com/luaivr/luaivr/store"
	"github.com/urfave/cli/v2"
)

// replayScan is how many of the most recent sessions replay looks through
// for those that --app and --since select (a running server lists at most
// as many at once).
const replayScan = 1000

func replayCommand() *cli.Command {
	return &cli.Command{
		Name:  "replay",
		Usage: "replay recorded calls against a script folder: which callers would now hear something else",
		Description: "Each recorded call (from --data, --store or a running --server) is played again, event by event, on the\n" +
			"apps in --scripts, with the clock, kv values and http responses it recorded; no request leaves the machine.\n" +
			"For each call: same, or the first reply that differs, action by action and parameter by parameter, with the\n" +
			"script line behind the new one.\n" +
			"--to-test SESSION prints a flow test that plays the recorded call and asserts what its caller heard.\n\n" +
			"Exit status (a gate for golden calls): 0 every call replayed the same; 1 a call differs, or cannot be\n" +
			"replayed (its app is not in --scripts or does not load); 2 the replay could not run: a bad flag, no data\n" +
			"folder or a wrong --admin-token, an unknown --session, no recorded call that --app and --since select.",
		OnUsageError: func(c *cli.Context, err error, _ bool) error { return cli.Exit(err.Error(), exitCannotRun) },
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data", EnvVars: env("data"), Value: "./data", Usage: "data `folder` of a stopped server"},
			storeFlag(),
			&cli.StringFlag{Name: "server", EnvVars: env("replay-server"), Usage: "`URL` of a running server (it holds its data folder; needs --admin-token)"},
			&cli.StringFlag{Name: "admin-token", EnvVars: env("admin-token"), Usage: "the running server's admin `token`"},
			&cli.StringFlag{Name: "app", EnvVars: env("replay-app"), Usage: "only calls of this `app`"},
			&cli.StringFlag{Name: "since", EnvVars: env("replay-since"), Usage: "only calls started since `WHEN`: a duration (24h) or a time (2026-12-01, \"2026-12-01 09:00\" in --zone, RFC 3339)"},
			&cli.StringSliceFlag{Name: "session", EnvVars: env("replay-session"), Usage: "only this session `ID` (repeatable)"},
			&cli.IntFlag{Name: "limit", EnvVars: env("replay-limit"), Value: 100, Usage: "replay at most `N` calls, the most recent"},
			&cli.BoolFlag{Name: "json", EnvVars: env("replay-json"), Usage: "print the report as JSON"},
			&cli.StringFlag{Name: "to-test", EnvVars: env("replay-to-test"), Usage: "print a flow test that reproduces the recorded call `SESSION`"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, EnvVars: env("replay-output"), Usage: "with --to-test: write the test to `FILE` (a *_test.lua beside the app)"},
		}, scriptFlags...),
		Action: func(c *cli.Context) error {
			err := replayCalls(c)
			var coder cli.ExitCoder
			if err != nil && !errors.As(err, &coder) {
				return cli.Exit(err.Error(), exitCannotRun)
			}
			return err
		},
	}
}

// exitCannotRun is replay's exit status when it could not replay at all (a
// bad flag, a source it cannot read, a session it cannot find, no calls
// selected), apart from 1, some call differs: a CI gate tells a broken
// configuration from a regression.
const exitCannotRun = 2

// replayCalls is the replay command; an error that is not a cli.Exit is
// one of exitCannotRun.
func replayCalls(c *cli.Context) error {
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("luaivr replay takes no arguments (got %s): name calls with --session ID, the folder with --scripts", strings.Join(c.Args().Slice(), " ")), exitCannotRun)
	}
	if id := c.String("to-test"); id != "" {
		return replayToTest(c, id)
	}
	if c.String("output") != "" {
		return cli.Exit("--output is where --to-test writes its flow test: give --to-test SESSION", exitCannotRun)
	}
	dir, err := scriptsDir(c, false)
	if err != nil {
		return err
	}
	engOpts, err := engineOptions(c, nil)
	if err != nil {
		return err
	}
	since, err := sinceFlag(c)
	if err != nil {
		return err
	}
	src, err := openSessions(c)
	if err != nil {
		return err
	}
	defer src.close()
	calls, err := recordedCalls(src, c.StringSlice("session"), c.String("app"), since, c.Int("limit"))
	if err != nil {
		return err
	}
	if len(calls) == 0 {
		return cli.Exit("no recorded calls to replay"+selection(c)+": nothing was compared", exitCannotRun)
	}
	scripts, loadErrs := engine.Load(dir)
	broken := map[string]string{}
	for _, err := range loadErrs {
		var se *engine.ScriptError
		if errors.As(err, &se) && engine.IsApp(se.File) {
			broken[strings.TrimSuffix(se.File, ".lua")] = err.Error()
		}
	}
	rep := replay.Run(c.Context, scripts, calls, replay.Options{Engine: engOpts, Dir: dir, Broken: broken})
	out := c.App.Writer
	if c.Bool("json") {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReplay(out, dir, rep)
	}
	if !rep.OK() {
		return cli.Exit("", 1)
	}
	return nil
}

// recordedCalls are the calls to replay: the sessions named, or the most
// recent ones of app (all apps when empty) started since since, at most limit.
func recordedCalls(src sessionSource, ids []string, app string, since time.Time, limit int) ([]replay.Call, error) {
	if len(ids) == 0 {
		list, err := src.list(replayScan)
		if err != nil {
			return nil, err
		}
		for _, s := range list {
			if len(ids) == limit {
				break
			}
			if (app == "" || s.App == app) && !s.Created.Before(since) {
				ids = append(ids, s.ID)
			}
		}
	}
	var calls []replay.Call
	for _, id := range ids {
		v, err := src.show(id)
		if err != nil {
			return nil, err
		}
		calls = append(calls, replay.Call{Session: v.Session, Transcript: v.Transcript})
	}
	return calls, nil
}

// sinceFlag reads --since: a duration back from now, or a time.
func sinceFlag(c *cli.Context) (time.Time, error) {
	s := c.String("since")
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	loc := time.UTC
	if z := c.String("zone"); z != "" {
		loc, _ = clock.LoadZone(z) // engineOptions checked it
	}
	t, err := clock.ParseTime(s, loc)
	if err != nil {
		return t, fmt.Errorf("--since %q: give a duration (24h, 90m) or a time (2026-12-01, \"2026-12-01 09:00\", RFC 3339): %v", s, err)
	}
	return t, nil
}

func selection(c *cli.Context) string {
	var parts []string
	for _, f := range []string{"app", "since"} {
		if v := c.String(f); v != "" {
			parts = append(parts, fmt.Sprintf("--%s %s", f, v))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// printReplay is the report for people: a line per call, the difference
// indented under it, then the counts and the per-menu summary.
func printReplay(w io.Writer, dir string, rep replay.Report) {
	var width [3]int
	for _, r := range rep.Calls {
		for i, v := range []string{dash(r.Session), dash(r.App), dash(r.Caller)} {
			width[i] = max(width[i], len([]rune(v)))
		}
	}
	for _, r := range rep.Calls {
		verdict := fmt.Sprintf("same (%d events)", r.Events)
		switch r.Outcome {
		case replay.Differs:
			verdict = fmt.Sprintf("DIFFERS at event %d: %s", r.Diff.Seq, eventOf(r.Diff))
		case replay.Placeholder:
			verdict = fmt.Sprintf("same up to event %d: %s ran on placeholder digits (a sensitive capture's, never stored) and was answered otherwise; the rest cannot be compared", r.Diff.Seq, eventOf(r.Diff))
		case replay.Cannot:
			verdict = "CANNOT REPLAY: " + r.Why
		}
		fmt.Fprintf(w, "%-*s  %-*s  %-*s  %s  %s\n", width[0], dash(r.Session), width[1], dash(r.App), width[2], dash(r.Caller),
			r.Started.Local().Format(time.DateTime), verdict)
		if d := r.Diff; d != nil {
			for _, ch := range d.Changes {
				fmt.Fprintf(w, "      %s\n", ch)
			}
			if d.Error != "" {
				fmt.Fprintf(w, "      ! now fails: %s\n", d.Error)
			}
			if d.RecordedError != "" {
				fmt.Fprintf(w, "      ! failed when recorded: %s\n", d.RecordedError)
			}
			var from []string
			if d.Where != "" {
				from = append(from, "from "+d.Where)
			}
			if d.Menu != "" {
				from = append(from, "waits at "+d.Menu)
			}
			if d.Written != "" {
				from = append(from, "the new text is at "+d.Written)
			}
			if len(from) > 0 {
				fmt.Fprintf(w, "      the new reply: %s\n", strings.Join(from, "; "))
			}
			for _, u := range d.Unrecorded {
				fmt.Fprintf(w, "      ? %s\n", u)
			}
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "      note: %s\n", n)
		}
	}
	placeholders := ""
	if rep.Placeholder > 0 {
		placeholders = fmt.Sprintf(", %d same up to placeholder digits", rep.Placeholder)
	}
	fmt.Fprintf(w, "%d calls replayed against %s: %d same, %d differ%s, %d cannot be replayed\n",
		len(rep.Calls), dir, rep.Same, rep.Differs, placeholders, rep.Cannot)
	if len(rep.Menus) == 0 {
		return
	}
	fmt.Fprintln(w, "\nby menu: callers who answered there; of them, those the new reply there takes on another path (another")
	fmt.Fprintln(w, "position, a hangup or transfer), and those who would hear other words on the same path")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  APP\tPOSITION\tCALLERS\tANOTHER PATH\tOTHER WORDS")
	for _, m := range rep.Menus {
		pos := m.Position
		if pos == "" {
			pos = "(call start)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\n", dash(m.App), dash(pos), m.Callers, m.Elsewhere, m.Reworded)
	}
	tw.Flush()
}

// eventOf says what the event that differs was, in the caller's terms.
func eventOf(d *replay.Difference) string {
	var s string
	switch {
	case d.EventType == "CALL_ACTION" && d.CallStatus == "CALL_RECEIVED":
		s = "the call's start"
	case d.EventType == "CALL_ACTION" && d.Digits != nil:
		s = "keys " + *d.Digits
	case d.EventType == "CALL_ACTION":
		s = "no input"
	default:
		s = d.EventType + " " + d.CallStatus
	}
	if d.Position != "" && d.CallStatus != "CALL_RECEIVED" {
		s += " at " + dash(d.Position)
	}
	return s
}

// replayToTest writes the flow test of one recorded call.
func replayToTest(c *cli.Context, id string) error {
	src, err := openSessions(c)
	if err != nil {
		return err
	}
	defer src.close()
	v, err := src.show(id)
	if err != nil {
		return err
	}
	test, err := replay.FlowTest(replay.Call{Session: v.Session, Transcript: v.Transcript})
	if err != nil {
		return err
	}
	file := c.String("output")
	if file == "" {
		_, err := c.App.Writer.Write(test)
		return err
	}
	if !strings.HasSuffix(file, "_test.lua") {
		return cli.Exit(fmt.Sprintf("-o %s: luaivr test runs files named *_test.lua; name it so (e.g. %s)", file, replay.TestFile(v.Session)), exitCannotRun)
	}
	if err := os.WriteFile(file, test, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "wrote %s: run it with luaivr test %s\n", file, filepath.Dir(file))
	return nil
}

// replayGate is serve's --reload-replay: besides vet, a new version of an
// app must answer the last n recorded calls of the app as they were
// answered, whichever of its versions answered them: a gate of the calls of
// the version being served only would be empty after each change it let
// through, and let the next one pass unchecked. What counts is what the new
// version changes: a call the version being served (served gives it) does
// not answer as recorded either, say after a deliberate change served by a
// restart, is no reason to refuse. A call that cannot be replayed does not
// count.
func replayGate(ctx context.Context, vet func(*engine.Scripts, string) error, st store.Store, served func() *engine.Scripts,
	opts engine.Options, n int) func(*engine.Scripts, string) error {
	opts.Logger = nil // the replayed calls' fallbacks are the refusal's to say, not the log's
	return func(s *engine.Scripts, app string) error {
		if err := vet(s, app); err != nil {
			return err
		}
		if served().Apps[app] == nil {
			return nil // a new app: no call has been answered by it
		}
		calls, err := lastCalls(ctx, st, app, n)
		if err != nil || len(calls) == 0 {
			return nil // vetting is a safety net: a store that cannot list keeps no fix from serving
		}
		rep := replay.Run(ctx, s, calls, replay.Options{Engine: opts, Dir: s.Dir})
		var differ []replay.Call
		var diffs []replay.Result
		for i, r := range rep.Calls {
			if r.Outcome == replay.Differs {
				differ, diffs = append(differ, calls[i]), append(diffs, r)
			}
		}
		if len(differ) == 0 {
			return nil
		}
		var changed []replay.Result // the calls the version served answers as recorded
		for i, r := range replay.Run(ctx, served(), differ, replay.Options{Engine: opts, Dir: s.Dir}).Calls {
			if r.Outcome == replay.Same || r.Outcome == replay.Placeholder {
				changed = append(changed, diffs[i])
			}
		}
		for _, r := range changed {
			d := r.Diff
			what := "its reply changed"
			if len(d.Changes) > 0 {
				what = d.Changes[0].String()
			}
			if d.Error != "" {
				what = "now fails: " + d.Error
			}
			if d.Where != "" {
				what += " (from " + d.Where + ")"
			}
			return &engine.ScriptError{File: s.Apps[app].File, Err: fmt.Errorf(
				"--reload-replay: %d of the last %d recorded calls would now hear something else; the first, %s, at event %d (%s): %s; luaivr replay --session %s shows it",
				len(changed), len(rep.Calls), r.Session, d.Seq, eventOf(d), what, r.Session)}
		}
		return nil
	}
}

// lastCalls are the n most recent calls of app, on any of its versions.
func lastCalls(ctx context.Context, st store.Store, app string, n int) ([]replay.Call, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var sessions []store.Session
	seen := 0
	err := st.Sessions(ctx, func(s store.Session) bool {
		seen++
		if s.App == app {
			sessions = append(sessions, s)
		}
		return len(sessions) < n && seen < replayScan
	})
	if err != nil {
		return nil, err
	}
	var calls []replay.Call
	for _, s := range sessions {
		tr, err := st.Transcript(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		calls = append(calls, replay.Call{Session: s, Transcript: tr})
	}
	return calls, nil
}
