package engine

// Assembling the stdlib a script's state gets: the modules made from the
// engine's configuration, opened into each state.

import (
	"log/slog"

	"github.com/luaivr/luaivr/runtime/sandbox"
	httpmod "github.com/luaivr/luaivr/stdlib/http"
	"github.com/luaivr/luaivr/stdlib/ivr"
	jsonmod "github.com/luaivr/luaivr/stdlib/json"
	kvmod "github.com/luaivr/luaivr/stdlib/kv"
	logmod "github.com/luaivr/luaivr/stdlib/log"
	clock "github.com/luaivr/luaivr/stdlib/time"
	"github.com/luaivr/luaivr/stdlib/vcc"
	lua "github.com/yuin/gopher-lua"
)

// libs are the stdlib modules made from the engine's configuration; each
// event opens them into its new state.
type libs struct {
	kv              kvmod.Options
	time, http, vcc func(*lua.LState) lua.LValue
}

// loadLibs serve a script's top level at load, before any call: no kv, no
// network, the real clock.
var loadLibs = libs{
	time: clock.Open(clock.Options{}),
	http: httpmod.Open(httpmod.Options{}),
	vcc:  vcc.Open(vcc.Options{}),
}

// open makes the libraries of one state; the lines it logs carry tags.
func (l libs) open(mod *ivr.Module, app string, logger *slog.Logger, tags ...slog.Attr) []sandbox.Lib {
	return l.instances(mod, app, logger, tags...).libs
}

// stdlib is the stdlib as opened into one state: the libraries, and the
// parts of them that count per event, which a warm state restarts for each.
type stdlib struct {
	libs []sandbox.Lib
	ivr  *ivr.Module
	log  *logmod.Log
	kv   *kvmod.Module
}

func (l libs) instances(mod *ivr.Module, app string, logger *slog.Logger, tags ...slog.Attr) *stdlib {
	s := &stdlib{ivr: mod, log: logmod.New(logger, tags...), kv: kvmod.New(l.kv, app)} // log and print share the event's log budget
	s.libs = []sandbox.Lib{
		{Name: "ivr", Open: mod.Open},
		{Name: "json", Open: jsonmod.Open},
		{Name: "log", Open: s.log.Open},
		{Name: "print", Open: s.log.Print},
		{Name: "kv", Open: s.kv.Open},
		{Name: "time", Open: l.time},
		{Name: "http", Open: l.http},
		{Name: "vcc", Open: l.vcc},
	}
	return s
}

// begin starts the next event of a warm state.
func (s *stdlib) begin(logger *slog.Logger, tags ...slog.Attr) {
	s.log.Begin(logger, tags...)
	s.kv.Begin()
}

// end ends an event of a warm state that goes back to its pool: nothing of
// the event (its session, its logger and tags naming the call) stays
// reachable from the idle state.
func (s *stdlib) end() {
	s.ivr.End()
	s.log.Begin(discardLogger)
}

// Globals is what a script's global environment holds before it runs, as
// sandbox.Environment gives it, with the stdlib luaivr opens for scripts.
func Globals() map[string][]string {
	return sandbox.Environment(loadLibs.open(ivr.New(), "", discardLogger)...)
}
