-- Flow tests for simple_ivr.lua: the Simple IVR guide's three paths.

function test_resolved_hangs_up(t)
  local call = t:call("simple_ivr")
  call:hears("Dear customer")
  call:press("1")
  call:ended()
end

function test_agent(t)
  local call = t:call("simple_ivr")
  call:press("2")
  call:bridged("6561115777")
end

function test_anything_else_repeats(t)
  local call = t:call("simple_ivr")
  call:press("7")
  call:hears("Sorry, we did not understand your response.")
  call:press("1")
  call:ended()
end

function test_no_input_retries_then_repeats(t)
  local call = t:call("simple_ivr")
  call:timeout()
  call:hears("Invalid input, please try again") -- 8x8's failureMessage, then the prompt again
  call:timeout()
  call:hears("Sorry, we did not understand your response.")
end

function test_outbound_call(t)
  local call = t:call { app = "simple_ivr", outbound = true, from = "+6512345678" }
  call:hears("Dear customer")
  t:eq(call:reply().callflow[1].params.successMessage, json.null)
end
