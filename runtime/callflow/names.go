package callflow

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
