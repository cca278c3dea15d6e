---@meta
-- Definitions of luaivr's Lua stdlib for the Lua Language Server (LuaLS, used by
-- VS Code's "Lua" extension, Neovim's lua_ls and others). `luaivr editor` writes
-- this file and a .luarc.json into a project. Nothing here runs.

---@alias ivr.Callflow ivr.Action|ivr.List|ivr.Menu|string
---A handler returns one action, a list, a menu, or a menu's id. A reply is at most
---64 KiB of JSON.

---A list of callflows, in the order 8x8 carries them out. It may mix actions,
---menus, menu ids and other lists (flattened in order), and carry the reply's
---position: `{ clientActionId = "pin", ivr.say_and_capture(…) }`. The position is
---kept wherever the list is nested: `{ ivr.say("Wrong PIN."), ask_pin() }` keeps
---ask_pin's. 8x8 echoes the clientActionId with the caller's next event; it is
---`session.action_id` there, and the menu that answers when the app has menus.
---@class ivr.List
---@field clientActionId? string The position 8x8 echoes back with the caller's answer (at most 1000 bytes, no control characters). Any list in a reply may carry it, and a menu carries its id; two different ones in one reply are an error.
---@field [integer] ivr.Callflow

---@class ivr.Action
---@field action "makeCall"|"say"|"sayAndCapture"|"playFile"|"hangup"
---@field params? table

---@class ivr.SayParams
---@field text? string The words to speak, at most 3000 characters.
---@field voiceProfile? string Voice, e.g. "en-US-BenjaminRUS" (8x8 -1002 without one).
---@field repetition? integer 1 to 3 times.
---@field speed? number 0.5 to 2.

---How a prompt collects keys: a sayAndCapture's parameters but its words.
---@class ivr.CaptureSettings
---@field voiceProfile? string Voice, e.g. "en-US-BenjaminRUS".
---@field repetition? integer 1 to 3 times.
---@field speed? number 0.5 to 2.
---@field minDigits? integer At least this many keys (needs maxDigits: 8x8 -1003).
---@field maxDigits? integer At most this many keys, 1 to 25 (required when completeOnHash is false: -1008).
---@field digitTimeout? integer Milliseconds between keys (needs overallTimeout: -1005, not greater: -1006).
---@field overallTimeout? integer Milliseconds for the whole entry.
---@field completeOnHash? boolean '#' ends the entry (default true).
---@field noOfTries? integer How many times 8x8 plays the prompt when input is missing or short.
---@field successMessage? string|userdata Said after a valid entry (json.null for an explicit null).
---@field failureMessage? string|userdata Said after each failed try.

---@class ivr.CaptureParams: ivr.CaptureSettings
---@field promptMessage? string What the caller hears before pressing keys, at most 3000 characters.
---@field sensitive? boolean The keys are a secret (a PIN, a card number): the handler gets them in clear for that event, and everything luaivr stores or logs has "•" per key. luaivr's, never sent to 8x8.

---@class ivr.PlayParams
---@field fileUrl? string An http(s) URL of an .mp3 or .wav file.
---@field repetition? integer 1 to 3 times.

---@class ivr.CallParams
---@field source? string Our number, the caller ID the other party sees.
---@field destination? string The number to connect, E.164 (8x8 -1017 otherwise).
---@field callRecording? boolean Record the bridged call.

