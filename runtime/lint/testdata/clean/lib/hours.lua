local M = {}
function M.open_now()
  local open = time.is_open({ weekdays = "09:00-18:00" }, { zone = "Asia/Singapore" })
  return open
end
return M
