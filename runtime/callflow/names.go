package callflow

import (
	"slices"
	"strings"

	"github.com/luaivr/luaivr/runtime/spelling"
)

// ParamNames lists an action's parameters in 8x8's documented order; nil for an
// action 8x8 does not have. The ivr module uses it to apply script defaults to
// exactly the actions that take them.
func ParamNames(action string) []string {
	spec, ok := actions[action]
	if !ok {
		return nil
	}
	names := make([]string, len(spec.params))
	for i, p := range spec.params {
		names[i] = p.name
	}
	return names
}

// SensitiveParam is what a script writes in a sayAndCapture's params to mark
// its digits as sensitive (Action.Sensitive). It is luaivr's: the ivr module
// takes it out of the params, and it is never sent to 8x8.
const SensitiveParam = "sensitive"

// ours are the params luaivr reads from a script's action and never sends,
// per action, with their rules.
var ours = map[string][]param{
	SayAndCapture: {{name: SensitiveParam, kind: kBoolean}},
}

// Ours reports whether name is a param of action that is luaivr's own, not
// 8x8's (SensitiveParam on sayAndCapture): a script may write it where it
// writes 8x8's params, and it never reaches 8x8.
func Ours(action, name string) bool { return ourParam(action, name) != nil }

func ourParam(action, name string) *param {
	for i, p := range ours[action] {
		if p.name == name {
			return &ours[action][i]
		}
	}
	return nil
}

// Unknown, as a value in CheckParams' params, stands for a value not known
// yet (lint reads code, not values): only its name is checked.
type Unknown struct{}

// AnyAction, as CheckParams' action, checks params meant for whichever actions
// take them, as ivr.defaults holds them.
const AnyAction = ""

// CheckParams checks parameters before they are a whole action, where a script
// writes them (ivr.defaults, ivr.menu, a builder's table, a literal lint reads):
// every name is one of the action's parameters (AnyAction: of some action) or
// luaivr's own (Ours: sensitive on sayAndCapture), and
// every value has its type, limits and shape. It returns an *Invalid, or nil.
// It does not ask for required parameters nor apply the rules between them
// (-1003, -1005, -1006, -1008): defaults and menus are completed later, and
// Validate checks the whole action then. Paths are "params.<name>".
func CheckParams(action string, params map[string]any) error {
	var ps []Problem
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path := "params." + name
		p, spec := findParam(action, name)
		if p == nil {
			p = ourParam(action, name)
		}
		switch {
		case p == nil && spec == nil && action != AnyAction:
			return &Invalid{Problems: []Problem{newProblem(codeInvalidAction, "action", "")}}
		case p == nil:
			ps = append(ps, newProblem(codeInvalidEntry, path, spec.notAParam(name)))
		case params[name] == Unknown{}, params[name] == nil && p.nullable:
		default:
			if code, detail := p.check(params[name]); code != 0 {
				pr := p.problem(0, code, detail)
				pr.Path = path
				pr.Message = strings.Replace(pr.Message, paramPath(0, p.name), path, 1)
				ps = append(ps, pr)
			}
		}
	}
	if ps == nil {
		return nil
	}
	return &Invalid{Problems: ps}
}

// findParam is the param name of action (AnyAction: the first action that takes
// it), and the spec it was looked up in; a nil param when none takes it, with
// the action's spec (nil for AnyAction or an action 8x8 does not have).
func findParam(action, name string) (*param, *actionSpec) {
	if action != AnyAction {
		spec := actions[action]
		if spec == nil {
			return nil, nil
		}
		if j := spec.index(name); j >= 0 {
			return &spec.params[j], spec
		}
		return nil, spec
	}
	for _, a := range actionOrder {
		if j := actions[a].index(name); j >= 0 {
			return &actions[a].params[j], actions[a]
		}
	}
	return nil, nil
}

// actionOrder is the actions in 8x8's order, for what is said about all of them.
var actionOrder = []string{MakeCall, Say, SayAndCapture, PlayFile, Hangup}

// notAParam is the -1009 reason for a param name the action (a nil spec: any
// action) does not take, in 8x8's schema wording, followed by the name that was
// probably meant, or else the action that takes it and the names there are.
func (s *actionSpec) notAParam(name string) string {
	var b strings.Builder
	b.WriteString("is not defined in the schema and the schema does not allow additional properties")
	names := s.names()
	if len(names) == 0 {
		b.WriteString("; " + s.name() + " takes no parameters")
		return b.String()
	}
	if meant := spelling.Closest(name, names); meant != "" {
		b.WriteString("; did you mean " + meant + "?")
		return b.String()
	}
	if Ours(SayAndCapture, name) && s != actions[SayAndCapture] {
		b.WriteString("; " + name + " marks the digits of a sayAndCapture as sensitive (luaivr's, never sent to 8x8)")
		return b.String()
	}
	if other := takenBy(name); other != "" && s != nil {
		b.WriteString("; " + name + " is a parameter of " + other + ", not of " + s.name())
	}
	b.WriteString(" (" + s.name() + " takes " + strings.Join(names, ", ") + ")")
	return b.String()
}

// names lists the spec's params; for a nil spec, every action's, once each.
func (s *actionSpec) names() []string {
	if s != nil {
		names := make([]string, len(s.params))
		for i, p := range s.params {
			names[i] = p.name
		}
		return names
	}
	var names []string
	for _, a := range actionOrder {
		for _, p := range actions[a].params {
			if !slices.Contains(names, p.name) {
				names = append(names, p.name)
			}
		}
	}
	return names
}

// name is the spec's action as 8x8 names it; "an action" for a nil spec.
func (s *actionSpec) name() string {
	for _, a := range actionOrder {
		if actions[a] == s {
			return a
		}
	}
	return "an action"
}

// takenBy names the actions that take param name, "" when none does.
func takenBy(name string) string {
	var by []string
	for _, a := range actionOrder {
		if actions[a].index(name) >= 0 {
			by = append(by, a)
		}
	}
	return strings.Join(by, " and ")
}
