package phone

import (
	"fmt"
	"strings"
)

// String renders a moment of the call for a terminal, one line:
//
//	0.0s  asks      Welcome to ABC Restaurant, … [main_menu, 1 key]
func (h Heard) String() string {
	verb, text := h.Kind, h.Text
	switch h.Kind {
	case Say:
		verb = "says"
	case Prompt:
		verb = "asks"
		text += " " + captureNote(h)
	case Play:
		verb = "plays"
	case Bridge:
		verb = "connects to"
	case Hangup:
		verb = "hangs up"
	case Keys:
		verb = "caller presses"
	case NoInput:
		verb, text = "no input", "(timed out)"
	case Parted:
		verb, text = "other party", "hangs up"
	case Ended:
		verb = "call ended"
	case Error:
		verb = "ERROR"
	case Failed:
		verb = "WARNING"
	}
	return strings.TrimRight(fmt.Sprintf("%6.1fs  %-14s %s", h.At.Seconds(), verb, text), " ")
}

func captureNote(h Heard) string {
	if h.Action == nil {
		return ""
	}
	p := h.Action.Params
	max := intParam(p, "maxDigits", 0)
	keys := "keys up to #"
	switch {
	case max == 1:
		keys = "1 key"
	case max > 1:
		keys = fmt.Sprintf("up to %d keys", max)
	}
	if h.Menu == "" {
		return "[" + keys + "]"
	}
	return "[" + h.Menu + ", " + keys + "]"
}
