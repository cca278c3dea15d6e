package callflow

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The status codes of the Voice Status Codes Reference that this package reports.
const (
	codeInvalidJSON         = -1001
	codeSpeechProfile       = -1002
	codeMinWithoutMax       = -1003
	codeDigitWithoutOverall = -1005
	codeDigitOverOverall    = -1006
	codeInvalidAction       = -1007
	codeNoMaxWithoutHash    = -1008
	codeInvalidEntry        = -1009
	codeTooManyActions      = -1010
	codeHangup              = -1012
	codeFirstNotMakeCall    = -1013
	codeInvalidMSISDN       = -1017
)

// statusMessages is 8x8's Voice Status Codes Reference, word for word.
var statusMessages = map[int]string{
	1:     "Created",
	-1001: "Invalid JSON request body",
	-1002: "Speech profile or language parameter invalid",
	-1003: "Valid maxDigits required when minDigits provided",
	-1004: "DTMF callback url not provided",
	-1005: "Valid overallTimeout is required when digitTimeout provided",
	-1006: "OverallTimeout should be greater than digitTimeout",
	-1007: "Invalid action type was used",
	-1008: "Valid maxDigits is required when completeOnHash is false",
	-1009: "Invalid call flow entry provided.",
	-1010: "Some actions are provided beyond the allowed count",
	-1011: "Multiple destination phone numbers found in the request",
	-1012: "Invalid Callflow : Incorrect use of action Hangup",
	-1013: "Invalid Callflow : First action should be a MakeCall action",
	-1014: "Source or caller ID is not allowed",
	-1015: "The validity period of the call flow request has expired",
	-1016: "Invalid Callflow Content: Some special characters are invalid/unaccepted",
	-1017: "Invalid MSISDN format in Destination",
	-1018: "Invalid Callflow: Execute Scenario cannot be processed together with other actions",
	-1019: "Invalid Callflow Content: scenarioName is null or empty",
	-1020: "Invalid Callflow: Invalid scenarioName or account doesn't have permission",
	-9999: "An unknown error has occurred",
}

// StatusMessage returns 8x8's message for a Callflows API status code, "" for a code
// 8x8 does not document.
func StatusMessage(code int) string {
	return statusMessages[code]
}

// Problem is one thing wrong with a callflow, told the way 8x8 would tell it.
type Problem struct {
	// Code is 8x8's status code for the problem (-1002 … -1017).
	Code int
	// Path points at the action or param, as 8x8 writes it: $.callflow[1].params.text.
	Path string
	// Message is 8x8's message for Code; for -1009 and -1007 it carries the details
	// 8x8 gives (path and reason, in the wording of 8x8's JSON schema validator),
	// and for other codes what to do, when there is more to say.
	Message string
}

// Error formats the problem as "<code> <message>", followed by the path when the
// message does not already name it.
func (p Problem) Error() string {
	s := strconv.Itoa(p.Code) + " " + p.Message
	if p.Path != "" && !strings.Contains(p.Message, p.Path) {
		s += " (at " + p.Path + ")"
	}
	return s
}

// Invalid is the error of a callflow 8x8 would refuse: its problems.
type Invalid struct {
	Problems []Problem
}

var _ error = (*Invalid)(nil)

func (e *Invalid) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "; ")
}

// Code is the status code 8x8 would answer with: that of the first problem.
func (e *Invalid) Code() int {
	if len(e.Problems) == 0 {
		return 0
	}
	return e.Problems[0].Code
}

// Check returns an *Invalid holding the problems of the callflow, or nil if 8x8
// would accept it.
func Check(cf []Action, mode Mode) error {
	if ps := Validate(cf, mode); ps != nil {
		return &Invalid{Problems: ps}
	}
	return nil
}

