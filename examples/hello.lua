-- The README's first script: a joke line that counts the jokes it told.
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1, noOfTries = 2 }

function on_call(session)
  return ivr.say_and_capture("Hello! Press 1 to hear a joke, or 2 to hang up.")
end

function on_dtmf(session, digits)
  if digits == "1" then
    session.vars.jokes = (session.vars.jokes or 0) + 1
    return { ivr.say("Why did the IVR cross the road? To press 1."),
             ivr.say_and_capture("Press 1 for another, or 2 to hang up.") }
  end
  return { ivr.say("Goodbye, after " .. (session.vars.jokes or 0) .. " jokes."), ivr.hangup() }
end

on_timeout = function(session) return on_dtmf(session, nil) end
