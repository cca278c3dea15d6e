-- A clinic line written with a hand-made on_dtmf state machine, in the idioms
-- lint must accept without a word: nothing here is a mistake.
local util = require("lib.util")
local hours = require "lib.hours"

numbers = { "+6568332048" }
fallback = { ivr.say("Sorry, something went wrong.", { voiceProfile = "en-GB-Emma" }), ivr.hangup() }
check_inputs = { pin = { "4321" } }

ivr.defaults { voiceProfile = "en-GB-Emma", maxDigits = 1, noOfTries = 2 }

local greet -- declared first, defined below, used in between
local function menu_for(session)
  return greet(session)
end

greet = function(session)
  local name = session.vars.name or "there"
  return ivr.say_and_capture(("Hello %s. Press 1 to book, 2 to cancel."):format(name))
end

local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end

local Booking = {}
Booking.__index = Booking
function Booking.new(id) return setmetatable({ id = id }, Booking) end
function Booking:describe() return "booking " .. self.id end

-- A setup function run by the top level may set globals: they exist at load.
local function setup()
  CLINIC_NAME = "Green Clinic"
end
setup()
util.configure("GC");
(function() OPENED = util.year() end)()

function string.trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

local states = {
  start = function(session, digits)
    if digits == "1" then
      session.vars.state = "book"
      return ivr.say_and_capture("Your date, as 8 digits, then hash.", { maxDigits = 8, completeOnHash = true })
    end
    return menu_for(session)
  end,
  book = function(session, digits)
    local n = tonumber(digits)
    if n == 20260105 and #digits == 8 then
      return { ivr.say(Booking.new(n):describe()), ivr.hangup() }
    end
    return { ivr.say(string.trim("  Try again. ")), menu_for(session) }
  end,
}

-- A helper's own parameter may have any fields; a field the script sets on
-- a session is the script's.
local function greeting(session) return session.name or session.vars.name end

function on_call(session)
  session.vars.state = "start"
  session.greeting = greeting({ name = "Ann" })
  log.info("greeting", { text = session.greeting })
  local open = hours.open_now()
  if not open then
    return { ivr.say(CLINIC_NAME .. " is closed."), ivr.hangup() }
  end
  return menu_for(session)
end

function on_dtmf(session, keys)
  local handler = states[session.vars.state] or states.start
  if keys == "0" then return ivr.make_call { source = "6568332048", destination = "6561115777" } end
  for i = 1, select("#", keys) do log.debug("key", { i = i }) end
  local ok, res = pcall(handler, session, keys)
  if not ok then log.error("state failed", { err = res }) return fallback end
  return res
end

on_timeout = function(session) return on_dtmf(session, "") end

function on_end(session, summary)
  local count = kv.incr("calls")
  local total = 0
  repeat local step = 1 total = total + step until total >= 3
  for k, v in pairs(summary or {}) do
    if type(v) == "table" then log.info(k, v) end
  end
  log.info("ended", { count = count, fib = fib(5), shared = shared_counter(), opened = OPENED, code = CLINIC_CODE, raw = _G.CLINIC_NAME })
end

local function loop_digits(digits)
  digits = tonumber(digits) or 0
  return digits == 1
end
log.info("loaded", { ok = loop_digits("1") })

-- A helper's own parameter named digits may be a number.
local function pick(digits) return digits == 1 end
log.info("picked", { p = pick(tonumber("1")) })

-- Two global functions of one name: the first is used before the second
-- replaces it (not a handler: nothing to say).
function banner() return "v1" end
log.info(banner())
function banner() return "v2" end


-- A local that held a menu and then a function may be called.
local step = ivr.menu { id = "step", prompt = "Press 1." }
step = function() return "step" end
ivr.on("again", function(session) return step() end)

return { action = "say", params = { text = "unused", voiceProfile = "en-GB-Emma", speed = 1.0 } }
