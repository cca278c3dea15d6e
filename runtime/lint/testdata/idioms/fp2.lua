local function configure(env)
  CONFIG = { voice = "en-US-BenjaminRUS", agent = env == "prod" and "+6531580000" or "+6531580001" }
end
configure("prod")
ivr.defaults { voiceProfile = CONFIG.voice }
local lines = {}
for i = 1, 2 do lines[i] = "+656833000" .. i end
numbers = lines
local function build(items)
  local out = {}
  for _, it in ipairs(items) do table.insert(out, ivr.say(it)) end
  out[#out + 1] = ivr.hangup()
  return out
end
function on_call(session)
  if session.event.callDirection == "OUTBOUND" then return build({ "Reminder." }) end
  local d = session.event.eventData and session.event.eventData.dtmf
  return build({ "Welcome.", "Call " .. CONFIG.agent .. " for help." })
end
