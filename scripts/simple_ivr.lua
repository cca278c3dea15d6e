-- Xyz technical support callback: the 8x8 Simple IVR guide, one menu deep.
-- 1 = the issue is resolved (hang up), 2 = speak to an agent, anything else = hear the menu again.

local SUPPORT_LINE = "6512345678" -- our 8x8 number: the caller ID the agent sees
local AGENT = "6561115777"        -- where "press two" connects the caller

ivr.defaults {
  voiceProfile = "en-US-BenjaminRUS", repetition = 1, speed = 1,
  minDigits = 1, maxDigits = 1, digitTimeout = 10000, overallTimeout = 10000,
  completeOnHash = false, noOfTries = 2,
  successMessage = json.null, failureMessage = "Invalid input, please try again",
}

local MENU = "If you have resolved your issue already, press one. Or press two to speak to an agent."

function on_call(session)
  return ivr.say_and_capture("Dear customer, Thank you for contacting Xyz technical support recently. " .. MENU)
end

function on_dtmf(session, digits)
  if digits == "1" then
    return ivr.hangup()
  elseif digits == "2" then
    return ivr.make_call { source = SUPPORT_LINE, destination = AGENT }
  end
  return ivr.say_and_capture("Sorry, we did not understand your response. " .. MENU)
end

-- No key pressed: the same as a key we did not understand.
function on_timeout(session)
  return on_dtmf(session, nil)
end
