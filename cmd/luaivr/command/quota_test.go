package command_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --kv-max-keys and --kv-max-bytes, or their LUAIVR_ variables, are the
// quota a script's kv is held to.
func TestKVQuotaFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, src := range map[string]string{
		"keeper.lua": `ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_call(session)
  for i = 1, 3 do kv.set("k" .. i, i) end
  return { ivr.say("stored"), ivr.hangup() }
end`,
		"keeper_test.lua": `function test_store(t) t:call("keeper"):hears("stored") end`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		env  []string
		args []string
		want string // in the output; "" for a passing run
	}{
		{},
		{env: []string{"LUAIVR_KV_MAX_KEYS=2"}, want: "keeper.lua:3: kv.set: app keeper is over its kv quota of 2 keys (--kv-max-keys)"},
		{args: []string{"--kv-max-bytes", "5"}, want: "keeper.lua:3: kv.set: app keeper is over its kv quota of 5 bytes (--kv-max-bytes)"},
		{args: []string{"--kv-max-keys", "0"}, want: "--kv-max-keys and --kv-max-bytes are at least 1"},
	}
	for _, tt := range tests {
		out, err := runLuaivr(t, tt.env, append(append([]string{"test"}, tt.args...), dir)...)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(out, tt.want)) {
			t.Errorf("luaivr test %v with %v: %v\n%s\nwant %q", tt.args, tt.env, err, out, tt.want)
		}
	}
}
