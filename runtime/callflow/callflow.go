// Package callflow is the model of what luaivr sends to 8x8: a reply (an optional
// clientActionId and a list of actions) and the rules 8x8 applies to it.
//
// Every callflow the runtime produces passes through Validate before it leaves, and
// `luaivr check` reuses the same function, so a script that passes check cannot be
// rejected by 8x8 for a rule we know about. Problems carry 8x8's own status codes
// (-1001 … -1020) and messages in 8x8's style, so a user can search 8x8's
// documentation for what they read in our logs.
package callflow

// The five actions 8x8 accepts, under the names 8x8 uses on the wire.
const (
	MakeCall      = "makeCall"
	Say           = "say"
	SayAndCapture = "sayAndCapture"
	PlayFile      = "playFile"
	Hangup        = "hangup"
)

// Action is one step of a callflow.
//
// Params holds JSON-shaped values: string, float64, bool, nil (an explicit JSON null),
// []any and map[string]any; int and int64 are accepted as numbers too. The names are
// 8x8's (promptMessage, voiceProfile, …). Hangup has no params (nil).
type Action struct {
	Name   string
	Params map[string]any
	// Sensitive marks a sayAndCapture whose digits luaivr keeps out of
	// everything it stores and logs (a PIN, a card number): the script's
	// sensitive = true (see Ours). It is luaivr's, not a param, so that it
	// is never encoded: 8x8 refuses params it does not know.
	Sensitive bool
}

// Reply is the body of our answer to a CALL_ACTION webhook, and (without the
// clientActionId) the body of a POST to the Callflows API.
type Reply struct {
	// ClientActionID is echoed by 8x8 on the next CALL_ACTION of the session;
	// empty means the field is left out.
	ClientActionID string
	Callflow       []Action
}

// Sensitive reports whether the reply asks for digits that must not be
// stored: one of its captures is marked Sensitive.
func (r Reply) Sensitive() bool {
	for _, a := range r.Callflow {
		if a.Sensitive {
			return true
		}
	}
	return false
}

// Mode says where a callflow is going, since 8x8 applies different rules.
type Mode int

const (
	// AsReply is an answer to a CALL_ACTION webhook.
	AsReply Mode = iota
	// AsPlaced is the body of POST /callflows: its first action must be makeCall (-1013).
	AsPlaced
)
