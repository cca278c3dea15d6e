-- A contact-center front end: the caller keys in their account number, hears
-- it back, and is handed to queue 102 of the 8x8 Contact Center with the
-- account and their number, which the agent sees in the transaction panel.
--
--   luaivr simulate support_queue --scripts examples --vcc-url https://vcc-na4.8x8.com/SC/externalIvrAction.php \
--     --vcc-tenant TENANT --vcc-token TOKEN --keys 123456,1
--
-- Without the --vcc-* flags the hand-off fails, and the caller is offered to try again.
local QUEUE = "102"

ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1, noOfTries = 2 }

local function goodbye(text) return { ivr.say(text), ivr.hangup() } end

-- ask_account asks for the 6 digits; the caller's answer comes to ivr.on("account").
local function ask_account(intro)
  local reply = { clientActionId = "account" }
  if intro then reply[#reply + 1] = ivr.say(intro) end
  reply[#reply + 1] = ivr.say_and_capture {
    promptMessage = "Please enter your 6 digit account number, followed by the hash key.",
    minDigits = 6, maxDigits = 6, completeOnHash = true, digitTimeout = 5000, overallTimeout = 20000,
    failureMessage = "Sorry, that was not 6 digits.",
    sensitive = false, -- no secret: the agent sees it, and session.vars keeps it for the hand-off
  }
  return reply
end

ivr.on("account", function(session, digits)
  if digits == nil then
    return goodbye("We did not get your account number. Please call again. Goodbye.")
  end
  if not digits:match("^%d%d%d%d%d%d$") then
    return ask_account("Account numbers have 6 digits.")
  end
  session.vars.account = digits
  -- "1 2 3 4 5 6": said digit by digit, not as a number.
  return { clientActionId = "confirm",
           ivr.say_and_capture("You entered " .. digits:gsub("%d", "%0 "):sub(1, -2) .. ". Press 1 if correct, 2 to re-enter.") }
end)

local function handoff(session)
  -- The contact center knows the call by its SIP Call-ID. 8x8 Voice's webhooks
  -- carry no such field that we know of, so whoever forwarded the call can pass
  -- it in the call's vars as sip_id; without it we send the session's call id.
  local sip_id = session.vars.sip_id or session.call_id
  local hangup, err = vcc.handoff { queue = QUEUE, sip_id = sip_id,
                                    data = { Account = session.vars.account, Caller = session.source } }
  if not hangup then
    log.warn("hand-off to the contact center failed", { err = err })
    return "retry"
  end
  -- The contact center takes the call once we hang up.
  return { ivr.say("Connecting you to an agent."), hangup }
end

ivr.menu {
  id = "confirm",
  prompt = "Press 1 if your account number is correct, 2 to re-enter it.", -- after a key it does not offer
  ["1"] = handoff,
  ["2"] = function() return ask_account() end,
  no_input = goodbye("We did not hear a choice. Please call again. Goodbye."),
}

ivr.menu {
  id = "retry",
  prompt = "Sorry, we could not connect you to an agent. Press 1 to try again, or 2 to hang up.",
  ["1"] = handoff,
  ["2"] = goodbye("Thank you for calling. Goodbye."),
  no_input = goodbye("Thank you for calling. Goodbye."),
}

function on_call(session)
  return ask_account("Welcome to Example support.")
end
