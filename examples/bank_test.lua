function test_pin_then_the_menus(t)
  local call = t:call("bank")
  call:hears("Welcome to Example Bank.")
  call:press("2222")
  call:hears("That PIN is not right.")
  call:at("pin")                        -- the nested list kept its clientActionId
  call:press("1111")
  call:hears("Welcome to your accounts.")
  call:at("accounts")
  call:press("1")
  call:hears("Your balance is 1,234 dollars.")
  call:not_hears("Welcome to your accounts.") -- on_enter runs on arrival, not on a repeat
  call:press("*")
  call:at("accounts")
  call:press("2")
  call:bridged("+6531589338")
  call:hangup()
end

function test_three_wrong_pins(t)
  local call = t:call("bank")
  call:press("1234"); call:press("4321"); call:press("0000")
  call:hears("That PIN is not right, three times.")
  call:ended()
  t:eq(call:vars().wrong_pins, 3)
end

function test_no_pin(t)
  local call = t:call("bank")
  call:timeout(); call:timeout()         -- noOfTries = 2
  call:hears("We did not hear your PIN.")
  call:ended()
end

function test_three_wrong_keys_at_the_menu(t)
  local call = t:call("bank")
  call:press("1111")
  call:press("9"); call:at("accounts")
  call:timeout(); call:timeout(); call:at("accounts")
  call:press("8")
  call:hears("Sorry, we could not understand you.")
  call:ended()
end

function test_after_the_adviser(t)
  local call = t:call("bank")
  call:press("1111"); call:press("2")
  call:timeout()                         -- the adviser hangs up
  call:hears("Thank you for banking with us.")
  call:ended()
end
