package clock_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/sandbox"
	"github.com/luaivr/luaivr/stdlib/luatest"
	clock "github.com/luaivr/luaivr/stdlib/time"
	lua "github.com/yuin/gopher-lua"
)

func TestDates(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"parse in a zone":   `eq(time.parse("2026-01-05 10:00", "Asia/Singapore"), utc("2026-01-05T02:00:00Z"))`,
		"parse app zone":    `eq(time.parse("2026-01-05 10:00:30"), utc("2026-01-05T15:00:30Z"))`,
		"parse a date":      `eq(time.parse("2026-12-25", "UTC"), utc("2026-12-25T00:00:00Z"))`,
		"parse with a T":    `eq(time.parse("2026-01-05T10:00", "UTC"), utc("2026-01-05T10:00:00Z"))`,
		"parse RFC 3339":    `eq(time.parse("2026-01-05T10:00:00+08:00", "UTC"), utc("2026-01-05T02:00:00Z"))`,
		"parse round trips": `local t = time.parse("2026-07-04 18:45", "Europe/London") eq(time.format(t, "%Y-%m-%d %H:%M", "Europe/London"), "2026-07-04 18:45")`,
		"parse bad text is a value": `
			local t, err = time.parse("next tuesday")
			eq(t, nil)
			assert(err:find([["next tuesday" is not a time: write "2026-01-05 10:00"]], 1, true), err)`,
		"start of day":          `eq(time.start_of_day(utc("2026-01-05T15:30:00Z"), "Asia/Singapore"), utc("2026-01-05T16:00:00Z") - 86400)`,
		"start of day app zone": `eq(time.start_of_day(utc("2026-03-06T03:00:00Z")), utc("2026-03-05T05:00:00Z"))`,
		// Brazil's clocks skipped midnight in 2018: the day began at 01:00.
		"start of a day without midnight": `eq(time.start_of_day(utc("2018-11-04T12:00:00Z"), "America/Sao_Paulo"), utc("2018-11-04T03:00:00Z"))`,
		"add days":                        `eq(time.add_days(utc("2026-01-30T10:00:00Z"), 3, "UTC"), utc("2026-02-02T10:00:00Z"))`,
		"add days back":                   `eq(time.add_days(utc("2026-03-01T10:00:00Z"), -1, "UTC"), utc("2026-02-28T10:00:00Z"))`,
		// Across the spring change in New York, 09:00 stays 09:00: 23 hours later.
		"add days keeps the time of day": `
			local t = time.add_days(utc("2026-03-07T14:00:00Z"), 1)
			eq(time.format(t, "%H:%M"), "09:00") eq(t - utc("2026-03-07T14:00:00Z"), 23 * 3600)`,
		"weekday": `
			local name, n = time.weekday(utc("2026-01-04T20:00:00Z"), "Asia/Singapore")
			eq(name, "monday") eq(n, 1)
			eq(select(2, time.weekday(utc("2026-01-04T20:00:00Z"), "UTC")), 7)`,
		"argument errors": `
			fails(function() time.parse(5) end, [[bad argument #1 to time.parse (date-time string expected, got number)]])
			fails(function() time.parse("2026-01-05", "Mars") end, [[bad argument #2 to time.parse (unknown time zone "Mars"]])
			fails(function() time.add_days(0, 1.5) end, [[bad argument #2 to time.add_days (a whole number of days expected, got number 1.5)]])
			fails(function() time.add_days(0, 1e9) end, [[bad argument #2 to time.add_days]])
			fails(function() time.start_of_day("today") end, [[bad argument #1 to time.start_of_day (time (seconds since the epoch) expected, got string)]])
			fails(function() time.weekday(nil) end, [[bad argument #1 to time.weekday]])`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run(t, "America/New_York", src)
		})
	}
}

// watched runs src with the module on clock now, under a Watch from now,
// then its on_call if it defines one, as the engine calls a handler, and
// returns what the script asked of the clock.
func watched(t *testing.T, now time.Time, src string) []clock.Move {
	t.Helper()
	L := luatest.State(t, sandbox.Lib{Name: "time", Open: clock.Open(clock.Options{Now: func() time.Time { return now }})})
	w := &clock.Watch{From: now}
	L.SetContext(clock.WithWatch(context.Background(), w))
	if err := L.DoString(src); err != nil {
		t.Fatal(err)
	}
	if fn, ok := L.GetGlobal("on_call").(*lua.LFunction); ok {
		// From Go, through a Go function, as the engine's protected call does.
		call := L.NewFunction(func(L *lua.LState) int { L.Push(fn); L.Call(0, 0); return 0 })
		if err := L.CallByParam(lua.P{Fn: call, Protect: true}); err != nil {
			t.Fatal(err)
		}
	}
	return w.Take()
}

