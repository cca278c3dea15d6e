package stdlib_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/stdlib"
	httpmod "github.com/luaivr/luaivr/stdlib/http"
	"github.com/luaivr/luaivr/stdlib/ivr"
	jsonmod "github.com/luaivr/luaivr/stdlib/json"
	"github.com/luaivr/luaivr/stdlib/kv"
	clock "github.com/luaivr/luaivr/stdlib/time"
	"github.com/luaivr/luaivr/stdlib/vcc"
	lua "github.com/yuin/gopher-lua"
)

// Every function a module offers has a definition, so editors complete it.
func TestDefinitionsCoverModules(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	if err := L.DoString(string(stdlib.Definitions)); err != nil {
		t.Fatalf("luaivr.d.lua is not valid Lua: %v", err)
	}
	for name, open := range map[string]func(*lua.LState) lua.LValue{
		"ivr": ivr.New().Open, "json": jsonmod.Open, "kv": kv.New(kv.Options{}, "app").Open,
		"time": clock.Open(clock.Options{}), "http": httpmod.Open(httpmod.Options{}), "vcc": vcc.Open(vcc.Options{}),
	} {
		mod := open(L).(*lua.LTable)
		mod.ForEach(func(k, v lua.LValue) {
			if _, ok := v.(*lua.LFunction); !ok {
				return
			}
			decl := "function " + name + "." + k.String() + "("
			if !bytes.Contains(stdlib.Definitions, []byte(decl)) {
				t.Errorf("luaivr.d.lua lacks %s…)", decl)
			}
		})
	}
	for _, fn := range []string{"debug", "info", "warn", "error"} {
		if !strings.Contains(string(stdlib.Definitions), "function log."+fn+"(") {
			t.Errorf("luaivr.d.lua lacks log.%s", fn)
		}
	}
}
