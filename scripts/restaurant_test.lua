-- Flow tests for restaurant.lua: every path of the Advanced IVR guide's tree.

local function at_main(t)
  local call = t:call("restaurant")
  call:hears("Welcome to ABC Restaurant")
  call:at("main_menu")
  return call
end

function test_book_today(t)
  local call = at_main(t)
  call:press("1")
  call:at("reservations")
  call:press("1")
  call:hears("Reserving a Table")
  call:press("1")
  call:hears("We have booked your table for today, thank you.")
  call:ended()
end

function test_book_tomorrow(t)
  local call = at_main(t)
  call:press("1"); call:press("1"); call:press("2")
  call:hears("booked your table for tomorrow")
  call:ended()
end

function test_keep_reservation(t)
  local call = at_main(t)
  call:press("1"); call:press("2")
  call:at("reschedule_table")
  call:press("1")
  call:hears("Keeping your current reservation")
  call:ended()
end

function test_change_reservation(t)
  local call = at_main(t)
  call:press("1"); call:press("2"); call:press("2")
  call:hears("Changing your reservation to tomorrow")
  call:ended()
end

function test_back_to_main_from_reservations(t)
  local call = at_main(t)
  call:press("1"); call:press("3")
  call:at("main_menu")
  call:press("3")
  call:hears("between 9AM and 9PM")
  call:ended()
end

function test_representative(t)
  local call = at_main(t)
  call:press("2")
  call:at("connect_call")
  call:press("1")
  call:bridged("+6531589338")
  t:eq(call:reply().clientActionId, "post_call")
  call:timeout() -- the representative hangs up
  call:hears("Thank you for speaking to ABC Restaurant")
  call:ended()
end

function test_representative_back_to_main(t)
  local call = at_main(t)
  call:press("2"); call:press("2")
  call:at("main_menu")
end

function test_invalid_key_ends_the_call(t)
  for _, path in ipairs({ { "9" }, { "1", "7" }, { "1", "1", "5" }, { "1", "2", "*" }, { "2", "0" } }) do
    local call = at_main(t)
    for _, keys in ipairs(path) do call:press(keys) end
    call:hears("Invalid input, please call again.")
    call:ended()
  end
end

function test_no_input_ends_the_call(t)
  local call = at_main(t)
  call:timeout() -- first try
  call:hears("Welcome to ABC Restaurant") -- 8x8 asks again: noOfTries = 2
  call:timeout()
  call:hears("Invalid input, please call again.")
  call:ended()
end

function test_menu_parameters_match_the_guide(t)
  local call = at_main(t)
  local capture = call:reply().callflow[1]
  t:eq(capture.action, "sayAndCapture")
  t:eq(capture.params, {
    promptMessage = "Welcome to ABC Restaurant, to book a table press 1, to speak to a representative press 2, to hear our restaurant hours press 3.",
    voiceProfile = "en-US-BenjaminRUS", speed = 1, minDigits = 1, maxDigits = 1,
    digitTimeout = 10000, overallTimeout = 10000, noOfTries = 2,
  })
end
