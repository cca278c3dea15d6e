-- An app for `luaivr bench` whose handlers use kv at every event: a kv.get,
-- two kv.incr and a kv.set or kv.delete.
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
local MENU = "Press one for your balance, two to count, three to leave."

function on_call(session)
  local n = kv.incr("calls:" .. (session.source or "unknown"))
  kv.set("last:" .. session.id, { at = "call", n = n }, 3600)
  session.vars.n = n
  return ivr.say_and_capture("Welcome back, call number " .. n .. ". " .. MENU)
end

function on_dtmf(session, digits)
  local seen = kv.get("last:" .. session.id)
  kv.incr("presses:" .. (digits or "none"))
  if digits == "3" then
    kv.delete("last:" .. session.id)
    return ivr.hangup()
  end
  kv.set("last:" .. session.id, { at = "dtmf", d = digits, n = seen and seen.n }, 3600)
  return ivr.say_and_capture("You pressed " .. tostring(digits) .. ". " .. MENU)
end

function on_timeout(session)
  return on_dtmf(session, nil)
end