// The moves an is_open proposes give both of its answers on every kind of
// day of the week and on every kind of holiday, each kind once.
func TestWatchIsOpen(t *testing.T) {
	t.Parallel()
	sg, _ := time.LoadLocation("Asia/Singapore")
	now := time.Date(2026, 1, 1, 17, 0, 0, 0, sg) // a Thursday
	moves := watched(t, now, `
		HOURS = { weekdays = "09:00-18:00", saturday = "10:00-12:00" }
		OPTS = { zone = "Asia/Singapore", holidays = { "2026-01-01", "2026-02-17", ["2026-12-24"] = "09:00-12:00" } }
		time.is_open(HOURS, OPTS)`)
	L := luatest.State(t, sandbox.Lib{Name: "time", Open: clock.Open(clock.Options{})})
	if err := L.DoString(`
		HOURS = { weekdays = "09:00-18:00", saturday = "10:00-12:00" }
		OPTS = { zone = "Asia/Singapore", holidays = { "2026-01-01", "2026-02-17", ["2026-12-24"] = "09:00-12:00" } }`); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range moves {
		if !m.Asked.Equal(now) || m.Zone.String() != "Asia/Singapore" {
			t.Errorf("move %v: asked at %v in %v, want %v in Asia/Singapore", m.Moment, m.Asked, m.Zone, now)
		}
		L.SetGlobal("AT", lua.LNumber(m.Moment.Unix()))
		if err := L.DoString(`OPTS.at = AT; OPEN = time.is_open(HOURS, OPTS)`); err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Moment.In(sg).Format("Mon 01-02 15:04 ")+L.GetGlobal("OPEN").String())
	}
	sort.Strings(got)
	want := []string{
		"Fri 01-02 04:30 false", "Fri 01-02 13:30 true", // a weekday
		"Sat 01-03 05:00 false", "Sat 01-03 11:00 true", // Saturday
		"Sun 01-04 12:00 false",                         // Sunday, closed all day
		"Thu 01-01 12:00 false",                         // a closed holiday, today (where the script asked)
		"Thu 12-24 04:30 false", "Thu 12-24 10:30 true", // the holiday with special hours
	}
	if len(got) != len(want) {
		t.Fatalf("moves:\n%v\nwant:\n%v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("moves:\n%v\nwant:\n%v", got, want)
		}
	}
}

// Reading the clock another way proposes a week of hours; a moment made with
// time.parse, the minutes around it; a time far from now, nothing; and a
// call without a Watch records nothing.
func TestWatchReadings(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	// Reading the time of day adds, once for the line that read it, half
	// past every hour of the day and of the next Saturday and Sunday that
	// the week of moves does not try.
	const hours = 3*24 - 4
	for src, want := range map[string]int{
		`time.now()`: 17,
		`time.parts(time.now(), "Asia/Singapore")`:                                                                       17 + 17 + hours,
		`local n = time.now() time.format(n + 60, "%H", "Asia/Singapore")`:                                               17 + 17 + hours,
		`time.format(time.now(), "%Y-%m-%d", "Asia/Singapore")`:                                                          17 + 17, // no time of day
		`time.format(0, "%H")`:                                                                                           0,
		`time.weekday(time.parse("2027-01-01", "UTC"))`:                                                                  2,
		`time.start_of_day(time.parse("2026-01-01 10:00", "UTC"))`:                                                       2 + 17,
		`time.is_open({ weekdays = "09:00-18:00" }, { at = time.parse("2026-06-01", "UTC") })`:                           2,
		`for i = 1, 10000 do time.now() end`:                                                                             17,
		`for i = 1, 10000 do time.parse("2026-01-01 10:00", "UTC"); time.now() end`:                                      17 + 1, // 10:30 is in both
		`for i = 1, 10000 do time.parse(string.format("2026-01-%02d %02d:%02d", 1 + i % 28, i % 24, i % 60), "UTC") end`: 256,
	} {
		if got := len(watched(t, now, src)); got != want {
			t.Errorf("%s: %d moves, want %d", src, got, want)
		}
	}
	L := luatest.State(t, sandbox.Lib{Name: "time", Open: clock.Open(clock.Options{Now: func() time.Time { return now }})})
	if err := L.DoString(`time.is_open({ weekdays = "09:00-18:00" }) time.now()`); err != nil {
		t.Fatalf("without a watch: %v", err)
	}
	// What the top level asks, it asks at every event: the explorer moves it once.
	for src, top := range map[string]bool{
		`time.now()`: true,
		`local function hour() return time.parts(time.now()).hour end hour()`: true,
		`function on_call() time.now() end`:                                   false,
	} {
		for _, m := range watched(t, now, src) {
			if m.TopLevel != top {
				t.Errorf("%s: a move says TopLevel %v, want %v", src, m.TopLevel, top)
				break
			}
		}
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	sg, _ := time.LoadLocation("Asia/Singapore")
	for in, want := range map[string]string{
		"2026-01-05T10:00:00+08:00": "2026-01-05T02:00:00Z",
		"2026-01-05T10:00:00Z":      "2026-01-05T10:00:00Z",
		"2026-01-05 10:00":          "2026-01-05T02:00:00Z",
		" 2026-01-05 10:00:30 ":     "2026-01-05T02:00:30Z",
		"2026-01-05":                "2026-01-04T16:00:00Z",
	} {
		got, err := clock.ParseTime(in, sg)
		if err != nil || got.UTC().Format(time.RFC3339) != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %s", in, got.UTC(), err, want)
		}
	}
	for _, in := range []string{"", "10:00", "2026-13-01 10:00", "5 January 2026", "2026-01-05 25:00", strings.Repeat("2026-01-05 ", 1e5)} {
		if _, err := clock.ParseTime(in, sg); err == nil {
			t.Errorf("ParseTime(%q) took it", in)
		}
	}
}
