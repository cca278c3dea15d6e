-- Globals reached by computed names: lint cannot know them, and says nothing.
local prefix = "on_"
_G[prefix .. "call"] = function(session) return ivr.say("Hi", { voiceProfile = "en-GB-Emma" }) end
function on_dtmf(session, digits) return helper_made_at_run_time(digits) end
