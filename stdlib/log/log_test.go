package log_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/sandbox"
	logmod "github.com/luaivr/luaivr/stdlib/log"
	"github.com/luaivr/luaivr/stdlib/luatest"
)

// event runs src as one event's script, with log and print writing to buf at
// debug level and above unless level says otherwise.
func event(t *testing.T, buf *bytes.Buffer, level slog.Level, src string) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: level}))
	l := logmod.New(logger, slog.String("app", "demo"), slog.String("session", "s1"))
	luatest.Run(t, src, sandbox.Lib{Name: "log", Open: l.Open}, sandbox.Lib{Name: "print", Open: l.Print})
}

func TestLog(t *testing.T) {
	t.Parallel()
	tests := []struct{ src, want string }{
		{`log.info("caller chose", { digits = "1", menu = "main" })`, `level=INFO msg="caller chose" app=demo session=s1 digits=1 menu=main line=`},
		{`log.warn("closed")`, `level=WARN msg=closed app=demo session=s1 line=`},
		{`log.error("bad", 42)`, `level=ERROR msg=bad app=demo session=s1 value=42`},
		{`log.debug("detail")`, `level=DEBUG msg=detail`},
		{`print("a", 1, nil)`, `msg="a\t1\tnil" app=demo session=s1 from=print`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			event(t, &buf, slog.LevelDebug, tt.src)
			if !strings.Contains(buf.String(), tt.want) {
				t.Fatalf("log %q, want it to contain %q", buf.String(), tt.want)
			}
		})
	}
}

func TestLogFieldsError(t *testing.T) {
	t.Parallel()
	event(t, &bytes.Buffer{}, slog.LevelDebug, `fails(function() log.info("x", { f = function() end }) end, "bad argument #2 to log.info (fields.f")`)
}

// What one event writes is bounded: each line, and the event's lines
// together. Past the budget, one error line names the script's line and the
// rest is dropped; the script goes on.
func TestLogBudget(t *testing.T) {
	t.Parallel()
	big := `local big = string.rep("x", 100 * 1024) local t = {} for i = 1, 20 do t[i] = big end `
	tests := []struct {
		name, src string
		level     slog.Level
		lines     int    // lines written, the exhausted one included
		want      string // in the output
		notWant   string
	}{
		{name: "a loop of lines", src: `for i = 1, 1000 do log.info("line " .. i) end done = true`,
			lines: logmod.MaxEventLines + 1, want: `level=ERROR msg="log budget exhausted: an event may write 100 lines and 65536 bytes`, notWant: "line 101"},
		{name: "a loop of long lines", src: `for i = 1, 1000 do log.warn(string.rep("y", 8000)) end`,
			lines: 9, want: "log budget exhausted"},
		{name: "print and log share the budget", src: `for i = 1, 60 do print("p", i) log.info("l", { i = i }) end`,
			lines: logmod.MaxEventLines + 1, want: "log budget exhausted"},
		{name: "the budget names the script's line", src: "\n\nfor i = 1, 200 do log.info(\"x\") end",
			lines: logmod.MaxEventLines + 1, want: "lines=100 bytes="},
		{name: "print joins no more than a line", src: big + `print(unpack(t))`,
			lines: 1, want: "cut=true"},
		{name: "a long message is cut", src: big + `log.info(big, big)`,
			lines: 1, want: "cut=true"},
		{name: "fields too large are dropped, not raised", src: `log.info("crm answered", { body = string.rep("b", 10000), n = 1 })`,
			lines: 1, want: `fields="(dropped: over what a log line holds, 8192 bytes and 256 table entries)"`},
		{name: "many fields are dropped too", src: `local f = {} for i = 1, 1000 do f["k" .. i] = i end log.info("x", f)`,
			lines: 1, want: `fields="(dropped: over what a log line holds`},
		{name: "lines below the level cost nothing", level: slog.LevelInfo,
			src:   `for i = 1, 1000 do log.debug("noise") end log.info("still here")`,
			lines: 1, want: "still here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			event(t, &buf, tt.level, tt.src)
			out := buf.String()
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != tt.lines || !strings.Contains(out, tt.want) || tt.notWant != "" && strings.Contains(out, tt.notWant) {
				t.Fatalf("%d lines, want %d with %q:\n%.2000s", len(lines), tt.lines, tt.want, out)
			}
			for _, l := range lines {
				if len(l) > logmod.MaxLineBytes+200 {
					t.Fatalf("a line of %d bytes: %.200s…", len(l), l)
				}
			}
			if len(out) > logmod.MaxEventBytes+logmod.MaxLineBytes {
				t.Fatalf("the event wrote %d bytes of log", len(out))
			}
			if strings.Contains(out, "exhausted") && (!strings.Contains(lines[len(lines)-1], `line=<string>:`) || !strings.Contains(lines[len(lines)-1], "session=s1")) {
				t.Fatalf("the exhausted line does not name the script's line: %s", lines[len(lines)-1])
			}
		})
	}
	// Another event has its own budget.
	var buf bytes.Buffer
	event(t, &buf, slog.LevelInfo, `for i = 1, 1000 do log.info("x") end`)
	event(t, &buf, slog.LevelInfo, `log.info("next event")`)
	if !strings.HasSuffix(strings.TrimSpace(buf.String()), "line=<string>:1") || !strings.Contains(buf.String(), "next event") {
		t.Fatalf("the next event logged nothing:\n%.300s", buf.String()[max(0, buf.Len()-300):])
	}
}