// Validate returns every problem of the callflow, in callflow order; nil when
// there is none. It does not allocate for a valid callflow, since it
// runs on every reply.
func Validate(cf []Action, mode Mode) []Problem {
	if len(cf) == 0 {
		return []Problem{newProblem(codeInvalidEntry, "$.callflow", "must have at least 1 items")}
	}
	var ps []Problem
	calls := 0
	hungUp := false
	var size callflowSize
	for i, a := range cf {
		// Once the call is gone there is nothing left to act on: 8x8 refuses the
		// callflow. Reported once, on the first action after the hangup.
		if hungUp {
			ps = append(ps, newProblem(codeHangup, actionPath(i), ""))
			hungUp = false
		}
		spec := actions[a.Name]
		var k known
		if spec != nil {
			k = spec.known(a.Params)
		}
		if size.add(cf, i, &k) {
			ps = append(ps, newProblem(codeInvalidEntry, actionPath(i), tooLarge))
		}
		if spec == nil {
			ps = append(ps, newProblem(codeInvalidAction, actionPath(i)+".action", ""))
			continue
		}
		if i == 0 && mode == AsPlaced && a.Name != MakeCall {
			ps = append(ps, newProblem(codeFirstNotMakeCall, actionPath(0)+".action", ""))
		}
		switch a.Name {
		case MakeCall:
			if calls++; calls > maxCalls {
				ps = append(ps, newProblem(codeTooManyActions, actionPath(i), ""))
			}
		case Hangup:
			hungUp = true
		}
		ps = spec.check(ps, i, a.Params, &k)
	}
	return ps
}

// MaxCallflowBytes bounds a callflow's JSON. The most a callflow can mean to
// 8x8 is a few spoken actions: a sayAndCapture whose three texts are at 8x8's
// limit of 3000 characters, and two says as long, every character 4 bytes of
// UTF-8, make 60,000 bytes; two makeCalls and the other params fit in the rest.
// What is bigger carries what 8x8 does not use (unknown params, huge values):
// such a reply once reached 734 MB, which the store could not commit, and
// 8x8's redelivery ran the script again.
const MaxCallflowBytes = 64 << 10

// callflowSize follows a callflow's size as Validate goes through it. It adds
// up a cheap bound first, and counts exactly only once the bound could be over
// MaxCallflowBytes: a real reply is far below it.
type callflowSize struct {
	bound, exact int // bytes so far: at most, and exactly once counting
	counting     bool
	over         bool // reported already
}

// add counts cf[i], whose params k holds sorted by its spec (no spec for an
// action 8x8 does not have), and reports whether it takes the callflow over
// the bound.
func (c *callflowSize) add(cf []Action, i int, k *known) bool {
	if c.over {
		return false
	}
	if !c.counting {
		if c.bound += len(`[,]`) + cf[i].sizeBound(k); c.bound <= MaxCallflowBytes {
			return false
		}
		c.counting = true
		c.exact = len(`[]`) - len(`,`)
		for _, a := range cf[:i] {
			c.exact += len(`,`) + a.actionSize(MaxCallflowBytes)
		}
	}
	c.exact += len(`,`) + cf[i].actionSize(MaxCallflowBytes-c.exact)
	c.over = c.exact > MaxCallflowBytes
	return c.over
}

var tooLarge = "takes the callflow over " + strconv.Itoa(MaxCallflowBytes) +
	" bytes of JSON, the most luaivr sends (8x8 speaks at most 3000 characters a text; remove what 8x8 does not use)"

// MaxClientActionIDBytes is the longest clientActionId a reply may carry. 8x8
// echoes it on the caller's next CALL_ACTION, and the webhook parser refuses
// an echo over 1000 bytes or with a NUL: a longer id would turn the caller's
// next key press into a 400.
const MaxClientActionIDBytes = 1000

// CheckClientActionID says why id cannot be a reply's clientActionId, nil if
// it can: at most MaxClientActionIDBytes of valid UTF-8 with no control
// characters, so that 8x8's echo is a webhook luaivr reads.
func CheckClientActionID(id string) error {
	const what = "8x8 echoes the clientActionId on the caller's next event; name the position with a short id such as \"main_menu\""
	if len(id) > MaxClientActionIDBytes {
		return fmt.Errorf("clientActionId %.40q… is %d bytes, over the limit of %d: %s", id, len(id), MaxClientActionIDBytes, what)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("clientActionId %q is not valid UTF-8 text: %s", id, what)
	}
	for i, r := range id {
		if unicode.IsControl(r) {
			return fmt.Errorf("clientActionId %q holds the control character %U at byte %d: %s", id, r, i, what)
		}
	}
	return nil
}

