package sandbox_test

import (
	"context"
	"testing"

	"github.com/luaivr/luaivr/runtime/sandbox"
	"github.com/luaivr/luaivr/stdlib/inputs"
	lua "github.com/yuin/gopher-lua"
)

// math.random keeps Lua 5.1's ranges and errors, and its draws are recorded
// and served back in a replay.
func TestRandom(t *testing.T) {
	t.Parallel()
	L := sandbox.New(nil)
	defer L.Close()
	ctx, tape := inputs.Record(context.Background())
	L.SetContext(ctx)
	src := `
		seen = {}
		for i = 1, 200 do
			local u, d, r = math.random(), math.random(6), math.random(-2, 2)
			assert(u >= 0 and u < 1, "random() " .. u)
			assert(d >= 1 and d <= 6 and d % 1 == 0, "random(6) " .. d)
			assert(r >= -2 and r <= 2 and r % 1 == 0, "random(-2, 2) " .. r)
			seen[d] = true
		end
		assert(seen[1] and seen[6], "random(6) never gave 1 or 6")
		assert(math.random(4, 4) == 4)
		for _, args in ipairs({ { 0 }, { 3, 1 } }) do
			local ok, err = pcall(math.random, unpack(args))
			assert(not ok and err:find("interval is empty", 1, true), tostring(err))
		end
		picks = { math.random(1000000), math.random(1000000), math.random() }`
	if err := L.DoString(src); err != nil {
		t.Fatal(err)
	}
	in := tape.Inputs()
	if in == nil {
		t.Fatal("no draw recorded")
	}
	if len(in.Random) != 604 { // the two refused calls draw nothing
		t.Fatalf("recorded %d draws, want 604", len(in.Random))
	}
	R := sandbox.New(nil)
	defer R.Close()
	R.SetContext(inputs.Replay(context.Background(), in))
	if err := R.DoString(src); err != nil {
		t.Fatal(err)
	}
	recorded, replayed := L.GetGlobal("picks").(*lua.LTable), R.GetGlobal("picks").(*lua.LTable)
	for i := 1; i <= 3; i++ {
		if a, b := recorded.RawGetInt(i), replayed.RawGetInt(i); a != b {
			t.Errorf("pick %d: replayed %v, recorded %v", i, b, a)
		}
	}
}
