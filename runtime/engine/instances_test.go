package engine_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/webhook"
	"github.com/luaivr/luaivr/store"
)

// peer is another instance on the harness's store, serving its own folder.
type peer struct {
	t    *testing.T
	eng  *engine.Engine
	dir  string
	logs *syncBuffer
}

func newPeer(t *testing.T, st store.Store, files map[string]string) *peer {
	t.Helper()
	return newPeerWith(t, st, files, engine.Options{})
}

func newPeerWith(t *testing.T, st store.Store, files map[string]string, opts engine.Options) *peer {
	t.Helper()
	dir := scriptDir(t, files)
	scripts, errs := engine.Load(dir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	logs := &syncBuffer{}
	opts.Store, opts.Logger = st, slog.New(slog.NewTextHandler(logs, nil))
	eng, err := engine.New(scripts, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &peer{t: t, eng: eng, dir: dir, logs: logs}
}

func (p *peer) post(body []byte, app string) string {
	p.t.Helper()
	ev, err := webhook.Parse(body)
	if err != nil {
		p.t.Fatal(err)
	}
	return replyText(p.t, p.eng.Handle(context.Background(), ev, app).Body)
}

// An app removed from one instance's folder is retired there and still
// answers the calls another instance started; an instance that does not
// serve the app at all gives the caller the apology but leaves the call its
// app, so the call goes on where the app is served (it is not handed to
// another app for good).
func TestRemovedAppFinishesCallsOthersStarted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, scriptDir(t, map[string]string{"x.lua": greeterSrc("x", "x")}), engine.Options{})
	apps := map[string]string{"greet.lua": greeterSrc("hello", "greet got"), "other.lua": greeterSrc("other prompt", "other got")}
	a, b := newPeer(t, h.st, apps), newPeer(t, h.st, apps)
	never := newPeer(t, h.st, map[string]string{"other.lua": apps["other.lua"]})

	c := newCall(shapeDTMF, true)
	if got := a.post(c.start(), "greet"); got != "hello" {
		t.Fatalf("the call started on A heard %q", got)
	}
	if err := os.Remove(filepath.Join(b.dir, "greet.lua")); err != nil {
		t.Fatal(err)
	}
	if changed, _ := b.eng.Reload(nil); strings.Join(changed, ",") != "greet (removed)" {
		t.Fatalf("B's reload changed %v", changed)
	}
	if got := b.post(c.keys("1"), ""); got != "greet got 1" {
		t.Fatalf("B, where greet was removed, answered A's call with %q", got)
	}

	d := newCall(shapeDTMF, true)
	a.post(d.start(), "greet")
	if got := never.post(d.keys("1"), ""); !strings.Contains(got, "We are sorry") {
		t.Fatalf("an instance without greet answered its call with %q, want the apology", got)
	}
	if !strings.Contains(never.logs.String(), "belongs to app greet, which this instance does not serve") {
		t.Errorf("the log does not say why:\n%s", never.logs)
	}
	if sess, _, _ := h.st.Session(context.Background(), d.session); sess.App != "greet" {
		t.Fatalf("the call's app became %q on an instance without greet", sess.App)
	}
	if got := a.post(d.keys("2"), ""); got != "greet got 2" {
		t.Fatalf("back on A the call heard %q, want greet's answer", got)
	}
}

// A session records the version its call started on, and each transcript
// entry the version that handled it. An instance that does not have the
// call's version (two instances on one store serving different scripts)
// answers with the version it serves and says so in its log; the call goes
// back to its own version on the instance that has it.
func TestVersionSkewIsLogged(t *testing.T) {
	t.Parallel()
	h := newHarness(t, scriptDir(t, map[string]string{"x.lua": greeterSrc("x", "x")}), engine.Options{})
	pin := engine.Options{PinVersions: true}
	a := newPeerWith(t, h.st, map[string]string{"greet.lua": greeterSrc("v1", "v1 got")}, pin)
	b := newPeerWith(t, h.st, map[string]string{"greet.lua": greeterSrc("v2", "v2 got")}, pin)
	version := func(p *peer) string { return p.eng.Scripts().Apps["greet"].Version() }
	if version(a) == version(b) || version(a) == "" {
		t.Fatalf("two sources have the versions %q and %q", version(a), version(b))
	}

	c := newCall(shapeDTMF, true)
	a.post(c.start(), "greet")
	if sess, _, _ := h.st.Session(context.Background(), c.session); sess.Version != version(a) {
		t.Fatalf("the session records version %q, want A's %q", sess.Version, version(a))
	}
	a.post(c.keys("1"), "")
	if strings.Contains(a.logs.String(), "another version") {
		t.Fatalf("A logged a skew for its own version:\n%s", a.logs)
	}
	if got := b.post(c.keys("2"), ""); got != "v2 got 2" {
		t.Fatalf("B answered %q", got)
	}
	if !strings.Contains(b.logs.String(), "this call started on another version of its app") ||
		!strings.Contains(b.logs.String(), "this instance does not have it") ||
		!strings.Contains(b.logs.String(), "call_version="+version(a)) {
		t.Fatalf("B's log does not name the skew:\n%s", b.logs)
	}
	if got := a.post(c.keys("3"), ""); got != "v1 got 3" {
		t.Fatalf("back on A the call heard %q, want its own version's answer", got)
	}
	if sess, _, _ := h.st.Session(context.Background(), c.session); sess.Version != version(a) {
		t.Fatalf("after B's event the session records version %q, want the version it started on, A's %q", sess.Version, version(a))
	}
	entries, err := h.st.Transcript(context.Background(), c.session)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Version)
	}
	if want := []string{version(a), version(a), version(b), version(a)}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the transcript names the versions %v, want %v", got, want)
	}
}
