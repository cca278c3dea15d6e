package callflow

import (
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// actions is what 8x8 accepts, one entry per action: its params in the order of 8x8's
// API reference (the order the encoder writes them in, so that our replies read like
// 8x8's own examples) and the rules that tie params together.
//
// Sources: the Send Callflow API reference and its OpenAPI description
// (fixtures/8x8/voice-v1-openapi.json), the two IVR guides, and the Voice Status Codes
// Reference. Where they disagree, the comments on the entries say which one we follow.
var actions = map[string]*actionSpec{
	MakeCall: {params: []param{
		{name: "source", kind: kString, required: true, shape: sourceNumber},
		{name: "destination", kind: kString, required: true, shape: destinationNumber},
		// The OpenAPI schema caps makeCall params at 2 properties, yet 8x8's own VCA
		// documentation replies with callRecording (vca_response_makeCall_recording__docs).
		{name: "callRecording", kind: kBoolean},
	}},
	Say: {params: []param{
		{name: "text", kind: kString, required: true, spoken: true, maxLen: maxTextLen},
		voiceProfile,
		{name: "repetition", kind: kInteger, min: 1, max: 3},
		// The OpenAPI schema types speed as an integer, but documents 0.5–2, and 8x8's
		// examples send 1.0: it is a number.
		{name: "speed", kind: kNumber, min: 0.5, max: 2},
	}},
	SayAndCapture: {
		params: []param{
			{name: "promptMessage", kind: kString, required: true, spoken: true, maxLen: maxTextLen},
			voiceProfile,
			{name: "repetition", kind: kInteger, min: 1, max: 3},
			{name: "speed", kind: kNumber, min: 0.5, max: 2},
			// The capture settings are nullable in 8x8's schema: null means "use the default".
			{name: "minDigits", kind: kInteger, nullable: true, min: 1},
			{name: "maxDigits", kind: kInteger, nullable: true, min: 1, max: 25},
			{name: "digitTimeout", kind: kInteger, nullable: true, min: 1},
			{name: "overallTimeout", kind: kInteger, nullable: true, min: 1},
			{name: "completeOnHash", kind: kBoolean, nullable: true},
			{name: "noOfTries", kind: kInteger, nullable: true, min: 1},
			{name: "successMessage", kind: kString, nullable: true, maxLen: maxTextLen},
			{name: "failureMessage", kind: kString, nullable: true, maxLen: maxTextLen},
		},
		rules: captureRules,
	},
	PlayFile: {params: []param{
		{name: "fileUrl", kind: kString, required: true, shape: audioURL},
		{name: "repetition", kind: kInteger, min: 1, max: 3},
	}},
	// hangup takes no params: any it carries is reported as an unknown param (a warning).
	Hangup: {},
}

// actionNames lists the actions in the words of 8x8's -1007 message.
const actionNames = "makeCall,say,sayAndCapture,playFile,hangup"

const (
	// maxTextLen is the longest text 8x8 turns into speech, in characters.
	maxTextLen = 3000
	// maxCalls is the most makeCall actions in one callflow: the second bridges the
	// first, and 8x8 does not do conferences.
	maxCalls = 2
)

// voiceProfile is required on every spoken action: 8x8 refuses text it does not know
// how to pronounce, and answers anything wrong with it with -1002 rather than -1009.
var voiceProfile = param{
	name: "voiceProfile", kind: kString, required: true, code: codeSpeechProfile,
	shape: func(s string) (int, string) {
		if !isVoiceProfile(s) {
			return codeSpeechProfile, ""
		}
		return 0, ""
	},
}

// isVoiceProfile reports whether s is shaped like 8x8's speech profile names, a
// language, a region and a voice: en-US-BenjaminRUS, en-GB-Emma, en-US-Neural2-C,
// da-DK-Naja. The profiles on offer vary by account, so only the shape is checked:
//
//	^[a-z]{2,3}-[A-Z]{2}-[A-Za-z0-9]+(-[A-Za-z0-9]+)*$
//
// It is written out rather than a regexp because it runs on every spoken action and
// a regexp costs a quarter of a reply's validation and encoding.
func isVoiceProfile(s string) bool {
	lang, rest, _ := strings.Cut(s, "-")
	region, voice, _ := strings.Cut(rest, "-")
	if len(lang) < 2 || len(lang) > 3 || !allBytes(lang, 'a', 'z') ||
		len(region) != 2 || !allBytes(region, 'A', 'Z') {
		return false
	}
	for part := range strings.SplitSeq(voice, "-") {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			if c := part[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return false
			}
		}
	}
	return true
}

