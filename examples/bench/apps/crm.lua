-- An app for `luaivr bench` whose handlers ask a CRM at every event
-- (examples/bench/crm.js on 127.0.0.1:18999; serve with
-- --http-allow 127.0.0.1:18999 --deadline 1s), and count calls in kv.
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }
local MENU = "Press one, two or three."

function on_call(session)
  local res = http.get("http://127.0.0.1:18999/callers/" .. (session.source or "unknown"), { timeout = 0.5 })
  local name = res and res.json and res.json.name or "there"
  kv.incr("calls")
  return ivr.say_and_capture("Hello " .. name .. ". " .. MENU)
end

function on_dtmf(session, digits)
  if digits == "3" then return ivr.hangup() end
  local res = http.get("http://127.0.0.1:18999/tier/" .. (session.source or "unknown"))
  return ivr.say_and_capture("Tier " .. (res and res.json and res.json.tier or "unknown") .. ". " .. MENU)
end

function on_timeout(session) return on_dtmf(session, nil) end
