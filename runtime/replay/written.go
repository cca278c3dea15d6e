package replay

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/luaivr/luaivr/runtime/engine"
)

// minWritten is the shortest piece of a text that writtenAt looks for: a
// shorter one ("Goodbye.") is found on too many lines to name one.
const minWritten = 12

// writtenAt is "file:line" of the first line of the app's source (then of
// the modules beside it) that holds the longest start of a text the changes
// added, at least minWritten bytes of it: a prompt built as "Sorry. " ..
// MENU is found at its first literal. "" when no text is found.
func writtenAt(scripts *engine.Scripts, app *engine.App, changes []Change) string {
	var texts []string
	for _, c := range changes {
		if c.Kind == "removed" {
			continue
		}
		var s string
		if json.Unmarshal(c.Now, &s) == nil && len(s) >= minWritten {
			texts = append(texts, s)
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
	sources := make([]string, len(names))
	for i, f := range names {
		b, _ := os.ReadFile(filepath.Join(scripts.Dir, f))
		sources[i] = string(b)
	}
	for _, text := range texts {
		for n := len(text); n >= minWritten; n-- {
			for i, src := range sources {
				if at := strings.Index(src, text[:n]); at >= 0 {
					return fmt.Sprintf("%s:%d", filepath.ToSlash(names[i]), 1+strings.Count(src[:at], "\n"))
				}
			}
		}
	}
	return ""
}
