package sandbox

import (
	"fmt"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// TestRestoreLeavesNoTrace: what an event added to a table and removed again
// leaves nothing behind after Restore — no slot that a later key would go
// back to (next's order), no slot that only grows (memory).
func TestRestoreLeavesNoTrace(t *testing.T) {
	L := New(nil)
	defer L.Close()
	if err := L.DoString(`seen = { first = 1, second = 2, 10, 20 }`); err != nil {
		t.Fatal(err)
	}
	seen := L.GetGlobal("seen").(*lua.LTable)
	snap := Take(L)
	array, keys := slots(seen)
	for round := range 3 {
		change := "" // rounds 0 and 2 only add and remove, which Lua cannot see
		if round == 1 {
			change = `seen.first = "changed"`
		}
		if err := L.DoString(`for i = 1, 5000 do seen["k" .. i] = i; seen["k" .. i] = nil end
			for i = 3, 2000 do seen[i] = i end; for i = 3, 2000 do seen[i] = nil end
			` + change); err != nil {
			t.Fatal(err)
		}
		snap.Restore()
		if a, k := slots(seen); a != array || k != keys {
			t.Fatalf("round %d: the table keeps %d array and %d key slots after Restore, %d and %d before the event", round, a, k, array, keys)
		}
		if v := seen.RawGetString("first"); v != lua.LNumber(1) {
			t.Fatalf("round %d: first is %v after Restore", round, v)
		}
	}
	var order []string
	for k, _ := seen.Next(lua.LNil); k != lua.LNil; k, _ = seen.Next(k) {
		order = append(order, k.String())
	}
	if fmt.Sprint(order) != "[1 2 first second]" {
		t.Errorf("next's order after Restore: %v", order)
	}
}

// TestRestoreUndoesWritesToEmptySlots: a key removed before the snapshot
// keeps its slot in gopher-lua's key list, and a nil inside the array part
// is a slot too; an event that sets one changes neither the table's slots
// nor any entry the snapshot holds, and Restore must still undo it.
func TestRestoreUndoesWritesToEmptySlots(t *testing.T) {
	L := New(nil)
	defer L.Close()
	if err := L.DoString(`seen = { gone = 1, kept = 2, 10, 20, 30 }; seen.gone = nil; seen[2] = nil
		seen[true] = 1; seen[true] = nil`); err != nil {
		t.Fatal(err)
	}
	seen := L.GetGlobal("seen").(*lua.LTable)
	snap := Take(L)
	for _, write := range []string{`seen.gone = "carried"`, `seen[2] = "carried"`, `seen[true] = "carried"`} {
		if err := L.DoString(write); err != nil {
			t.Fatal(err)
		}
		snap.Restore()
		var left []string
		seen.ForEach(func(k, v lua.LValue) { left = append(left, fmt.Sprintf("%v=%v", k, v)) })
		for _, kv := range left {
			if strings.Contains(kv, "carried") {
				t.Errorf("after %q and Restore the table holds %s", write, kv)
			}
		}
	}
}

// TestPreopenedLibrariesNeedNoRebuild: a library the top level never
// touched, named by a handler, is opened before the snapshot (Preopen), so
// an event that uses it changes nothing Restore must build again; without
// Preopen the event opens it, adding it to _G and the loaded modules.
func TestPreopenedLibrariesNeedNoRebuild(t *testing.T) {
	extra := Lib{Name: "extra", Open: func(L *lua.LState) lua.LValue {
		return L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{"one": func(L *lua.LState) int { L.Push(lua.LNumber(1)); return 1 }})
	}}
	for _, preopen := range []bool{true, false} {
		L := New(nil, extra)
		if err := L.DoString(`function handler() return extra.one() + math.floor(table.maxn({ 1 })) end`); err != nil {
			t.Fatal(err)
		}
		if preopen {
			Preopen(L)
		}
		snap := Take(L)
		for range 3 {
			if err := L.CallByParam(lua.P{Fn: L.GetGlobal("handler"), NRet: 1}); err != nil {
				t.Fatal(err)
			}
			L.Pop(1)
			snap.Restore()
		}
		if preopen && snap.rebuilt != 0 {
			t.Errorf("with Preopen, Restore built %d tables again after events that only called libraries", snap.rebuilt)
		}
		if !preopen && snap.rebuilt == 0 {
			t.Error("without Preopen, the events opened their libraries and nothing was built again: the test sees nothing")
		}
		L.Close()
	}
}
