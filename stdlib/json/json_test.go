package json_test

import (
	"testing"

	"github.com/luaivr/luaivr/runtime/sandbox"
	jsonmod "github.com/luaivr/luaivr/stdlib/json"
	"github.com/luaivr/luaivr/stdlib/luatest"
)

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
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			luatest.Run(t, src, sandbox.Lib{Name: "json", Open: jsonmod.Open})
		})
	}
}
