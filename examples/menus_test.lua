function test_sales_and_back(t)
  local call = t:call("menus")
  call:press("1")
  call:at("sales")
  call:press("9")
  call:at("main")
  call:press("1"); call:press("1")
  call:hears("Goodbye.")
  call:ended()
end

function test_support_greets_the_caller(t)
  local call = t:call { app = "menus", from = "+6590001111" }
  call:press("2")
  call:hears("Hello +6590001111")
  call:at("main")
end

function test_other_and_no_input(t)
  local call = t:call("menus")
  call:press("7")
  call:at("main")
  call:timeout(); call:timeout(); call:timeout() -- noOfTries = 3
  call:hears("Goodbye.")
  call:ended()
end
