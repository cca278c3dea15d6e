package engine

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The memory guard runs beside every call, outside any recover: a failure of
// its own is logged and it goes on guarding.
func TestMemoryGuardOutlivesItsFailures(t *testing.T) {
	t.Parallel()
	var logs syncedBuffer
	g := newMemGuard(1, slog.New(slog.NewTextHandler(&logs, nil))) // every heap is over a limit of 1 byte
	runtime.GC()                                                   // the guard judges the live heap as of the last collection
	stop := g.watch(func(error) { panic("a bug in the guard's work") })
	for i := 0; !strings.Contains(logs.String(), "memory guard failed"); i++ {
		if i == 20000 {
			t.Fatal("the guard never ran")
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer g.watch(cancel)()
	select {
	case <-ctx.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("after a failure, the guard no longer stops scripts")
	}
}

type syncedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
