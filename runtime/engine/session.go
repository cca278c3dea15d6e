package engine

// Moving a call's session between Go and Lua: the session table a handler
// gets, and the vars it leaves.

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/stdlib/luaconv"
	"github.com/luaivr/luaivr/store"
	lua "github.com/yuin/gopher-lua"
)

// fillSession sets the fields of the session table a handler receives.
func fillSession(L *lua.LState, t *lua.LTable, app *App, sess *store.Session, ev *webhook.Event, position string) {
	set := func(k, v string) { t.RawSetString(k, lua.LString(v)) }
	set("id", ev.SessionID)
	set("call_id", ev.CallID)
	set("source", first(ev.Source, sess.Source))
	set("destination", first(ev.Destination, sess.Destination))
	set("direction", first(ev.Direction, sess.Direction))
	set("app", app.Name)
	set("action_id", position)
	set("status", first(ev.CallStatus, sess.Status))
	event, ok := ev.Build(luaBuilder{L})
	if !ok {
		event = luaconv.ToLua(L, ev.Payload())
	}
	t.RawSetString("event", event.(lua.LValue))
	vars := L.NewTable()
	if len(sess.Vars) > 0 {
		var v map[string]any
		if json.Unmarshal(sess.Vars, &v) == nil {
			vars = luaconv.ToLua(L, v).(*lua.LTable)
		}
	}
	t.RawSetString("vars", vars)
}

// luaBuilder makes a payload's Lua tables straight from its text
// (webhook.Event.Build), as luaconv.ToLua makes them from Payload's map: a
// null member is no member, a null element json.null, a number a Lua
// number unless it is out of range (then its text). The map and its
// conversion were 8.4% of the CPU of an app that reads kv at every event
// (kvcalls), its whole session table 10.5%.
type luaBuilder struct{ L *lua.LState }

func (b luaBuilder) Object() any         { return b.L.NewTable() }
func (b luaBuilder) Array() any          { return b.L.NewTable() }
func (b luaBuilder) String(s string) any { return lua.LString(s) }
func (b luaBuilder) Bool(v bool) any     { return lua.LBool(v) }

func (b luaBuilder) Number(text string) any { return luaconv.ToLua(b.L, json.Number(text)) }

func (b luaBuilder) Member(object any, key string, v any) {
	if v == nil {
		object.(*lua.LTable).RawSetString(key, lua.LNil) // a later null drops an earlier value, as in the map
		return
	}
	object.(*lua.LTable).RawSetString(key, v.(lua.LValue))
}

func (b luaBuilder) Element(array any, v any) {
	t := array.(*lua.LTable)
	if v == nil {
		t.Append(luaconv.Null(b.L))
		return
	}
	t.Append(v.(lua.LValue))
}

func readVars(session *lua.LTable) (json.RawMessage, error) {
	v, err := luaconv.FromLua(session.RawGetString("vars"), "session.vars")
	if err != nil {
		return nil, fmt.Errorf("session.vars cannot be saved: %w", err)
	}
	switch v.(type) {
	case nil:
		v = map[string]any{}
	case map[string]any:
	default:
		return nil, fmt.Errorf("session.vars must stay a table with named fields, got %T", v)
	}
	b, err := json.Marshal(v)
	if err == nil && len(b) > MaxVarsBytes {
		return nil, fmt.Errorf("session.vars is %d bytes as JSON, over the limit of %d: keep large data in kv or elsewhere", len(b), MaxVarsBytes)
	}
	return b, err
}

// MaxVarsBytes bounds a call's session.vars, saved with every event.
const MaxVarsBytes = 1 << 20

// SessionFields are the fields of the session table a handler receives, as
// fillSession sets them, sorted.
func SessionFields() []string {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	t := L.NewTable()
	fillSession(L, t, &App{}, &store.Session{}, &webhook.Event{}, "")
	var fields []string
	t.ForEach(func(k, _ lua.LValue) { fields = append(fields, lua.LVAsString(k)) })
	sort.Strings(fields)
	return fields
}
