package callflow

import (
	"errors"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Valid actions to start from, as 8x8's guides write them.
func say() Action {
	return Action{Name: Say, Params: map[string]any{
		"text": "Invalid input, please call again.", "voiceProfile": "en-US-BenjaminRUS", "speed": 1.0,
	}}
}

func capture() Action {
	return Action{Name: SayAndCapture, Params: map[string]any{
		"promptMessage": "Press 1 to make a new reservation, press 2 to reschedule an existing reservation.",
		"voiceProfile":  "en-US-BenjaminRUS", "speed": 1.0, "minDigits": 1.0, "maxDigits": 1.0,
		"digitTimeout": 10000.0, "overallTimeout": 10000.0, "noOfTries": 2.0,
	}}
}

func playFile() Action {
	return Action{Name: PlayFile, Params: map[string]any{"fileUrl": "https://sample-videos.com/audio/mp3/wave.mp3", "repetition": 1.0}}
}

func makeCall() Action {
	return Action{Name: MakeCall, Params: map[string]any{"source": "6512345678", "destination": "6561115777"}}
}

func hangup() Action { return Action{Name: Hangup} }

// absent, as a value for with, removes the param.
type absentParam struct{}

var absent absentParam

// with returns a copy of a with params set (or removed, for absent) from name/value pairs.
func with(a Action, kv ...any) Action {
	params := maps.Clone(a.Params)
	if params == nil {
		params = map[string]any{}
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == absent {
			delete(params, kv[i].(string))
		} else {
			params[kv[i].(string)] = kv[i+1]
		}
	}
	return Action{Name: a.Name, Params: params}
}

func cf(actions ...Action) []Action { return actions }

// entry is an expected -1009; coded one with a fixed message; notParam an unknown param.
func entry(path, detail string) Problem {
	return Problem{Code: -1009, Path: path, Message: "Invalid call flow entry provided. " + path + ": " + detail}
}

func coded(code int, path, message string) Problem {
	return Problem{Code: code, Path: path, Message: message}
}

func notParam(path, hint string) Problem {
	return entry(path, notAllowed+hint)
}

const (
	speechProfile = "Speech profile or language parameter invalid"
	notAllowed    = "is not defined in the schema and the schema does not allow additional properties"
	e164          = "8x8 dials E.164 numbers: + then the country code and the number, digits only"
	noVoice       = `$.callflow[0].params.voiceProfile is missing but it is required: every spoken action needs a voice; give the script one with ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }`
	sayTakes      = "(say takes text, voiceProfile, repetition, speed)"
	captureTakes  = "(sayAndCapture takes promptMessage, voiceProfile, repetition, speed, minDigits, maxDigits, digitTimeout, overallTimeout, completeOnHash, noOfTries, successMessage, failureMessage)"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mode Mode
		cf   []Action
		want []Problem
	}{
		// The callflow and its actions.
		{name: "empty callflow", cf: nil,
			want: []Problem{entry("$.callflow", "must have at least 1 items")}},
		{name: "empty callflow placed", mode: AsPlaced, cf: []Action{},
			want: []Problem{entry("$.callflow", "must have at least 1 items")}},
		{name: "unknown action", cf: cf(say(), Action{Name: "record"}),
			want: []Problem{coded(-1007, "$.callflow[1].action", "$.callflow[1].action should be one of: makeCall,say,sayAndCapture,playFile,hangup")}},
		{name: "empty action name", cf: cf(Action{}),
			want: []Problem{coded(-1007, "$.callflow[0].action", "$.callflow[0].action should be one of: makeCall,say,sayAndCapture,playFile,hangup")}},
		{name: "action names are case-sensitive", cf: cf(Action{Name: "Hangup"}),
			want: []Problem{coded(-1007, "$.callflow[0].action", "$.callflow[0].action should be one of: makeCall,say,sayAndCapture,playFile,hangup")}},
		{name: "every action valid", cf: cf(say(), capture())},
		{name: "every action valid, with a file and a hangup", cf: cf(playFile(), say(), hangup())},

		// say.
		{name: "say text missing", cf: cf(with(say(), "text", absent)),
			want: []Problem{entry("$.callflow[0].params.text", "is missing but it is required")}},
		{name: "say without params", cf: cf(Action{Name: Say}),
			want: []Problem{
				entry("$.callflow[0].params.text", "is missing but it is required"),
				coded(-1002, "$.callflow[0].params.voiceProfile", noVoice),
			}},
		{name: "say text not a string", cf: cf(with(say(), "text", 42.0)),
			want: []Problem{entry("$.callflow[0].params.text", "integer found, string expected")}},
		{name: "say text null", cf: cf(with(say(), "text", nil)),
			want: []Problem{entry("$.callflow[0].params.text", "null found, string expected")}},
		{name: "say text an object", cf: cf(with(say(), "text", map[string]any{})),
			want: []Problem{entry("$.callflow[0].params.text", "object found, string expected")}},
		{name: "say text blank", cf: cf(with(say(), "text", " \t\n")),
			want: []Problem{entry("$.callflow[0].params.text", "must not be blank")}},
		{name: "say text empty", cf: cf(with(say(), "text", "")),
			want: []Problem{entry("$.callflow[0].params.text", "must not be blank")}},
		{name: "say text 3001 characters", cf: cf(with(say(), "text", strings.Repeat("é", 3001))),
			want: []Problem{entry("$.callflow[0].params.text", "may only be 3000 characters long")}},
		{name: "say text 3000 characters, 6000 bytes", cf: cf(with(say(), "text", strings.Repeat("é", 3000)))},
		{name: "say voiceProfile missing", cf: cf(with(say(), "voiceProfile", absent)),
			want: []Problem{coded(-1002, "$.callflow[0].params.voiceProfile", noVoice)}},
		{name: "say voiceProfile empty", cf: cf(with(say(), "voiceProfile", "")),
			want: []Problem{coded(-1002, "$.callflow[0].params.voiceProfile", speechProfile)}},
		{name: "say voiceProfile a language name", cf: cf(with(say(), "voiceProfile", "English")),
			want: []Problem{coded(-1002, "$.callflow[0].params.voiceProfile", speechProfile)}},
		{name: "say voiceProfile lower-case region", cf: cf(with(say(), "voiceProfile", "en-us-BenjaminRUS")),
			want: []Problem{coded(-1002, "$.callflow[0].params.voiceProfile", speechProfile)}},
		{name: "say voiceProfile not a string", cf: cf(with(say(), "voiceProfile", true)),
			want: []Problem{coded(-1002, "$.callflow[0].params.voiceProfile", "$.callflow[0].params.voiceProfile boolean found, string expected")}},
		{name: "say voiceProfile null", cf: cf(with(say(), "voiceProfile", nil)),
			want: []Problem{coded(-1002, "$.callflow[0].params.voiceProfile", "$.callflow[0].params.voiceProfile null found, string expected")}},
		{name: "say real voice profiles", cf: cf(
			with(say(), "voiceProfile", "en-US-BenjaminRUS"), with(say(), "voiceProfile", "en-GB-Emma"),
			with(say(), "voiceProfile", "en-US-Neural2-C"), with(say(), "voiceProfile", "en-US-Standard-A"),
			with(say(), "voiceProfile", "da-DK-Naja"), with(say(), "voiceProfile", "en-IE-EmilyNeural"),
			with(say(), "voiceProfile", "en-US-ZiraRUS"), with(say(), "voiceProfile", "cmn-CN-Wavenet-A"))},
		{name: "say repetition 0", cf: cf(with(say(), "repetition", 0.0)),
			want: []Problem{entry("$.callflow[0].params.repetition", "must have a minimum value of 1")}},
		{name: "say repetition 4", cf: cf(with(say(), "repetition", 4.0)),
			want: []Problem{entry("$.callflow[0].params.repetition", "must have a maximum value of 3")}},
		{name: "say repetition 1.5", cf: cf(with(say(), "repetition", 1.5)),
			want: []Problem{entry("$.callflow[0].params.repetition", "number found, integer expected")}},
		{name: "say repetition a string", cf: cf(with(say(), "repetition", "2")),
			want: []Problem{entry("$.callflow[0].params.repetition", "string found, integer expected")}},
		{name: "say repetition 1, 2.0 and 3", cf: cf(with(say(), "repetition", 1.0), with(say(), "repetition", 2.0), with(say(), "repetition", 3))},
		{name: "say speed 0.4", cf: cf(with(say(), "speed", 0.4)),
			want: []Problem{entry("$.callflow[0].params.speed", "must have a minimum value of 0.5")}},
		{name: "say speed 2.5", cf: cf(with(say(), "speed", 2.5)),
			want: []Problem{entry("$.callflow[0].params.speed", "must have a maximum value of 2")}},
		{name: "say speed a string", cf: cf(with(say(), "speed", "1")),
			want: []Problem{entry("$.callflow[0].params.speed", "string found, number expected")}},
		{name: "say speed an array", cf: cf(with(say(), "speed", []any{1.0})),
			want: []Problem{entry("$.callflow[0].params.speed", "array found, number expected")}},
		{name: "say speed null", cf: cf(with(say(), "speed", nil)),
			want: []Problem{entry("$.callflow[0].params.speed", "null found, number expected")}},
		{name: "say speed NaN", cf: cf(with(say(), "speed", math.NaN())),
			want: []Problem{entry("$.callflow[0].params.speed", "non-finite number found, number expected")}},
		{name: "say speed 0.5, 1.25, 2 and int 1", cf: cf(with(say(), "speed", 0.5), with(say(), "speed", 1.25), with(say(), "speed", 2.0), with(say(), "speed", 1))},

		// sayAndCapture: the params.
		{name: "capture promptMessage missing", cf: cf(with(capture(), "promptMessage", absent)),
			want: []Problem{entry("$.callflow[0].params.promptMessage", "is missing but it is required")}},
		{name: "capture promptMessage blank", cf: cf(with(capture(), "promptMessage", "   ")),
			want: []Problem{entry("$.callflow[0].params.promptMessage", "must not be blank")}},
		{name: "capture promptMessage too long", cf: cf(with(capture(), "promptMessage", strings.Repeat("a", 3001))),
			want: []Problem{entry("$.callflow[0].params.promptMessage", "may only be 3000 characters long")}},
		{name: "capture promptMessage not a string", cf: cf(with(capture(), "promptMessage", 1.5)),
			want: []Problem{entry("$.callflow[0].params.promptMessage", "number found, string expected")}},
		{name: "capture voiceProfile missing", cf: cf(with(capture(), "voiceProfile", absent)),
			want: []Problem{coded(-1002, "$.callflow[0].params.voiceProfile", noVoice)}},
		{name: "capture speed and repetition out of range", cf: cf(with(capture(), "speed", 3.0, "repetition", 0.0)),
			want: []Problem{
				entry("$.callflow[0].params.repetition", "must have a minimum value of 1"),
				entry("$.callflow[0].params.speed", "must have a maximum value of 2"),
			}},
		{name: "capture minDigits 0", cf: cf(with(capture(), "minDigits", 0.0)),
			want: []Problem{entry("$.callflow[0].params.minDigits", "must have a minimum value of 1")}},
		{name: "capture minDigits 1.5", cf: cf(with(capture(), "minDigits", 1.5, "maxDigits", 2.0)),
			want: []Problem{entry("$.callflow[0].params.minDigits", "number found, integer expected")}},
		{name: "capture maxDigits 0", cf: cf(with(capture(), "minDigits", absent, "maxDigits", 0.0)),
			want: []Problem{entry("$.callflow[0].params.maxDigits", "must have a minimum value of 1")}},
		{name: "capture maxDigits 26", cf: cf(with(capture(), "maxDigits", 26.0)),
			want: []Problem{entry("$.callflow[0].params.maxDigits", "must have a maximum value of 25")}},
		{name: "capture maxDigits 25", cf: cf(with(capture(), "maxDigits", 25.0))},
		{name: "capture digitTimeout 0", cf: cf(with(capture(), "digitTimeout", 0.0)),
			want: []Problem{entry("$.callflow[0].params.digitTimeout", "must have a minimum value of 1")}},
		{name: "capture overallTimeout a string", cf: cf(with(capture(), "overallTimeout", "10000")),
			want: []Problem{entry("$.callflow[0].params.overallTimeout", "string found, integer expected")}},
		{name: "capture noOfTries 0", cf: cf(with(capture(), "noOfTries", 0.0)),
			want: []Problem{entry("$.callflow[0].params.noOfTries", "must have a minimum value of 1")}},
		{name: "capture completeOnHash a string", cf: cf(with(capture(), "completeOnHash", "false")),
			want: []Problem{entry("$.callflow[0].params.completeOnHash", "string found, boolean expected")}},
		{name: "capture successMessage not a string", cf: cf(with(capture(), "successMessage", 5.0)),
			want: []Problem{entry("$.callflow[0].params.successMessage", "integer found, string expected")}},
		{name: "capture failureMessage too long", cf: cf(with(capture(), "failureMessage", strings.Repeat("b", 3001))),
			want: []Problem{entry("$.callflow[0].params.failureMessage", "may only be 3000 characters long")}},
		{name: "capture nullable params null, messages empty", cf: cf(with(capture(),
			"minDigits", nil, "maxDigits", nil, "digitTimeout", nil, "overallTimeout", nil, "completeOnHash", nil,
			"noOfTries", nil, "successMessage", nil, "failureMessage", ""))},
		{name: "capture with the prompt only", cf: cf(Action{Name: SayAndCapture, Params: map[string]any{
			"promptMessage": "Press 1", "voiceProfile": "en-GB-Emma"}})},

		// sayAndCapture: the rules between params.
		{name: "minDigits greater than maxDigits", cf: cf(with(capture(), "minDigits", 3.0, "maxDigits", 2.0)),
			want: []Problem{entry("$.callflow[0].params.minDigits", "must not be greater than maxDigits")}},
		{name: "minDigits equal to maxDigits", cf: cf(with(capture(), "minDigits", 2.0, "maxDigits", 2.0))},
		{name: "minDigits without maxDigits (-1003)", cf: cf(with(capture(), "maxDigits", absent)),
			want: []Problem{coded(-1003, "$.callflow[0].params.maxDigits", "Valid maxDigits required when minDigits provided")}},
		{name: "minDigits with maxDigits null (-1003)", cf: cf(with(capture(), "maxDigits", nil)),
			want: []Problem{coded(-1003, "$.callflow[0].params.maxDigits", "Valid maxDigits required when minDigits provided")}},
		{name: "maxDigits without minDigits", cf: cf(with(capture(), "minDigits", absent))},
		{name: "digitTimeout without overallTimeout (-1005)", cf: cf(with(capture(), "overallTimeout", absent)),
			want: []Problem{coded(-1005, "$.callflow[0].params.overallTimeout", "Valid overallTimeout is required when digitTimeout provided")}},
		{name: "overallTimeout without digitTimeout", cf: cf(with(capture(), "digitTimeout", absent))},
		{name: "digitTimeout greater than overallTimeout (-1006)", cf: cf(with(capture(), "digitTimeout", 10001.0)),
			want: []Problem{coded(-1006, "$.callflow[0].params.digitTimeout", "OverallTimeout should be greater than digitTimeout")}},
		// Equal is what both guides send, and 8x8 accepts it.
		{name: "digitTimeout equal to overallTimeout", cf: cf(with(capture(), "digitTimeout", 10000.0, "overallTimeout", 10000.0))},
		{name: "digitTimeout smaller than overallTimeout", cf: cf(with(capture(), "digitTimeout", 5000.0))},
		{name: "completeOnHash false without maxDigits (-1008)", cf: cf(with(capture(), "completeOnHash", false, "minDigits", absent, "maxDigits", absent)),
			want: []Problem{coded(-1008, "$.callflow[0].params.maxDigits", "Valid maxDigits is required when completeOnHash is false")}},
		{name: "completeOnHash false with maxDigits", cf: cf(with(capture(), "completeOnHash", false))},
		{name: "completeOnHash absent without maxDigits", cf: cf(with(capture(), "minDigits", absent, "maxDigits", absent))},
		{name: "completeOnHash null without maxDigits", cf: cf(with(capture(), "completeOnHash", nil, "minDigits", absent, "maxDigits", absent))},
		{name: "completeOnHash false, minDigits without maxDigits", cf: cf(with(capture(), "completeOnHash", false, "maxDigits", absent)),
			want: []Problem{
				coded(-1003, "$.callflow[0].params.maxDigits", "Valid maxDigits required when minDigits provided"),
				coded(-1008, "$.callflow[0].params.maxDigits", "Valid maxDigits is required when completeOnHash is false"),
			}},

		// playFile.
		{name: "playFile fileUrl missing", cf: cf(with(playFile(), "fileUrl", absent)),
			want: []Problem{entry("$.callflow[0].params.fileUrl", "is missing but it is required")}},
		{name: "playFile fileUrl not a string", cf: cf(with(playFile(), "fileUrl", false)),
			want: []Problem{entry("$.callflow[0].params.fileUrl", "boolean found, string expected")}},
		{name: "playFile fileUrl ftp", cf: cf(with(playFile(), "fileUrl", "ftp://example.com/a.mp3")),
			want: []Problem{entry("$.callflow[0].params.fileUrl", "must be an absolute http or https URL")}},
		{name: "playFile fileUrl relative", cf: cf(with(playFile(), "fileUrl", "/audio/a.mp3")),
			want: []Problem{entry("$.callflow[0].params.fileUrl", "must be an absolute http or https URL")}},
		{name: "playFile fileUrl without host", cf: cf(with(playFile(), "fileUrl", "https:///a.mp3")),
			want: []Problem{entry("$.callflow[0].params.fileUrl", "must be an absolute http or https URL")}},
		{name: "playFile fileUrl unparsable", cf: cf(with(playFile(), "fileUrl", "https://exa mple.com:x/a.mp3")),
			want: []Problem{entry("$.callflow[0].params.fileUrl", "must be an absolute http or https URL")}},
		{name: "playFile fileUrl ogg", cf: cf(with(playFile(), "fileUrl", "https://example.com/a.ogg")),
			want: []Problem{entry("$.callflow[0].params.fileUrl", "must point to an .mp3 or .wav file")}},
		{name: "playFile fileUrl mp3 only in the query", cf: cf(with(playFile(), "fileUrl", "https://example.com/play?f=a.mp3")),
			want: []Problem{entry("$.callflow[0].params.fileUrl", "must point to an .mp3 or .wav file")}},
		{name: "playFile fileUrl http, https, WAV, signed", cf: cf(
			with(playFile(), "fileUrl", "http://example.com/a.mp3"),
			with(playFile(), "fileUrl", "HTTPS://Example.com/Audio/A.WAV?sig=abc&exp=1"))},
		{name: "playFile repetition 4", cf: cf(with(playFile(), "repetition", 4.0)),
			want: []Problem{entry("$.callflow[0].params.repetition", "must have a maximum value of 3")}},
		{name: "playFile without repetition", cf: cf(with(playFile(), "repetition", absent))},

		// makeCall.
		{name: "makeCall source missing", cf: cf(with(makeCall(), "source", absent)),
			want: []Problem{entry("$.callflow[0].params.source", "is missing but it is required")}},
		{name: "makeCall destination missing", cf: cf(with(makeCall(), "destination", absent)),
			want: []Problem{entry("$.callflow[0].params.destination", "is missing but it is required")}},
		{name: "makeCall source a number", cf: cf(with(makeCall(), "source", 6512345678.0)),
			want: []Problem{entry("$.callflow[0].params.source", "integer found, string expected")}},
		{name: "makeCall source not digits", cf: cf(with(makeCall(), "source", "{{Virtual Number}}")),
			want: []Problem{entry("$.callflow[0].params.source", `does not match the regex pattern ^\+?[0-9]{7,15}$`)}},
		{name: "makeCall source too short", cf: cf(with(makeCall(), "source", "123456")),
			want: []Problem{entry("$.callflow[0].params.source", `does not match the regex pattern ^\+?[0-9]{7,15}$`)}},
		{name: "makeCall destination starting with 0", cf: cf(with(makeCall(), "destination", "+0651234567")),
			want: []Problem{coded(-1017, "$.callflow[0].params.destination", `$.callflow[0].params.destination is "+0651234567": `+e164+"; a country code never starts with 0 (write + in place of 00, or the country code in place of a leading 0)")}},
		{name: "makeCall destination too short", cf: cf(with(makeCall(), "destination", "123456")),
			want: []Problem{coded(-1017, "$.callflow[0].params.destination", `$.callflow[0].params.destination is "123456": `+e164+", 7 to 15 of them (+6591234567)")}},
		{name: "makeCall destination too long", cf: cf(with(makeCall(), "destination", "+1234567890123456")),
			want: []Problem{coded(-1017, "$.callflow[0].params.destination", `$.callflow[0].params.destination is "+1234567890123456": `+e164+", 7 to 15 of them (+6591234567)")}},
		{name: "makeCall destination with dashes", cf: cf(with(makeCall(), "destination", "65-1234-5678")),
			want: []Problem{coded(-1017, "$.callflow[0].params.destination", `$.callflow[0].params.destination is "65-1234-5678": `+e164+", without spaces, dashes or brackets (6512345678)")}},
		// 8x8 wants E.164: a local number has no country code, and 8x8 cannot
		// know which country it is in.
		{name: "makeCall destination a local number", cf: cf(with(makeCall(), "destination", "91234567"), with(makeCall(), "destination", "31580000")),
			want: []Problem{
				coded(-1017, "$.callflow[0].params.destination", `$.callflow[0].params.destination is "91234567", a local number without a country code: `+e164+" (+6591234567 if it is in Singapore)"),
				coded(-1017, "$.callflow[1].params.destination", `$.callflow[1].params.destination is "31580000", a local number without a country code: `+e164+" (+6531580000 if it is in Singapore)"),
			}},
		{name: "makeCall destination of 7 digits with its +", cf: cf(with(makeCall(), "destination", "+2981234"))},
		{name: "makeCall destination a number", cf: cf(with(makeCall(), "destination", 6561115777.0)),
			want: []Problem{entry("$.callflow[0].params.destination", "integer found, string expected")}},
		{name: "makeCall numbers with and without +, 15 digits", cf: cf(
			with(makeCall(), "source", "+6588000000", "destination", "+6590000000"),
			with(makeCall(), "source", "6588000000", "destination", "123456789012345"))},
		{name: "makeCall callRecording not a boolean", cf: cf(with(makeCall(), "callRecording", "yes")),
			want: []Problem{entry("$.callflow[0].params.callRecording", "string found, boolean expected")}},
		{name: "makeCall callRecording", cf: cf(with(makeCall(), "callRecording", true))},
		{name: "three makeCalls (-1010)", cf: cf(makeCall(), makeCall(), say(), makeCall()),
			want: []Problem{coded(-1010, "$.callflow[3]", "Some actions are provided beyond the allowed count")}},
		{name: "two makeCalls", cf: cf(makeCall(), say(), makeCall())},
		{name: "placed without makeCall first (-1013)", mode: AsPlaced, cf: cf(say(), makeCall()),
			want: []Problem{coded(-1013, "$.callflow[0].action", "Invalid Callflow : First action should be a MakeCall action")}},
		{name: "placed with an unknown first action", mode: AsPlaced, cf: cf(Action{Name: "dial"}),
			want: []Problem{coded(-1007, "$.callflow[0].action", "$.callflow[0].action should be one of: makeCall,say,sayAndCapture,playFile,hangup")}},
		{name: "placed with makeCall first", mode: AsPlaced, cf: cf(makeCall(), capture())},
		{name: "reply with makeCall after a say", cf: cf(say(), makeCall())},

		// hangup.
		{name: "action after hangup (-1012)", cf: cf(say(), hangup(), say(), playFile()),
			want: []Problem{coded(-1012, "$.callflow[2]", "Invalid Callflow : Incorrect use of action Hangup")}},
		{name: "two hangups (-1012)", cf: cf(hangup(), hangup()),
			want: []Problem{coded(-1012, "$.callflow[1]", "Invalid Callflow : Incorrect use of action Hangup")}},
		{name: "hangup last", cf: cf(say(), hangup())},
		{name: "hangup alone", cf: cf(hangup())},
		{name: "hangup with empty params", cf: cf(Action{Name: Hangup, Params: map[string]any{}})},
		{name: "hangup with params", cf: cf(with(hangup(), "reason", "done")),
			want: []Problem{notParam("$.callflow[0].params.reason", "; hangup takes no parameters")}},

		// Unknown params are errors, with the name meant.
		{name: "unknown params on say, sorted", cf: cf(with(say(), "zeta", 1.0, "voice", "en-GB-Emma")),
			want: []Problem{
				notParam("$.callflow[0].params.voice", "; did you mean voiceProfile?"),
				notParam("$.callflow[0].params.zeta", " "+sayTakes)}},
		{name: "unknown param on makeCall", cf: cf(with(makeCall(), "callerName", "ABC")),
			want: []Problem{notParam("$.callflow[0].params.callerName", " (makeCall takes source, destination, callRecording)")}},
		{name: "misspelt capture settings", cf: cf(with(capture(), "digitTimout", 5000.0, "noOfTry", 3.0, "completeOnHsh", true, "maxDigit", 4.0, "sped", 1.0)),
			want: []Problem{
				notParam("$.callflow[0].params.completeOnHsh", "; did you mean completeOnHash?"),
				notParam("$.callflow[0].params.digitTimout", "; did you mean digitTimeout?"),
				notParam("$.callflow[0].params.maxDigit", "; did you mean maxDigits?"),
				notParam("$.callflow[0].params.noOfTry", "; did you mean noOfTries?"),
				notParam("$.callflow[0].params.sped", "; did you mean speed?")}},
		{name: "a param of another action", cf: cf(with(say(), "maxDigits", 1.0), with(capture(), "text", "Hi")),
			want: []Problem{
				notParam("$.callflow[0].params.maxDigits", "; maxDigits is a parameter of sayAndCapture, not of say "+sayTakes),
				notParam("$.callflow[1].params.text", "; text is a parameter of say, not of sayAndCapture "+captureTakes)}},

		// Several problems come in callflow order.
		{name: "problems in callflow order", mode: AsPlaced, cf: cf(
			with(say(), "text", absent, "tempo", 1.0),
			hangup(),
			with(playFile(), "fileUrl", "https://example.com/a.ogg"),
			Action{Name: "transfer"},
		), want: []Problem{
			coded(-1013, "$.callflow[0].action", "Invalid Callflow : First action should be a MakeCall action"),
			entry("$.callflow[0].params.text", "is missing but it is required"),
			notParam("$.callflow[0].params.tempo", " "+sayTakes),
			coded(-1012, "$.callflow[2]", "Invalid Callflow : Incorrect use of action Hangup"),
			entry("$.callflow[2].params.fileUrl", "must point to an .mp3 or .wav file"),
			coded(-1007, "$.callflow[3].action", "$.callflow[3].action should be one of: makeCall,say,sayAndCapture,playFile,hangup"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Validate(tt.cf, tt.mode)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate:\n got %s\nwant %s", describe(got), describe(tt.want))
			}
		})
	}
}

