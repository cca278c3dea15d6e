-- Flow tests for hours.lua: t:at sets the clock each call starts at.

local ZONE = "Asia/Singapore"

function test_open_on_a_weekday_sales(t)
  t:at("2026-01-05 10:00", ZONE) -- a Monday
  local call = t:call("hours")
  call:hears("For sales press 1, for support press 2.")
  call:press("1")
  call:hears("Connecting you to sales.")
  call:bridged("+6531589338")
  call:timeout() -- sales hangs up
  call:hears("Thank you for calling. Goodbye.")
  call:ended()
end

function test_open_on_saturday_morning_support(t)
  t:at("2026-01-10 12:59", ZONE)
  local call = t:call("hours")
  call:press("2")
  call:bridged("+6531589339")
end

function test_no_choice(t)
  t:at("2026-01-05 10:00", ZONE)
  local call = t:call("hours")
  call:timeout(); call:timeout()
  call:hears("We did not hear a choice.")
  call:ended()
end

function test_closed_at_night(t)
  t:at("2026-01-05 18:00", ZONE)
  local call = t:call("hours")
  call:hears("We are closed. Our hours are 9 AM to 6 PM, Monday to Friday, and 9 AM to 1 PM on Saturday. We open again Tuesday 6 January at 9:00 AM.")
  call:ended()
end

function test_closed_on_a_holiday(t)
  t:at("2026-02-17 11:00", ZONE) -- Chinese New Year, two days
  local call = t:call("hours")
  call:hears("We are closed.")
  call:hears("We open again Thursday 19 February at 9:00 AM.")
  call:ended()
end

function test_closed_on_sunday(t)
  t:at("2026-01-04 11:00", ZONE)
  local call = t:call("hours")
  call:hears("We open again Monday 5 January at 9:00 AM.")
  call:ended()
end

function test_closed_saturday_afternoon(t)
  t:at("2026-01-10 05:00", "UTC") -- 13:00 in Singapore
  local call = t:call("hours")
  call:hears("We open again Monday 12 January at 9:00 AM.")
end
