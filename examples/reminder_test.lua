-- Flow tests for reminder.lua: the call is placed (outbound) with its vars.

local function remind(t)
  local call = t:call { app = "reminder", outbound = true,
                        vars = { name = "Ann", when = "tomorrow at 3 PM", booking = 42 } }
  call:hears("Hello Ann, this is a reminder of your appointment tomorrow at 3 PM. Press 1 to confirm, 2 to cancel.")
  call:at("confirm")
  return call
end

function test_confirm(t)
  local call = remind(t)
  call:press("1")
  call:hears("your appointment is confirmed")
  call:ended()
  t:eq(call:kv("booking:42"), "confirmed")
end

function test_cancel(t)
  local call = remind(t)
  call:press("2")
  call:hears("Your appointment is cancelled")
  call:ended()
  t:eq(call:kv("booking:42"), "cancelled")
end

function test_no_answer_asks_again_once(t)
  local call = remind(t)
  call:timeout()
  call:hears("Hello Ann, this is a reminder") -- 8x8's second try
  t:eq(call:kv("booking:42"), nil)
  call:timeout()
  call:hears("We did not hear a choice")
  call:ended()
  t:eq(call:kv("booking:42"), "no answer")
end

function test_other_key_asks_again(t)
  local call = remind(t)
  call:press("5")
  call:hears("Press 1 to confirm your appointment, 2 to cancel it.")
  call:press("1")
  t:eq(call:kv("booking:42"), "confirmed")
end

function test_the_answer_is_in_the_session_too(t)
  local call = remind(t)
  t:eq(call:vars(), { name = "Ann", when = "tomorrow at 3 PM", booking = 42 })
  call:press("2")
  t:eq(call:vars().answer, "cancelled")
end

function test_without_vars(t)
  local call = t:call { app = "reminder", outbound = true }
  call:hears("Hello there, this is a reminder of your appointment. Press 1")
  call:press("1")
  call:ended()
end
