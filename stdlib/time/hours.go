package clock

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// horizon is how far time.is_open looks for the next change.
const horizon = 14 * 24 * time.Hour

// span is one opening range of a day, in minutes after its midnight. When it
// crosses midnight, end is past 1440.
type span struct{ start, end int }

// hours is a parsed time.is_open schedule.
type hours struct {
	week  [7][]span         // by time.Weekday
	dates map[string][]span // "2026-12-25" → its spans; present and empty = closed
}

// days maps what time.is_open accepts as a day to the weekdays it sets.
// Shorthands (more than one day) give way to a named day.
var days = map[string][]time.Weekday{
	"weekdays": {time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
	"weekend":  {time.Saturday, time.Sunday},
}

func init() {
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := d.String()
		days[lower(name)] = []time.Weekday{d}
		days[lower(name[:3])] = []time.Weekday{d}
	}
}

func lower(s string) string {
	b := []byte(s)
	b[0] += 'a' - 'A'
	return string(b)
}

func (m *module) isOpen(L *lua.LState) int {
	const fn = "time.is_open"
	ht, ok := L.Get(1).(*lua.LTable)
	if !ok {
		argError(L, fn, 1, "table of opening hours expected, got "+L.Get(1).Type().String())
	}
	h := hours{dates: map[string][]span{}}
	// Every mistake in the hours and the options is reported in one error, so
	// that a script with three is fixed in one run, not three.
	var wrong []string
	if err := h.parseWeek(ht); err != nil {
		wrong = append(wrong, fmt.Sprintf("bad argument #1 to %s (%s)", fn, err))
	}
	var loc *time.Location
	var at *time.Time
	switch opts := L.Get(2).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		var err error
		if loc, at, err = h.parseOpts(opts); err != nil {
			wrong = append(wrong, fmt.Sprintf("bad argument #2 to %s (%s)", fn, err))
		}
	default:
		wrong = append(wrong, fmt.Sprintf("bad argument #2 to %s (table of options expected, got %s)", fn, opts.Type()))
	}
	if wrong != nil {
		L.RaiseError("%s", strings.Join(wrong, "; "))
	}
	if loc == nil {
		loc = m.defaultZone(L, fn)
	}
	if at == nil {
		now := m.clock(L)
		at = &now
	}
	open, change := h.at(*at, loc)
	if w := watching(L); w != nil && m.aboutNow(*at) {
		w.add(L, *at, loc, h.moments(w.from(*at), loc))
	}
	L.Push(lua.LBool(open))
	if change.IsZero() {
		L.Push(lua.LNil)
	} else {
		L.Push(fromTime(change))
	}
	return 2
}

// parseWeek reads the hours of each day; the error names every mistake.
func (h *hours) parseWeek(t *lua.LTable) error {
	byKey := map[string]lua.LValue{}
	var keys []string
	var bad mistakes
	t.ForEach(func(k, v lua.LValue) {
		name, ok := k.(lua.LString)
		if !ok {
			bad.add(fmt.Errorf("hours: keys are day names like monday, got the %s %s", k.Type(), k))
			return
		}
		byKey[string(name)] = v
		keys = append(keys, string(name))
	})
	// Shorthands first, so a named day overrides them; sorted for stable errors.
	sort.Slice(keys, func(i, j int) bool {
		si, sj := len(days[keys[i]]) > 1, len(days[keys[j]]) > 1
		if si != sj {
			return si
		}
		return keys[i] < keys[j]
	})
	setBy := map[time.Weekday]string{}
	for _, k := range keys {
		wds, ok := days[k]
		if !ok {
			bad.add(fmt.Errorf("hours: unknown day %q; use monday … sunday, mon … sun, weekdays or weekend", k))
			continue
		}
		spans, err := parseSpans(byKey[k], "hours."+k)
		if err != nil {
			bad.add(err)
			continue
		}
		for _, d := range wds {
			if prev, ok := setBy[d]; ok && len(wds) == 1 && len(days[prev]) == 1 {
				bad.add(fmt.Errorf("hours.%s and hours.%s both give %s's hours", prev, k, d))
				continue
			}
			setBy[d] = k
			h.week[d] = spans
		}
	}
	return bad.err()
}

// mistakes gathers the mistakes of one schedule, to report them together.
type mistakes []string

func (ms *mistakes) add(err error) {
	if err != nil {
		*ms = append(*ms, err.Error())
	}
}