func describe(ps []Problem) string {
	if len(ps) == 0 {
		return "no problem"
	}
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\n  " + p.Error() + "  [path " + p.Path + "]")
	}
	return b.String()
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cf       []Action
		wantErr  string
		wantCode int
	}{
		{name: "valid", cf: cf(say(), hangup())},
		{
			name:     "every problem",
			cf:       cf(with(say(), "voiceProfile", absent, "text", absent), hangup(), say()),
			wantCode: -1009,
			wantErr: "-1009 Invalid call flow entry provided. $.callflow[0].params.text: is missing but it is required; " +
				"-1002 $.callflow[0].params.voiceProfile " + noVoice[len("$.callflow[0].params.voiceProfile "):] + "; " +
				"-1012 Invalid Callflow : Incorrect use of action Hangup (at $.callflow[2])",
		},
		{
			name:     "code of the first problem",
			cf:       cf(with(capture(), "digitTimeout", 20000.0)),
			wantCode: -1006,
			wantErr:  "-1006 OverallTimeout should be greater than digitTimeout (at $.callflow[0].params.digitTimeout)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Check(tt.cf, AsReply)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var inv *Invalid
			if !errors.As(err, &inv) {
				t.Fatalf("Check = %v (%T), want an *Invalid", err, err)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("Check error\n got %s\nwant %s", err, tt.wantErr)
			}
			if inv.Code() != tt.wantCode {
				t.Errorf("Code() = %d, want %d", inv.Code(), tt.wantCode)
			}
		})
	}
}

