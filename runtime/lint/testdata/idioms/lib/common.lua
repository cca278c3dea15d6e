function shared_greeting(name)          -- a global a module defines for the apps
  return "Hello " .. (name or "there") .. "."
end
VOICE = "en-US-BenjaminRUS"
local M = {}
function M.dtmf(session, digits)
  return { ivr.say("You pressed " .. digits .. "."), ivr.hangup() }
end
return M
