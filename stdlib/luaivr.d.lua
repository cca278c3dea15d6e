---@meta
-- Definitions of luaivr's Lua stdlib for the Lua Language Server (LuaLS, used by
-- VS Code's "Lua" extension, Neovim's lua_ls and others). `luaivr editor` writes
-- this file and a .luarc.json into a project. Nothing here runs.

---@alias ivr.Callflow ivr.Action|ivr.Action[]|ivr.Menu|string
---A handler returns one action, a list of actions (optionally with a clientActionId
---field naming the position 8x8 echoes back), a menu, or a menu's id.

---@class ivr.Action
---@field action "makeCall"|"say"|"sayAndCapture"|"playFile"|"hangup"
---@field params? table

---@class ivr.SayParams
---@field text? string The words to speak, at most 3000 characters.
---@field voiceProfile? string Voice, e.g. "en-US-BenjaminRUS" (8x8 -1002 without one).
---@field repetition? integer 1 to 3 times.
---@field speed? number 0.5 to 2.

---@class ivr.CaptureParams
---@field promptMessage? string What the caller hears before pressing keys, at most 3000 characters.
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

---@class ivr.Menu
---@field id string
---@field prompt string

---@class ivr.MenuSpec: ivr.CaptureParams
---@field id string Becomes the reply's clientActionId; 8x8 echoes it with the caller's keys.
---@field prompt string What the caller hears.
---@field other? ivr.Callflow|fun(session: ivr.Session, digits: string): ivr.Callflow A key the menu does not offer (default: the menu again).
---@field no_input? ivr.Callflow|fun(session: ivr.Session): ivr.Callflow No key at all (default: other).
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
---@field event table The webhook's payload as received.
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

---What to answer at a position that is not a menu, e.g. after a bridged call ends.
---@param id string
---@param response ivr.Callflow|fun(session: ivr.Session, digits?: string): ivr.Callflow
function ivr.on(id, response) end

json = {}

---An explicit JSON null, for table values.
---@type userdata
json.null = nil

---@param value any
---@return string
function json.encode(value) end

---@param text string
---@return any value
---@return string? err nil and a message when text is not JSON
function json.decode(text) end

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

---Handlers (define the ones you need):

---@type (fun(session: ivr.Session): ivr.Callflow)|ivr.Menu
on_call = nil
---@type fun(session: ivr.Session, digits: string): ivr.Callflow
on_dtmf = nil
---@type fun(session: ivr.Session): ivr.Callflow
on_timeout = nil
---@type fun(session: ivr.Session, status: string)
on_status = nil
---@type fun(session: ivr.Session, summary: table)
on_end = nil
---The called numbers this app answers.
---@type string[]
numbers = nil
---What callers hear when a handler fails.
---@type ivr.Callflow
fallback = nil

---Flow tests (*_test.lua): each global test_* function receives t.

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
