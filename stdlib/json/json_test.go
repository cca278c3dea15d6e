package json_test

import (
	"testing"

	"github.com/luaivr/luaivr/runtime/sandbox"
	jsonmod "github.com/luaivr/luaivr/stdlib/json"
	"github.com/luaivr/luaivr/stdlib/luatest"
)

// json.encode makes no string longer than any other function may.
func TestEncodeBoundIsTheStringBound(t *testing.T) {
	t.Parallel()
	if jsonmod.MaxEncodeBytes != sandbox.MaxStringBytes || jsonmod.MaxDecodeBytes != sandbox.MaxStringBytes {
		t.Fatalf("json's bounds (%d, %d) are not the sandbox's %d", jsonmod.MaxEncodeBytes, jsonmod.MaxDecodeBytes, sandbox.MaxStringBytes)
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"encode object":    `eq(json.encode({ b = 1, a = "x" }), '{"a":"x","b":1}')`,
		"encode list":      `eq(json.encode({ 1, 2.5, "three", true }), '[1,2.5,"three",true]')`,
		"encode empty":     `eq(json.encode({}), '{}')`,
		"encode null":      `eq(json.encode({ a = json.null }), '{"a":null}')`,
		"no html escaping": `eq(json.encode("<a&b>"), '"<a&b>"')`,
		"decode":           `local v = json.decode('{"a":[1,{"b":null}],"c":"d"}') eq(v.a[1], 1) eq(v.c, "d") eq(v.a[2].b, nil)`,
		"decode error":     `local v, err = json.decode("{nope") eq(v, nil) assert(err:find("json.decode"), err)`,
		"trailing data":    `local v, err = json.decode("1 2") eq(v, nil) assert(err:find("after"), err)`,
		"round trip":       `local s = '{"n":3,"xs":["a","b"]}' eq(json.encode(json.decode(s)), s)`,
		"function":         `fails(function() json.encode({ f = function() end }) end, "value.f: a function cannot be converted")`,
		"cycle":            `local t = {} t.t = t fails(function() json.encode(t) end, "nested more than")`,
		"mixed keys":       `eq(json.encode({ [1] = "a", x = "b" }), '{"1":"a","x":"b"}')`,
		"sparse array":     `eq(json.encode({ [1] = "a", [3] = "c" }), '{"1":"a","3":"c"}')`,
		"nan":              `fails(function() json.encode(0/0) end, "not a number JSON can hold")`,
		"require":          `eq(require("json"), json)`,
		// What json.encode builds is bounded like any string a script makes.
		"shared text": `local s = string.rep("q", 1024 * 1024) local t = {} for i = 1, 8 do t[i] = s end
			fails(function() json.encode({ t, t, t, t, t, t, t }) end, "bad argument #1 to json.encode (value[1][2]: more than 1048576 bytes of text)")`,
		"shared keys": `local k = {} for i = 1, 100 do k[string.rep("k", 1000) .. i] = true end local t = {} for i = 1, 100 do t[i] = k end
			fails(function() json.encode(t) end, "more than 1048576 bytes of text")`,
		"escapes": `fails(function() json.encode(string.rep("\1", 200000)) end, "json.encode: the result is 1200002 bytes, over the limit of 1048576")`,
		"fits":    `eq(#json.encode(string.rep("x", 1024 * 1024 - 2)), 1024 * 1024)`,
		"shared tables": `local t = {} for i = 1, 16 do t = { t, t } end
			fails(function() json.encode(t) end, "more than 65536 table entries")`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			luatest.Run(t, src, sandbox.Lib{Name: "json", Open: jsonmod.Open})
		})
	}
}