// allBytes reports whether every byte of s is within lo–hi.
func allBytes(s string, lo, hi byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < lo || s[i] > hi {
			return false
		}
	}
	return true
}

var (
	// destinationRE is E.164 with the '+' optional, as 8x8 accepts and its guides write
	// numbers ("6512345678"): a country code never starts with 0.
	destinationRE = regexp.MustCompile(`^\+?[1-9][0-9]{6,14}$`)
	// sourceRE is looser: a whitelisted caller ID written as digits.
	sourceRE = regexp.MustCompile(`^\+?[0-9]{7,15}$`)
)

// minWithoutPlus is the fewest digits of a destination written without its
// '+': a country code and a national number make 10 digits or more nearly
// everywhere (6512345678, Singapore's shortest), and a shorter string is a
// local number whose country 8x8 cannot know (91234567, 31580000). The few
// countries with shorter numbers need the '+' (+2981234).
const minWithoutPlus = 10

// CheckDestination says why number cannot be a makeCall destination, nil if
// it can: 8x8 dials E.164 numbers, a country code and the national number,
// digits only. The '+' may be left out of a number long enough to carry a
// country code, as 8x8's guides do.
func CheckDestination(number string) error {
	if code, detail := destinationNumber(number); code != 0 {
		return newProblem(code, "destination", detail)
	}
	return nil
}

func destinationNumber(s string) (int, string) {
	const e164 = "8x8 dials E.164 numbers: + then the country code and the number, digits only"
	q := strconv.Quote(s)
	switch {
	case destinationRE.MatchString(s) && (s[0] == '+' || len(s) >= minWithoutPlus):
		return 0, ""
	case destinationRE.MatchString(s):
		return codeInvalidMSISDN, "is " + q + ", a local number without a country code: " + e164 + " (+65" + s + " if it is in Singapore)"
	case strings.ContainsAny(s, " -().") && destinationRE.MatchString(strings.Map(dropSeparator, s)):
		return codeInvalidMSISDN, "is " + q + ": " + e164 + ", without spaces, dashes or brackets (" + strings.Map(dropSeparator, s) + ")"
	case strings.HasPrefix(strings.TrimPrefix(s, "+"), "0"):
		return codeInvalidMSISDN, "is " + q + ": " + e164 + "; a country code never starts with 0 (write + in place of 00, or the country code in place of a leading 0)"
	}
	return codeInvalidMSISDN, "is " + q + ": " + e164 + ", 7 to 15 of them (+6591234567)"
}

// dropSeparator drops what people write between the digits of a number.
func dropSeparator(r rune) rune {
	if strings.ContainsRune(" -().", r) {
		return -1
	}
	return r
}

func sourceNumber(s string) (int, string) {
	if !sourceRE.MatchString(s) {
		return codeInvalidEntry, "does not match the regex pattern " + sourceRE.String()
	}
	return 0, ""
}

// audioURL accepts what 8x8 can fetch and play: an http(s) URL of an mp3 or wav file.
// The query is ignored, so signed URLs pass.
func audioURL(s string) (int, string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return codeInvalidEntry, "must be an absolute http or https URL"
	}
	switch strings.ToLower(path.Ext(u.Path)) {
	case ".mp3", ".wav":
		return 0, ""
	}
	return codeInvalidEntry, "must point to an .mp3 or .wav file"
}

