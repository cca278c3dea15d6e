// Package clock is the Lua module `time`: the current time, formatting in a
// time zone, and "are we open now?" for opening hours. (The folder is
// stdlib/time, as scripts know it; the Go name avoids shadowing package time.)
//
// A time is a number: seconds since the epoch (1970-01-01 UTC), with
// milliseconds as the fraction. The clock is the engine's, so in the simulator
// and in flow tests time.now() is the virtual time of the call; each read of
// the current time (time.now, time.is_open without opts.at) is recorded with
// the event, and `luaivr replay` serves the recorded reads back. A zone is an
// IANA name ("Asia/Singapore", "America/New_York", "UTC"); when a function
// takes none, it uses the app's zone (UTC unless the app sets one).
//
// time.now() → seconds since the epoch.
//
//	local started = time.now()
//	session.vars.waited = time.now() - started     -- 2.5 (seconds)
//
// time.format(t, pattern [, zone]) → a string. The pattern is strftime's:
// %Y year, %m month 01-12, %d day 01-31, %H hour 00-23, %I hour 01-12, %p AM/PM,
// %M minute, %S second, %A Monday, %a Mon, %B January, %b Jan, %j day of the
// year 001-366, %Z zone abbreviation (EST; "+08" where the zone has none),
// %z offset -0500, %% a percent sign. Any other directive is an error.
//
//	time.format(time.now(), "%A %d %B, %I:%M %p", "Asia/Singapore")  -- "Tuesday 06 January, 06:17 PM"
//
// time.parts(t [, zone]) → { year, month, day, hour, min, sec, wday, weekday,
// yday, zone }: wday is 1 for Monday to 7 for Sunday, weekday its name in
// lower case, yday the day of the year, zone the zone's name.
//
//	local now = time.parts(time.now(), "Europe/London")
//	if now.weekday == "friday" and now.hour >= 17 then … end
//
// time.is_open(hours [, opts]) → open (a boolean) and the time of the next
// change (when it opens if closed, when it closes if open), or nil if nothing
// changes within 14 days. hours maps days (monday … sunday, mon … sun, and the
// shorthands weekdays and weekend, which a named day overrides) to a range
// "HH:MM-HH:MM", a list of ranges, or false (closed; so is a day left out).
// A range that ends before it starts crosses midnight and belongs to the day
// it starts; "00:00-24:00" is all day. opts: zone, at (a time; default now),
// and holidays: a list of dates "YYYY-MM-DD" closed all day, and/or
// date = ranges for special hours on that date. A date's entry replaces the
// ranges starting that date; the previous evening's range still runs past
// midnight into it.
//
//	local open, change = time.is_open({
//	  weekdays = "09:00-18:00",
//	  saturday = { "09:00-12:00", "14:00-17:00" },
//	  friday   = "09:00-02:00",                 -- until 2 AM Saturday
//	}, { zone = "Asia/Singapore",
//	     holidays = { "2026-12-25", ["2026-12-24"] = "09:00-12:00" } })
//	if not open then
//	  return ivr.say("We are closed. We open " .. time.format(change, "%A at %I:%M %p", "Asia/Singapore") .. ".")
//	end
//
// time.parse(text [, zone]) → seconds, or nil and why: "2026-01-05 10:00" (with
// seconds, with a T, or a date alone, its midnight) as a wall-clock time in
// the zone, or RFC 3339 "2026-01-05T10:00:00+08:00", whose offset wins.
// time.start_of_day(t [, zone]) → the first moment of t's day in the zone.
// time.add_days(t, n [, zone]) → the same time of day n days later.
// time.weekday(t [, zone]) → "monday" … "sunday" and 1 … 7.
//
//	local tomorrow = time.add_days(time.start_of_day(time.now()), 1)  -- midnight tonight
//	if time.now() >= time.parse("2026-03-01 09:00", "Asia/Singapore") then … end
//
// When `luaivr check` explores, the clock is an input: see Watch.
//
// Hours are wall-clock times in the zone. Across a change of daylight saving
// time a boundary is the first moment the clock shows it: a range opening at
// 02:30 on the night clocks jump from 02:00 to 03:00 opens at 03:00, and one
// closing at 01:30 on the night 01:00-02:00 repeats closes the first time.
//
// A mistake in an argument (an unknown day or zone, "25:00", a range that ends
// where it starts) is an error raised in the script that says where it is:
// "bad argument #1 to time.is_open (hours.monday: \"9-18\" is not HH:MM-HH:MM)".
package clock

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zones work on machines without a zoneinfo database

	"github.com/luaivr/luaivr/stdlib/inputs"
	lua "github.com/yuin/gopher-lua"
)

