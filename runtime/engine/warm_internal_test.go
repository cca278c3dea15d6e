package engine

import (
	"context"
	"log/slog"
	"testing"
)

// BenchmarkRestore is putting a warm state of simple_ivr back as its top
// level left it, after an event that changed nothing: what every event that
// runs Lua on a warm state pays (sandbox.Snapshot.Restore).
func BenchmarkRestore(b *testing.B) {
	s, errs := Load("../../scripts")
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	e, err := New(s, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	w, err := e.warmState(context.Background(), s.Apps["simple_ivr"], slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer w.L.Close()
	b.ReportAllocs()
	for b.Loop() {
		w.snap.Restore()
	}
}
