-- A third app: mistakes lint sees in the types and the order of a script,
-- and in what a handler returns.
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }

on_timeout = ask_again --! warning: ask_again is read here, when the script loads, but line 36 defines it only later: here it is still nil; define ask_again above this line

local function bye(text)
  return ivr.say(text), ivr.hangup() --! warning: this returns 2 values, and on_dtmf returns what bye returns (line 33), but a reply is one
end

local function goodbye(text)
  return bye(text)
end

local main = ivr.menu {
  id = "main", prompt = "Press 1 or 2.",
  on_enter = function(session) return end,
  ["1"] = function(session, digits)
    return --! warning: a menu option returns nothing here: the caller would hear silence
  end,
  ["2"] = function(session, digits) return goodbye("Bye.") end,
}

function on_dtmf(session, digits)
  local now = time.parts(time.now(), "Asia/Singapore")
  local day = time.weekday(time.now())
  if now.weekday == "Monday" then return main end --! warning: a weekday == "Monday" is never true: time.weekday and time.parts(…).weekday give the whole name in lower case ("monday" … "sunday"); compare with "monday"
  if day ~= "sat" then return main end --! warning: a weekday ~= "sat" is always true: time.weekday and time.parts(…).weekday give the whole name in lower case ("monday" … "sunday"); compare with "saturday"
  if time.parts(time.now()).weekday == "friday" then return main end
  if tonumber(digits) == "6" then return main end --! warning: tonumber(…) == "6" is never true: tonumber(…) is a number and "6" is text, and Lua never finds a number equal to text; compare with 6
  if digits:sub(1, 1) == 9 then return main end --! warning: digits:sub(…) == 9 is never true: 9 is a number and digits:sub(…) is text, and Lua never finds a number equal to text; compare with "9"
  if digits == "" then return nil end --! warning: on_dtmf returns nothing here: the caller would hear silence, so luaivr answers with the app's fallback; return a reply (ivr.hangup(), a menu, a list of actions), or hand the digits to the menus: return ivr.route(session, digits)
  return bye("Goodbye.")
end

function ask_again(session)
  return { { action = "say", params = { text = "Again?" } }, main } --! error: this say action has no voiceProfile: an action table written by hand ({ action = "say", params = … }) does not receive ivr.defaults; build it with ivr.say(…), which applies them, or give it params.voiceProfile
end

function on_call(session)
  return main
end

ivr.on("six", function(session, digits)
  local n = tonumber(digits)
  local key = digits:sub(1, 1)
  if n == "6" then return main end --! warning: n == "6" is never true: n is a number and "6" is text, and Lua never finds a number equal to text; compare with 6
  if key == 1 then return main end --! warning: key == 1 is never true: 1 is a number and key is text, and Lua never finds a number equal to text; compare with "1"
  if #digits == "3" then return main end --! warning: #digits == "3" is never true
  local changed = tonumber(digits)
  changed = tostring(changed)
  if changed == "6" then return main end
  return main
end)

-- Mistakes in the tables of ivr.defaults and ivr.menu, at their keys.
ivr.defaults {
  noOfTry = 2, --! error: ivr.defaults: unknown setting "noOfTry": did you mean noOfTries?
  tries = 0, --! error: ivr.defaults: tries is how many wrong or missing answers a caller may give at a menu before on_too_many: a whole number from 1 to 100, got 0
  speed = 2.5, --! error: ivr.defaults: -1009 Invalid call flow entry provided. params.speed: must have a maximum value of 2
}
local cards = ivr.menu {
  id = "cards",
  promptMessage = "Cards.", --! error: ivr.menu: menu "cards" sets promptMessage: in a menu the key is prompt (prompt = "…"), the text the caller hears
  speed = 3, --! error: ivr.menu "cards": -1009 Invalid call flow entry provided. params.speed: must have a maximum value of 2
  on_to_many = "main", --! error: ivr.menu: menu key "on_to_many": did you mean on_too_many?
  ["9"] = "mian", --! error: ivr.menu "cards" option ["9"] is "mian", but no menu has that id; did you mean "main"?
  other = "nowhere", --! error: ivr.menu "cards" other is "nowhere", but no menu has that id; to speak text use ivr.say("nowhere")
  no_input = "six", -- an ivr.on position: loading says what is wrong
  ["1"] = "main", ["2"] = "cards", maxDigits = 1, repeat_key = "*",
  tries = 3, --! error: ivr.menu "cards" allows 3 tries but says nothing after them: add on_too_many
}
ivr.menu { id = "kept", prompt = "x", tries = 2, on_too_many = "main" }

-- Steps of a hand-written state machine, picked from a table at run time.
local steps = {
  dob = function(session, digits)
    if #digits < 8 then return nil end --! warning: steps.dob, whose result a menu option returns (line 91), returns nothing here
    return main
  end,
}
function steps.pin(session, digits)
  if digits == "" then return end --! warning: steps.pin, whose result a menu option returns (line 91), returns nothing here
  return main
end
steps.day = function(session, digits)
  return --! warning: steps.day, whose result a menu option returns
end
ivr.on("step", function(session, digits)
  local step = steps[session.vars.step]
  if step then return step(session, digits) end
  return main
end)
local notes = {}
function notes.say(session) return end
