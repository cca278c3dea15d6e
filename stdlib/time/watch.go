package clock

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// A Watch treats the clock as an input. `luaivr check` cannot see the
// comparisons a script makes with the time, but this module sees every time
// the script reads the clock and knows what it asked: an is_open schedule
// (whose open and closed moments it can compute), a moment time.parse made
// (a threshold the script is likely to compare time.now() with), or the
// current time read as a number, parts or a format (hours and weekdays the
// script compares itself). For each, it proposes the moments at which the
// same question could get another answer; the explorer plays the call again
// with its clock moved there, so code behind "open" and behind "closed" is
// explored alike. Nothing is recorded unless the call's context carries a
// Watch (WithWatch): serving calls pays nothing.
//
// The moments are days of the week from From (or from when the script asked,
// if From is zero) and the holidays given, so that calls played at moved
// clocks propose the same moments again, not a week further on each time.
type Watch struct {
	From time.Time

	mu    sync.Mutex
	moves []Move
	seen  map[Move]bool // a loop asking the same again records nothing more
}

// maxMoves bounds what one event records: a handler may read the clock in
// a loop until its deadline.
const maxMoves = 256

// Move is another moment the clock could have shown when the script asked.
// The explorer starts a new call shifted by Moment - Asked, so that the script
// asks at Moment; Zone is where the script read the clock, for reports.
// TopLevel is set when the script asked while its top level (or a module's)
// ran: that runs at every event, so what it asks is not about one input.
// Site, when set, is the script line that asked ("app.lua:16"): the moment
// is worth trying once for that line, not on every path that reaches it
// (every hour of a day, which would multiply the calls played by 24).
type Move struct {
	Asked, Moment time.Time
	Zone          *time.Location
	TopLevel      bool
	Site          string
}

type watchKey struct{}

// WithWatch returns ctx carrying w: the module reports to w while a handler
// runs under ctx.
func WithWatch(ctx context.Context, w *Watch) context.Context {
	return context.WithValue(ctx, watchKey{}, w)
}

// Take returns the moves recorded since the last Take, in the order the
// script asked, and forgets them.
func (w *Watch) Take() []Move {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.moves
	w.moves, w.seen = nil, nil
	return out
}

func (w *Watch) add(L *lua.LState, asked time.Time, loc *time.Location, moments []time.Time) {
	w.record(Move{Asked: asked, Zone: loc, TopLevel: topLevel(L)}, moments)
}

// addOnce is add for moments to try once per script line that asks.
func (w *Watch) addOnce(L *lua.LState, asked time.Time, loc *time.Location, moments []time.Time) {
	w.record(Move{Asked: asked, Zone: loc, TopLevel: topLevel(L), Site: strings.TrimSuffix(L.Where(1), ":")}, moments)
}

func (w *Watch) record(like Move, moments []time.Time) {
	asked := like.Asked
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen == nil {
		w.seen = map[Move]bool{}
	}
	for _, m := range moments {
		mv := like
		mv.Moment = m
		if m.Equal(asked) || w.seen[mv] || len(w.moves) >= maxMoves {
			continue
		}
		w.seen[mv] = true
		w.moves = append(w.moves, mv)
	}
}

// topLevel reports whether a chunk's top level is running: a Lua function
// of the stack (one with a source; Go functions have none) defined at line 0.
func topLevel(L *lua.LState) bool {
	for level := 1; ; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			return false
		}
		if _, err := L.GetInfo("S", dbg, lua.LNil); err == nil && dbg.Source != "" && dbg.LineDefined == 0 {
			return true
		}
	}
}

// from is the moment the week of proposed moments starts at.
func (w *Watch) from(asked time.Time) time.Time {
	if w.From.IsZero() {
		return asked
	}
	return w.From
}

func watching(L *lua.LState) *Watch {
	ctx := L.Context()
	if ctx == nil {
		return nil
	}
	w, _ := ctx.Value(watchKey{}).(*Watch)
	return w
}

// near is how close to now a time must be for reading it to count as reading
// the clock: time.format(time.now() + 60, …) does, formatting a booking made
// for next month does not.
const near = 24 * time.Hour

// readClock notes that the script read the weekday of t, and the time of
// day when ofDay: when t is about now, the explorer tries the same call over
// a week, at hours on both sides of common opening times, and, for the time
// of day, once for the line that read it, at every hour.
func (m *module) readClock(L *lua.LState, t time.Time, loc *time.Location, ofDay bool) {
	w := watching(L)
	if w == nil || !m.aboutNow(t) {
		return
	}
	w.add(L, t, loc, week(w.from(t), loc))
	if ofDay {
		w.addOnce(L, t, loc, hourly(w.from(t), loc))
	}
}