// err is every mistake in one error; nil when there is none.
func (ms mistakes) err() error {
	if len(ms) == 0 {
		return nil
	}
	return errors.New(strings.Join(ms, "; "))
}

// parseOpts reads time.is_open's options; the zone and at are nil when not
// given. The error names every mistake.
func (h *hours) parseOpts(t *lua.LTable) (loc *time.Location, at *time.Time, _ error) {
	var bad mistakes
	t.ForEach(func(k, v lua.LValue) {
		switch lua.LVAsString(k) {
		case "zone":
			name, ok := v.(lua.LString)
			if !ok {
				bad.add(fmt.Errorf("opts.zone: zone name expected, got %s", v.Type()))
				return
			}
			l, err := loadZone(string(name))
			if err != nil {
				bad.add(fmt.Errorf("opts.zone: %w", err))
				return
			}
			loc = l
		case "at":
			n, ok := v.(lua.LNumber)
			var t time.Time
			if ok {
				t, ok = toTime(n)
			}
			if !ok {
				bad.add(fmt.Errorf("opts.at: a time (seconds since the epoch) expected, got %s %s", v.Type(), v))
				return
			}
			at = &t
		case "holidays":
			ht, ok := v.(*lua.LTable)
			if !ok {
				bad.add(fmt.Errorf("opts.holidays: a table of dates expected, got %s", v.Type()))
				return
			}
			bad = append(bad, h.parseDates(ht)...)
		default:
			bad.add(fmt.Errorf("opts: unknown option %q; options are zone, at and holidays", k.String()))
		}
	})
	return loc, at, bad.err()
}

// parseDates reads holidays: list entries are dates closed all day, keyed
// entries a date's special hours. It returns every mistake.
func (h *hours) parseDates(t *lua.LTable) (bad mistakes) {
	t.ForEach(func(k, v lua.LValue) {
		var date string
		var spans []span
		var err error
		switch k := k.(type) {
		case lua.LNumber:
			path := fmt.Sprintf("opts.holidays[%s]", k)
			s, ok := v.(lua.LString)
			if !ok {
				bad.add(fmt.Errorf("%s: a date \"YYYY-MM-DD\" expected, got %s", path, v.Type()))
				return
			}
			if date, err = checkDate(string(s), path); err != nil {
				bad.add(err)
				return
			}
			spans = []span{}
		case lua.LString:
			path := fmt.Sprintf("opts.holidays[%q]", string(k))
			if date, err = checkDate(string(k), path); err != nil {
				bad.add(err)
				return
			}
			if spans, err = parseSpans(v, path); err != nil {
				bad.add(err)
				return
			}
			if spans == nil {
				spans = []span{}
			}
		default:
			bad.add(fmt.Errorf("opts.holidays: keys are dates \"YYYY-MM-DD\", got %s", k.Type()))
			return
		}
		if _, dup := h.dates[date]; dup {
			bad.add(fmt.Errorf("opts.holidays: %s is given twice", date))
			return
		}
		h.dates[date] = spans
	})
	return bad
}

func checkDate(s, path string) (string, error) {
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return "", fmt.Errorf("%s: %q is not a date YYYY-MM-DD", path, s)
	}
	return s, nil
}

// parseSpans reads one day's hours: a range, a list of ranges, or false/nil.
// It returns nil for a closed day.
func parseSpans(v lua.LValue, path string) ([]span, error) {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		if !v {
			return nil, nil
		}
	case lua.LString:
		sp, err := parseSpan(string(v), path)
		if err != nil {
			return nil, err
		}
		return []span{sp}, nil
	case *lua.LTable:
		n := v.Len()
		if count(v) != n {
			return nil, fmt.Errorf("%s: a list of ranges expected, got a table with other keys", path)
		}
		spans := make([]span, 0, n)
		for i := 1; i <= n; i++ {
			p := fmt.Sprintf("%s[%d]", path, i)
			s, ok := v.RawGetInt(i).(lua.LString)
			if !ok {
				return nil, fmt.Errorf("%s: a range \"HH:MM-HH:MM\" expected, got %s", p, v.RawGetInt(i).Type())
			}
			sp, err := parseSpan(string(s), p)
			if err != nil {
				return nil, err
			}
			spans = append(spans, sp)
		}
		return spans, nil
	}
	return nil, fmt.Errorf("%s: a range \"HH:MM-HH:MM\", a list of ranges, or false (closed) expected, got %s %s", path, v.Type(), v)
}

