package clock_test

import (
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/sandbox"
	"github.com/luaivr/luaivr/stdlib/luatest"
	clock "github.com/luaivr/luaivr/stdlib/time"
	lua "github.com/yuin/gopher-lua"
)

// fixed is the clock every test runs on: Friday 6 March 2026, 10:00:00.250 UTC.
var fixed = time.Date(2026, 3, 6, 10, 0, 0, 250e6, time.UTC)

// run runs a snippet with the time module on the fixed clock in zone, and
// utc("2026-03-08T06:30:00Z"), which turns an RFC 3339 time into seconds.
func run(t *testing.T, zone, src string) {
	t.Helper()
	luatest.Run(t, src,
		sandbox.Lib{Name: "time", Open: clock.Open(clock.Options{Now: func() time.Time { return fixed }, Zone: zone})},
		sandbox.Lib{Name: "utc", Open: func(L *lua.LState) lua.LValue {
			return L.NewFunction(func(L *lua.LState) int {
				tm, err := time.Parse(time.RFC3339Nano, L.CheckString(1))
				if err != nil {
					L.RaiseError("utc: %s", err)
				}
				L.Push(lua.LNumber(float64(tm.UnixMilli()) / 1000))
				return 1
			})
		}})
}

func TestTime(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"now is the injected clock": `eq(time.now(), utc("2026-03-06T10:00:00.250Z"))`,
		"now has milliseconds":      `eq(time.now() % 1, 0.25)`,
		"require":                   `eq(require("time"), time)`,

		"format every directive": `
			eq(time.format(utc("2026-03-06T10:04:05Z"), "%Y-%m-%d %H:%M:%S %A %a %B %b %I %p %j %Z %z %%", "UTC"),
			   "2026-03-06 10:04:05 Friday Fri March Mar 10 AM 065 UTC +0000 %")`,
		"format in a zone":          `eq(time.format(utc("2026-03-06T10:04:05Z"), "%d %H:%M %I%p %z", "Asia/Singapore"), "06 18:04 06PM +0800")`,
		"format in the app zone":    `eq(time.format(utc("2026-03-06T10:04:05Z"), "%H:%M %Z"), "05:04 EST")`,
		"format keeps text":         `eq(time.format(0, "It is %H o'clock, 100%% sure"), "It is 19 o'clock, 100% sure")`,
		"format midnight 12-hour":   `eq(time.format(utc("2026-03-06T00:30:00Z"), "%I:%M %p", "UTC"), "12:30 AM")`,
		"format leap day of year":   `eq(time.format(utc("2028-12-31T12:00:00Z"), "%j", "UTC"), "366")`,
		"format drops milliseconds": `eq(time.format(utc("2026-03-06T10:04:05.999Z"), "%S", "UTC"), "05")`,

		"parts": `
			eq(time.parts(utc("2026-03-08T23:30:05Z"), "Asia/Singapore"),
			   { year = 2026, month = 3, day = 9, hour = 7, min = 30, sec = 5, wday = 1, weekday = "monday", yday = 68, zone = "Asia/Singapore" })`,
		"parts sunday is 7": `eq(time.parts(utc("2026-03-08T12:00:00Z"), "UTC").wday, 7)`,
		"parts app zone":    `eq(time.parts(utc("2026-03-06T03:00:00Z")).day, 5) eq(time.parts(0).zone, "America/New_York")`,

		"DST spring forward": `
			local before, after = utc("2026-03-08T06:59:00Z"), utc("2026-03-08T07:00:00Z")
			eq(time.format(before, "%H:%M %Z %z"), "01:59 EST -0500")
			eq(time.format(after, "%H:%M %Z %z"), "03:00 EDT -0400")
			eq(time.parts(after).hour, 3)`,
		"DST fall back": `
			eq(time.format(utc("2026-11-01T05:30:00Z"), "%H:%M %Z"), "01:30 EDT")
			eq(time.format(utc("2026-11-01T06:30:00Z"), "%H:%M %Z"), "01:30 EST")`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run(t, "America/New_York", src)
		})
	}
}

func TestTimeUTCByDefault(t *testing.T) {
	t.Parallel()
	run(t, "", `eq(time.format(time.now(), "%H:%M %Z"), "10:00 UTC") eq(time.parts(0).zone, "UTC")`)
}

func TestTimeArgumentErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		`time.format("now", "%H")`:              `bad argument #1 to time.format (time (seconds since the epoch) expected, got string)`,
		`time.format(nil, "%H")`:                `bad argument #1 to time.format (time (seconds since the epoch) expected, got nil)`,
		`time.format(0/0, "%H")`:                `bad argument #1 to time.format (NaN is not a time in the years 1 to 9999)`,
		`time.format(1e15, "%H")`:               `bad argument #1 to time.format (1000000000000000 is not a time in the years 1 to 9999)`,
		`time.format(0)`:                        `bad argument #2 to time.format (pattern string expected, got nil)`,
		`time.format(0, "%H:%M %Q")`:            `bad argument #2 to time.format (unknown directive %Q in "%H:%M %Q"; known: %Y %m %d %H %I %p %M %S %A %a %B %b %j %Z %z %%)`,
		`time.format(0, "%é")`:                  `unknown directive %é`,
		`time.format(0, "100%")`:                `bad argument #2 to time.format (pattern "100%" ends with a lone %; write %% for a percent sign)`,
		`time.format(0, string.rep("x", 2000))`: `pattern is 2000 bytes, over the limit of 1024`,
		`time.format(0, "%H", "Mars/Olympus")`:  `bad argument #3 to time.format (unknown time zone "Mars/Olympus" (use an IANA name like "Asia/Singapore"))`,
		`time.format(0, "%H", "Local")`:         `bad argument #3 to time.format (unknown time zone "Local"`,
		`time.format(0, "%H", 8)`:               `bad argument #3 to time.format (zone name expected, got number)`,
		`time.parts("x")`:                       `bad argument #1 to time.parts (time (seconds since the epoch) expected, got string)`,
		`time.parts(0, "Nowhere")`:              `bad argument #2 to time.parts (unknown time zone "Nowhere"`,
	}
	for src, want := range tests {
		t.Run(src, func(t *testing.T) {
			t.Parallel()
			run(t, "UTC", `fails(function() `+src+` end, [==[`+want+`]==])`)
		})
	}
}

func TestAppZoneUnknown(t *testing.T) {
	t.Parallel()
	run(t, "Mars/Olympus", `
		fails(function() time.parts(0) end, [[time.parts: the app's time zone is wrong (unknown time zone "Mars/Olympus"]])
		fails(function() time.is_open({}) end, [[time.is_open: the app's time zone is wrong]])
		eq(time.parts(0, "UTC").year, 1970)`)
}
