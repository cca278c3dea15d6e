-- A second app of the folder: its own mistakes, and a module it names wrongly.
local helpers = require("lib/helpers") --! error: require "lib/helpers": a module is named with dots, like "lib.hours" for lib/hours.lua in the script folder
local prices = require("lib.prices") --! error: require "lib.prices": there is no file lib/prices.lua in the script folder

local function on_call(session) --! warning: on_call is a local: luaivr calls only global handlers, so this one never runs; remove local
  return { ivr.say("Welcome to the clinic.", { voiceProfile = "en-GB-Emma" }), ivr.hangup() }
end