func TestProblemError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    Problem
		want string
	}{
		{entry("$.callflow[0].params.text", "is missing but it is required"),
			"-1009 Invalid call flow entry provided. $.callflow[0].params.text: is missing but it is required"},
		{coded(-1007, "$.callflow[0].action", "$.callflow[0].action should be one of: makeCall,say,sayAndCapture,playFile,hangup"),
			"-1007 $.callflow[0].action should be one of: makeCall,say,sayAndCapture,playFile,hangup"},
		{coded(-1002, "$.callflow[1].params.voiceProfile", speechProfile),
			"-1002 Speech profile or language parameter invalid (at $.callflow[1].params.voiceProfile)"},
		{Problem{Code: -9999, Message: "An unknown error has occurred"}, "-9999 An unknown error has occurred"},
	}
	for _, tt := range tests {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("Error()\n got %s\nwant %s", got, tt.want)
		}
	}
	if got := (&Invalid{}).Code(); got != 0 {
		t.Errorf("Code() of an empty Invalid = %d, want 0", got)
	}
}

// The messages are 8x8's own: each code the Simple IVR guide's status table
// lists has the message it gives there (for -1009 the guide adds an example
// after it). For -1007 the guide shows the detail our Problem carries
// ("$.callflow[0].action should be one of: …"); the status code reference
// names it "Invalid action type was used".
func TestStatusMessage(t *testing.T) {
	t.Parallel()
	guide := readShared(t, "seeds", "simple-ivr-guide.md")
	rows := regexp.MustCompile(`(?m)^\| (-?\d+) +\| (.+?) +\|$`).FindAllSubmatch(guide, -1)
	if len(rows) < 8 {
		t.Fatalf("found %d rows of the guide's status table", len(rows))
	}
	for _, row := range rows {
		code, _ := strconv.Atoi(string(row[1]))
		documented := string(row[2])
		if code == -1007 {
			continue
		}
		got := StatusMessage(code)
		if got == "" || !strings.HasPrefix(documented, strings.TrimSuffix(got, ".")) {
			t.Errorf("StatusMessage(%d) = %q; the guide says %q", code, got, documented)
		}
	}
	for _, code := range []int{0, -1021, 401} {
		if got := StatusMessage(code); got != "" {
			t.Errorf("StatusMessage(%d) = %q for a code 8x8 does not have", code, got)
		}
	}
}

