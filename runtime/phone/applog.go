package phone

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// appLog is the engine's logger on a line. The engine hands each script a
// logger tagged With its event's session; the lines an app writes through
// it (log.*, print) are heard in that session's call, in order with what the
// caller hears, rather than going to the line's own logger, where they would
// come out apart from the call. The engine's own lines go to the line's
// logger. Its level still decides which of the app's lines are kept.
type appLog struct {
	next    slog.Handler
	line    *Line
	session string // set once a With names the session
}

var _ slog.Handler = (*appLog)(nil)

func (h *appLog) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *appLog) Handle(ctx context.Context, r slog.Record) error {
	if h.session != "" {
		if c := h.line.call(h.session); c != nil {
			c.logged(logText(r))
			return nil
		}
	}
	return h.next.Handle(ctx, r)
}

func (h *appLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &appLog{next: h.next.WithAttrs(attrs), line: h.line, session: h.session}
	for _, a := range attrs {
		if a.Key == "session" {
			n.session = a.Value.String()
		}
	}
	return n
}

func (h *appLog) WithGroup(name string) slog.Handler {
	return &appLog{next: h.next.WithGroup(name), line: h.line, session: h.session}
}

// logText renders an app's log line for the transcript:
//
//	warn: no opening hours for today day=sat [hours.lua:12]
func logText(r slog.Record) string {
	var b strings.Builder
	if r.Level != slog.LevelInfo {
		b.WriteString(strings.ToLower(r.Level.String()) + ": ")
	}
	b.WriteString(r.Message)
	where := ""
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "line":
			where = a.Value.String()
		case "from":
			if a.Value.String() == "print" { // what log adds to print's lines
				break
			}
			fallthrough
		default:
			fmt.Fprintf(&b, " %s=%s", a.Key, logValue(a.Value))
		}
		return true
	})
	if where != "" {
		b.WriteString(" [" + where + "]")
	}
	return b.String()
}

// logValue is a field's value as the text handler would show it, and tables
// as JSON rather than as Go maps.
func logValue(v slog.Value) string {
	if v.Kind() == slog.KindAny {
		if b, err := json.Marshal(v.Any()); err == nil {
			return string(b)
		}
	}
	if s := v.String(); s != "" && !strings.ContainsAny(s, " \t\n=\"") {
		return s
	}
	return fmt.Sprintf("%q", v.String())
}