func count(t *lua.LTable) int {
	n := 0
	t.ForEach(func(lua.LValue, lua.LValue) { n++ })
	return n
}

var rangeRE = regexp.MustCompile(`^\s*(\d\d):(\d\d)\s*-\s*(\d\d):(\d\d)\s*$`)

func parseSpan(s, path string) (span, error) {
	m := rangeRE.FindStringSubmatch(s)
	if m == nil {
		return span{}, fmt.Errorf("%s: %q is not HH:MM-HH:MM", path, s)
	}
	minutes := func(h, mm string) (int, error) {
		hi, _ := strconv.Atoi(h)
		mi, _ := strconv.Atoi(mm)
		if mi > 59 || hi > 24 || hi == 24 && mi != 0 {
			return 0, fmt.Errorf("%s: %q: %s:%s is not a time of day", path, s, h, mm)
		}
		return hi*60 + mi, nil
	}
	start, err := minutes(m[1], m[2])
	if err != nil {
		return span{}, err
	}
	end, err := minutes(m[3], m[4])
	if err != nil {
		return span{}, err
	}
	switch {
	case start == 24*60:
		return span{}, fmt.Errorf("%s: %q: 24:00 can only end a range", path, s)
	case start == end:
		return span{}, fmt.Errorf("%s: %q starts and ends at the same time (all day is \"00:00-24:00\")", path, s)
	case end < start: // crosses midnight into the next day
		end += 24 * 60
	}
	return span{start, end}, nil
}

// interval is a span placed on the time line.
type interval struct{ start, end time.Time }

// at reports whether the schedule is open at t in loc, and when that next
// changes (zero if not within the horizon).
func (h *hours) at(t time.Time, loc *time.Location) (open bool, change time.Time) {
	local := t.In(loc)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
	// From yesterday, whose range may run past midnight, to two days past the
	// horizon, so a range running across the horizon is seen whole (even in a
	// zone that once skipped a day).
	limit := t.Add(horizon)
	for _, iv := range h.intervals(loc, today.AddDate(0, 0, -1), today.AddDate(0, 0, 16)) {
		switch {
		case !iv.end.After(t):
			continue
		case !iv.start.After(t): // open now
			if iv.end.After(limit) {
				return true, time.Time{}
			}
			return true, iv.end
		case iv.start.After(limit):
			return false, time.Time{}
		default:
			return false, iv.start
		}
	}
	return false, time.Time{}
}

// intervals places the spans of the days from first to last (dates as UTC
// midnights) on the time line, sorted and with touching ones merged.
func (h *hours) intervals(loc *time.Location, first, last time.Time) []interval {
	var ivs []interval
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		spans, special := h.dates[d.Format(time.DateOnly)]
		if !special {
			spans = h.week[d.Weekday()]
		}
		for _, sp := range spans {
			iv := interval{wallClock(loc, d, sp.start), wallClock(loc, d, sp.end)}
			if iv.end.After(iv.start) { // a range inside a skipped hour is empty
				ivs = append(ivs, iv)
			}
		}
	}
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].start.Before(ivs[j].start) })
	merged := ivs[:0]
	for _, iv := range ivs {
		if n := len(merged); n > 0 && !iv.start.After(merged[n-1].end) {
			if iv.end.After(merged[n-1].end) {
				merged[n-1].end = iv.end
			}
			continue
		}
		merged = append(merged, iv)
	}
	return merged
}

// wallClock returns the first moment the clock in loc shows day (a UTC
// midnight) plus minutes. In a skipped hour that is the moment the clock jumps
// past it; in a repeated hour, its first pass.
func wallClock(loc *time.Location, day time.Time, minutes int) time.Time {
	want := day.Add(time.Duration(minutes) * time.Minute)
	t := time.Date(want.Year(), want.Month(), want.Day(), want.Hour(), want.Minute(), 0, 0, loc)
	shown := func(t time.Time) time.Time {
		l := t.In(loc)
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
	}
	start, end := t.ZoneBounds()
	switch s := shown(t); {
	case s.After(want): // skipped: Go went past it, so the jump is where t's period starts
		return start
	case s.Before(want): // skipped: Go stopped short, so the jump is where t's period ends
		return end
	}
	// Repeated: if the period before t's shows want too, that came first.
	if !start.IsZero() {
		_, off := start.Add(-time.Second).Zone()
		if earlier := time.Unix(want.Unix()-int64(off), 0); earlier.Before(start) && shown(earlier).Equal(want) {
			return earlier
		}
	}
	return t
}