// A valid callflow costs no allocation to validate: it runs on every reply.
func TestValidateDoesNotAllocate(t *testing.T) {
	reply := mainMenu()
	if n := testing.AllocsPerRun(100, func() { _ = Validate(reply.Callflow, AsReply) }); n != 0 {
		t.Errorf("Validate of a valid callflow: %v allocations, want 0", n)
	}
}

// voiceProfileRE is the shape isVoiceProfile implements by hand.
var voiceProfileRE = regexp.MustCompile(`^[a-z]{2,3}-[A-Z]{2}-[A-Za-z0-9]+(-[A-Za-z0-9]+)*$`)

func FuzzIsVoiceProfile(f *testing.F) {
	for _, s := range []string{"en-US-BenjaminRUS", "en-US-Neural2-C", "cmn-CN-X", "en-US-", "en-US", "en--US-A",
		"e-US-A", "engl-US-A", "en-USA-A", "en-US-A--B", "en-US-A-", "-en-US-A", "en-us-A", "EN-US-A", "en-US-Ä", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isVoiceProfile(s), voiceProfileRE.MatchString(s); got != want {
			t.Errorf("isVoiceProfile(%q) = %v, the regexp says %v", s, got, want)
		}
	})
}

func TestActionSpecs(t *testing.T) {
	t.Parallel()
	for name, spec := range actions {
		if len(spec.params) > maxParams {
			t.Errorf("%s has %d params, more than maxParams (%d)", name, len(spec.params), maxParams)
		}
		for j, p := range spec.params {
			if spec.index(p.name) != j {
				t.Errorf("%s lists param %s twice", name, p.name)
			}
		}
	}
}

