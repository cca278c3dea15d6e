-- A module of the bank app: its globals are the app's too.
local M = {}

function M.fmt(...) return table.concat({ ... }, " ") end

function shared_helper() return helper_count end --! error: helper_count is read, but nothing defines it

function string.trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

return M
