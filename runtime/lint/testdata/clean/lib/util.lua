-- A module: its global shared_counter is the app's too.
local M = {}
function shared_counter() return 1 end
function M.year() return time.parts(time.now()).year end
return M
