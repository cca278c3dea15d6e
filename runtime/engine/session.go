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
	t.RawSetString("event", luaconv.ToLua(L, ev.Payload()))
	vars := L.NewTable()
	if len(sess.Vars) > 0 {
		var v map[string]any
		if json.Unmarshal(sess.Vars, &v) == nil {
			vars = luaconv.ToLua(L, v).(*lua.LTable)
		}
	}
	t.RawSetString("vars", vars)
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
