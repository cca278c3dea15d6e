package explore

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// GraphOptions shape a drawing.
type GraphOptions struct {
	// NoOther leaves out the edges of invalid keys and no input, as 8x8's
	// own diagrams do.
	NoOther bool
}

// Mermaid writes the tree as a Mermaid flowchart: prompts as boxes with their
// text, transfers as parallelograms, ends as rounded boxes, the start of
// calls that begin in different places at different clocks as a circle;
// edges carry keys.
func (r *Result) Mermaid(w io.Writer, opts GraphOptions) {
	ids := r.shortIDs()
	fmt.Fprintln(w, "flowchart TD")
	for _, n := range r.Nodes {
		if !r.drawn(n, opts) {
			continue
		}
		label := mermaidText(n)
		switch n.Kind {
		case "prompt":
			fmt.Fprintf(w, "  %s[\"%s\"]\n", ids[n.ID], label)
		case "bridge":
			fmt.Fprintf(w, "  %s[/\"%s\"/]\n", ids[n.ID], label)
		case "start":
			fmt.Fprintf(w, "  %s((\"%s\"))\n", ids[n.ID], label)
		default:
			fmt.Fprintf(w, "  %s([\"%s\"])\n", ids[n.ID], label)
		}
	}
	for _, e := range r.edgesFor(opts) {
		fmt.Fprintf(w, "  %s -- \"%s\" --> %s\n", ids[e.From], escapeMermaid(keyLabel(e.Keys)), ids[e.To])
	}
}

// DOT writes the tree for Graphviz.
func (r *Result) DOT(w io.Writer, opts GraphOptions) {
	ids := r.shortIDs()
	fmt.Fprintf(w, "digraph %q {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n", r.App)
	for _, n := range r.Nodes {
		if !r.drawn(n, opts) {
			continue
		}
		shape := map[string]string{"prompt": "box", "bridge": "parallelogram", "end": "ellipse", "start": "circle"}[n.Kind]
		fmt.Fprintf(w, "  %s [shape=%s, label=%q];\n", ids[n.ID], shape, plainText(n))
	}
	for _, e := range r.edgesFor(opts) {
		fmt.Fprintf(w, "  %s -> %s [label=%q];\n", ids[e.From], ids[e.To], keyLabel(e.Keys))
	}
	fmt.Fprintln(w, "}")
}

// Drawn is what a page that styles a drawing needs: the identifier Mermaid
// and DOT give each node (by Node.ID), and the edges in the order they are
// written (Mermaid's linkStyle numbers them so).
func (r *Result) Drawn(opts GraphOptions) (ids map[string]string, edges []*Edge) {
	return r.shortIDs(), r.edgesFor(opts)
}

func isOther(k string) bool { return k == "no input" || k == "other" }

// edgesFor returns the edges to draw. Keys of a menu that are not its options
// are shown as "other".
func (r *Result) edgesFor(opts GraphOptions) []*Edge {
	var out []*Edge
	for _, e := range r.Edges {
		keys := r.labelKeys(e)
		if opts.NoOther {
			var kept []string
			for _, k := range keys {
				if !isOther(k) {
					kept = append(kept, k)
				}
			}
			keys = kept
		}
		if len(keys) > 0 {
			out = append(out, &Edge{From: e.From, To: e.To, Keys: keys})
		}
	}
	return out
}

// labelKeys folds keypad sweeps: at a prompt where many keys were tried, the
// keys that all go the same way as most others read "other".
func (r *Result) labelKeys(e *Edge) []string {
	tried := 0
	for _, o := range r.Edges {
		if o.From == e.From {
			tried += len(o.Keys)
		}
	}
	if len(e.Keys) >= 4 && tried >= 8 {
		var named []string
		for _, k := range e.Keys {
			if k == "no input" {
				named = append(named, k)
			}
		}
		return append([]string{"other"}, named...)
	}
	return e.Keys
}

func (r *Result) drawn(n *Node, opts GraphOptions) bool {
	for _, e := range r.edgesFor(opts) {
		if e.From == n.ID || e.To == n.ID {
			return true
		}
	}
	return n.ID == r.Root
}

// shortIDs gives nodes identifiers diagram tools accept: a menu keeps its id.
func (r *Result) shortIDs() map[string]string {
	ids := map[string]string{}
	taken := map[string]bool{}
	for i, n := range r.Nodes {
		id := sanitize(n.Menu)
		if id == "" || taken[id] {
			id = fmt.Sprintf("%s%d", n.Kind, i)
		}
		taken[id] = true
		ids[n.ID] = id
	}
	return ids
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	if b.Len() > 0 && b.String()[0] >= '0' && b.String()[0] <= '9' {
		return "m" + b.String()
	}
	return b.String()
}

func keyLabel(keys []string) string {
	sorted := append([]string(nil), keys...)
	sort.SliceStable(sorted, func(i, j int) bool { return !isOther(sorted[i]) && isOther(sorted[j]) })
	return strings.Join(sorted, ", ")
}

func plainText(n *Node) string {
	switch n.Kind {
	case "bridge":
		return "connect to " + n.Label
	case "end":
		if n.Label == "" {
			return "hang up"
		}
		return n.Label + "\n(hang up)"
	}
	if n.Menu != "" {
		return n.Menu + "\n" + clip(n.Label, 80)
	}
	return clip(n.Label, 80)
}

func mermaidText(n *Node) string {
	return escapeMermaid(strings.ReplaceAll(plainText(n), "\n", "<br/>"))
}

func escapeMermaid(s string) string {
	return strings.NewReplacer(`"`, "#quot;").Replace(s)
}
