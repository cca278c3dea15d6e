// Package log is the Lua module `log`: structured log lines from scripts, tagged
// with the app and the call's session so a line can be traced to its call.
//
//	log.info("caller chose", { digits = digits, menu = session.action_id })
//	log.warn("no opening hours for today")
//
// `print(...)` writes an info line too, since it is what every Lua user tries first.
package log

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/luaivr/luaivr/stdlib/luaconv"
	lua "github.com/yuin/gopher-lua"
)

// Print returns the global print: an info line on logger.
func Print(logger *slog.Logger) func(L *lua.LState) lua.LValue {
	return func(L *lua.LState) lua.LValue {
		return L.NewFunction(func(L *lua.LState) int {
			parts := make([]string, L.GetTop())
			for i := range parts {
				parts[i] = L.ToStringMeta(L.Get(i + 1)).String()
			}
			logger.Info(strings.Join(parts, "\t"), "from", "print")
			return 0
		})
	}
}

// Open returns an opener for the module that writes to logger (which carries the
// app and session attributes).
func Open(logger *slog.Logger) func(L *lua.LState) lua.LValue {
	return func(L *lua.LState) lua.LValue {
		fn := func(level slog.Level) lua.LGFunction {
			return func(L *lua.LState) int { write(L, logger, level); return 0 }
		}
		return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
			"debug": fn(slog.LevelDebug),
			"info":  fn(slog.LevelInfo),
			"warn":  fn(slog.LevelWarn),
			"error": fn(slog.LevelError),
		})
	}
}

func write(L *lua.LState, logger *slog.Logger, level slog.Level) {
	if L.GetTop() < 1 {
		L.RaiseError("bad argument #1 to log.%s (message expected)", strings.ToLower(level.String()))
	}
	msg := L.ToStringMeta(L.Get(1)).String()
	var attrs []slog.Attr
	if t, ok := L.Get(2).(*lua.LTable); ok {
		v, err := luaconv.FromLua(t, "fields")
		if err != nil {
			L.RaiseError("bad argument #2 to log.%s (%s)", strings.ToLower(level.String()), err)
		}
		fields, ok := v.(map[string]any)
		if !ok { // a list: log it as one field
			fields = map[string]any{"fields": v}
		}
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			attrs = append(attrs, slog.Any(k, fields[k]))
		}
	} else if L.GetTop() >= 2 {
		attrs = append(attrs, slog.String("value", fmt.Sprint(L.ToStringMeta(L.Get(2)))))
	}
	if where := L.Where(1); where != "" {
		attrs = append(attrs, slog.String("line", strings.TrimSuffix(where, ":")))
	}
	logger.LogAttrs(context.Background(), level, msg, attrs...)
}
