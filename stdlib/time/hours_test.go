package clock_test

import "testing"

func TestIsOpen(t *testing.T) {
	t.Parallel()
	// Each snippet defines check(hours, opts, at, open, change): is_open at the
	// RFC 3339 time at returns open and change (an RFC 3339 time or nil).
	const prelude = `
		local function check(hours, opts, at, open, change)
		  opts = opts or {}
		  opts.zone = opts.zone or "Asia/Singapore"
		  opts.at = utc(at)
		  local got, next = time.is_open(hours, opts)
		  eq(got, open, "open at " .. at)
		  eq(next, change and utc(change), "next change after " .. at)
		end
		local office = { weekdays = "09:00-18:00", saturday = { "09:00-12:00", "14:00-17:00" } }
	`
	tests := map[string]string{
		// Friday 6 March 2026 in Singapore (UTC+8): 09:00 local is 01:00Z.
		"open":               `check(office, nil, "2026-03-06T02:00:00Z", true, "2026-03-06T10:00:00Z")`,
		"opens on the dot":   `check(office, nil, "2026-03-06T01:00:00Z", true, "2026-03-06T10:00:00Z")`,
		"closes on the dot":  `check(office, nil, "2026-03-06T10:00:00Z", false, "2026-03-07T01:00:00Z")`,
		"before opening":     `check(office, nil, "2026-03-05T23:30:00Z", false, "2026-03-06T01:00:00Z")`,
		"lunch break":        `check(office, nil, "2026-03-07T04:30:00Z", false, "2026-03-07T06:00:00Z")`,
		"afternoon":          `check(office, nil, "2026-03-07T06:00:00Z", true, "2026-03-07T09:00:00Z")`,
		"across the weekend": `check(office, nil, "2026-03-07T09:00:00Z", false, "2026-03-09T01:00:00Z")`,
		"zone changes the answer": `
			check(office, { zone = "UTC" }, "2026-03-06T02:00:00Z", false, "2026-03-06T09:00:00Z")
			check(office, { zone = "UTC" }, "2026-03-06T17:59:59Z", true, "2026-03-06T18:00:00Z")`,
		"short day names": `check({ fri = "09:00-18:00" }, nil, "2026-03-06T02:00:00Z", true, "2026-03-06T10:00:00Z")`,
		"a day overrides weekdays": `
			local h = { weekdays = "09:00-18:00", friday = "09:00-12:00", fri = nil }
			check(h, nil, "2026-03-06T05:00:00Z", false, "2026-03-09T01:00:00Z")`,
		"false closes a day": `check({ weekdays = "09:00-18:00", friday = false }, nil, "2026-03-06T02:00:00Z", false, "2026-03-09T01:00:00Z")`,
		"weekend shorthand":  `check({ weekend = "10:00-16:00" }, nil, "2026-03-06T02:00:00Z", false, "2026-03-07T02:00:00Z")`,
		"overlapping ranges merge": `
			check({ friday = { "09:00-13:00", "12:00-18:00" } }, nil, "2026-03-06T02:00:00Z", true, "2026-03-06T10:00:00Z")`,
		"all day every day": `check({ weekdays = "00:00-24:00", weekend = "00:00-24:00" }, nil, "2026-03-06T02:00:00Z", true, nil)`,
		"never open":        `check({}, nil, "2026-03-06T02:00:00Z", false, nil)`,
		"next change beyond 14 days": `
			check({ monday = false }, { holidays = {} }, "2026-03-06T02:00:00Z", false, nil)
			-- opens in exactly 14 days: reported; a minute later: not
			check({ friday = "10:00-11:00" }, { holidays = { "2026-03-06", "2026-03-13" } }, "2026-03-06T02:00:00Z", false, "2026-03-20T02:00:00Z")
			check({ friday = "10:01-11:00" }, { holidays = { "2026-03-06", "2026-03-13" } }, "2026-03-06T02:00:00Z", false, nil)`,
		"open past the horizon": `
			check({ weekdays = "00:00-24:00", weekend = "00:00-24:00" }, { holidays = { ["2026-03-25"] = "00:00-12:00" } },
			      "2026-03-06T02:00:00Z", true, nil)
			check({ weekdays = "00:00-24:00", weekend = "00:00-24:00" }, { holidays = { ["2026-03-19"] = "00:00-12:00" } },
			      "2026-03-06T02:00:00Z", true, "2026-03-19T04:00:00Z")`,

		// Friday 22:00 to Saturday 02:00, Singapore: 14:00Z to 18:00Z.
		"crosses midnight, late evening": `check({ friday = "22:00-02:00" }, nil, "2026-03-06T15:00:00Z", true, "2026-03-06T18:00:00Z")`,
		"crosses midnight, next morning": `check({ friday = "22:00-02:00" }, nil, "2026-03-06T17:00:00Z", true, "2026-03-06T18:00:00Z")`,
		"crosses midnight, closed after": `check({ friday = "22:00-02:00" }, nil, "2026-03-06T18:00:00Z", false, "2026-03-13T14:00:00Z")`,
		"crosses midnight into an open day": `
			check({ friday = "22:00-02:00", saturday = "00:00-03:00" }, nil, "2026-03-06T15:00:00Z", true, "2026-03-06T19:00:00Z")`,
		"24:00 ends at midnight": `
			check({ friday = "18:00-24:00", saturday = "00:00-01:00" }, nil, "2026-03-06T12:00:00Z", true, "2026-03-06T17:00:00Z")`,

		"holiday closes all day": `
			check(office, { holidays = { "2026-03-06" } }, "2026-03-06T02:00:00Z", false, "2026-03-07T01:00:00Z")`,
		"holidays run into the next week": `
			check(office, { holidays = { "2026-12-25", "2026-12-24" } }, "2026-12-23T11:00:00Z", false, "2026-12-26T01:00:00Z")`,
		"holiday keeps the previous evening": `
			check({ friday = "22:00-02:00" }, { holidays = { "2026-03-07" } }, "2026-03-06T17:00:00Z", true, "2026-03-06T18:00:00Z")`,
		"special hours": `
			local opts = { holidays = { ["2026-12-24"] = "09:00-12:00", "2026-12-25" } }
			check(office, opts, "2026-12-24T03:00:00Z", true, "2026-12-24T04:00:00Z")
			check(office, opts, "2026-12-24T05:00:00Z", false, "2026-12-26T01:00:00Z")`,
		"special hours open a closed day": `
			check(office, { holidays = { ["2026-03-08"] = { "10:00-12:00" } } }, "2026-03-07T12:00:00Z", false, "2026-03-08T02:00:00Z")`,
		"special hours false": `
			check(office, { holidays = { ["2026-03-06"] = false } }, "2026-03-06T02:00:00Z", false, "2026-03-07T01:00:00Z")`,

		// America/New_York: clocks jump 02:00 EST → 03:00 EDT on 8 March 2026 (07:00Z)
		// and fall back 02:00 EDT → 01:00 EST on 1 November 2026 (06:00Z).
		"spring forward shortens a range": `
			local ny = { zone = "America/New_York" }
			check({ sunday = "01:00-03:00" }, ny, "2026-03-08T06:30:00Z", true, "2026-03-08T07:00:00Z")`,
		"spring forward: opening in the skipped hour": `
			local ny = { zone = "America/New_York" }
			check({ sunday = "02:30-10:00" }, ny, "2026-03-08T06:59:00Z", false, "2026-03-08T07:00:00Z")
			check({ sunday = "02:30-10:00" }, ny, "2026-03-08T07:00:00Z", true, "2026-03-08T14:00:00Z")`,
		"spring forward: a range inside the skipped hour is empty": `
			check({ sunday = "02:00-02:59" }, { zone = "America/New_York" }, "2026-03-08T06:00:00Z", false, "2026-03-15T06:00:00Z")`,
		"spring forward across the weekend": `
			local ny = { zone = "America/New_York" }
			check({ weekdays = "09:00-17:00" }, ny, "2026-03-06T22:00:00Z", false, "2026-03-09T13:00:00Z")
			check({ weekdays = "09:00-17:00" }, ny, "2026-03-09T13:00:00Z", true, "2026-03-09T21:00:00Z")`,
		"fall back closes at the first pass": `
			local ny = { zone = "America/New_York" }
			check({ sunday = "00:00-01:30" }, ny, "2026-11-01T05:00:00Z", true, "2026-11-01T05:30:00Z")
			check({ sunday = "00:00-01:30" }, ny, "2026-11-01T06:15:00Z", false, "2026-11-08T05:00:00Z")`,
		"fall back opens at the first pass": `
			local ny = { zone = "America/New_York" }
			check({ sunday = "01:30-09:00" }, ny, "2026-11-01T05:29:00Z", false, "2026-11-01T05:30:00Z")
			check({ sunday = "01:30-09:00" }, ny, "2026-11-01T06:45:00Z", true, "2026-11-01T14:00:00Z")`,
		"fall back lengthens a night": `
			check({ saturday = "22:00-06:00" }, { zone = "America/New_York" }, "2026-11-01T02:00:00Z", true, "2026-11-01T11:00:00Z")`,

		"now and the app zone by default": `
			-- the fixed clock: Friday 6 March 2026 10:00:00.250Z, 05:00 in New York
			local open, change = time.is_open({ friday = "05:00-06:00" })
			eq(open, true) eq(change, utc("2026-03-06T11:00:00Z"))
			open, change = time.is_open({ friday = "05:01-06:00" }, { holidays = {} })
			eq(open, false) eq(change, utc("2026-03-06T10:01:00Z"))`,
		"milliseconds count": `check({ friday = "09:00-18:00" }, nil, "2026-03-06T09:59:59.999Z", true, "2026-03-06T10:00:00Z")`,
		"the package's example": `
			local hours = { weekdays = "09:00-18:00", saturday = { "09:00-12:00", "14:00-17:00" }, friday = "09:00-02:00" }
			local opts = { zone = "Asia/Singapore", holidays = { "2026-12-25", ["2026-12-24"] = "09:00-12:00" } }
			opts.at = utc("2026-12-24T05:00:00Z")                -- Thursday 24 December, 13:00 in Singapore
			local open, change = time.is_open(hours, opts)
			eq(open, false)
			eq("We open " .. time.format(change, "%A at %I:%M %p", "Asia/Singapore"), "We open Saturday at 09:00 AM")
			opts.at = utc("2026-12-25T17:30:00Z")                -- Saturday 01:30: Friday's night is a holiday
			eq(time.is_open(hours, opts), false)
			opts.at = utc("2026-12-18T17:30:00Z")                -- an ordinary Friday night
			eq({ time.is_open(hours, opts) }, { true, utc("2026-12-18T18:00:00Z") })`,
		"spaces around the dash": `check({ friday = " 09:00 - 18:00 " }, nil, "2026-03-06T02:00:00Z", true, "2026-03-06T10:00:00Z")`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run(t, "America/New_York", prelude+src)
		})
	}
}

func TestIsOpenArgumentErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		`time.is_open()`:                                                                    `bad argument #1 to time.is_open (table of opening hours expected, got nil)`,
		`time.is_open("09:00-18:00")`:                                                       `bad argument #1 to time.is_open (table of opening hours expected, got string)`,
		`time.is_open({ monday = "9-18" })`:                                                 `bad argument #1 to time.is_open (hours.monday: "9-18" is not HH:MM-HH:MM)`,
		`time.is_open({ funday = "09:00-18:00" })`:                                          `bad argument #1 to time.is_open (hours: unknown day "funday"; use monday … sunday, mon … sun, weekdays or weekend)`,
		`time.is_open({ Monday = "09:00-18:00" })`:                                          `hours: unknown day "Monday"`,
		`time.is_open({ "09:00-18:00" })`:                                                   `bad argument #1 to time.is_open (hours: keys are day names like monday, got the number 1)`,
		`time.is_open({ monday = "09:00-25:00" })`:                                          `bad argument #1 to time.is_open (hours.monday: "09:00-25:00": 25:00 is not a time of day)`,
		`time.is_open({ monday = "09:60-18:00" })`:                                          `hours.monday: "09:60-18:00": 09:60 is not a time of day`,
		`time.is_open({ monday = "09:00-24:30" })`:                                          `24:30 is not a time of day`,
		`time.is_open({ monday = "24:00-02:00" })`:                                          `hours.monday: "24:00-02:00": 24:00 can only end a range`,
		`time.is_open({ monday = "09:00-09:00" })`:                                          `hours.monday: "09:00-09:00" starts and ends at the same time (all day is "00:00-24:00")`,
		`time.is_open({ monday = true })`:                                                   `hours.monday: a range "HH:MM-HH:MM", a list of ranges, or false (closed) expected, got boolean true`,
		`time.is_open({ monday = 9 })`:                                                      `hours.monday: a range "HH:MM-HH:MM", a list of ranges, or false (closed) expected, got number 9`,
		`time.is_open({ tue = { "09:00-12:00", 13 } })`:                                     `hours.tue[2]: a range "HH:MM-HH:MM" expected, got number`,
		`time.is_open({ tue = { "09:00-12:00", "1-2" } })`:                                  `hours.tue[2]: "1-2" is not HH:MM-HH:MM`,
		`time.is_open({ tue = { from = "09:00" } })`:                                        `hours.tue: a list of ranges expected, got a table with other keys`,
		`time.is_open({ mon = "09:00-12:00", monday = "13:00-17:00" })`:                     `hours.mon and hours.monday both give Monday's hours`,
		`time.is_open({}, "Asia/Singapore")`:                                                `bad argument #2 to time.is_open (table of options expected, got string)`,
		`time.is_open({}, { zone = "Mars/Olympus" })`:                                       `bad argument #2 to time.is_open (opts.zone: unknown time zone "Mars/Olympus" (use an IANA name like "Asia/Singapore"))`,
		`time.is_open({}, { zone = 8 })`:                                                    `opts.zone: zone name expected, got number`,
		`time.is_open({}, { tz = "UTC" })`:                                                  `bad argument #2 to time.is_open (opts: unknown option "tz"; options are zone, at and holidays)`,
		`time.is_open({}, { at = "now" })`:                                                  `opts.at: a time (seconds since the epoch) expected, got string now`,
		`time.is_open({}, { at = 0/0 })`:                                                    `opts.at: a time (seconds since the epoch) expected, got number NaN`,
		`time.is_open({}, { holidays = "2026-12-25" })`:                                     `opts.holidays: a table of dates expected, got string`,
		`time.is_open({}, { holidays = { "2026-13-01" } })`:                                 `bad argument #2 to time.is_open (opts.holidays[1]: "2026-13-01" is not a date YYYY-MM-DD)`,
		`time.is_open({}, { holidays = { "25/12/2026" } })`:                                 `opts.holidays[1]: "25/12/2026" is not a date YYYY-MM-DD`,
		`time.is_open({}, { holidays = { 20261225 } })`:                                     `opts.holidays[1]: a date "YYYY-MM-DD" expected, got number`,
		`time.is_open({}, { holidays = { ["2026-02-30"] = "09:00-12:00" } })`:               `opts.holidays["2026-02-30"]: "2026-02-30" is not a date YYYY-MM-DD`,
		`time.is_open({}, { holidays = { ["2026-12-24"] = "9-12" } })`:                      `bad argument #2 to time.is_open (opts.holidays["2026-12-24"]: "9-12" is not HH:MM-HH:MM)`,
		`time.is_open({}, { holidays = { "2026-12-24", ["2026-12-24"] = "09:00-12:00" } })`: `opts.holidays: 2026-12-24 is given twice`,
		// Every mistake of the hours and the options in one error, not one per run.
		`time.is_open({ saturday = { "9:00-12:30" }, sundays = false }, { holidays = { "2026-01-01", "25/12/2026" }, tz = "UTC" })`: `bad argument #1 to time.is_open (hours.saturday[1]: "9:00-12:30" is not HH:MM-HH:MM; hours: unknown day "sundays"; use monday … sunday, mon … sun, weekdays or weekend); bad argument #2 to time.is_open (`,
		`time.is_open({ mon = 9 }, { holidays = { "2026-01-01", "25/12/2026" }, tz = "UTC" })`:                                      `opts.holidays[2]: "25/12/2026" is not a date YYYY-MM-DD`,
		`time.is_open({ mon = 9 }, { holidays = { "25/12/2026" }, tz = "UTC" })`:                                                    `opts: unknown option "tz"`,
	}
	for src, want := range tests {
		t.Run(src, func(t *testing.T) {
			t.Parallel()
			run(t, "UTC", `fails(function() `+src+` end, [==[`+want+`]==])`)
		})
	}
}