// Options configure the module for one Lua state.
type Options struct {
	// Now is the engine's clock: virtual in the simulator and flow tests.
	// nil means time.Now.
	Now func() time.Time
	// Zone is the default zone, an IANA name (from the app); "" means UTC.
	Zone string
}

// Open returns an opener for the module configured by opts.
func Open(opts Options) func(L *lua.LState) lua.LValue {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return func(L *lua.LState) lua.LValue {
		m := &module{now: now, zoneName: opts.Zone, zone: time.UTC}
		if opts.Zone != "" {
			m.zone, m.zoneErr = loadZone(opts.Zone)
		}
		return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
			"now":          m.nowFn,
			"format":       m.format,
			"parts":        m.parts,
			"is_open":      m.isOpen,
			"parse":        m.parse,
			"start_of_day": m.startOfDay,
			"add_days":     m.addDays,
			"weekday":      m.weekday,
		})
	}
}

type module struct {
	now      func() time.Time
	zoneName string
	zone     *time.Location
	zoneErr  error // the app's zone is unknown: raised when a function needs it
}

// clock is a read of the current time that the handler sees: recorded with
// the event, or served from its record in a replay (package inputs).
func (m *module) clock(L *lua.LState) time.Time {
	return inputs.From(L.Context()).Clock(m.now)
}

func (m *module) nowFn(L *lua.LState) int {
	now := m.clock(L)
	if w := watching(L); w != nil {
		loc := m.zone
		if m.zoneErr != nil {
			loc = time.UTC
		}
		w.add(L, now, loc, week(w.from(now), loc))
	}
	L.Push(fromTime(now))
	return 1
}

func (m *module) format(L *lua.LState) int {
	const fn = "time.format"
	t := checkTime(L, fn, 1)
	pattern, ok := L.Get(2).(lua.LString)
	if !ok {
		argError(L, fn, 2, "pattern string expected, got "+L.Get(2).Type().String())
	}
	loc := m.optZone(L, fn, 3)
	s, err := strftime(t.In(loc), string(pattern))
	if err != nil {
		argError(L, fn, 2, err.Error())
	}
	m.readClock(L, t, loc, readsTimeOfDay(t, loc, string(pattern)))
	L.Push(lua.LString(s))
	return 1
}

func (m *module) parts(L *lua.LState) int {
	const fn = "time.parts"
	loc := m.optZone(L, fn, 2)
	t := checkTime(L, fn, 1).In(loc)
	m.readClock(L, t, loc, true)
	p := L.CreateTable(0, 10)
	for k, v := range map[string]int{
		"year": t.Year(), "month": int(t.Month()), "day": t.Day(),
		"hour": t.Hour(), "min": t.Minute(), "sec": t.Second(),
		"wday": isoWeekday(t.Weekday()), "yday": t.YearDay(),
	} {
		p.RawSetString(k, lua.LNumber(v))
	}
	p.RawSetString("weekday", lua.LString(strings.ToLower(t.Weekday().String())))
	p.RawSetString("zone", lua.LString(loc.String()))
	L.Push(p)
	return 1
}

// isoWeekday numbers Monday 1 to Sunday 7, as people (and ISO 8601) count.
func isoWeekday(d time.Weekday) int { return (int(d)+6)%7 + 1 }

// Seconds since the epoch of 0001-01-01 and 9999-12-31T23:59:59 UTC: the
// years a time can be formatted in.
const (
	minSeconds = -62135596800
	maxSeconds = 253402300799
)

