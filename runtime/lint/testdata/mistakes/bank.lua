-- A bank line with every mistake lint finds, each marked on its line with
-- what lint says there: a comment "--!", the severity, then words of the message.
local prices = require("lib.helpers")

ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1 }

local attempts = 0

local function ask_account()
  return ivr.say_and_capture("Your account number, then hash.", { --! warning: (its prompt says "account"), and is not marked sensitive
    maxDigits = 8, completeOnHsh = true, --! error: ivr.say_and_capture: -1009 Invalid call flow entry provided. params.completeOnHsh: is not defined in the schema and the schema does not allow additional properties; did you mean completeOnHash?
    digitTimout = 5000, overallTimeout = 10000, --! error: did you mean digitTimeout?
    noOfTry = 3, --! error: did you mean noOfTries?
  })
end

local main = ivr.menu {
  id = "main", prompt = "For your balance press 1, to speak to us press 2.",
  ["1"] = function(session, digits) return ask_account() end,
  ["2"] = function(session, digits)
    notify_crm(session.source) --! error: notify_crm is called, but nothing defines it
    return ivr.make_call { source = "+6568332048", destination = "91234567" } --! error: ivr.make_call: -1017 params.destination is "91234567", a local number without a country code
  end,
}

function on_call(session)
  session.vars.started = os.time() --! error: os is not available in luaivr scripts: use time
  return main
end

function on_dmtf(session, digits) --! warning: on_dmtf is not a handler luaivr calls, and nothing in the script uses it, so it never runs: did you mean on_dtmf?
  return main
end

function on_timeout(session)
  last_caller = session.source --! warning: last_caller is a global set inside a function
  attempts = attempts + 1
  return { ivr.say("We did not hear you.", { sped = 1.5 }), main } --! error: ivr.say: -1009 Invalid call flow entry provided. params.sped: is not defined in the schema and the schema does not allow additional properties; did you mean speed?
end

function on_end(session, summary)
  log.inf("call ended", { caller = session.source }) --! error: log.inf is called, but the log library has no inf: did you mean log.info?
  local f = io.open("/tmp/calls.txt", "a") --! error: io is not available in luaivr scripts
  debug.traceback() --! error: debug is not available in luaivr scripts
end

function on_timeout(session) --! warning: the handler on_timeout is defined again here: the definition at line 35 is never used
  return { ivr.say("Goodbye."), ivr.hangup() }
end

function on_status(session, status)
  if status == "CALL_CONNECTED" and balance_of(session.source) > 0 then --! error: balance_of is called, but nothing defines it: no local, global or library has that name; the local balance_of declared at line 57 is not seen here
    log.info("connected")
  end
end

local function balance_of(number) return 0 end

local raw = { action = "sayAndCapture", params = { promptMessage = "PIN?", voiceProfile = "en-US-BenjaminRUS", maxDigit = 4 } } --! error: the sayAndCapture action: -1009 Invalid call flow entry provided. params.maxDigit: is not defined in the schema and the schema does not allow additional properties; did you mean maxDigits?

local function pin(session, digits)
  if digits == 1234 then --! warning: digits == 1234 is never true: the keys a caller presses are text ("1234"), never a number; compare with "1234"
    return raw
  end
  local x = json.encod({}) --! error: json.encod is called, but the json library has no encod: did you mean json.encode?
  local y = undefined_thing --! error: undefined_thing is read, but nothing defines it (it is nil)
  return prices.fmt(x, y, loadstring) --! error: loadstring is not available in luaivr scripts
end
ivr.on("pin", pin)
local trimmed = string.trim(" x ")

local hi = ivr.say("Hi", { speed = 3 }) --! error: ivr.say: -1009 Invalid call flow entry provided. params.speed: must have a maximum value of 2

local voice = require("ivr") -- the same library under a local name
local hello = voice.say("Hello", { repetiton = 2 }) --! error: ivr.say: -1009 Invalid call flow entry provided. params.repetiton: is not defined in the schema and the schema does not allow additional properties; did you mean repetition?
local bye = voice.hangpu() --! error: ivr.hangpu is called, but the ivr library has no hangpu: did you mean ivr.hangup?
local clock = time.nwo --! error: time.nwo is read, but the time library has no nwo: did you mean time.now?

ivr.on("greeting", function(session, digits)
  local name = session.var.name --! error: session.var is read, but a session has no var (it is nil): did you mean session.vars?
  return ivr.say("Hello " .. session.caller) --! error: session.caller is read, but a session has no caller
end)

ivr.on("menu_again", function(session, digits)
  ivr.say("Let us try again.") --! warning: ivr.say(…) builds an action, and this line throws it away: nothing is sent to 8x8
  if digits == "0" then
    return ivr.say("Goodbye."), ivr.hangup() --! warning: this returns 2 values, but a reply is one: luaivr uses the first and drops the rest
  end
  return main() --! error: main is a menu (ivr.menu at line 17), not a function: calling it fails; return it as it is (return main)
end)
