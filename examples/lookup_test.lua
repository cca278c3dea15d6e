-- Flow tests for lookup.lua: every answer of the CRM, stubbed.

local CALLER = "https://crm.example.com/callers/+6591178965"

function test_known_caller_books_a_call_back(t)
  t:stub("GET " .. CALLER, { json = { name = "Ann" } })
  t:stub("POST https://crm.example.com/callbacks", { status = 201, json = { id = 7 } })
  local call = t:call("lookup")
  call:hears("Welcome back, Ann.")
  call:at("main")
  call:press("1")
  call:hears("we will call you back today")
  call:ended()
  local sent = t:requests()[2]
  t:eq(sent.method, "POST")
  t:eq(sent.json, { caller = "+6591178965", name = "Ann" })
end

function test_unknown_caller(t)
  t:stub("GET https://crm.example.com/callers/*", { status = 404, json = { error = "not found" } })
  local call = t:call { app = "lookup", from = "+6590001111" }
  call:hears("Welcome to Example Shop.")
  call:not_hears("Welcome back")
  call:press("2")
  call:hears("1 Example Road")
  call:ended()
  t:eq(t:requests()[1].url, "https://crm.example.com/callers/+6590001111")
end

function test_crm_down(t)
  t:stub("GET " .. CALLER, { error = "dial tcp: connection refused" })
  local call = t:call("lookup")
  call:hears("Welcome to Example Shop.")
  call:press("1") -- no stub for the call back: the CRM is down for it too
  call:hears("Sorry, we could not book a call back right now.")
  call:ended()
end

function test_crm_fails(t)
  t:stub("GET " .. CALLER, { status = 500, body = "oops" })
  t:stub("POST https://crm.example.com/callbacks", { status = 503 })
  local call = t:call("lookup")
  call:hears("Welcome to Example Shop.")
  call:press("1")
  call:hears("Sorry, we could not book a call back")
end

function test_crm_not_allowed(t)
  -- No stub for the CRM at all: its host is not in the allow-list, as on a
  -- server started without --http-allow crm.example.com.
  local call = t:call("lookup")
  call:hears("Welcome to Example Shop.")
  t:eq(#t:requests(), 0)
end

function test_no_choice(t)
  t:stub("GET " .. CALLER, { json = { name = "Ann" } })
  local call = t:call("lookup")
  call:timeout(); call:timeout()
  call:hears("Goodbye.")
  call:ended()
end
