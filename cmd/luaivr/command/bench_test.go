package command

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/runtime/engine"
	"github.com/luaivr/luaivr/runtime/server"
	"github.com/luaivr/luaivr/store/badgerstore"
	"github.com/urfave/cli/v2"
)

// runBench runs `luaivr bench args...` and returns what it printed. Not in
// parallel: urfave/cli's help flag is a global that every run writes.
func runBench(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := &cli.App{
		Name: "luaivr", Commands: []*cli.Command{benchCommand()},
		Writer: &out, ErrWriter: io.Discard, ExitErrHandler: func(*cli.Context, error) {},
	}
	err := app.RunContext(t.Context(), append([]string{"luaivr", "bench"}, args...))
	return out.String(), err
}

func TestBenchRefusesRemote(t *testing.T) {
	for _, url := range []string{"http://192.0.2.10:8080/webhooks/restaurant", "http://ivr.example.com/webhooks"} {
		start := time.Now()
		_, err := runBench(t, "--url", url, "--calls", "1")
		if err == nil || !strings.Contains(err.Error(), "is not this machine") || !strings.Contains(err.Error(), "--allow-remote") {
			t.Errorf("bench --url %s: %v; want a refusal that names --allow-remote", url, err)
		}
		if time.Since(start) > time.Second {
			t.Errorf("bench --url %s took %v to refuse: it must not dial", url, time.Since(start))
		}
	}
}

// TestBenchRestaurant plays the default key mix against the shipped restaurant
// app on a real server, with the baseline first.
func TestBenchRestaurant(t *testing.T) {
	set, problems := engine.Load("../../../scripts")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	// On disk: in memory, Badger refuses values over 1 KiB, and transcript
	// entries of the restaurant's replies are larger.
	st, err := badgerstore.Open(badgerstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := engine.New(set, engine.Options{Store: st, Logger: logger, Deadline: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Options{Engine: eng, Logger: logger})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		st.Close()
	})

	out, err := runBench(t, "--url", "http://"+ln.Addr().String()+"/webhooks/restaurant", "--baseline", "--json",
		"--calls", "60", "--calls-at-once", "8", "--duplicates", "0.3", "--timeouts", "0.1", "--seed", "1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got struct {
		Target struct {
			Calls      int            `json:"calls"`
			Events     int            `json:"events"`
			Duplicates int            `json:"duplicates"`
			Errors     map[string]int `json:"errors"`
			Menus      map[string]int `json:"menus"`
			Outcomes   map[string]int `json:"outcomes"`
			Server     *struct {
				Events, Duplicates, Fallbacks int64
				StoreFailures                 int64 `json:"store_failures"`
			} `json:"server"`
		} `json:"target"`
		Ratios struct {
			EventsPerSec float64 `json:"events_per_s"`
			P99          float64 `json:"p99"`
		} `json:"ratios"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	tg := got.Target
	if tg.Calls != 60 || len(tg.Errors) != 0 || tg.Duplicates == 0 {
		t.Errorf("target: %d calls, errors %v, %d duplicates", tg.Calls, tg.Errors, tg.Duplicates)
	}
	// Every menu of the restaurant is reached, and the bridged call comes back.
	for _, m := range []string{"main_menu", "reservations", "book_table", "reschedule_table", "connect_call", "post_call"} {
		if tg.Menus[m] == 0 {
			t.Errorf("menu %s never reached: %v", m, tg.Menus)
		}
	}
	if tg.Outcomes["app_hung_up"] == 0 {
		t.Errorf("outcomes %v", tg.Outcomes)
	}
	// The server saw what we sent, and answered every redelivery from its cache.
	if s := tg.Server; s == nil || s.Events != int64(tg.Events) || s.Duplicates != int64(tg.Duplicates) || s.Fallbacks != 0 || s.StoreFailures != 0 {
		t.Errorf("server counted %+v; we sent %d events, %d duplicates", s, tg.Events, tg.Duplicates)
	}
	if got.Ratios.EventsPerSec <= 0 || got.Ratios.P99 <= 0 {
		t.Errorf("ratios %+v", got.Ratios)
	}
}

// TestBenchExitStatus: errors in the run make bench exit 1, after the report.
func TestBenchExitStatus(t *testing.T) {
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer fake.Close()
	out, err := runBench(t, "--url", fake.URL+"/webhooks/restaurant", "--calls", "3", "--calls-at-once", "1")
	var coder cli.ExitCoder
	if !errors.As(err, &coder) || coder.ExitCode() != 1 || !strings.Contains(err.Error(), "9 webhooks went wrong") {
		t.Errorf("error %v, want exit 1 for 9 webhooks", err)
	}
	if !strings.Contains(out, "http_503") || !strings.Contains(out, "latency p99") {
		t.Errorf("report:\n%s", out)
	}
}
