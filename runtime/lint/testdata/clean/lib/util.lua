-- A module: its global shared_counter is the app's too.
local M = {}
function shared_counter() return 1 end
function M.year() return time.parts(time.now()).year end
-- Called by the app's top level: the globals it sets exist at load.
function M.configure(name) CLINIC_CODE = name end
return M
