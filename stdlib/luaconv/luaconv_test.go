package luaconv_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/stdlib/luaconv"
	lua "github.com/yuin/gopher-lua"
)

// Values survive Go → Lua → Go unchanged.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	in := map[string]any{
		"s": "x", "n": 2.5, "b": true, "list": []any{1.0, "two", map[string]any{"k": false}},
		"empty": map[string]any{}, "nested": map[string]any{"a": map[string]any{"b": []any{"c"}}},
	}
	out, err := luaconv.FromLua(luaconv.ToLua(L, in), "v")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("got %#v", out)
	}
	if v := luaconv.ToLua(L, json.Number("42")); v != lua.LNumber(42) {
		t.Fatalf("json.Number became %v", v)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	deep := L.NewTable()
	cur := deep
	for i := 0; i < luaconv.Default.Depth+5; i++ {
		next := L.NewTable()
		cur.RawSetString("x", next)
		cur = next
	}
	if _, err := luaconv.FromLua(deep, "v"); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Fatalf("deep: %v", err)
	}
	big := L.NewTable()
	for i := 1; i <= luaconv.Default.Items+1; i++ {
		big.Append(lua.LNumber(i))
	}
	if _, err := luaconv.FromLua(big, "v"); err == nil || !strings.Contains(err.Error(), "table entries") {
		t.Fatalf("big: %v", err)
	}
	repeated := L.NewTable()
	text := lua.LString(strings.Repeat("x", 1<<20))
	for i := 1; i <= 300; i++ {
		repeated.Append(text)
	}
	if _, err := luaconv.FromLua(repeated, "v"); err == nil || !strings.Contains(err.Error(), "bytes of text") {
		t.Fatalf("300 references to 1 MiB: %v", err)
	}
	// Keys are text too: one table of long keys, shared 100 times, is
	// megabytes of JSON though no value holds a byte.
	keyed := L.NewTable()
	for i := 0; i < 100; i++ {
		keyed.RawSetString(strings.Repeat("k", 1000)+strings.Repeat("0", i), lua.LTrue)
	}
	shared := L.NewTable()
	for i := 1; i <= 100; i++ {
		shared.Append(keyed)
	}
	_, err := luaconv.Limits{Depth: 4, Items: 1 << 20, Bytes: 1 << 20}.FromLua(shared, "v")
	var limit *luaconv.LimitError
	if !errors.As(err, &limit) || !strings.Contains(err.Error(), "more than 1048576 bytes of text") {
		t.Fatalf("100 references to 100 KB of keys: %v", err)
	}
	bad := L.NewTable()
	bad.RawSet(lua.LTrue, lua.LNumber(1))
	if _, err := luaconv.FromLua(bad, "v"); err == nil || !strings.Contains(err.Error(), "boolean key") {
		t.Fatalf("bool key: %v", err)
	}
}

// A Budget bounds several values together: each fits alone, all three do not.
func TestBudget(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	b := luaconv.Budget{Limits: luaconv.Limits{Depth: 8, Items: 100, Bytes: 25}}
	for i, want := range []string{"", "", "action[3]: more than 25 bytes of text"} {
		_, err := b.FromLua(lua.LString(strings.Repeat("x", 10)), fmt.Sprintf("action[%d]", i+1))
		if got := fmt.Sprint(err); want != "" && got != want || want == "" && err != nil {
			t.Fatalf("value %d: %v, want %q", i+1, err, want)
		}
	}
	// A value that cannot be converted is not a LimitError: the caller may
	// treat the two differently (log drops fields too large for a line).
	_, err := luaconv.FromLua(L.NewFunction(func(*lua.LState) int { return 0 }), "v")
	var limit *luaconv.LimitError
	if err == nil || errors.As(err, &limit) {
		t.Fatalf("function: %v", err)
	}
}

func FuzzFromLua(f *testing.F) {
	f.Add(`{"a":[1,2,{"b":null}],"c":"d"}`)
	f.Add(`[[[[]]]]`)
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		L := lua.NewState()
		defer L.Close()
		if _, err := luaconv.FromLua(luaconv.ToLua(L, v), "v"); err != nil && !strings.Contains(err.Error(), "v") {
			t.Fatalf("error without a path: %v", err)
		}
	})
}

// A null inside an array keeps the elements after it in place.
func TestNullInArrays(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	in := map[string]any{"slots": []any{"9am", nil, "11am"}}
	out, err := luaconv.FromLua(luaconv.ToLua(L, in), "v")
	if err != nil || !reflect.DeepEqual(in, out) {
		t.Fatalf("got %#v, %v", out, err)
	}
	if luaconv.Null(L) != luaconv.Null(L) {
		t.Fatal("a state has one null")
	}
	M := lua.NewState()
	defer M.Close()
	if luaconv.Null(L) == luaconv.Null(M) {
		t.Fatal("two states share a null: what one script does to it another would see")
	}
}

// A path is written out for an error only: converting a thousand values under
// a key of 100 KB must not copy the key a thousand times. Not parallel: it
// counts the bytes the process allocates.
func TestPathsOnlyForErrors(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	key := strings.Repeat("k", 100_000)
	list := L.NewTable()
	for i := 1; i <= 1000; i++ {
		list.Append(lua.LNumber(i))
	}
	v := L.NewTable()
	v.RawSetString(key, list)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := luaconv.FromLua(v, "v"); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 10<<20 {
		t.Fatalf("converting 1000 numbers under a 100 KB key allocated %d MB", n>>20)
	}
	// An error names the value with the key cut short.
	list.Append(L.NewFunction(func(*lua.LState) int { return 0 }))
	_, err := luaconv.FromLua(v, "v")
	if err == nil || len(err.Error()) > 200 || !strings.HasPrefix(err.Error(), "v."+strings.Repeat("k", 40)+"…[1001]: a function cannot be converted") {
		t.Fatalf("error %.300v", err)
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"}, {"exactly", 7, "exactly"}, {"longer", 4, "long…"},
		{"日本語", 4, "日…"}, {"abc", 0, "…"}, {"abc", -3, "…"}, {"", -1, ""},
	} {
		if got := luaconv.Clip(tt.s, tt.n); got != tt.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

// TestToLuaInKeyOrder: a table made from a JSON object is walked by pairs in
// the same order every time it is made (a replay decodes the same body
// again, and a prompt built with pairs must come out the same).
func TestToLuaInKeyOrder(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	v := map[string]any{}
	for i := range 40 {
		v[fmt.Sprintf("k%02d", i)] = i
	}
	var first []string
	for try := range 20 {
		var order []string
		tbl := luaconv.ToLua(L, v).(*lua.LTable)
		for k, _ := tbl.Next(lua.LNil); k != lua.LNil; k, _ = tbl.Next(k) {
			order = append(order, k.String())
		}
		if try == 0 {
			first = order
		} else if !slices.Equal(order, first) {
			t.Fatalf("the same object's keys in another order: %v, then %v", first, order)
		}
	}
}
