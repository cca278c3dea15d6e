-- Flow tests for support_queue.lua: the contact center is stubbed; t:requests()
-- shows what the hand-off sent.

local VCC = "POST https://vcc.example.test/SC/externalIvrAction.php" -- the flow tests' vcc URL

local function account(t, call_opts)
  local call = t:call(call_opts or "support_queue")
  call:hears("Welcome to Example support.")
  call:hears("Please enter your 6 digit account number")
  call:at("account")
  return call
end

function test_handoff(t)
  t:stub(VCC, { status = 200, body = "OK" })
  local call = account(t)
  call:press("123456#")
  call:hears("You entered 1 2 3 4 5 6. Press 1 if correct, 2 to re-enter.")
  call:at("confirm")
  call:press("1")
  call:hears("Connecting you to an agent.")
  call:ended()
  local sent = t:requests()
  t:eq(#sent, 1)
  t:eq(sent[1].form.action, "wForwardACD")
  t:eq(sent[1].form.param, "102")
  t:eq(sent[1].form.extIvrData, "[Account|123456][Caller|+6591178965]")
  t:eq(sent[1].form.sip_id, call.session .. "-a") -- the call id: no sip_id in the vars
end

function test_sip_id_from_the_vars(t)
  t:stub(VCC, { body = "OK" })
  local call = account(t, { app = "support_queue", vars = { sip_id = "a84b4c76e66710@pc33.example.com" } })
  call:press("123456"); call:press("1")
  t:eq(t:requests()[1].form.sip_id, "a84b4c76e66710@pc33.example.com")
end

function test_re_enter(t)
  t:stub(VCC, { body = "OK" })
  local call = account(t)
  call:press("654321") -- the sixth digit ends the entry
  call:hears("You entered 6 5 4 3 2 1.")
  call:press("2")
  call:hears("Please enter your 6 digit account number")
  call:press("111111#")
  call:press("1")
  t:eq(t:requests()[1].form.extIvrData, "[Account|111111][Caller|+6591178965]")
end

function test_too_few_digits(t)
  local call = account(t)
  call:press("123#")
  call:hears("Sorry, that was not 6 digits.")
  call:hears("Please enter your 6 digit account number") -- 8x8's second try
  call:press("12*456")
  call:hears("Account numbers have 6 digits.")
  call:at("account")
end

function test_handoff_fails_then_succeeds(t)
  t:stub(VCC, { status = 500, body = "queue unavailable" })
  local call = account(t)
  call:press("123456"); call:press("1")
  call:hears("Sorry, we could not connect you to an agent. Press 1 to try again, or 2 to hang up.")
  call:at("retry")
  t:stub(VCC, { status = 200, body = "OK" })
  call:press("1")
  call:hears("Connecting you to an agent.")
  call:ended()
  t:eq(#t:requests(), 2)
end

function test_handoff_fails_and_the_caller_hangs_up(t)
  -- no stub: the contact center cannot be reached
  local call = account(t)
  call:press("123456"); call:press("1")
  call:at("retry")
  call:press("2")
  call:hears("Thank you for calling. Goodbye.")
  call:ended()
end

function test_no_account_number(t)
  local call = account(t)
  call:timeout(); call:timeout()
  call:hears("We did not get your account number.")
  call:ended()
end
