local common = require("lib.common")
ivr.defaults { voiceProfile = VOICE }
local handlers = {}
function handlers.on_call(session)
  local ok, err = pcall(function() return kv.get("x") end)
  local count = select("#", 1, 2, 3)
  local mt = setmetatable({}, { __index = function(t, k) return k end })
  return { clientActionId = "ask", ivr.say(shared_greeting(session.vars.name) .. mt.foo .. count),
           ivr.say_and_capture { promptMessage = "Press a key.", maxDigits = 1 } }
end
on_call = handlers.on_call
on_dtmf = common.dtmf
function on_timeout(session)
  local n = tonumber(session.vars.n or "0")
  if n == 1 then return ivr.hangup() end
  local k = "digits"
  if session[k] == nil then end
  return { ivr.say(string.format("%s", "bye")), ivr.hangup() }
end
if rawget(_G, "on_status") == nil then
  on_status = function(session, status) log.debug("s", { status = status }) end
end
