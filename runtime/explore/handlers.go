package explore

import (
	"regexp"
	"strings"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/phone"
)

// The handlers that run outside a prompt (on_status, on_end) answer nothing,
// so no reply of theirs is there to check; they fail unseen, after the
// caller is gone. The explorer leaves most calls at a prompt once it has
// seen where they lead: it hangs each one up, as a caller would, so that
// on_status and on_end run for every explored call, and reports their
// failures as errors at their line.

// hangUp ends the call the explorer is done with, when it is still up, and
// reports what on_status and on_end did wrong in it.
func (x *explorer) hangUp(c *phone.Call) {
	if c == nil {
		return
	}
	_, status := x.app.Handlers[engine.OnStatus]
	_, end := x.app.Handlers[engine.OnEnd]
	seen := len(c.Handled)
	if !c.Ended() && (status || end) { // else nothing would run
		c.Hangup(x.ctx)
	}
	if x.outOfTime(c, seen, heardPath(c)) { // was it the machine? (deadline.go)
		if again := x.replay(); again != nil {
			c = again
		}
	}
	for _, h := range c.Heard {
		if h.Kind != phone.Failed {
			continue
		}
		// Once per line: the message may name the call (its session, a time).
		where := scriptWhere(h.Text)
		if key := "failed|" + where; where == "" || !x.reported[key] {
			x.reported[key] = true
			x.problem(Error, where, heardPath(c), withoutWhere(h.Text))
		}
	}
}

// scriptLine is a Lua error's position, "hours.lua:12:" or "lib/pin.lua:3:".
var scriptLine = regexp.MustCompile(`([\w./-]+\.lua:\d+):`)

// scriptWhere is the first script position an error names, "" if none: where
// it failed ("app.lua:12: …") or the function that answered ("on_dtmf (app.lua:3)").
func scriptWhere(msg string) string {
	if m := scriptLine.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

// withoutWhere is msg without the script position scriptWhere found, which
// leads the finding instead ("app.lua:12: error: …").
func withoutWhere(msg string) string {
	if where := scriptWhere(msg); where != "" {
		return strings.Replace(msg, where+": ", "", 1)
	}
	return msg
}

// heardPath is the inputs a call was given, as Problem.Path writes them.
func heardPath(c *phone.Call) string {
	parts := []string{"call"}
	for _, h := range c.Heard {
		switch h.Kind {
		case phone.Keys:
			parts = append(parts, h.Text)
		case phone.NoInput: // one per try of the same prompt
			if parts[len(parts)-1] != "no input" {
				parts = append(parts, "no input")
			}
		case phone.Parted:
			parts = append(parts, "transfer ends")
		case phone.Ended: // the caller hung up
			parts = append(parts, "hangs up")
		}
	}
	return strings.Join(parts, ", ")
}