// readsTimeOfDay reports whether time.format's pattern shows the time of day
// (its hour or its minutes): whether it writes two moments of t's day apart.
func readsTimeOfDay(t time.Time, loc *time.Location, pattern string) bool {
	day := localDate(t, loc)
	a, _ := strftime(at(loc, day, 330), pattern)
	b, _ := strftime(at(loc, day, 1500), pattern)
	c, _ := strftime(at(loc, day, 1530), pattern)
	return a != b || b != c
}

// aboutNow reports whether t is within a day of the clock.
func (m *module) aboutNow(t time.Time) bool {
	d := t.Sub(m.now())
	return d <= near && d >= -near
}

// threshold notes a moment the script made (time.parse): the clock is tried
// just before and just after it.
func (m *module) threshold(L *lua.LState, t time.Time, loc *time.Location) {
	if w := watching(L); w != nil {
		w.add(L, m.now(), loc, []time.Time{t.Add(-30 * time.Minute), t.Add(30 * time.Minute)})
	}
}

// week is where a script that compares hours and weekdays itself is tried:
// t's day at a night, morning, lunch, afternoon and evening hour, and
// the next six days in the morning and the evening.
func week(t time.Time, loc *time.Location) []time.Time {
	day := localDate(t, loc)
	var out []time.Time
	for _, hhmm := range []int{2100, 1030, 300, 1230, 1500} {
		out = append(out, at(loc, day, hhmm))
	}
	for k := 1; k < 7; k++ {
		d := day.AddDate(0, 0, k)
		out = append(out, at(loc, d, 1030), at(loc, d, 2100))
	}
	return out
}

// hourly is where a script's comparison of hours is tried once (p.hour >= 7
// and p.hour < 9, an hour week does not hit): half past every hour of t's
// day and of the next Saturday and Sunday, less week's.
func hourly(t time.Time, loc *time.Location) []time.Time {
	day := localDate(t, loc)
	tried := week(t, loc)
	var out []time.Time
	for k := 0; k < 7; k++ {
		d := day.AddDate(0, 0, k)
		if wd := d.Weekday(); k > 0 && wd != time.Saturday && wd != time.Sunday {
			continue
		}
		for h := 0; h < 24; h++ {
			if m := at(loc, d, h*100+30); !slices.ContainsFunc(tried, m.Equal) {
				out = append(out, m)
			}
		}
	}
	return out
}

// at is day d at hhmm on the wall clock of loc.
func at(loc *time.Location, d time.Time, hhmm int) time.Time {
	return wallClock(loc, d, hhmm/100*60+hhmm%100)
}

// moments are where a schedule asked about at t gives each of its answers: a
// moment open and one closed on each kind of day (days whose hours differ)
// of the week from t, and on each kind of holiday given, nearest first.
func (h *hours) moments(t time.Time, loc *time.Location) []time.Time {
	today := localDate(t, loc)
	var days []time.Time
	for k := 0; k < 7; k++ {
		days = append(days, today.AddDate(0, 0, k))
	}
	var dates []time.Time
	for s := range h.dates {
		d, _ := time.Parse(time.DateOnly, s)
		dates = append(dates, d)
	}
	// The next holiday of each kind counts, else the last one past.
	sort.Slice(dates, func(i, j int) bool {
		fi, fj := !dates[i].Before(today), !dates[j].Before(today)
		if fi != fj {
			return fi
		}
		if fi {
			return dates[i].Before(dates[j])
		}
		return dates[i].After(dates[j])
	})
	kinds := map[string]bool{}
	var out []time.Time
	for _, d := range append(days, dates...) {
		key := h.kind(d)
		if kinds[key] {
			continue
		}
		kinds[key] = true
		out = append(out, h.sides(d, loc)...)
	}
	return out
}

// kind names what a day's hours are, so days alike are tried once.
func (h *hours) kind(d time.Time) string {
	spans, special := h.dates[d.Format(time.DateOnly)]
	if !special {
		spans = h.week[d.Weekday()]
	}
	key := []byte{'w'}
	if special {
		key[0] = 'h'
	}
	for _, s := range spans {
		key = append(key, byte(s.start>>8), byte(s.start), byte(s.end>>8), byte(s.end))
	}
	return string(key)
}

// sides are a moment in the middle of day d's first opening range and a
// moment of d when the schedule is closed, those that exist.
func (h *hours) sides(d time.Time, loc *time.Location) []time.Time {
	mid := func(a, b time.Time) time.Time { return a.Add(b.Sub(a) / 2) }
	midnight, next := wallClock(loc, d, 0), wallClock(loc, d, 24*60)
	var out, closed []time.Time
	if ivs := h.intervals(loc, d, d); len(ivs) > 0 {
		out = append(out, mid(ivs[0].start, ivs[0].end))
		closed = append(closed, mid(midnight, ivs[0].start), mid(ivs[len(ivs)-1].end, next))
	}
	closed = append(closed, wallClock(loc, d, 12*60), wallClock(loc, d, 3*60), wallClock(loc, d, 23*60+30))
	for _, c := range closed {
		if open, _ := h.at(c, loc); !open {
			return append(out, c)
		}
	}
	return out
}