---@class ivr.Defaults: ivr.SayParams, ivr.CaptureParams, ivr.PlayParams, ivr.CallParams
---@field other? ivr.Callflow|fun(session: ivr.Session, digits: string): ivr.Callflow What every menu answers to a key it does not offer.
---@field no_input? ivr.Callflow|fun(session: ivr.Session): ivr.Callflow What every menu answers when no key is pressed (default: other).
---@field tries? integer Every menu's limit on wrong keys and missing answers in a row (1 to 100); the last one gets on_too_many.
---@field on_too_many? ivr.Callflow|fun(session: ivr.Session, digits?: string): ivr.Callflow What a menu answers when its tries are used up.
---@field repeat_key? string The key that says any menu again, e.g. "*" (a menu's own option for it wins).

---@class ivr.Menu
---@field id string
---@field prompt string

---A menu's words are its prompt (not promptMessage); the rest is how it collects keys.
---@class ivr.MenuSpec: ivr.CaptureSettings
---@field id string Becomes the reply's clientActionId; 8x8 echoes it with the caller's keys (at most 1000 bytes, no control characters).
---@field prompt string What the caller hears.
---@field other? ivr.Callflow|fun(session: ivr.Session, digits: string): ivr.Callflow A key the menu does not offer (default: the menu again).
---@field no_input? ivr.Callflow|fun(session: ivr.Session): ivr.Callflow No key at all (default: other).
---@field tries? integer Wrong keys and missing answers in a row this menu takes (1 to 100); the last one gets on_too_many. Counted per call, across events.
---@field on_too_many? ivr.Callflow|fun(session: ivr.Session, digits?: string): ivr.Callflow What the caller gets when the tries are used up (required with tries).
---@field on_enter? fun(session: ivr.Session): ivr.Callflow? Run when a caller arrives at the menu from elsewhere (not when it is said again); what it returns is said before the prompt.
---@field repeat_key? string The key that says the menu again, e.g. "*"; not a wrong answer.
---@field sensitive? boolean The keys a caller enters at this menu are a secret: stored and logged as "•" per key (see ivr.sensitive).
---@field [string] ivr.Callflow|fun(session: ivr.Session, digits: string): ivr.Callflow An option: ["1"] = another menu, a menu id, actions, or a function.

---@class ivr.Session
---@field id string 8x8's sessionId.
---@field call_id string
---@field source string The calling number.
---@field destination string The called number.
---@field direction "INBOUND"|"OUTBOUND"
---@field status string The last callStatus.
---@field app string This app's name.
---@field action_id string The clientActionId this event answers ("" at the start).
---@field event ivr.Event The webhook's payload as received.
---@field vars table The call's memory: what it holds when a handler returns is kept for the next event.

ivr = {}

---Set parameters every later action gets unless it sets its own; each reaches only
---the actions that take it (maxDigits only sayAndCapture). Also `other` and `no_input`
---for every menu.
---@param defaults ivr.Defaults
function ivr.defaults(defaults) end

---Speak text.
---@param text string|ivr.SayParams
---@param params? ivr.SayParams
---@return ivr.Action
function ivr.say(text, params) end

---Speak a prompt and collect keys; 8x8 answers with a CALL_ACTION carrying them.
---@param promptMessage string|ivr.CaptureParams
---@param params? ivr.CaptureParams
---@return ivr.Action
function ivr.say_and_capture(promptMessage, params) end

---Play an audio file.
---@param fileUrl string|ivr.PlayParams
---@param params? ivr.PlayParams
---@return ivr.Action
function ivr.play_file(fileUrl, params) end

---Connect the caller to another number (in a reply, the call is bridged).
---@param destination string|ivr.CallParams
---@param params? ivr.CallParams
---@return ivr.Action
function ivr.make_call(destination, params) end

---End the call.
---@return ivr.Action
function ivr.hangup() end

---Declare a menu: a position in the tree, with a prompt and an option per key.
---@param spec ivr.MenuSpec
---@return ivr.Menu
function ivr.menu(spec) end

---What to answer at a position that is not a menu: a hand-made prompt whose reply
---carries `clientActionId = id`, or what follows a bridged call. Digits answered there
---come here, also when the app has on_dtmf. Declare it at the top level.
---@param id string
---@param response ivr.Callflow|fun(session: ivr.Session, digits?: string): ivr.Callflow
function ivr.on(id, response) end

---Declare the root menu: where digits without a position go, and where a caller
---whose position no longer exists (the script changed mid-call) starts again. Without
---it, the root is on_call when on_call is a menu, else the first menu the call got.
---@param menu ivr.Menu|string A menu or a menu id.
function ivr.root(menu) end

---Declare the positions whose keys are a secret (a PIN, a card number): menu ids, or
---the clientActionId a handler's reply sets (`{ clientActionId = "pin", ivr.say_and_capture(…) }`).
---Every capture asked there is sensitive, as with `sensitive = true` on it: the handler
---gets the keys in clear for that event; the transcript, the reply kept for redeliveries,
---session.vars and the log get "•" per key. Declare it at the top level.
---@param positions string[]
function ivr.sensitive(positions) end

---Hand the caller's digits (nil: no input) to the menu tree, from on_dtmf or
---on_timeout: at `menu` when given, else at the caller's position when it is a menu
---or an ivr.on position, else at the root menu. Returns that menu's answer.
---@param session ivr.Session
---@param digits string?
---@param menu? ivr.Menu|string
---@return ivr.Callflow
function ivr.route(session, digits, menu) end

json = {}

---An explicit JSON null, for table values.
---@type userdata
json.null = nil

---JSON text of value, at most 1 MiB.
---@param value any
---@return string
function json.encode(value) end

---@param text string
---@return any value
---@return string? err nil and a message when text is not JSON
function json.decode(text) end

---A structured line tagged with the app and session. One event writes at most 100
---lines and 64 KiB (print too), a line at most 8 KiB; later lines are dropped.
log = {}

---@param message string
---@param fields? table
function log.debug(message, fields) end
---@param message string
---@param fields? table
function log.info(message, fields) end
---@param message string
---@param fields? table
function log.warn(message, fields) end
---@param message string
---@param fields? table
function log.error(message, fields) end

kv = {}

---The value at key in this app's store (shared by all its calls), or nil.
---@param key string
---@return any
function kv.get(key) end
---Store a value (anything json can hold, at most 64 KiB as JSON), optionally for ttl
---seconds. Raises when the app is over its quota (--kv-max-keys, --kv-max-bytes) or
---the event has written 1000 times or 1 MiB.
---@param key string
---@param value any
---@param ttl? number seconds
function kv.set(key, value, ttl) end
---@param key string
function kv.delete(key) end
---Add to the number at key (missing is 0), atomically; returns the new value.
---@param key string
---@param by? number default 1
---@param ttl? number seconds
---@return number
function kv.incr(key, by, ttl) end
---Up to limit (default 100, at most 1000) entries whose key starts with prefix, in
---key order; raises when they hold more than 1 MiB.
---@param prefix? string
---@param limit? integer
---@return {key: string, value: any}[]
function kv.list(prefix, limit) end

time = {}

---Seconds since the epoch (the simulator's virtual clock in simulate and tests).
---@return number
function time.now() end
---Format t with strftime directives (%Y %m %d %H %M %S %A %a %B %b %p %I %j %Z %z %%).
---@param t number
---@param pattern string
---@param zone? string IANA zone, e.g. "Asia/Singapore" (default: --zone, else UTC)
---@return string
function time.format(t, pattern, zone) end
---@param t number
---@param zone? string
---@return {year: integer, month: integer, day: integer, hour: integer, min: integer, sec: integer, wday: integer, weekday: string, yday: integer, zone: string}
function time.parts(t, zone) end
---Are we open? hours maps monday…sunday (or mon…sun, weekdays, weekend) to "09:00-18:00",
---a list of ranges, or false. Returns open, and when that next changes (or nil).
---@param hours table<string, string|string[]|false>
---@param opts? {zone?: string, at?: number, holidays?: table}
---@return boolean open
---@return number? next_change
function time.is_open(hours, opts) end
---Read a date-time: "2026-01-05 10:00" (with seconds, with a T, or a date alone: its
---midnight) in zone, or RFC 3339 "2026-01-05T10:00:00+08:00". nil and why if it is not one.
---@param text string
---@param zone? string
---@return number? t
---@return string? err
function time.parse(text, zone) end
---The first moment of t's day in zone (midnight, or when the clock jumped past it).
---@param t number
---@param zone? string
---@return number
function time.start_of_day(t, zone) end
---The same time of day n days later (earlier if n < 0), across daylight saving changes.
---@param t number
---@param n integer
---@param zone? string
---@return number
function time.add_days(t, n, zone) end
---The day of the week of t in zone: "monday" … "sunday", and 1 (Monday) … 7 (Sunday).
---@param t number
---@param zone? string
---@return string name
---@return integer number
function time.weekday(t, zone) end

http = {}

---GET url from a host on the operator's allow-list (--http-allow). Errors are values.
---@param url string
---@param opts? {headers?: table<string, string>, query?: table<string, string|number>, timeout?: number}
---@return {status: integer, body: string, headers: table<string, string>, json: any}? response
---@return string? err
function http.get(url, opts) end
---POST a string, or a table as JSON.
---@param url string
---@param body string|table
---@param opts? {headers?: table<string, string>, query?: table<string, string|number>, timeout?: number}
---@return {status: integer, body: string, headers: table<string, string>, json: any}? response
---@return string? err
function http.post(url, body, opts) end

vcc = {}

---The extIvrData string: [name|value] pairs, at most 500 characters.
---@param fields table
---@return string
function vcc.data(fields) end
---Ask the 8x8 Contact Center to route this call to a queue (External IVR wForwardACD).
---@param req {queue: string|integer, sip_id: string, data?: table|string}
---@return boolean? ok
---@return string? err
function vcc.forward(req) end
---vcc.forward, then the hangup that hands the call back: return it from the handler.
---@param req {queue: string|integer, sip_id: string, data?: table|string}
---@return ivr.Action? hangup
---@return string? err
function vcc.handoff(req) end

---Handlers (define the ones you need):

---@type (fun(session: ivr.Session): ivr.Callflow)|ivr.Menu
on_call = nil
---Digits answered at a position that is not a menu or an ivr.on position (those go
---to the menu tree); return ivr.route(session, digits) to hand them to the menus.
---@type fun(session: ivr.Session, digits: string): ivr.Callflow
on_dtmf = nil
---No input at a position that is not a menu or an ivr.on position.
---@type fun(session: ivr.Session): ivr.Callflow
on_timeout = nil
---CALL_STATUS: status is the payload's callStatus (session.event has the rest).
---Its return value is ignored; an error in it is logged, and fails simulate --keys,
---the flow test whose input made it run, and check.
---@type fun(session: ivr.Session, status: "CALL_INITIATED"|"CALL_RECEIVED"|"CALL_CONNECTED"|"CALL_DISCONNECTED"|"CALL_UPDATED"|string)
on_status = nil
---SESSION_SUMMARY: the session ended. Its return value is ignored; errors as on_status.
---@type fun(session: ivr.Session, summary: ivr.Summary)
on_end = nil

---A SESSION_SUMMARY payload: how the session went, one entry per call leg.
---@class ivr.Summary
---@field sessionId string
---@field subAccountId string
---@field sessionStatus "COMPLETED"|"BUSY"|"NO_ANSWER"|"FAILED"|"CANCELED"|"ERROR"|string
---@field startTime string RFC 3339, e.g. "2026-01-13T08:26:58Z".
---@field endTime string
---@field lastAction? string The last action 8x8 carried out, e.g. "HANGUP", "MAKE_CALL".
---@field callCount? integer How many legs details holds.
---@field clientRequestId? string
---@field details {callA: ivr.Leg, callB?: ivr.Leg} callA is the first call (the caller's, or the one placed); callB the party a makeCall connected. luaivr spells them callA/callB whatever case 8x8 used.
---@field errorDetails? {errorCode: integer, errorMsg: string, action?: string, callFlowRequestId?: string} Why the session failed, e.g. -2003 for a callflow 8x8 could not use, -2004 no coverage.

---One call leg of a session summary.
---@class ivr.Leg
---@field callId string
---@field callDirection "INBOUND"|"OUTBOUND"
---@field callType string e.g. "PSTN".
---@field source string
---@field destination string
---@field callStatus string e.g. "COMPLETED".
---@field initiatedTimestamp? string
---@field connectedTimestamp? string
---@field disconnectedTimestamp? string
---@field callDuration? integer Seconds connected.
---@field sourceCountryCode? string
---@field destinationCountryCode? string

---The payload of the webhook an event came with (CALL_ACTION, CALL_STATUS or
---SESSION_SUMMARY), as 8x8 sent it. The fields a handler needs are on session
---already; these are for what it does not copy.
---@class ivr.Event
---@field eventId? string 8x8's id of this delivery (a redelivery has the same).
---@field sessionId string
---@field callId? string
---@field subAccountId? string
---@field callStatus? string CALL_RECEIVED, ACTION_COMPLETED, CALL_CONNECTED, …
---@field callDirection? "INBOUND"|"OUTBOUND"
---@field callType? string
---@field source? string
---@field destination? string
---@field clientActionId? string The position 8x8 echoes back (CALL_ACTION).
---@field eventData? {dtmf?: string} The caller's keys (luaivr also reads the other places 8x8 puts them).
---@field sipCode? integer
---@field timestamp? string
---The called numbers this app answers.
---@type string[]
numbers = nil
---What callers hear when a handler fails.
---@type ivr.Callflow
fallback = nil

---Keys `luaivr check` also tries at a prompt, by its clientActionId or menu id: the PIN or
---account number a menu waits behind. Read from the source without running it: literal
---strings only. `check --input pin=4321` adds to them.
---@type table<string, string|string[]>
check_inputs = nil

---Flow tests (*_test.lua): each global function whose name starts with test_ is a
---test, run in the order written, with its own t (a fresh simulated line: no
---sessions, kv or stubs from other tests). Annotate t for completion:
---
---    ---@param t flowtest.T
---    function test_book_today(t) local call = t:call("restaurant") end
---@alias flowtest.Test fun(t: flowtest.T)

---@class flowtest.T
local T = {}

---Place a simulated call.
---@param app string|{app: string, from?: string, to?: string, outbound?: boolean, vars?: table}
---@return flowtest.Call
function T:call(app) end
---@param got any
---@param want any
---@param what? string
function T:eq(got, want, what) end
---@param message string
function T:fail(message) end
---@param ... any
function T:log(...) end
---Answer the app's http (and vcc) requests to "METHOD URL" (a trailing * matches any suffix).
---@param request string e.g. "GET https://crm.example.com/callers/*"
---@param answer? {status?: integer, json?: any, body?: string, headers?: table<string, string>, error?: string}
function T:stub(request, answer) end
---The requests the app made so far.
---@return {method: string, url: string, body: string, headers: table<string, string>, json: any, form: table}[]
function T:requests() end
---Set the virtual clock calls start at: "2026-01-05 10:00" (in zone, default UTC), RFC 3339, or epoch seconds.
---@param when string|number
---@param zone? string
function T:at(when, zone) end
---What an app's kv holds at key before the test's calls, as kv.set stores it.
---@param app string
---@param key string
---@param value any
---@param ttl? number seconds
function T:set_kv(app, key, value, ttl) end

---@class flowtest.Call
---@field session string
local Call = {}
---@param keys string
function Call:press(keys) end
---The prompt times out with no keys; while connected, the other party hangs up.
function Call:timeout() end
function Call:hangup() end
---The caller heard text (a substring) since the last input.
---@param text string
function Call:hears(text) end
---@param text string
function Call:not_hears(text) end
---The caller is at this menu (the last clientActionId).
---@param menu string
function Call:at(menu) end
function Call:ended() end
---@param number? string
function Call:bridged(number) end
---@return {clientActionId?: string, callflow: ivr.Action[]}
function Call:reply() end
---@return table
function Call:vars() end
---@return {kind: string, text: string, menu?: string}[]
function Call:heard() end
---@return string
function Call:transcript() end
---The value this call's app's kv store holds at key.
---@param key string
---@return any
function Call:kv(key) end
