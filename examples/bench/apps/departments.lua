-- A 300-line app for `luaivr bench`: 40 departments, 21 menus, helpers.
-- Its first line keeps libraries in locals, as Lua code often does: naming
-- them is not reading from them, so the top level stays pure (warm states).
local time, log, json, kv = time, log, json, kv
local format, concat = string.format, table.concat
ivr.defaults { voiceProfile = "en-US-BenjaminRUS", maxDigits = 1, noOfTries = 2 }
local DEPTS = {}
DEPTS[1] = { name = "Department 1", number = "6500000001", hours = { open = 9, close = 18 }, note = "Floor 1" }
DEPTS[2] = { name = "Department 2", number = "6500000002", hours = { open = 10, close = 19 }, note = "Floor 2" }
DEPTS[3] = { name = "Department 3", number = "6500000003", hours = { open = 8, close = 20 }, note = "Floor 3" }
DEPTS[4] = { name = "Department 4", number = "6500000004", hours = { open = 9, close = 17 }, note = "Floor 4" }
DEPTS[5] = { name = "Department 5", number = "6500000005", hours = { open = 10, close = 18 }, note = "Floor 5" }
DEPTS[6] = { name = "Department 6", number = "6500000006", hours = { open = 8, close = 19 }, note = "Floor 6" }
DEPTS[7] = { name = "Department 7", number = "6500000007", hours = { open = 9, close = 20 }, note = "Floor 0" }
DEPTS[8] = { name = "Department 8", number = "6500000008", hours = { open = 10, close = 17 }, note = "Floor 1" }
DEPTS[9] = { name = "Department 9", number = "6500000009", hours = { open = 8, close = 18 }, note = "Floor 2" }
DEPTS[10] = { name = "Department 10", number = "6500000010", hours = { open = 9, close = 19 }, note = "Floor 3" }
DEPTS[11] = { name = "Department 11", number = "6500000011", hours = { open = 10, close = 20 }, note = "Floor 4" }
DEPTS[12] = { name = "Department 12", number = "6500000012", hours = { open = 8, close = 17 }, note = "Floor 5" }
DEPTS[13] = { name = "Department 13", number = "6500000013", hours = { open = 9, close = 18 }, note = "Floor 6" }
DEPTS[14] = { name = "Department 14", number = "6500000014", hours = { open = 10, close = 19 }, note = "Floor 0" }
DEPTS[15] = { name = "Department 15", number = "6500000015", hours = { open = 8, close = 20 }, note = "Floor 1" }
DEPTS[16] = { name = "Department 16", number = "6500000016", hours = { open = 9, close = 17 }, note = "Floor 2" }
DEPTS[17] = { name = "Department 17", number = "6500000017", hours = { open = 10, close = 18 }, note = "Floor 3" }
DEPTS[18] = { name = "Department 18", number = "6500000018", hours = { open = 8, close = 19 }, note = "Floor 4" }
DEPTS[19] = { name = "Department 19", number = "6500000019", hours = { open = 9, close = 20 }, note = "Floor 5" }
DEPTS[20] = { name = "Department 20", number = "6500000020", hours = { open = 10, close = 17 }, note = "Floor 6" }
DEPTS[21] = { name = "Department 21", number = "6500000021", hours = { open = 8, close = 18 }, note = "Floor 0" }
DEPTS[22] = { name = "Department 22", number = "6500000022", hours = { open = 9, close = 19 }, note = "Floor 1" }
DEPTS[23] = { name = "Department 23", number = "6500000023", hours = { open = 10, close = 20 }, note = "Floor 2" }
DEPTS[24] = { name = "Department 24", number = "6500000024", hours = { open = 8, close = 17 }, note = "Floor 3" }
DEPTS[25] = { name = "Department 25", number = "6500000025", hours = { open = 9, close = 18 }, note = "Floor 4" }
DEPTS[26] = { name = "Department 26", number = "6500000026", hours = { open = 10, close = 19 }, note = "Floor 5" }
DEPTS[27] = { name = "Department 27", number = "6500000027", hours = { open = 8, close = 20 }, note = "Floor 6" }
DEPTS[28] = { name = "Department 28", number = "6500000028", hours = { open = 9, close = 17 }, note = "Floor 0" }
DEPTS[29] = { name = "Department 29", number = "6500000029", hours = { open = 10, close = 18 }, note = "Floor 1" }
DEPTS[30] = { name = "Department 30", number = "6500000030", hours = { open = 8, close = 19 }, note = "Floor 2" }
DEPTS[31] = { name = "Department 31", number = "6500000031", hours = { open = 9, close = 20 }, note = "Floor 3" }
DEPTS[32] = { name = "Department 32", number = "6500000032", hours = { open = 10, close = 17 }, note = "Floor 4" }
DEPTS[33] = { name = "Department 33", number = "6500000033", hours = { open = 8, close = 18 }, note = "Floor 5" }
DEPTS[34] = { name = "Department 34", number = "6500000034", hours = { open = 9, close = 19 }, note = "Floor 6" }
DEPTS[35] = { name = "Department 35", number = "6500000035", hours = { open = 10, close = 20 }, note = "Floor 0" }
DEPTS[36] = { name = "Department 36", number = "6500000036", hours = { open = 8, close = 17 }, note = "Floor 1" }
DEPTS[37] = { name = "Department 37", number = "6500000037", hours = { open = 9, close = 18 }, note = "Floor 2" }
DEPTS[38] = { name = "Department 38", number = "6500000038", hours = { open = 10, close = 19 }, note = "Floor 3" }
DEPTS[39] = { name = "Department 39", number = "6500000039", hours = { open = 8, close = 20 }, note = "Floor 4" }
DEPTS[40] = { name = "Department 40", number = "6500000040", hours = { open = 9, close = 17 }, note = "Floor 5" }
local function describe(d) return format("%s on %s, open %d to %d.", d.name, d.note, d.hours.open, d.hours.close) end
local menus = {}
menus[20] = ivr.menu { id = "menu20", prompt = "Menu 20. " .. describe(DEPTS[20]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[22])),
  ["2"] = ivr.say(describe(DEPTS[23])),
  ["3"] = ivr.say(describe(DEPTS[24])),
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[20].number } end,
}
menus[19] = ivr.menu { id = "menu19", prompt = "Menu 19. " .. describe(DEPTS[19]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[19])),
  ["2"] = ivr.say(describe(DEPTS[20])),
  ["3"] = ivr.say(describe(DEPTS[21])),
  ["8"] = menus[20],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[19].number } end,
}
menus[18] = ivr.menu { id = "menu18", prompt = "Menu 18. " .. describe(DEPTS[18]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[16])),
  ["2"] = ivr.say(describe(DEPTS[17])),
  ["3"] = ivr.say(describe(DEPTS[18])),
  ["8"] = menus[19],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[18].number } end,
}
menus[17] = ivr.menu { id = "menu17", prompt = "Menu 17. " .. describe(DEPTS[17]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[13])),
  ["2"] = ivr.say(describe(DEPTS[14])),
  ["3"] = ivr.say(describe(DEPTS[15])),
  ["8"] = menus[18],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[17].number } end,
}
menus[16] = ivr.menu { id = "menu16", prompt = "Menu 16. " .. describe(DEPTS[16]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[10])),
  ["2"] = ivr.say(describe(DEPTS[11])),
  ["3"] = ivr.say(describe(DEPTS[12])),
  ["8"] = menus[17],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[16].number } end,
}
menus[15] = ivr.menu { id = "menu15", prompt = "Menu 15. " .. describe(DEPTS[15]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[7])),
  ["2"] = ivr.say(describe(DEPTS[8])),
  ["3"] = ivr.say(describe(DEPTS[9])),
  ["8"] = menus[16],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[15].number } end,
}
menus[14] = ivr.menu { id = "menu14", prompt = "Menu 14. " .. describe(DEPTS[14]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[4])),
  ["2"] = ivr.say(describe(DEPTS[5])),
  ["3"] = ivr.say(describe(DEPTS[6])),
  ["8"] = menus[15],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[14].number } end,
}
menus[13] = ivr.menu { id = "menu13", prompt = "Menu 13. " .. describe(DEPTS[13]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[1])),
  ["2"] = ivr.say(describe(DEPTS[2])),
  ["3"] = ivr.say(describe(DEPTS[3])),
  ["8"] = menus[14],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[13].number } end,
}
menus[12] = ivr.menu { id = "menu12", prompt = "Menu 12. " .. describe(DEPTS[12]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[38])),
  ["2"] = ivr.say(describe(DEPTS[39])),
  ["3"] = ivr.say(describe(DEPTS[40])),
  ["8"] = menus[13],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[12].number } end,
}
menus[11] = ivr.menu { id = "menu11", prompt = "Menu 11. " .. describe(DEPTS[11]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[35])),
  ["2"] = ivr.say(describe(DEPTS[36])),
  ["3"] = ivr.say(describe(DEPTS[37])),
  ["8"] = menus[12],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[11].number } end,
}
menus[10] = ivr.menu { id = "menu10", prompt = "Menu 10. " .. describe(DEPTS[10]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[32])),
  ["2"] = ivr.say(describe(DEPTS[33])),
  ["3"] = ivr.say(describe(DEPTS[34])),
  ["8"] = menus[11],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[10].number } end,
}
menus[9] = ivr.menu { id = "menu9", prompt = "Menu 9. " .. describe(DEPTS[9]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[29])),
  ["2"] = ivr.say(describe(DEPTS[30])),
  ["3"] = ivr.say(describe(DEPTS[31])),
  ["8"] = menus[10],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[9].number } end,
}
menus[8] = ivr.menu { id = "menu8", prompt = "Menu 8. " .. describe(DEPTS[8]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[26])),
  ["2"] = ivr.say(describe(DEPTS[27])),
  ["3"] = ivr.say(describe(DEPTS[28])),
  ["8"] = menus[9],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[8].number } end,
}
menus[7] = ivr.menu { id = "menu7", prompt = "Menu 7. " .. describe(DEPTS[7]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[23])),
  ["2"] = ivr.say(describe(DEPTS[24])),
  ["3"] = ivr.say(describe(DEPTS[25])),
  ["8"] = menus[8],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[7].number } end,
}
menus[6] = ivr.menu { id = "menu6", prompt = "Menu 6. " .. describe(DEPTS[6]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[20])),
  ["2"] = ivr.say(describe(DEPTS[21])),
  ["3"] = ivr.say(describe(DEPTS[22])),
  ["8"] = menus[7],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[6].number } end,
}
menus[5] = ivr.menu { id = "menu5", prompt = "Menu 5. " .. describe(DEPTS[5]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[17])),
  ["2"] = ivr.say(describe(DEPTS[18])),
  ["3"] = ivr.say(describe(DEPTS[19])),
  ["8"] = menus[6],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[5].number } end,
}
menus[4] = ivr.menu { id = "menu4", prompt = "Menu 4. " .. describe(DEPTS[4]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[14])),
  ["2"] = ivr.say(describe(DEPTS[15])),
  ["3"] = ivr.say(describe(DEPTS[16])),
  ["8"] = menus[5],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[4].number } end,
}
menus[3] = ivr.menu { id = "menu3", prompt = "Menu 3. " .. describe(DEPTS[3]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[11])),
  ["2"] = ivr.say(describe(DEPTS[12])),
  ["3"] = ivr.say(describe(DEPTS[13])),
  ["8"] = menus[4],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[3].number } end,
}
menus[2] = ivr.menu { id = "menu2", prompt = "Menu 2. " .. describe(DEPTS[2]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[8])),
  ["2"] = ivr.say(describe(DEPTS[9])),
  ["3"] = ivr.say(describe(DEPTS[10])),
  ["8"] = menus[3],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[2].number } end,
}
menus[1] = ivr.menu { id = "menu1", prompt = "Menu 1. " .. describe(DEPTS[1]) .. " Press 1, 2 or 3, 8 for the next menu, 9 for the operator.",
  ["1"] = ivr.say(describe(DEPTS[5])),
  ["2"] = ivr.say(describe(DEPTS[6])),
  ["3"] = ivr.say(describe(DEPTS[7])),
  ["8"] = menus[2],
  ["9"] = function(session) session.vars.op = (session.vars.op or 0) + 1; return ivr.make_call { source = "6512345678", destination = DEPTS[1].number } end,
}
local main = ivr.menu { id = "main", prompt = "Welcome. Press 1 to 9 for a department menu, 0 for the upper floors.",
  ["1"] = menus[1],
  ["2"] = menus[2],
  ["3"] = menus[3],
  ["4"] = menus[4],
  ["5"] = menus[5],
  ["6"] = menus[6],
  ["7"] = menus[7],
  ["8"] = menus[8],
  ["9"] = menus[9],
  ["0"] = menus[12],
}
on_call = main
function on_timeout(session) log.info("timeout", { at = session.action_id }); return main end
-- Helpers the menus above could use: bulk, as a large script has.
local function helper1(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper2(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper3(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper4(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper5(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper6(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper7(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper8(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper9(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper10(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper11(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper12(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper13(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper14(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper15(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper16(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper17(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper18(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper19(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper20(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper21(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper22(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper23(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper24(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper25(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper26(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper27(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper28(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper29(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper30(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper31(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper32(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper33(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper34(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper35(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper36(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper37(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper38(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper39(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper40(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper41(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper42(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper43(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper44(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper45(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper46(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper47(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper48(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper49(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper50(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper51(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper52(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper53(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper54(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper55(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper56(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper57(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper58(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper59(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper60(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper61(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper62(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper63(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper64(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper65(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper66(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper67(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper68(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper69(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper70(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper71(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper72(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper73(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper74(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper75(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper76(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper77(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper78(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper79(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper80(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper81(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper82(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper83(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper84(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper85(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper86(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper87(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper88(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper89(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper90(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper91(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper92(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper93(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper94(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper95(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
local function helper96(x) local t = {} for j = 1, 3 do t[j] = x .. j end return concat(t, ",") end