// ParamNames gives the ivr module 8x8's documented order, the one the encoder writes.
func TestParamNames(t *testing.T) {
	t.Parallel()
	tests := map[string][]string{
		MakeCall: {"source", "destination", "callRecording"},
		Say:      {"text", "voiceProfile", "repetition", "speed"},
		SayAndCapture: {"promptMessage", "voiceProfile", "repetition", "speed", "minDigits", "maxDigits",
			"digitTimeout", "overallTimeout", "completeOnHash", "noOfTries", "successMessage", "failureMessage"},
		PlayFile: {"fileUrl", "repetition"},
		Hangup:   {},
		"record": nil,
	}
	for action, want := range tests {
		if got := ParamNames(action); !reflect.DeepEqual(got, want) {
			t.Errorf("ParamNames(%q) = %q, want %q", action, got, want)
		}
	}
}

// Validate never panics, whatever callflow it is given, and what it accepts
// encodes to a reply it accepts again. Seeded with every documented callflow.
func FuzzValidate(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(sharedDirs["fixtures"], "8x8", "*.json"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"callflow":[{"action":"sayAndCapture","params":{"promptMessage":"x","voiceProfile":"en-GB-Emma","minDigits":3,"maxDigits":2,"digitTimeout":-1}}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := Parse(in)
		if err != nil {
			return
		}
		for _, mode := range []Mode{AsReply, AsPlaced} {
			for _, p := range Validate(r.Callflow, mode) {
				if p.Code == 0 || p.Message == "" {
					t.Fatalf("a problem without code or message: %+v", p)
				}
			}
			if Check(r.Callflow, mode) != nil {
				continue
			}
			out, err := r.MarshalJSON()
			if err != nil {
				t.Fatalf("an accepted callflow does not encode: %v", err)
			}
			again, err := Parse(out)
			if err != nil || Check(again.Callflow, mode) != nil {
				t.Fatalf("an accepted callflow is refused after encoding: %s (%v)", out, err)
			}
		}
	})
}
