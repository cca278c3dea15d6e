package replay

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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

// chosenBy is "what chose the new reply" (engine.Handled.Where) with the
// line of the menu option named when it names the menu's declaration: an
// option that is a menu id, a list of actions or a nested menu has no
// function whose line names it, and the menu's first line is not where the
// change is. `option ["3"] of menu "main" (app.lua:4)` becomes
// `option ["3"] (app.lua:12) of menu "main" (app.lua:4)`.
func chosenBy(scripts *engine.Scripts, app *engine.App, where string) string {
	m := optionOf.FindStringSubmatch(where)
	if m == nil || scripts == nil || app == nil {
		return where
	}
	key, menu, file, line := m[1], m[2], m[3], m[4]
	decl := slices.IndexFunc(app.Menus, func(mn engine.MenuInfo) bool { return mn.ID == menu && mn.Where == file+":"+line })
	if decl < 0 {
		return where // a function's line: already the option's
	}
	n, _ := strconv.Atoi(line)
	b, err := os.ReadFile(filepath.Join(scripts.Dir, filepath.FromSlash(file)))
	if err != nil {
		return where
	}
	at := optionLine(string(b), n, key)
	if at == 0 {
		return where
	}
	return fmt.Sprintf("option [%q] (%s:%d) of menu %q (%s:%s)", key, file, at, menu, file, line)
}

// optionOf is what the ivr module names a menu option by.
var optionOf = regexp.MustCompile(`^option \["((?:[^"\\]|\\.)*)"\] of menu "((?:[^"\\]|\\.)*)" \(([\w./-]+\.lua):(\d+)\)$`)

// optionLine is the line of key in the table of the menu declared at line
// decl of src (the first table constructor from there): ["key"] =, ['key'] =
// or [key] = at the table's own level, not in a menu nested in it, strings
// and comments skipped; 0 when it is not found.
func optionLine(src string, decl int, key string) int {
	line, i := 1, 0
	for ; i < len(src) && line < decl; i++ {
		if src[i] == '\n' {
			line++
		}
	}
	depth := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
		case c == '-' && strings.HasPrefix(src[i:], "--"):
			if n := longBracket(src[i+2:]); n > 0 {
				end := strings.Index(src[i+2+n:], "]"+strings.Repeat("=", n-2)+"]")
				if end < 0 {
					return 0
				}
				line += strings.Count(src[i:i+2+n+end], "\n")
				i += 2 + n + end + n
				continue
			}
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c && src[j] != '\n' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
			continue
		case c == '[' && longBracket(src[i:]) > 0:
			n := longBracket(src[i:])
			end := strings.Index(src[i+n:], "]"+strings.Repeat("=", n-2)+"]")
			if end < 0 {
				return 0
			}
			line += strings.Count(src[i:i+n+end], "\n")
			i += n + end + n
			continue
		case c == '{':
			depth++
		case c == '}':
			if depth--; depth == 0 {
				return 0
			}
		case c == '[' && depth == 1:
			for _, k := range []string{strconv.Quote(key), "'" + key + "'", key} {
				rest, ok := strings.CutPrefix(src[i+1:], k+"]")
				if ok && strings.HasPrefix(strings.TrimLeft(rest, " \t"), "=") {
					return line
				}
			}
		}
		i++
	}
	return 0
}

// longBracket is the length of the Lua long bracket that s starts with
// ("[[", "[==["), or 0.
func longBracket(s string) int {
	if !strings.HasPrefix(s, "[") {
		return 0
	}
	n := 1
	for n < len(s) && s[n] == '=' {
		n++
	}
	if n < len(s) && s[n] == '[' {
		return n + 1
	}
	return 0
}
