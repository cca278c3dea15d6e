package clock

import (
	"fmt"
	"strings"
	"time"

	"github.com/luaivr/luaivr/stdlib/luaconv"
	lua "github.com/yuin/gopher-lua"
)

// ParseTime reads a date-time as IVR people write one: RFC 3339
// ("2026-01-05T10:00:00+08:00", whose offset wins), or "2026-01-05 10:00",
// with seconds, with a T, or a date alone (its midnight), as a wall-clock time
// in loc. It is the one parser of time.parse, of `--at` and of the flow tests'
// t:at.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if len(s) > 64 { // no date-time is longer; the error quotes it
		return time.Time{}, fmt.Errorf("%q… (%d bytes) is not a time", s[:32], len(s))
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: write \"2026-01-05 10:00\" (in a zone) or RFC 3339 \"2026-01-05T10:00:00+08:00\"", s)
}

// LoadZone returns the zone of an IANA name, refusing "" and "Local" (the
// machine's zone to Go; a script or an operator means a place).
func LoadZone(name string) (*time.Location, error) { return loadZone(name) }

// parse is time.parse(text [, zone]) → seconds, or nil and why: the text may
// come from a caller or a business system, so a bad one is a value, not an
// error that ends the call.
func (m *module) parse(L *lua.LState) int {
	const fn = "time.parse"
	s, ok := L.Get(1).(lua.LString)
	if !ok {
		luaconv.ArgError(L, fn, 1, "date-time string expected, got "+L.Get(1).Type().String())
	}
	loc := m.optZone(L, fn, 2)
	t, err := ParseTime(string(s), loc)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	m.threshold(L, t, loc)
	L.Push(fromTime(t))
	return 1
}

// startOfDay is time.start_of_day(t [, zone]) → the first moment of t's day
// in the zone (midnight, or when the clock jumped past it).
func (m *module) startOfDay(L *lua.LState) int {
	const fn = "time.start_of_day"
	loc := m.optZone(L, fn, 2)
	t := checkTime(L, fn, 1)
	m.readClock(L, t, loc, false)
	L.Push(fromTime(wallClock(loc, localDate(t, loc), 0)))
	return 1
}

// addDays is time.add_days(t, n [, zone]) → the same time of day n days
// later (earlier when n < 0), whatever daylight saving time does in between.
func (m *module) addDays(L *lua.LState) int {
	const fn = "time.add_days"
	t := checkTime(L, fn, 1)
	n, ok := L.Get(2).(lua.LNumber)
	if !ok || float64(n) != float64(int(n)) || n > 3660000 || n < -3660000 {
		luaconv.ArgError(L, fn, 2, "a whole number of days expected, got "+L.Get(2).Type().String()+" "+L.Get(2).String())
	}
	l := t.In(m.optZone(L, fn, 3))
	out := time.Date(l.Year(), l.Month(), l.Day()+int(n), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), l.Location())
	if _, ok := toTime(fromTime(out)); !ok {
		luaconv.ArgError(L, fn, 2, fmt.Sprintf("%d days from %s is not in the years 1 to 9999", int(n), l.Format(time.DateOnly)))
	}
	L.Push(fromTime(out))
	return 1
}

// weekday is time.weekday(t [, zone]) → "monday" … "sunday" and 1 … 7.
func (m *module) weekday(L *lua.LState) int {
	const fn = "time.weekday"
	loc := m.optZone(L, fn, 2)
	t := checkTime(L, fn, 1)
	m.readClock(L, t, loc, false)
	d := t.In(loc).Weekday()
	L.Push(lua.LString(strings.ToLower(d.String())))
	L.Push(lua.LNumber(isoWeekday(d)))
	return 2
}

// localDate is t's date in loc, as the UTC midnight hours.intervals counts days by.
func localDate(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
}
