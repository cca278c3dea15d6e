// Package logtest helps tests read what a logger wrote while the code under
// test may still be writing to it.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer for a slog handler that tests can read at any time.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