func checkTime(L *lua.LState, fn string, n int) time.Time {
	v, ok := L.Get(n).(lua.LNumber)
	if !ok {
		argError(L, fn, n, "time (seconds since the epoch) expected, got "+L.Get(n).Type().String())
	}
	t, ok := toTime(v)
	if !ok {
		argError(L, fn, n, fmt.Sprintf("%s is not a time in the years 1 to 9999", v))
	}
	return t
}

// toTime converts seconds since the epoch, to the millisecond.
func toTime(v lua.LNumber) (time.Time, bool) {
	f := float64(v)
	if math.IsNaN(f) || f < minSeconds || f > maxSeconds {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(math.Round(f * 1000))), true
}

func fromTime(t time.Time) lua.LNumber {
	return lua.LNumber(float64(t.UnixMilli()) / 1000)
}

// optZone reads an optional zone argument; absent, it is the app's zone.
func (m *module) optZone(L *lua.LState, fn string, n int) *time.Location {
	switch v := L.Get(n).(type) {
	case *lua.LNilType:
		return m.defaultZone(L, fn)
	case lua.LString:
		loc, err := loadZone(string(v))
		if err != nil {
			argError(L, fn, n, err.Error())
		}
		return loc
	default:
		argError(L, fn, n, "zone name expected, got "+v.Type().String())
	}
	return nil
}

func (m *module) defaultZone(L *lua.LState, fn string) *time.Location {
	if m.zoneErr != nil {
		L.RaiseError("%s: the app's time zone is wrong (%s): pass a zone or fix the app's", fn, m.zoneErr)
	}
	return m.zone
}

// zones caches loaded locations: they are immutable, so every state can share them.
var zones sync.Map // name → *time.Location

func loadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	// "" and "Local" are the machine's zone to Go; a script means a place.
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q (use an IANA name like \"Asia/Singapore\")", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (use an IANA name like \"Asia/Singapore\")", name)
	}
	zones.Store(name, loc)
	return loc, nil
}

// maxPattern bounds time.format's pattern, so one call's work stays small.
const maxPattern = 1024

// directives are time.format's, in the order the documentation lists them.
var directives = []struct {
	c      byte
	layout string // what it is in a Go layout
}{
	{'Y', "2006"}, {'m', "01"}, {'d', "02"}, {'H', "15"}, {'I', "03"}, {'p', "PM"},
	{'M', "04"}, {'S', "05"}, {'A', "Monday"}, {'a', "Mon"}, {'B', "January"}, {'b', "Jan"},
	{'j', "002"}, {'Z', "MST"}, {'z', "-0700"}, {'%', "%"},
}

func strftime(t time.Time, pattern string) (string, error) {
	if len(pattern) > maxPattern {
		return "", fmt.Errorf("pattern is %d bytes, over the limit of %d", len(pattern), maxPattern)
	}
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		if pattern[i] != '%' {
			b.WriteByte(pattern[i])
			continue
		}
		i++
		if i == len(pattern) {
			return "", fmt.Errorf("pattern %q ends with a lone %%; write %%%% for a percent sign", pattern)
		}
		d, ok := directive(pattern[i])
		if !ok {
			r := []rune(pattern[i:])[0]
			return "", fmt.Errorf("unknown directive %%%c in %q; known: %s", r, pattern, knownDirectives())
		}
		b.WriteString(t.Format(d))
	}
	return b.String(), nil
}

func directive(c byte) (string, bool) {
	for _, d := range directives {
		if d.c == c {
			return d.layout, true
		}
	}
	return "", false
}

func knownDirectives() string {
	parts := make([]string, len(directives))
	for i, d := range directives {
		parts[i] = "%" + string(d.c)
	}
	return strings.Join(parts, " ")
}

// argError reports a bad argument the way gopher-lua's auxlib does, naming the
// function as scripts write it (time.format, not format).
func argError(L *lua.LState, fn string, n int, msg string) {
	L.RaiseError("bad argument #%d to %s (%s)", n, fn, msg)
}
