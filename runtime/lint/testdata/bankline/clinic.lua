-- Riverside Clinic: a menu tree, and a hand-made on_dtmf state machine for booking
-- (date of birth, then a day, then a slot), which hands the digits back to the menus.
numbers = { "+6568339000" }

local CLINIC = "+6568339000"
local NURSE = "+6531589000"
local ZONE = "Asia/Singapore"

ivr.defaults { voiceProfile = "en-GB-LibbyNeural", maxDigits = 1, noOfTries = 2, repeat_key = "*" }

local function bye(text) return { ivr.say(text), ivr.hangup() } end

local SLOTS = { "9 AM", "11 AM", "2 PM", "4 PM" }

local function clinic_open()
  local p = time.parts(time.now(), ZONE)
  local hhmm = p.hour * 100 + p.min
  if p.weekday == "sunday" then return false end
  if p.weekday == "saturday" then return hhmm >= 900 and hhmm < 1300 end
  return hhmm >= 800 and hhmm < 2000
end

local function prompt(state, text, params)
  params = params or {}
  params.promptMessage = text
  return { clientActionId = state, ivr.say_and_capture(params) }
end

local function ask_dob()
  return prompt("dob", "Please enter your date of birth as eight digits, day month year.",
                { minDigits = 8, maxDigits = 8, digitTimeout = 4000, overallTimeout = 20000 })
end

local function ask_day()
  return prompt("day", "For tomorrow press 1, for the day after press 2. To go back to the main menu press 9.")
end

local function ask_slot(session)
  local names = {}
  for i, s in ipairs(SLOTS) do names[#names + 1] = "for " .. s .. " press " .. i end
  return prompt("slot", table.concat(names, ", ") .. ".")
end

local pharmacy = ivr.menu {
  id = "pharmacy",
  prompt = "To renew a prescription press 1. For pharmacy hours press 2. To go back press 9.",
  ["1"] = function(session)
    local n = kv.incr("renewals")
    log.info("renewal", { n = n, caller = session.source })
    return { ivr.say("Your renewal request number " .. n .. " is recorded."), "pharmacy" }
  end,
  ["2"] = { ivr.say("The pharmacy is open from 8 AM to 8 PM."), "pharmacy" },
  ["9"] = "clinic_main",
}

local main = ivr.menu {
  id = "clinic_main",
  prompt = "To book an appointment press 1. For the pharmacy press 2. To speak to a nurse press 3. To repeat press star.",
  ["1"] = function(session)
    session.vars.booking = {}
    return ask_dob()
  end,
  ["2"] = pharmacy,
  ["3"] = function(session)
    if not clinic_open() then
      return { ivr.say("The nurse line is closed now. For emergencies, call 995."), "clinic_main" }
    end
    return { clientActionId = "after_nurse", ivr.say("Connecting you to a nurse."),
             ivr.make_call { source = CLINIC, destination = NURSE } }
  end,
  other = function(session, digits)
    return { ivr.say("Sorry, " .. digits .. " is not an option."), "clinic_main" }
  end,
  no_input = bye("We did not hear from you. Goodbye."),
}
ivr.root(main)
ivr.on("after_nurse", bye("Thank you for calling Riverside Clinic."))

function on_call(session)
  if clinic_open() then
    return { ivr.say("Welcome to Riverside Clinic."), main }
  end
  return { ivr.say("Riverside Clinic is closed. You can still book an appointment."), main }
end

local states = {}

function states.dob(session, digits)
  local d, m, y = digits:match("^(%d%d)(%d%d)(%d%d%d%d)$")
  if not d or tonumber(m) > 12 or tonumber(d) > 31 then
    return { ivr.say("That is not a date."), ask_dob() }
  end
  session.vars.booking.dob = y .. "-" .. m .. "-" .. d
  return ask_day()
end

function states.day(session, digits)
  if digits == "9" then
    return main
  end
  if digits ~= "1" and digits ~= "2" then
    return { ivr.say("Please press 1 or 2."), ask_day() }
  end
  local day = time.add_days(time.start_of_day(time.now(), ZONE), tonumber(digits), ZONE)
  session.vars.booking.day = time.format(day, "%Y-%m-%d", ZONE)
  local name = time.weekday(day, ZONE)
  if name == "sunday" then
    return { ivr.say("We are closed on Sundays."), ask_day() }
  end
  return ask_slot(session)
end

function states.slot(session, digits)
  local slot = SLOTS[tonumber(digits) or 0]
  if not slot then
    return { ivr.say("That is not a time we offer."), ask_slot(session) }
  end
  local b = session.vars.booking
  local key = "appt:" .. b.day .. ":" .. digits
  if kv.get(key) then
    return { ivr.say("Sorry, " .. slot .. " is taken."), ask_slot(session) }
  end
  kv.set(key, { dob = b.dob, caller = session.source })
  session.vars.booked = b.day .. " " .. slot
  return bye("You are booked for " .. slot .. " on " .. time.format(time.parse(b.day, ZONE), "%A %d %B", ZONE) .. ". Goodbye.")
end

function on_dtmf(session, digits)
  local state = states[session.action_id]
  if state then return state(session, digits) end
  return ivr.route(session, digits)
end

function on_timeout(session)
  if states[session.action_id] then
    return { ivr.say("Let us start again."), main }
  end
  return ivr.route(session, nil)
end

function on_end(session, summary)
  log.info("clinic call ended", { status = summary.sessionStatus, booked = session.vars.booked or "nothing" })
end
