-- An opening-hours router. Open: a menu, and the caller is connected to sales
-- or support. Closed (at night, on Sundays, on public holidays): the hours,
-- when we open next, and goodbye.
--
--   luaivr simulate hours --scripts examples
--
-- Hours are wall-clock times in Singapore, whatever the server's zone.
local ZONE = "Asia/Singapore"
local OUR_NUMBER = "+6568332048" -- the caller ID sales and support see
local SALES = "+6531589338"
local SUPPORT = "+6531589339"

local HOURS = { weekdays = "09:00-18:00", saturday = "09:00-13:00" } -- Sunday: closed
local HOURS_SAID = "Our hours are 9 AM to 6 PM, Monday to Friday, and 9 AM to 1 PM on Saturday."
-- Closed all day: an example list, use the year's gazetted public holidays. It
-- leaves out New Year's Day, 2026-01-01, only because `luaivr simulate` calls
-- at 2026-01-01 17:00 in Singapore (its virtual clock starts at 09:00 UTC;
-- --at moves it), and should find us open. `luaivr check` tries both sides.
local HOLIDAYS = { "2026-02-17", "2026-02-18", "2026-04-03", "2026-05-01", "2026-08-10", "2026-12-25" }

ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1, noOfTries = 2 }

local function goodbye(text) return { ivr.say(text), ivr.hangup() } end

-- connect bridges the caller; when the other party hangs up, 8x8 comes back at "after_call".
local function connect(who, number)
  return { clientActionId = "after_call", ivr.say("Connecting you to " .. who .. "."),
           ivr.make_call { source = OUR_NUMBER, destination = number } }
end
ivr.on("after_call", goodbye("Thank you for calling. Goodbye."))

local main = ivr.menu {
  id = "main",
  prompt = "Welcome to Example Company. For sales press 1, for support press 2.",
  ["1"] = connect("sales", SALES),
  ["2"] = connect("support", SUPPORT),
  no_input = goodbye("We did not hear a choice. Goodbye."),
}

-- spoken is a time as the caller hears it: "Monday 5 January at 9:00 AM".
local function spoken(t)
  return (time.format(t, "%A %d %B at %I:%M %p", ZONE):gsub(" 0(%d)", " %1"))
end

function on_call(session)
  local open, change = time.is_open(HOURS, { zone = ZONE, holidays = HOLIDAYS })
  if open then
    return main
  end
  local next_open = change and (" We open again " .. spoken(change) .. ".") or ""
  return goodbye("Thank you for calling Example Company. We are closed. " .. HOURS_SAID .. next_open)
end
