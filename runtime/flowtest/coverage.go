package flowtest

import (
	"fmt"
	"sort"
	"strings"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/phone"
)

// coverage tracks which menu options the tests pressed.
type coverage struct {
	scripts *engine.Scripts
	reached map[string]bool // "app\x00menu\x00key"
}

func newCoverage(s *engine.Scripts) *coverage {
	return &coverage{scripts: s, reached: map[string]bool{}}
}

func (c *coverage) record(call *phone.Call) {
	for _, h := range call.Handled {
		if h.Handler == "menu" && h.Digits != "" {
			c.reached[h.App+"\x00"+h.Position+"\x00"+h.Digits] = true
			c.reached[h.App+"\x00"+h.Position+"\x00"+strings.TrimSuffix(h.Digits, "#")] = true
		}
	}
}

// unreached lists, per app, the menu options no test pressed. Apps no test
// called at all are listed too: their tests are missing, not incomplete.
func (c *coverage) unreached() map[string][]string {
	out := map[string][]string{}
	for _, name := range c.scripts.Names() {
		app := c.scripts.Apps[name]
		for _, m := range app.Menus {
			for _, k := range m.Keys {
				if !c.reached[name+"\x00"+m.ID+"\x00"+k] {
					out[name] = append(out[name], fmt.Sprintf("%s[%s] (%s)", m.ID, k, m.Where))
				}
			}
		}
		sort.Strings(out[name])
	}
	return out
}
