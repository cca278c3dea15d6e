package server

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// quiet lets each log message through once every ten seconds, with the
// number held back since: a flood of connections or of bad requests must not
// become a flood of log lines.
type quiet struct {
	mu   sync.Mutex
	seen map[string]*held
}

type held struct {
	last    time.Time
	skipped int
}

func (q *quiet) log(l *slog.Logger, level slog.Level, msg string, args ...any) {
	q.mu.Lock()
	if q.seen == nil {
		q.seen = map[string]*held{}
	}
	h := q.seen[msg] // messages are literals: a closed set
	if h == nil {
		h = &held{}
		q.seen[msg] = h
	}
	now := time.Now()
	if !h.last.IsZero() && now.Sub(h.last) < 10*time.Second {
		h.skipped++
		q.mu.Unlock()
		return
	}
	skipped := h.skipped
	h.last, h.skipped = now, 0
	q.mu.Unlock()
	l.Log(context.Background(), level, msg, append(args, "not_logged", skipped)...)
}
