package command

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
	httpmod "github.com/luaivr/luaivr/stdlib/http"
	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/badgerstore"
	"github.com/urfave/cli/v2"
)

// sessions show lists what each event's handler read, a line each, and the
// size of the call's record.
func TestSessionsShowInputs(t *testing.T) {
	t.Parallel()
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"tier":"gold"}`)
	}))
	defer crm.Close()
	scripts := t.TempDir()
	app := fmt.Sprintf(`ivr.defaults { voiceProfile = "en-US-BenjaminRUS" }
function on_call(session)
  local name = kv.get("name") or "stranger"
  local res = http.get(%q)
  return ivr.say(name .. " " .. res.json.tier .. " " .. time.format(time.now(), "%%H:%%M"))
end
`, crm.URL+"/customers")
	if err := os.WriteFile(filepath.Join(scripts, "crm.lua"), []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	st, err := badgerstore.Open(badgerstore.Options{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	loaded, errs := engine.Load(scripts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.Local)
	eng, err := engine.New(loaded, engine.Options{Store: st, Deadline: 2 * time.Second, Now: func() time.Time { return at },
		HTTP: httpmod.Options{Allow: []string{strings.TrimPrefix(crm.URL, "http://")}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.KVSet(context.Background(), "crm", "name", []byte(`"Ann"`), 0, store.KVQuota{Keys: 10, Bytes: 100}); err != nil {
		t.Fatal(err)
	}
	ev, err := webhook.Parse([]byte(`{"eventType":"CALL_ACTION","payload":{"sessionId":"s-in","eventId":"e1","callStatus":"CALL_RECEIVED","callDirection":"INBOUND"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if reply := eng.Handle(context.Background(), ev, "crm").Body; !bytes.Contains(reply, []byte("Ann gold")) {
		t.Fatalf("reply %s", reply)
	}
	st.Close()

	var out bytes.Buffer
	cmd := &cli.App{Commands: []*cli.Command{sessionsCommand()}, Writer: &out, ExitErrHandler: func(*cli.Context, error) {}}
	if err := cmd.Run([]string{"luaivr", "sessions", "show", "--data", data, "s-in"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"recorded inputs ",
		" of 1.0 MiB",
		"\n        · kv.get \"name\" → \"Ann\"\n",
		"\n        · http GET " + crm.URL + "/customers → 200 application/json, 15 bytes\n",
		"\n        · clock 10:00:00.000\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("sessions show lacks %q:\n%s", want, out.String())
		}
	}
}
