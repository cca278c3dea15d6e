-- An appointment reminder: a call we place, with what to say in its vars.
--
--   luaivr call reminder --scripts examples --to +6591178965 --from +6568332048 \
--     --var name=Ann --var when="tomorrow at 3 PM" --var booking=42
--
-- The callee presses 1 to confirm or 2 to cancel. The answer is kept in kv as
-- "booking:42" = "confirmed", "cancelled" or "no answer", for 30 days, where
-- every later call of the app (and the booking system, through an app) finds it.
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1, noOfTries = 2 }

local KEEP = 30 * 86400 -- seconds the answer is kept

local function record(session, answer)
  local booking = session.vars.booking
  if booking == nil then
    log.warn("no booking in the call's vars; the answer is not kept", { answer = answer })
    return
  end
  kv.set("booking:" .. booking, answer, KEEP)
  session.vars.answer = answer
end

local function goodbye(text) return { ivr.say(text), ivr.hangup() } end

-- The reminder names the callee and the time, so its prompt is made per call;
-- its clientActionId sends the callee's key to the menu below. noOfTries = 2:
-- with no key, 8x8 reads the reminder once more before no_input.
function on_call(session)
  local name, when = session.vars.name or "there", session.vars.when
  local text = "Hello " .. name .. ", this is a reminder of your appointment" ..
    (when and (" " .. when) or "") .. ". Press 1 to confirm, 2 to cancel."
  return { clientActionId = "confirm", ivr.say_and_capture(text) }
end

ivr.menu {
  id = "confirm",
  prompt = "Press 1 to confirm your appointment, 2 to cancel it.", -- after a key it does not offer
  ["1"] = function(session)
    record(session, "confirmed")
    return goodbye("Thank you, your appointment is confirmed. See you then. Goodbye.")
  end,
  ["2"] = function(session)
    record(session, "cancelled")
    return goodbye("Your appointment is cancelled. Call us when you would like a new one. Goodbye.")
  end,
  no_input = function(session)
    record(session, "no answer")
    return goodbye("We did not hear a choice. Please call us to confirm your appointment. Goodbye.")
  end,
}