// newProblem builds a problem with 8x8's message for code. detail is the -1009 reason
// ("is missing but it is required"); other codes have a fixed message, which a
// detail, when set, replaces with what is wrong at path and what to do (8x8's
// -1002 "invalid" does not tell a missing voice from a wrong one).
func newProblem(code int, path, detail string) Problem {
	msg := StatusMessage(code)
	switch {
	case code == codeInvalidEntry:
		msg += " " + path + ": " + detail
	case code == codeInvalidAction:
		// 8x8 answers -1007 with the schema's message, not the table's.
		msg = path + " should be one of: " + actionNames
	case detail != "":
		msg = path + " " + detail
	}
	return Problem{Code: code, Path: path, Message: msg}
}

func actionPath(i int) string { return "$.callflow[" + strconv.Itoa(i) + "]" }

func paramPath(i int, name string) string { return actionPath(i) + ".params." + name }

// check appends the problems of one action's params: each known param, then the
// rules between them, then each unknown param. 8x8's schema allows no other params,
// and one that is not there is nearly always a misspelt one (digitTimout), which
// 8x8 would not apply even if it took the callflow: it is an error, with the name
// that was meant.
func (s *actionSpec) check(ps []Problem, i int, params map[string]any, k *known) []Problem {
	for j := range s.params {
		p := &s.params[j]
		v := k.vals[j]
		if !k.set[j] || (v == nil && p.nullable) {
			if p.required {
				ps = append(ps, p.problem(i, 0, p.missing()))
			}
			continue
		}
		if code, detail := p.check(v); code != 0 {
			ps = append(ps, p.problem(i, code, detail))
		}
	}
	if s.rules != nil {
		ps = s.rules(ps, i, *k)
	}
	if k.n < len(params) {
		for _, name := range s.unknown(params) {
			ps = append(ps, newProblem(codeInvalidEntry, paramPath(i, name), s.notAParam(name)))
		}
	}
	return ps
}

// missing says that a required param is missing; a voice also says how a script
// gives every spoken action one.
func (p *param) missing() string {
	const required = "is missing but it is required"
	if p.name == voiceProfile.name {
		return required + ": every spoken action needs a voice; give the script one with ivr.defaults { voiceProfile = \"en-US-BenjaminRUS\" }"
	}
	return required
}

// problem reports v's problem under the param's own code if it has one.
func (p *param) problem(i, code int, detail string) Problem {
	if p.code != 0 {
		code = p.code
	} else if code == 0 {
		code = codeInvalidEntry
	}
	return newProblem(code, paramPath(i, p.name), detail)
}

// check returns the first problem of a non-null value: its type, then its limits,
// then its shape. The details are worded as 8x8's schema validator words them.
func (p *param) check(v any) (int, string) {
	switch p.kind {
	case kString:
		s, ok := v.(string)
		if !ok {
			return p.wrongType(v)
		}
		if p.spoken && strings.TrimSpace(s) == "" {
			return codeInvalidEntry, "must not be blank"
		}
		if p.maxLen > 0 && len(s) > p.maxLen && (len(s) > utf8.UTFMax*p.maxLen || utf8.RuneCountInString(s) > p.maxLen) {
			return codeInvalidEntry, "may only be " + strconv.Itoa(p.maxLen) + " characters long"
		}
		if p.shape != nil {
			return p.shape(s)
		}
	case kBoolean:
		if _, ok := v.(bool); !ok {
			return p.wrongType(v)
		}
	case kInteger, kNumber:
		f, ok := number(v)
		if !ok || (p.kind == kInteger && f != math.Trunc(f)) {
			return p.wrongType(v)
		}
		if f < p.min {
			return codeInvalidEntry, "must have a minimum value of " + formatNumber(p.min)
		}
		if p.max != 0 && f > p.max {
			return codeInvalidEntry, "must have a maximum value of " + formatNumber(p.max)
		}
	}
	return 0, ""
}

func (p *param) wrongType(v any) (int, string) {
	return codeInvalidEntry, jsonType(v) + " found, " + kindNames[p.kind] + " expected"
}

// number returns v as a float64 if it is a finite number. Params hold float64 (JSON
// numbers); int and int64 are accepted too, for params built in Go.
func number(v any) (float64, bool) {
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

// jsonType names v's JSON type as a schema validator does: a whole number is an
// integer.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	f, ok := number(v)
	switch {
	case ok && f == math.Trunc(f):
		return "integer"
	case ok:
		return "number"
	}
	if _, isFloat := v.(float64); isFloat {
		return "non-finite number"
	}
	return fmt.Sprintf("%T", v)
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
