package replay

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/luaivr/luaivr/runtime/engine"
)

// minWritten is the shortest piece of a text that writtenAt looks for: a
// shorter one ("Goodbye.") is found on too many lines to name one.
const minWritten = 12

// spoken are the parameters whose text a caller hears.
var spoken = []string{"text", "promptMessage", "successMessage", "failureMessage"}

// writtenAt is "file:line" of the first line of the app's source (then of
// the modules beside it), comments aside, that holds the longest start of a
// text the changes made the caller hear, at least minWritten bytes of it: a
// prompt built as "Sorry. " .. MENU is found at its first literal. "" when
// no text is found.
func writtenAt(scripts *engine.Scripts, app *engine.App, changes []Change) string {
	var texts []string
	add := func(v json.RawMessage) {
		var s string
		if json.Unmarshal(v, &s) == nil && len(s) >= minWritten {
			texts = append(texts, s)
		}
	}
	for _, c := range changes {
		switch {
		case c.Kind == "removed":
		case strings.Contains(c.Path, ".params."):
			if slices.Contains(spoken, c.Path[strings.LastIndex(c.Path, ".")+1:]) {
				add(c.Now)
			}
		case strings.HasPrefix(c.Path, "callflow["): // a whole action
			var params map[string]json.RawMessage
			_ = json.Unmarshal(c.Now, &params)
			for _, k := range spoken {
				add(params[k])
			}
		}
	}
	if len(texts) == 0 || scripts == nil || app == nil {
		return ""
	}
	names := []string{app.File}
	_ = filepath.WalkDir(scripts.Dir, func(path string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(scripts.Dir, path)
		if err == nil && !d.IsDir() && strings.HasSuffix(rel, ".lua") && !engine.IsApp(rel) && !strings.HasSuffix(rel, "_test.lua") {
			names = append(names, rel)
		}
		return nil
	})
	sources := make([][]string, len(names))
	for i, f := range names {
		b, _ := os.ReadFile(filepath.Join(scripts.Dir, f))
		sources[i] = strings.Split(string(b), "\n")
	}
	for _, text := range texts {
		for n := len(text); n >= minWritten; n-- {
			for i, lines := range sources {
				for l, line := range lines {
					if strings.Contains(line, text[:n]) && !strings.HasPrefix(strings.TrimSpace(line), "--") {
						return fmt.Sprintf("%s:%d", filepath.ToSlash(names[i]), l+1)
					}
				}
			}
		}
	}
	return ""
}
