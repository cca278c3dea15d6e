-- Lion Bank: hours, an 8-digit account number with #, a PIN with a lockout,
-- sub-menus with 9 back and * repeat, a transfer, a call-back request.
local hours = require("lib.bankhours")

numbers = { "+6568330001", "+6568330002" }

local BANK = "+6568330001"
local ADVISERS = "+6531580000"
local FRAUD_DESK = "+6531580099"
local MAX_PIN_FAILURES = 3
local LOCK_SECONDS = 30 * 60

-- demo accounts: account number -> { pin, balance }
local ACCOUNTS = {
  ["12345678"] = { pin = "2468", balance = 1520 },
  ["87654321"] = { pin = "1357", balance = 42 },
}

check_inputs = { account = { "12345678#", "87654321#" }, pin = { "2468", "1357" } }

ivr.defaults {
  voiceProfile = "en-US-BenjaminRUS",
  maxDigits = 1,
  noOfTries = 2,
  repeat_key = "*",
}

fallback = { ivr.say("Sorry, we are having technical difficulties. Please call again later."), ivr.hangup() }

local function goodbye(text)
  return { ivr.say(text), ivr.hangup() }
end

local function ask_account(preface)
  local prompt = ivr.say_and_capture {
    promptMessage = "Please enter your 8 digit account number, followed by the hash key.",
    minDigits = 8, maxDigits = 9, completeOnHash = true,
    digitTimeout = 5000, overallTimeout = 20000, sensitive = true,
  }
  if preface then
    return { clientActionId = "account", ivr.say(preface), prompt }
  end
  return { clientActionId = "account", prompt }
end

local function ask_pin(preface)
  local list = { clientActionId = "pin" }
  if preface then list[#list + 1] = ivr.say(preface) end
  list[#list + 1] = ivr.say_and_capture {
    promptMessage = "Please enter your 4 digit PIN.",
    minDigits = 4, maxDigits = 4, digitTimeout = 5000, overallTimeout = 15000, sensitive = true,
  }
  return list
end

-- the call-back request: record the caller's number and when they asked
local function request_callback(session)
  local key = "callback:" .. session.source
  kv.set(key, { at = time.format(time.now(), "%Y-%m-%d %H:%M", hours.ZONE),
                account = session.vars.account }, 7 * 86400)
  log.info("call-back requested", { caller = session.source, account = session.vars.account })
  return goodbye("Thank you. An adviser will call you back on the next working day. Goodbye.")
end

local function transfer(session)
  if not hours.advisers_in() then
    return { ivr.say("Our advisers are not available right now."), "callback_offer" }
  end
  session.vars.transferred = true
  return { clientActionId = "after_adviser", ivr.say("Connecting you to an adviser."),
           ivr.make_call { source = BANK, destination = ADVISERS } }
end

ivr.on("after_adviser", goodbye("Thank you for banking with Lion Bank. Goodbye."))

local callback_offer = ivr.menu {
  id = "callback_offer",
  prompt = "To request a call-back press 1. To return to the main menu press 9.",
  ["1"] = request_callback,
  ["9"] = function(session)
    if session.vars.account then return "main" end
    return goodbye("Goodbye.")
  end,
  no_input = goodbye("Goodbye."),
}

local cards = ivr.menu {
  id = "cards",
  prompt = "To block a lost or stolen card press 1. To activate a new card press 2. To go back press 9. To hear this again press star.",
  ["1"] = function(session)
    session.vars.blocked = true
    log.warn("card blocked", { account = session.vars.account })
    return { ivr.say("Your card is now blocked. We are connecting you to our fraud desk."),
             clientActionId = "after_adviser",
             ivr.make_call { source = BANK, destination = FRAUD_DESK } }
  end,
  ["2"] = function(session)
    return { ivr.say("Your new card is active."), "cards" }
  end,
  ["9"] = "main",
}

local statements = ivr.menu {
  id = "statements",
  prompt = "For your last three transactions press 1. To have a statement mailed press 2. To go back press 9.",
  ["1"] = { ivr.say("Your last transactions were: 12 dollars at Kopitiam, 80 dollars at NTUC, and a salary credit."), "statements" },
  ["2"] = function(session)
    kv.set("statement:" .. session.vars.account, time.now())
    return { ivr.say("A statement will be mailed to you."), "statements" }
  end,
  ["9"] = "main",
}

local main = ivr.menu {
  id = "main",
  prompt = "For your balance press 1. For cards press 2. For statements press 3. To speak to an adviser press 0. To request a call-back press 4.",
  on_enter = function(session)
    if not session.vars.greeted then
      session.vars.greeted = true
      return ivr.say("Thank you, you are now signed in.")
    end
  end,
  ["1"] = function(session)
    local acc = ACCOUNTS[session.vars.account]
    return { ivr.say("Your balance is " .. acc.balance .. " dollars."), "main" }
  end,
  ["2"] = cards,
  ["3"] = statements,
  ["4"] = request_callback,
  ["0"] = transfer,
  tries = 3,
  on_too_many = goodbye("Sorry, we could not understand you. Goodbye."),
}

function on_call(session)
  local open = hours.open_now()
  if not open then
    return { ivr.say("Welcome to Lion Bank. We are closed right now."), "callback_offer" }
  end
  return ask_account("Welcome to Lion Bank.")
end

local function check_account(session, digits)
  local account = digits:gsub("#$", "")
  if not ACCOUNTS[account] then
    session.vars.bad_accounts = (session.vars.bad_accounts or 0) + 1
    if session.vars.bad_accounts >= 3 then
      return goodbye("We could not find that account. Goodbye.")
    end
    return ask_account("We could not find that account number.")
  end
  if kv.get("lock:" .. account) then
    return goodbye("This account is locked after too many wrong PINs. Please try again in 30 minutes.")
  end
  session.vars.account = account
  return ask_pin()
end

local function check_pin(session, digits)
  local account = session.vars.account
  if digits == ACCOUNTS[account].pin then
    session.vars.pin_failures = 0
    kv.delete("pinfail:" .. account)
    return main
  end
  session.vars.pin_failures = (session.vars.pin_failures or 0) + 1
  local total = kv.incr("pinfail:" .. account, 1, LOCK_SECONDS)
  if session.vars.pin_failures >= MAX_PIN_FAILURES or total >= MAX_PIN_FAILURES then
    kv.set("lock:" .. account, true, LOCK_SECONDS)
    log.warn("account locked", { account = account })
    return goodbye("That PIN is not right. Your account is locked for 30 minutes. Goodbye.")
  end
  return ask_pin("That PIN is not right.")
end

function on_dtmf(session, digits)
  if session.action_id == "account" then
    return check_account(session, digits)
  elseif session.action_id == "pin" then
    return check_pin(session, digits)
  end
  return ivr.route(session, digits)
end

function on_timeout(session)
  if session.action_id == "pin" or session.action_id == "account" then
    return goodbye("We did not hear anything. Goodbye.")
  end
  return ivr.route(session, nil)
end

function on_status(session, status)
  log.debug("status", { status = status })
end

function on_end(session, summary)
  local agent = summary.details.callB
  log.info("call over", {
    status = summary.sessionStatus,
    account = session.vars.account,
    adviser = agent and agent.destination,
    seconds = summary.details.callA.callDuration,
  })
end
