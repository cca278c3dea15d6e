package explore

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	clock "github.com/luaivr/luaivr/stdlib/time"
)

// A script may compare the clock with dates of its own, such as a list of
// holidays checked with HOLIDAYS[time.format(time.now(), "%Y-%m-%d")]: a
// question the time module cannot see. The dates the app and its modules
// write ("2026-12-25") are tried too, at noon, wherever the script reads the
// clock: the nearest maxDates after the first call, then the latest before.

var (
	dateLiteral = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}\b`)
	requireCall = regexp.MustCompile(`require\s*\(?\s*["']([\w.]+)["']`)
)

const maxDates = 12

// readSource returns the app's source, and finds the dates it and the
// modules it requires write.
func (x *explorer) readSource(scripts *engine.Scripts) []byte {
	src, _ := os.ReadFile(filepath.Join(scripts.Dir, x.app.File))
	seen := map[time.Time]bool{}
	texts := [][]byte{src}
	for _, m := range requireCall.FindAllSubmatch(src, 20) {
		lib, err := os.ReadFile(filepath.Join(scripts.Dir, strings.ReplaceAll(string(m[1]), ".", "/")+".lua"))
		if err == nil {
			texts = append(texts, lib)
		}
	}
	for _, text := range texts {
		for _, d := range dateLiteral.FindAll(text, 1000) {
			if t, err := time.Parse(time.DateOnly, string(d)); err == nil && !seen[t] {
				seen[t] = true
				x.dates = append(x.dates, t)
			}
		}
	}
	start := x.opts.Start
	sort.Slice(x.dates, func(i, j int) bool {
		fi, fj := !x.dates[i].Before(start.Truncate(24*time.Hour)), !x.dates[j].Before(start.Truncate(24*time.Hour))
		if fi != fj {
			return fi
		}
		if fi {
			return x.dates[i].Before(x.dates[j])
		}
		return x.dates[i].After(x.dates[j])
	})
	x.dates = x.dates[:min(len(x.dates), maxDates)]
	return src
}

// withDates adds to what a handler asked of the clock noon of the script's
// own dates, in the zone it asked in (the first it named).
func (x *explorer) withDates(moves []clock.Move) []clock.Move {
	if len(moves) == 0 {
		return moves
	}
	first := moves[0]
	for _, m := range moves { // UTC is the default; a zone the script names is where it means its dates
		if m.Zone != time.UTC {
			first = m
			break
		}
	}
	for _, d := range x.dates {
		noon := time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, first.Zone)
		moves = append(moves, clock.Move{Asked: first.Asked, Moment: noon, Zone: first.Zone, TopLevel: first.TopLevel})
	}
	return moves
}
