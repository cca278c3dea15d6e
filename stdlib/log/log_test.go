package log_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/sandbox"
	logmod "github.com/luaivr/luaivr/stdlib/log"
	"github.com/luaivr/luaivr/stdlib/luatest"
)

func TestLog(t *testing.T) {
	t.Parallel()
	tests := []struct{ src, want string }{
		{`log.info("caller chose", { digits = "1", menu = "main" })`, `level=INFO msg="caller chose" app=demo session=s1 digits=1 menu=main line=`},
		{`log.warn("closed")`, `level=WARN msg=closed app=demo session=s1 line=`},
		{`log.error("bad", 42)`, `level=ERROR msg=bad app=demo session=s1 value=42`},
		{`log.debug("detail")`, `level=DEBUG msg=detail`},
		{`print("a", 1, nil)`, `msg="a\t1\tnil" app=demo session=s1 from=print`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("app", "demo", "session", "s1")
			luatest.Run(t, tt.src, sandbox.Lib{Name: "log", Open: logmod.Open(logger)}, sandbox.Lib{Name: "print", Open: logmod.Print(logger)})
			if !strings.Contains(buf.String(), tt.want) {
				t.Fatalf("log %q, want it to contain %q", buf.String(), tt.want)
			}
		})
	}
}

func TestLogFieldsError(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	luatest.Run(t, `fails(function() log.info("x", { f = function() end }) end, "bad argument #2 to log.info (fields.f")`, sandbox.Lib{Name: "log", Open: logmod.Open(logger)})
}
