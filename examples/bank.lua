-- A bank line: a hand-written on_dtmf checks the caller's PIN, and a menu tree
-- serves them once it is right. Digits answered at a menu go to the menu; the
-- others (here, the PIN prompt at "pin") go to on_dtmf.
--
--   luaivr simulate bank --scripts examples --keys 1111,1,*,2
--
-- The demo PIN is 1111, an entry `luaivr check` tries, so that it explores the menus too.
local PIN = "1111"
local BANK = "+6568332048"    -- our 8x8 number: the caller ID the adviser sees
local ADVISER = "+6531589338"

ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1, noOfTries = 2,
               repeat_key = "*" } -- in every menu, * says it again

local function goodbye(text) return { ivr.say(text), ivr.hangup() } end

-- ask_pin is a prompt of our own: its clientActionId "pin" is no menu, so the
-- answer comes to on_dtmf. A list keeps it wherever it is nested. The PIN is
-- sensitive: on_dtmf gets it in clear, the transcript and the log get "••••".
local function ask_pin()
  return { clientActionId = "pin", ivr.say_and_capture {
    promptMessage = "Please enter your 4 digit PIN.", minDigits = 4, maxDigits = 4,
    digitTimeout = 5000, overallTimeout = 15000, sensitive = true } }
end

local accounts = ivr.menu {
  id = "accounts",
  prompt = "For your balance press 1, to speak to an adviser press 2. To hear this again press star.",
  on_enter = function(session) return ivr.say("Welcome to your accounts.") end, -- once per visit
  ["1"] = function(session) return { ivr.say("Your balance is 1,234 dollars."), "accounts" } end,
  ["2"] = { clientActionId = "after_call", ivr.say("Connecting you to an adviser."),
            ivr.make_call { source = BANK, destination = ADVISER } },
  tries = 3, on_too_many = goodbye("Sorry, we could not understand you. Goodbye."),
}
ivr.on("after_call", goodbye("Thank you for banking with us. Goodbye."))

function on_call(session)
  return { ivr.say("Welcome to Example Bank."), ask_pin() }
end

function on_dtmf(session, digits) -- only the PIN comes here: the menu answers its own keys
  if digits == PIN then
    return accounts
  end
  session.vars.wrong_pins = (session.vars.wrong_pins or 0) + 1
  if session.vars.wrong_pins >= 3 then
    return goodbye("That PIN is not right, three times. Please call again later.")
  end
  return { ivr.say("That PIN is not right."), ask_pin() }
end

function on_timeout(session)
  return goodbye("We did not hear your PIN. Goodbye.")
end
