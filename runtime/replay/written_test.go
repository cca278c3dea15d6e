package replay

import "testing"

// A menu option's line is found at the menu's own level of its table, past
// strings, comments and long strings that hold braces or the key.
func TestOptionLine(t *testing.T) {
	src := `local x = 1
local m = ivr.menu {            -- line 2
  prompt = "press [\"3\"] = { now", -- a brace and the key in a string
  --[[ ["3"] = "not this" } ]]
  ["1"] = ivr.menu {
    id = "inner",
    ["3"] = "main",             -- the nested menu's ["3"]
  },
  note = [==[ ["3"] = } ]==],
  ['2'] = "b",                  -- line 10
  [4] = "c",
  ["3"] = { ivr.say("x"), "main" }, -- line 12
}
["5"] = "after the table"
`
	for _, tc := range []struct {
		key  string
		want int
	}{{"3", 12}, {"1", 5}, {"2", 10}, {"4", 11}, {"5", 0}, {"9", 0}} {
		if got := optionLine(src, 2, tc.key); got != tc.want {
			t.Errorf("option [%q]: line %d, want %d", tc.key, got, tc.want)
		}
	}
}
