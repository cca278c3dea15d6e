-- Opening hours of Lion Bank, Singapore.
local M = {}

M.ZONE = "Asia/Singapore"

M.HOURS = {
  weekdays = "08:30-18:00",
  saturday = { "09:00-12:30" },
  sunday = false,
}

M.HOLIDAYS = {
  "2026-01-01",                  -- New Year's Day
  "2026-02-17", "2026-02-18",    -- Chinese New Year
  "2026-12-25",
  ["2026-12-24"] = "08:30-12:00", -- Christmas Eve, half day
  ["2026-12-31"] = "08:30-12:00",
}

function M.open_now()
  return time.is_open(M.HOURS, { zone = M.ZONE, holidays = M.HOLIDAYS })
end

-- The adviser desk, written by hand with time.parts: Mon-Fri 09:00-17:00, lunch 12:00-13:00 closed.
function M.advisers_in()
  local p = time.parts(time.now(), M.ZONE)
  if p.weekday == "saturday" or p.weekday == "sunday" then
    return false
  end
  local minutes = p.hour * 60 + p.min
  if minutes < 9 * 60 or minutes >= 17 * 60 then
    return false
  end
  if minutes >= 12 * 60 and minutes < 13 * 60 then
    return false
  end
  return true
end

return M
