function test_jokes_are_counted(t)
  local call = t:call("hello")
  call:press("1")
  call:hears("Why did the IVR cross the road?")
  call:press("1")
  t:eq(call:vars().jokes, 2)
  call:press("2")
  call:hears("Goodbye, after 2 jokes.")
  call:ended()
end

function test_silence_says_goodbye(t)
  local call = t:call("hello")
  call:timeout(); call:timeout() -- noOfTries = 2
  call:hears("Goodbye, after 0 jokes.")
  call:ended()
end
