// Package log is the Lua module `log`: structured log lines from scripts, tagged
// with the app and the call's session so a line can be traced to its call.
//
//	log.info("caller chose", { digits = digits, menu = session.action_id })
//	log.warn("no opening hours for today")
//
// `print(...)` writes an info line too, since it is what every Lua user tries first.
//
// What one event may write is bounded, since every line goes to the
// operator's disk: a line's message and fields come to at most MaxLineBytes
// (the message is cut, fields that do not fit are dropped with a note), and an event writes at most MaxEventLines
// lines and MaxEventBytes bytes. The line that would pass the budget is
// replaced by one "log budget exhausted" error naming the script's line, and
// the rest of the event's lines are dropped. That is reported as a script
// error, in the log, but it does not stop the handler: the log is for the
// operator, and a caller should not lose the call because a script talks too
// much.
package log

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/luaivr/luaivr/stdlib/luaconv"
	lua "github.com/yuin/gopher-lua"
)

// The budget of one event. 100 lines of 600 bytes is a verbose handler; a
// loop that logs is stopped within the first 64 KiB.
const (
	MaxEventLines = 100
	MaxEventBytes = 64 << 10
	// MaxLineBytes bounds a line's message and fields together: most log
	// pipelines split or drop longer lines.
	MaxLineBytes = 8 << 10
)

// fieldLimits bound the fields of one line as they leave Lua; their text
// gets what the message leaves of MaxLineBytes.
var fieldLimits = luaconv.Limits{Depth: 8, Items: 256}

// Log is one event's log: its logger, the attributes every line of the
// event carries (the app and session) and what is left of the event's
// budget. Make one per event.
type Log struct {
	logger       *slog.Logger
	tags         []slog.Attr // for logger, when the first line is written
	lines, bytes int
	exhausted    bool
}

// New returns the log of one event, writing to logger. Its lines carry
// tags, given to the logger's handler (WithAttrs, which formats them) when
// the first line is written: most events log nothing, and then cost
// nothing. Tags do not count against the budget.
func New(logger *slog.Logger, tags ...slog.Attr) *Log { return &Log{logger: logger, tags: tags} }

// out is the logger tagged with the event's tags.
func (l *Log) out() *slog.Logger {
	if l.tags != nil {
		l.logger = slog.New(l.logger.Handler().WithAttrs(l.tags))
		l.tags = nil
	}
	return l.logger
}

// Begin starts the log of the next event of a state that serves many (the
// engine's warm states): its lines go to logger with tags, with a whole budget.
func (l *Log) Begin(logger *slog.Logger, tags ...slog.Attr) { *l = Log{logger: logger, tags: tags} }

// Print opens the global print: an info line.
func (l *Log) Print(L *lua.LState) lua.LValue {
	return L.NewFunction(func(L *lua.LState) int {
		if !l.wants(slog.LevelInfo) {
			return 0
		}
		// Joined only up to a line's bound: print(unpack(t)) over thousands
		// of big strings would otherwise build gigabytes first.
		var b strings.Builder
		for i := 1; i <= L.GetTop() && b.Len() <= MaxLineBytes; i++ {
			if i > 1 {
				b.WriteByte('\t')
			}
			s := L.ToStringMeta(L.Get(i)).String()
			b.WriteString(s[:min(len(s), MaxLineBytes+1-b.Len())])
		}
		msg, cut := clip(b.String(), MaxLineBytes)
		l.write(L, slog.LevelInfo, msg, cut, []slog.Attr{slog.String("from", "print")})
		return 0
	})
}

// Open opens the module.
func (l *Log) Open(L *lua.LState) lua.LValue {
	fn := func(level slog.Level) lua.LGFunction {
		return func(L *lua.LState) int { l.call(L, level); return 0 }
	}
	return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"debug": fn(slog.LevelDebug),
		"info":  fn(slog.LevelInfo),
		"warn":  fn(slog.LevelWarn),
		"error": fn(slog.LevelError),
	})
}

// call is log.<level>(message [, fields]).
func (l *Log) call(L *lua.LState, level slog.Level) {
	name := "log." + strings.ToLower(level.String())
	if L.GetTop() < 1 {
		luaconv.ArgError(L, name, 1, "message expected")
	}
	if !l.wants(level) {
		return
	}
	msg, cut := clip(L.ToStringMeta(L.Get(1)).String(), MaxLineBytes)
	left := max(MaxLineBytes-len(msg), 0) // for the fields, or the value
	var attrs []slog.Attr
	if t, ok := L.Get(2).(*lua.LTable); ok {
		limits := fieldLimits
		limits.Bytes = left
		v, err := limits.FromLua(t, "fields")
		var limit *luaconv.LimitError
		switch {
		case errors.As(err, &limit):
			attrs = append(attrs, slog.String("fields", fmt.Sprintf("(dropped: over what a log line holds, %d bytes and %d table entries)", MaxLineBytes, fieldLimits.Items)))
		case err != nil:
			luaconv.ArgError(L, name, 2, err.Error())
		default:
			attrs = fieldAttrs(v)
		}
	} else if L.GetTop() >= 2 {
		value, valueCut := clip(L.ToStringMeta(L.Get(2)).String(), left)
		attrs = append(attrs, slog.String("value", value))
		cut = cut || valueCut
	}
	l.write(L, level, msg, cut, attrs)
}

// fieldAttrs are a fields table as attributes, sorted by name.
func fieldAttrs(v any) []slog.Attr {
	fields, ok := v.(map[string]any)
	if !ok { // a list: log it as one field
		fields = map[string]any{"fields": v}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, fields[k]))
	}
	return attrs
}

// wants reports whether a line at level would be written: once the budget is
// spent, or below the logger's level, nothing is converted at all.
func (l *Log) wants(level slog.Level) bool {
	return !l.exhausted && l.logger.Enabled(context.Background(), level)
}

// write writes one line, tagged with the script's line, if the event's budget
// has room for it; otherwise it reports the budget exhausted, once.
func (l *Log) write(L *lua.LState, level slog.Level, msg string, cut bool, attrs []slog.Attr) {
	if cut {
		attrs = append(attrs, slog.Bool("cut", true))
	}
	where := strings.TrimSuffix(L.Where(1), ":")
	if where != "" {
		attrs = append(attrs, slog.String("line", where))
	}
	size := len(msg)
	for _, a := range attrs {
		b, _ := json.Marshal(a.Value.Any()) // at most a line's bound: fieldLimits
		size += len(a.Key) + len(b)
	}
	if l.lines+1 > MaxEventLines || l.bytes+size > MaxEventBytes {
		l.exhausted = true
		l.out().LogAttrs(context.Background(), slog.LevelError,
			fmt.Sprintf("log budget exhausted: an event may write %d lines and %d bytes of log; this event's later lines are dropped (is the script logging in a loop?)", MaxEventLines, MaxEventBytes),
			slog.Int("lines", l.lines), slog.Int("bytes", l.bytes), slog.String("line", where))
		return
	}
	l.lines++
	l.bytes += size
	l.out().LogAttrs(context.Background(), level, msg, attrs...)
}

// clip cuts s to at most n bytes (and the "…" that says so), and reports
// whether it did.
func clip(s string, n int) (string, bool) {
	return luaconv.Clip(s, n), len(s) > n
}
