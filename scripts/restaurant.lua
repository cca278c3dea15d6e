-- ABC Restaurant's reservation line: the 8x8 Advanced IVR guide's three-level tree.
-- Any key a menu does not offer says "Invalid input, please call again." and hangs up.
--
-- Where the guide's JSON contradicts its own tree, this follows the tree: Reservations
-- answers with clientActionId "reservations" (the guide shows "ivr-1-stage-1"), and the main
-- menu played from Reservations carries "main_menu" (the guide shows "book_table", which would
-- send the caller's next key to Book Table). "Connect Call" plays the level-2 menu the guide
-- describes before connecting. After the representative hangs up, it says what 8x8's reference
-- backend says. Every menu uses noOfTries 2, as all the guide's replies do (its placed call
-- plays the first menu with 1).

local RESTAURANT = "+6568332048" -- our 8x8 number: the caller ID the representative sees
local FRONT_DESK = "+6531589338" -- the representative's phone

ivr.defaults {
  voiceProfile = "en-US-BenjaminRUS", speed = 1,
  minDigits = 1, maxDigits = 1, digitTimeout = 10000, overallTimeout = 10000, noOfTries = 2,
}

local function goodbye(text) return { ivr.say(text), ivr.hangup() } end

-- Every menu's answer to a key it does not offer, or to no key at all.
ivr.defaults { other = goodbye("Invalid input, please call again.") }

local main = ivr.menu {
  id = "main_menu",
  prompt = "Welcome to ABC Restaurant, to book a table press 1, to speak to a representative press 2, to hear our restaurant hours press 3.",

  ["1"] = ivr.menu {
    id = "reservations",
    prompt = "Press 1 to make a new reservation, press 2 to reschedule an existing reservation, press 3 to return to main menu.",
    ["1"] = ivr.menu {
      id = "book_table",
      prompt = "Reserving a Table, Press 1 to reserve a table for today, Press 2 to reserve a table for tomorrow.",
      ["1"] = goodbye("We have booked your table for today, thank you."),
      ["2"] = goodbye("We have booked your table for tomorrow, thank you."),
    },
    ["2"] = ivr.menu {
      id = "reschedule_table",
      prompt = "Rescheduling your reservation, Press 1 to keep your current reservation, press 2 to change your reservation to tomorrow.",
      ["1"] = goodbye("Keeping your current reservation, thank you."),
      ["2"] = goodbye("Changing your reservation to tomorrow thank you."),
    },
    ["3"] = "main_menu",
  },

  ["2"] = ivr.menu {
    id = "connect_call",
    prompt = "Connecting you to the next available representative. Press 1 to connect now, press 2 to return to main menu",
    ["1"] = { clientActionId = "post_call", ivr.make_call { source = RESTAURANT, destination = FRONT_DESK } },
    ["2"] = "main_menu",
  },

  ["3"] = goodbye("Our restaurant hours are between 9AM and 9PM every day of the week."),
}

-- After the representative hangs up, 8x8 asks what next: thank the caller and end.
ivr.on("post_call", goodbye("Thank you for speaking to ABC Restaurant, have a great day."))

on_call = main
numbers = { RESTAURANT }