// captureRules are 8x8's rules between the capture settings of a sayAndCapture. They
// only look at values that have the right type: a wrong one is already reported.
func captureRules(ps []Problem, i int, k known) []Problem {
	minDigits, hasMin := number(k.get("minDigits"))
	maxDigits, hasMax := number(k.get("maxDigits"))
	digitTimeout, hasDigitTimeout := number(k.get("digitTimeout"))
	overallTimeout, hasOverallTimeout := number(k.get("overallTimeout"))
	onHash, ok := k.get("completeOnHash").(bool)
	onHash = onHash || !ok // 8x8's default is true
	noMax := k.get("maxDigits") == nil

	if hasMin && noMax {
		ps = append(ps, newProblem(codeMinWithoutMax, paramPath(i, "maxDigits"), ""))
	}
	if hasMin && hasMax && minDigits > maxDigits {
		ps = append(ps, newProblem(codeInvalidEntry, paramPath(i, "minDigits"), "must not be greater than maxDigits"))
	}
	if hasDigitTimeout && k.get("overallTimeout") == nil {
		ps = append(ps, newProblem(codeDigitWithoutOverall, paramPath(i, "overallTimeout"), ""))
	}
	// The SPEC says digitTimeout must be smaller than overallTimeout, but both IVR
	// guides send 10000/10000 and 8x8 accepts them: equal is fine, greater is -1006.
	if hasDigitTimeout && hasOverallTimeout && digitTimeout > overallTimeout {
		ps = append(ps, newProblem(codeDigitOverOverall, paramPath(i, "digitTimeout"), ""))
	}
	if !onHash && noMax {
		ps = append(ps, newProblem(codeNoMaxWithoutHash, paramPath(i, "maxDigits"), ""))
	}
	return ps
}

// actionSpec is what one action accepts.
type actionSpec struct {
	params []param
	// rules checks what ties params together; nil if nothing does.
	rules func(ps []Problem, i int, k known) []Problem
}

// kind is the JSON type of a param.
type kind int

const (
	kString kind = iota
	kInteger
	kNumber
	kBoolean
)

var kindNames = [...]string{kString: "string", kInteger: "integer", kNumber: "number", kBoolean: "boolean"}

// param is one param of an action and its limits.
type param struct {
	name     string
	kind     kind
	required bool
	// nullable params treat null as absent (8x8's schema marks them nullable).
	nullable bool
	// min and max bound a number, inclusive; max 0 means no upper bound.
	min, max float64
	// maxLen is the longest string, in characters (runes); 0 means no limit.
	maxLen int
	// spoken text must say something: a blank prompt is silence on the line.
	spoken bool
	// shape checks a string further, returning a status code and, for -1009, a
	// detail; 0 when the string is fine.
	shape func(string) (int, string)
	// code, when set, is the status code 8x8 gives for anything wrong with this
	// param, instead of -1009.
	code int
}

// maxParams is the most params an action knows (sayAndCapture has 12).
const maxParams = 12

// known holds the params of one action that its spec knows, in the spec's order.
// Sorting them once, by comparing names, spares the validator and the encoder a
// dozen map lookups per action.
type known struct {
	spec *actionSpec
	vals [maxParams]any
	set  [maxParams]bool
	n    int // how many params are known; the others are unknown
}

func (s *actionSpec) known(params map[string]any) known {
	k := known{spec: s}
	for name, v := range params {
		if j := s.index(name); j >= 0 {
			k.vals[j], k.set[j] = v, true
			k.n++
		}
	}
	return k
}

// index is the position of the param name in the spec, -1 if unknown.
func (s *actionSpec) index(name string) int {
	for j := range s.params {
		if s.params[j].name == name {
			return j
		}
	}
	return -1
}

// get returns a known param's value; nil when it is absent or null.
func (k *known) get(name string) any {
	if j := k.spec.index(name); j >= 0 {
		return k.vals[j]
	}
	return nil
}

// unknown returns the names of the params the spec does not know, sorted. A nil spec
// (an unknown action) knows none.
func (s *actionSpec) unknown(params map[string]any) []string {
	var names []string
	for name := range params {
		if s == nil || s.index(name) < 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
