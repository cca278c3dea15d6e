package voiceapi

import (
	"strconv"
	"strings"
)

// APIError is an answer of 8x8 that did not create the call.
//
// Usually 8x8 said so (sessionStatus NOT_CREATED) and StatusCode and StatusMessage are
// its own: one of the Voice status codes (-1001 … -1020, -9999), or 401, 404 or 500,
// which 8x8 also puts in statusCode. An answer that is not 8x8's (not JSON, or not
// shaped like its answers) has StatusCode 0 and the first 200 bytes of the body as
// StatusMessage; for those the call may exist, and errors.Is(err, ErrOutcomeUnknown)
// is true.
type APIError struct {
	HTTPStatus    int
	StatusCode    int
	StatusMessage string
	// RequestID is 8x8's callFlowRequestId: give it to 8x8's support.
	RequestID string
	// Hint says what to change before trying again.
	Hint string

	unexpected bool
}

// Error reads "8x8 did not create the call: -1002 Speech profile or language
// parameter invalid (request c6e6dee5-…). <Hint>".
func (e *APIError) Error() string {
	var b strings.Builder
	if e.unexpected {
		b.WriteString("8x8 gave an unexpected answer (HTTP " + strconv.Itoa(e.HTTPStatus) + ")")
		if e.StatusMessage != "" {
			b.WriteString(": " + e.StatusMessage)
		}
	} else {
		b.WriteString("8x8 did not create the call: " + strconv.Itoa(e.StatusCode) + " " + e.StatusMessage)
		if e.RequestID != "" {
			b.WriteString(" (request " + e.RequestID + ")")
		}
	}
	if !strings.HasSuffix(b.String(), ".") {
		b.WriteString(".")
	}
	if e.Hint != "" {
		b.WriteString(" " + e.Hint)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrOutcomeUnknown) true for an answer that was not 8x8's.
func (e *APIError) Unwrap() error {
	if e.unexpected {
		return ErrOutcomeUnknown
	}
	return nil
}

// hints says, per status code of 8x8's Voice status codes reference, what a person
// can change. luaivr checks most rules before sending, so the codes it checks reach
// 8x8 only when 8x8's rules differ from ours.
var hints = map[int]string{
	-1001: "luaivr sent JSON that 8x8 could not read: please report this as a luaivr bug, with the callflow.",
	-1002: "Give every say and sayAndCapture a voiceProfile that your sub-account offers, such as en-US-BenjaminRUS: GET {base}/api/v1/subaccounts/{sub}/speech-profiles lists them.",
	-1003: "Give maxDigits whenever you give minDigits.",
	-1004: "8x8 has nowhere to send the caller's key presses: register a VCA webhook for the sub-account pointing at luaivr's /webhooks URL (POST {base}/api/v1/subaccounts/{sub}/webhooks).",
	-1005: "Give overallTimeout whenever you give digitTimeout.",
	-1006: "Make overallTimeout greater than digitTimeout (both are milliseconds).",
	-1007: "Use only the actions makeCall, say, sayAndCapture, playFile and hangup.",
	-1008: "Give maxDigits, or let completeOnHash be true.",
	-1009: "A parameter is missing, of the wrong type or out of range: the message names it.",
	-1010: "Use at most two makeCall actions in one callflow (the second bridges the first).",
	-1011: "Give makeCall a single destination number; place one call per request.",
	-1012: "Put hangup last: nothing can follow it, the call is gone.",
	-1013: "A placed call's callflow must start with makeCall (source and destination).",
	-1014: "Use as makeCall source a number 8x8 allows for this sub-account (one of its virtual numbers, or a caller ID 8x8 whitelisted: ask cpaas-support@8x8.com).",
	-1015: "8x8 says the request's validity period had passed: check this machine's clock and send it again.",
	-1016: "Remove characters 8x8 does not accept (control characters, emoji, unusual symbols) from the spoken texts.",
	-1017: "Write the destination in E.164: +, country code and number, without spaces (+6590000000).",
	-1018: "8x8 read the callflow as an Execute Scenario request, which luaivr never sends: please report this, with the callflow.",
	-1019: "8x8 read the callflow as an Execute Scenario request, which luaivr never sends: please report this, with the callflow.",
	-1020: "8x8 read the callflow as an Execute Scenario request, which luaivr never sends: please report this, with the callflow.",
	-9999: "8x8 failed on its side, and sending the callflow again is safe. If it keeps failing, give cpaas-support@8x8.com the request id.",
	401:   "8x8 refused the API key: check LUAIVR_API_KEY or --api-key. Keys are made in connect.8x8.com, for the account that owns the sub-account.",
	404:   "8x8 does not know this sub-account: check LUAIVR_SUBACCOUNT or --subaccount against the sub-account ids in connect.8x8.com.",
	500:   "8x8 failed on its side, and sending the callflow again is safe. If it keeps failing, give cpaas-support@8x8.com the request id.",
}

// hint picks the hint of e's status code, else one for its HTTP status.
func (c *Client) hint(e *APIError) string {
	h, ok := hints[e.StatusCode]
	if !ok {
		switch {
		case e.HTTPStatus == 401 || e.HTTPStatus == 403:
			h = hints[401]
		case e.HTTPStatus == 404:
			h = hints[404]
		case e.HTTPStatus >= 500:
			h = hints[500]
		default:
			h = "8x8 does not document this status code: give cpaas-support@8x8.com the request id."
		}
	}
	return strings.NewReplacer("{base}", c.base, "{sub}", c.subAccount).Replace(h)
}
