package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// NewToken is a lease's random token: 128 bits, so that no other holder can
// guess or reuse it.
func NewToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail
	return hex.EncodeToString(b[:])
}

// LocalLeases is the lease table of a store that only one process opens at a
// time (Badger holds its data folder's lock; memstore lives in its process):
// there, leases kept in the process hold across every engine that shares the
// store. A shared store keeps its leases in the store instead.
//
// The zero value is ready. Expired leases are dropped as the table grows.
type LocalLeases struct {
	mu    sync.Mutex
	held  map[string]localLease
	sweep int // table size at which expired leases are next dropped
}

type localLease struct {
	token   string
	expires time.Time
}

// Acquire takes the lease on sessionID, or answers ErrLocked: the lease of
// Store's Begin, for a store that embeds the table.
func (l *LocalLeases) Acquire(ctx context.Context, sessionID string, ttl time.Duration) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		l.held = map[string]localLease{}
	}
	if cur, ok := l.held[sessionID]; ok && now.Before(cur.expires) {
		return Lease{}, fmt.Errorf("session %s: %w", sessionID, ErrLocked)
	}
	if len(l.held) >= l.sweep {
		for id, cur := range l.held {
			if !now.Before(cur.expires) {
				delete(l.held, id)
			}
		}
		l.sweep = max(64, 2*len(l.held))
	}
	lease := Lease{SessionID: sessionID, Token: NewToken()}
	l.held[sessionID] = localLease{token: lease.Token, expires: now.Add(ttl)}
	return lease, nil
}

// Renew extends a live lease to ttl from now, or answers ErrConflict.
func (l *LocalLeases) Renew(ctx context.Context, lease Lease, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.holdsLocked(lease, now) {
		return fmt.Errorf("session %s: renewing its lease: %w", lease.SessionID, ErrConflict)
	}
	l.held[lease.SessionID] = localLease{token: lease.Token, expires: now.Add(ttl)}
	return nil
}

// Release gives the lease up if it is still the session's; it never fails.
func (l *LocalLeases) Release(_ context.Context, lease Lease) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.held[lease.SessionID]; ok && cur.token == lease.Token {
		delete(l.held, lease.SessionID)
	}
	return nil
}

// Holds reports whether lease is live and still the session's. A store checks
// it as part of a commit, under its own serialisation of the session's writes
// (with the version check, which catches a lease lost between the two).
func (l *LocalLeases) Holds(lease Lease) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holdsLocked(lease, time.Now())
}

func (l *LocalLeases) holdsLocked(lease Lease, now time.Time) bool {
	cur, ok := l.held[lease.SessionID]
	return ok && lease.Token != "" && cur.token == lease.Token && now.Before(cur.expires)
}
