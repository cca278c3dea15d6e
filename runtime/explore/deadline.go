package explore

import (
	"fmt"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/phone"
)

// Deadlines on a busy machine. A handler that runs out of time while check
// explores may be slow, or may only have waited for a core that seven other
// programs wanted: a deadline met or missed on one run says little about the
// handler. So a call where a handler ran out of time is played again, with
// the same inputs, on a line with a much longer deadline (slowDeadline):
//
//   - finished within the app's deadline this time: the machine was busy,
//     nothing is reported;
//   - finished, but later than the app's deadline: played again, up to
//     slowTries times, and if it is late each time, a warning that says how
//     long it took against --deadline (on a busy server, callers would get
//     the fallback);
//   - ran out of time again: the error it is, at its line, and the handler
//     is not given a second chance again (an endless loop costs one retry).
//
// The time counted is the event's, top level included, as serve counts it.

// slowDeadline is the deadline of a call played again: 20 times the app's,
// but at most 2 s more than it, so that an endless loop found by serve's
// vetting (which already stretches the deadline) costs little more.
func slowDeadline(d time.Duration) time.Duration { return min(20*d, d+2*time.Second) }

// slowTries is how often a call is played on the slow line while its
// handler finishes, but later than the app's deadline.
const slowTries = 3

// maxRetries bounds the calls played again in one exploration.
const maxRetries = 30

// outOfTime looks at the events c handled from seen on, and reports whether
// the call is to be played again (on the slow line). On the app's line, a
// handler that ran out of time asks for that, unless it ran out of time on
// the slow line already. On the slow line, one that ran out of time is
// proven to; one that finished later than the app's deadline asks to be
// played again, and is a warning when it was late slowTries times.
func (x *explorer) outOfTime(c *phone.Call, seen int, path string) bool {
	again := func() bool {
		x.retries++
		return x.retries <= maxRetries
	}
	for _, h := range c.Handled[seen:] {
		key := h.Handler + "|" + h.Position
		switch {
		case h.Reason == engine.ReasonTimeout && x.attempt == 0:
			if !x.proven[key] && again() {
				return true
			}
		case h.Reason == engine.ReasonTimeout:
			x.proven[key] = true
		case x.attempt == 0 || h.Took <= x.deadline || x.reported["slow|"+key]:
		case x.attempt < slowTries && again():
			return true
		default:
			x.reported["slow|"+key] = true
			x.problem(Warning, "", path, fmt.Sprintf("%s took %s, more than the %s deadline (--deadline): it ran out of time, then finished each of the %d times check played the call again with %s, later than the deadline; on a busy server its callers would get the fallback",
				handlerAt(h), h.Took.Round(time.Millisecond), x.deadline, x.attempt, slowDeadline(x.deadline)))
		}
	}
	return false
}

// handlerAt names the handler of an event and where the call was.
func handlerAt(h engine.Handled) string {
	name := h.Handler
	if name == "menu" {
		name = "the menu tree"
	}
	if h.Position != "" {
		return fmt.Sprintf("%s at %q", name, h.Position)
	}
	return name
}

// replay plays the call being played again on the slow line, with the
// inputs it was given, hangs it up and returns it: on_status or on_end ran
// out of time when it was hung up.
func (x *explorer) replay() *phone.Call {
	inputs := x.played
	for try := x.attempt + 1; ; try++ {
		x.played, x.attempt = nil, try
		x.res.Paths++
		c, err := x.place(x.playedAt, true)
		if err != nil {
			return nil
		}
		for _, in := range inputs {
			if c.Ended() || !applies(c, in) {
				break
			}
			if _, err := x.play(c, in); err != nil {
				break
			}
		}
		seen := len(c.Handled)
		c.Hangup(x.ctx)
		if !x.outOfTime(c, seen, heardPath(c)) {
			return c
		}
	}
}
