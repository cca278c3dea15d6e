package explore

import (
	"fmt"
	"sort"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/phone"
)

// tooMany is the input that uses up a menu's tries: its invalid key, other,
// pressed as many times in a row as the menu takes, so that on_too_many is
// explored like an option. With one try, other already does it.
func tooMany(m *engine.MenuInfo, other input) []input {
	if m.Tries < 2 {
		return nil
	}
	other.label, other.name, other.times = fmt.Sprintf("other ×%d", m.Tries), other.label, m.Tries
	return []input{other}
}

// noteMenuDigits looks at the event a press made (the first c handled from
// seen on): keys pressed at a menu's position are that menu's to answer, so
// a handler answering them instead means the menu can never receive digits.
func (x *explorer) noteMenuDigits(c *phone.Call, seen int) {
	if len(c.Handled) <= seen {
		return
	}
	h := c.Handled[seen]
	if h.Handler == "menu" || h.Handler == "" || x.menu(h.Position) == nil {
		return
	}
	if x.digitsTo == nil {
		x.digitsTo = map[string]string{}
	}
	if _, ok := x.digitsTo[h.Position]; !ok {
		x.digitsTo[h.Position] = h.Handler
	}
}

// checkMenuDigits warns, at each menu's declaration, about menus whose keys
// went to a handler.
func (x *explorer) checkMenuDigits() {
	ids := make([]string, 0, len(x.digitsTo))
	for id := range x.digitsTo {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := x.menu(id)
		x.problem(Warning, m.Where, "", fmt.Sprintf("menu %q can never receive digits: the keys pressed at it went to %s, so none of its options can be chosen", id, x.digitsTo[id]))
	}
}
