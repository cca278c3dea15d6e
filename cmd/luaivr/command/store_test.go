package command_test

import (
	"strings"
	"testing"
)

// --store (or LUAIVR_STORE) names the store directly: call records into it
// and sessions reads it, with no --data folder and no --server.
func TestStoreFlag(t *testing.T) {
	t.Parallel()
	fake := newFake8x8(t)
	url := "badger://" + t.TempDir()
	env := []string{"LUAIVR_API_BASE=" + fake.URL, "LUAIVR_SUBACCOUNT=acme_voice", "LUAIVR_API_KEY=good-key",
		"LUAIVR_SCRIPTS=../../../scripts", "LUAIVR_DATA=" + t.TempDir() + "/not-this-one"}

	out, err := runLuaivr(t, env, "call", "restaurant", "--to", "+6591234567", "--from", "+6568332048", "--store", url)
	if err != nil || strings.TrimSpace(out) != "placed-1" {
		t.Fatalf("call --store: %v\n%s", err, out)
	}
	out, err = runLuaivr(t, append(env, "LUAIVR_STORE="+url), "sessions", "list")
	if err != nil || !strings.Contains(out, "placed-1") || !strings.Contains(out, "restaurant") {
		t.Fatalf("sessions list with LUAIVR_STORE: %v\n%s", err, out)
	}
	out, err = runLuaivr(t, env, "sessions", "show", "placed-1", "--store", url)
	if err != nil || !strings.Contains(out, "REGISTERED") {
		t.Fatalf("sessions show --store: %v\n%s", err, out)
	}
	out, err = runLuaivr(t, env, "sessions", "list", "--store", "nosuch://host")
	if err == nil || !strings.Contains(out, `no store for the scheme "nosuch"`) || !strings.Contains(out, "badger://") {
		t.Fatalf("an unknown scheme: %v\n%s", err, out)
	}
}
