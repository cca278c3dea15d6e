package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Change is one difference between a recorded reply and the new one: the
// reply's clientActionId, an action added or removed, or a parameter of an
// action both have added, removed or changed.
type Change struct {
	Kind string `json:"kind"` // "added", "removed" or "changed"
	// Path is where, as in 8x8's messages: "clientActionId",
	// "callflow[1]" (the whole action) or "callflow[0].params.promptMessage".
	// An index is the action's in the new reply, or in the recorded one for
	// what was removed.
	Path   string          `json:"path"`
	Action string          `json:"action,omitempty"` // say, sayAndCapture, …
	Was    json.RawMessage `json:"was,omitempty"`
	Now    json.RawMessage `json:"now,omitempty"`
}

// String is the change as one line: `callflow[0] sayAndCapture
// promptMessage: "Press 1…" → "Press 2…"`.
func (c Change) String() string {
	where := c.Path
	if i := strings.Index(where, ".params."); i >= 0 {
		where = where[:i] + " " + c.Action + " " + where[i+len(".params."):]
	} else if c.Action != "" {
		where += " " + c.Action
	}
	switch c.Kind {
	case "added":
		return fmt.Sprintf("+ %s: %s", where, c.Now)
	case "removed":
		return fmt.Sprintf("- %s: %s", where, c.Was)
	}
	return fmt.Sprintf("~ %s: %s → %s", where, c.Was, c.Now)
}

type action struct {
	Name   string                     `json:"action"`
	Params map[string]json.RawMessage `json:"params"`
}

type reply struct {
	ClientActionID json.RawMessage `json:"clientActionId"`
	Callflow       []action        `json:"callflow"`
}

// diffReplies compares two reply bodies action by action, parameter by
// parameter. Actions are paired by the longest common sequence of their
// names, so that an action put in front of the others reads as one added
// action, not as every action changed.
func diffReplies(was, now []byte) []Change {
	var a, b reply
	if json.Unmarshal(was, &a) != nil || json.Unmarshal(now, &b) != nil {
		if bytes.Equal(bytes.TrimSpace(was), bytes.TrimSpace(now)) {
			return nil
		}
		return []Change{{Kind: "changed", Path: "reply", Was: quoted(was), Now: quoted(now)}}
	}
	var out []Change
	if w, n := actionID(a), actionID(b); !bytes.Equal(w, n) {
		out = append(out, change("clientActionId", "", w, n))
	}
	pairs := pair(a.Callflow, b.Callflow)
	i, j := 0, 0
	for _, p := range append(pairs, [2]int{len(a.Callflow), len(b.Callflow)}) {
		for ; i < p[0]; i++ {
			out = append(out, Change{Kind: "removed", Path: fmt.Sprintf("callflow[%d]", i), Action: a.Callflow[i].Name, Was: paramsOf(a.Callflow[i])})
		}
		for ; j < p[1]; j++ {
			out = append(out, Change{Kind: "added", Path: fmt.Sprintf("callflow[%d]", j), Action: b.Callflow[j].Name, Now: paramsOf(b.Callflow[j])})
		}
		if i < len(a.Callflow) && j < len(b.Callflow) {
			out = append(out, diffParams(fmt.Sprintf("callflow[%d]", j), a.Callflow[i], b.Callflow[j])...)
			i, j = i+1, j+1
		}
	}
	return out
}

// actionID is a reply's clientActionId as JSON; nil when it has none.
func actionID(r reply) json.RawMessage {
	if id := canonical(r.ClientActionID); string(id) != "null" {
		return id
	}
	return nil
}

// pair is the longest common sequence of action names of a and b, as index
// pairs in order.
func pair(a, b []action) [][2]int {
	n, m := len(a), len(b)
	l := make([][]int, n+1)
	for i := range l {
		l[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i].Name == b[j].Name {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	var out [][2]int
	for i, j := 0, 0; i < n && j < m; {
		switch {
		case a[i].Name == b[j].Name:
			out = append(out, [2]int{i, j})
			i, j = i+1, j+1
		case l[i+1][j] >= l[i][j+1]:
			i++
		default:
			j++
		}
	}
	return out
}

func diffParams(path string, a, b action) []Change {
	keys := map[string]bool{}
	for k := range a.Params {
		keys[k] = true
	}
	for k := range b.Params {
		keys[k] = true
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []Change
	for _, k := range names {
		w, inA := a.Params[k]
		n, inB := b.Params[k]
		c := change(path+".params."+k, b.Name, canonical(w), canonical(n))
		switch {
		case !inA:
			c.Kind, c.Was = "added", nil
		case !inB:
			c.Kind, c.Now = "removed", nil
		case bytes.Equal(c.Was, c.Now):
			continue
		}
		out = append(out, c)
	}
	return out
}

func change(path, name string, was, now json.RawMessage) Change {
	c := Change{Kind: "changed", Path: path, Action: name, Was: was, Now: now}
	if len(was) == 0 {
		c.Kind = "added"
	} else if len(now) == 0 {
		c.Kind = "removed"
	}
	return c
}

// paramsOf is an action's params as JSON ("{}" for none).
func paramsOf(a action) json.RawMessage {
	if len(a.Params) == 0 {
		return json.RawMessage("{}")
	}
	b, _ := json.Marshal(a.Params)
	return canonical(b)
}

// canonical is v as compact JSON with its objects' keys sorted, so that two
// encodings of one value compare equal; nil for nothing.
func canonical(v json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(v)) == 0 {
		return nil
	}
	var x any
	if json.Unmarshal(v, &x) != nil {
		return v
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(x)
	return bytes.TrimSpace(b.Bytes())
}

func quoted(b []byte) json.RawMessage {
	q, _ := json.Marshal(string(b))
	return q
}
