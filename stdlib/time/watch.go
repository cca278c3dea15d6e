package clock

import (
	"context"
	"sort"
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
type Move struct {
	Asked, Moment time.Time
	Zone          *time.Location
	TopLevel      bool
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
	top := topLevel(L)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen == nil {
		w.seen = map[Move]bool{}
	}
	for _, m := range moments {
		mv := Move{Asked: asked, Moment: m, Zone: loc, TopLevel: top}
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

// readClock notes that the script read the time of day or the weekday of t:
// when t is about now, the explorer tries the same call over a week, at
// hours on both sides of common opening times.
func (m *module) readClock(L *lua.LState, t time.Time, loc *time.Location) {
	w := watching(L)
	if w == nil {
		return
	}
	if m.aboutNow(t) {
		w.add(L, t, loc, week(w.from(t), loc))
	}
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

// week is where a script that compares hours and weekdays itself is tried
// (p.hour >= 7 and p.hour < 9): t's day and the next Saturday and Sunday at
// half past every hour, so that each hour of the day is seen on a weekday
// and on each day of the weekend, at 15:00 for a comparison of minutes, and
// the other days of the week in the morning and the evening.
func week(t time.Time, loc *time.Location) []time.Time {
	day := localDate(t, loc)
	at := func(d time.Time, hhmm int) time.Time { return wallClock(loc, d, hhmm/100*60+hhmm%100) }
	hourly := func(d time.Time) (out []time.Time) {
		for h := 0; h < 24; h++ {
			out = append(out, at(d, h*100+30))
		}
		return out
	}
	out := append(hourly(day), at(day, 1500))
	for k := 1; k < 7; k++ {
		d := day.AddDate(0, 0, k)
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			out = append(out, hourly(d)...)
			continue
		}
		out = append(out, at(d, 1030), at(d, 2100))
	}
	return out
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
