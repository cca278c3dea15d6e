-- The README's menu example: two levels, a function option, other and no_input.
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1, noOfTries = 2 }
local bye = { ivr.say("Goodbye."), ivr.hangup() }

local main = ivr.menu {
  id = "main",                                  -- becomes the reply's clientActionId
  prompt = "For sales press 1, for support press 2.",
  ["1"] = ivr.menu { id = "sales", prompt = "New customers press 1. Back: 9.",
                     ["1"] = bye, ["9"] = "main" },       -- a menu id goes back up the tree
  ["2"] = function(session, digits)                         -- decide at call time
            return { ivr.say("Hello " .. session.source), "main" }
          end,
  other = "main",                               -- a key the menu does not offer (default: the menu again)
  no_input = bye,                               -- no key at all (default: other)
  noOfTries = 3,                                -- any sayAndCapture parameter
}
on_call = main
