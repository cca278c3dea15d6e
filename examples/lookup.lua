-- A caller lookup over http: the CRM knows callers by their number. A known
-- caller is greeted by name; anyone else, or everyone while the CRM is down,
-- slow or not allowed, gets the generic greeting. The call never fails
-- because of the CRM.
--
--   luaivr simulate lookup --scripts examples --http-allow crm.example.com
--
-- The CRM answers GET /callers/{number} with 200 { "name": "Ann" } or 404,
-- and takes POST /callbacks { caller, name } to book a call back.
local CRM = "https://crm.example.com"

ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1, noOfTries = 2 }

local function goodbye(text) return { ivr.say(text), ivr.hangup() } end

-- known returns what the CRM knows of a number, or nil. A failure is a value
-- (nil and a message) that the app handles, never an error that ends the call.
local function known(number)
  local res, err = http.get(CRM .. "/callers/" .. number, { timeout = 1 })
  if not res then
    log.warn("CRM lookup failed; generic greeting", { err = err })
    return nil
  end
  if res.status == 200 and res.json and type(res.json.name) == "string" then
    return res.json
  end
  if res.status ~= 404 then
    log.warn("CRM lookup answered unexpectedly; generic greeting", { status = res.status })
  end
  return nil
end

local main = ivr.menu {
  id = "main",
  prompt = "To ask for a call back press 1, to hear our address press 2.",
  ["1"] = function(session)
    local res, err = http.post(CRM .. "/callbacks", { caller = session.source, name = session.vars.name }, { timeout = 1 })
    if not res or res.status >= 300 then
      log.warn("booking a call back failed", { err = err, status = res and res.status })
      return goodbye("Sorry, we could not book a call back right now. Please try again later. Goodbye.")
    end
    return goodbye("Thank you, we will call you back today. Goodbye.")
  end,
  ["2"] = goodbye("We are at 1 Example Road, Singapore. Goodbye."),
  no_input = goodbye("Goodbye."),
}

function on_call(session)
  local caller = known(session.source)
  if caller then
    session.vars.name = caller.name
    return { ivr.say("Welcome back, " .. caller.name .. "."), main }
  end
  return { ivr.say("Welcome to Example Shop."), main }
end
