// Package memstore is a store.Store held in memory, for what keeps nothing
// once it ends: flow tests, check's exploration, vetting a reloaded script and
// the simulator. It opens in microseconds where an in-memory Badger takes
// milliseconds and megabytes, and keeps the whole store contract (leases,
// conditional commits, TTLs, kv quotas) under one mutex, so that what passes on
// it passes on the stores a server runs on.
package memstore

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/luaivr/luaivr/store"
)

func init() {
	store.RegisterScheme("mem", func(_ *url.URL, opts store.Options) (store.Store, error) { return New(opts), nil })
}

// Store is an in-memory store.Store. Create it with New.
type Store struct {
	store.LocalLeases    // Renew, Release and Begin's lease: leases kept in the process
	sessionTTL, replyTTL time.Duration

	mu       sync.Mutex
	sessions map[string]*session
	kv       map[string]map[string]expiring[[]byte] // app → key → value
	sweep    int                                    // writes until expired values are next dropped
}

type session struct {
	expiring[store.Session]
	entries []expiring[store.Entry]
	replies map[string]expiring[[]byte] // reply key → body sent
}

// expiring is a value and when it expires (zero: never).
type expiring[T any] struct {
	v       T
	expires time.Time
}

func (e expiring[T]) live(now time.Time) bool { return e.expires.IsZero() || now.Before(e.expires) }

var _ store.Store = (*Store)(nil)

// New makes an empty store; of opts it uses the TTLs.
func New(opts store.Options) *Store {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 24 * time.Hour
	}
	if opts.ReplyTTL <= 0 {
		opts.ReplyTTL = 24 * time.Hour
	}
	return &Store{sessionTTL: opts.SessionTTL, replyTTL: opts.ReplyTTL,
		sessions: map[string]*session{}, kv: map[string]map[string]expiring[[]byte]{}}
}

// Close implements store.Store; the store is usable until dropped.
func (s *Store) Close() error { return nil }

// Session implements store.Store.
func (s *Store) Session(ctx context.Context, id string) (store.Session, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.Session{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess := s.live(id, time.Now()); sess != nil {
		return clone(sess.v), true, nil
	}
	return store.Session{}, false, nil
}

// live is session id unless unknown or expired; call with mu held.
func (s *Store) live(id string, now time.Time) *session {
	sess := s.sessions[id]
	if sess == nil || !sess.live(now) {
		return nil
	}
	return sess
}

// Begin implements store.Store.
func (s *Store) Begin(ctx context.Context, id, key string, ttl time.Duration) (store.Begun, error) {
	lease, err := s.LocalLeases.Acquire(ctx, id, ttl)
	if err != nil {
		return store.Begun{}, err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.live(id, now)
	if sess == nil {
		return store.Begun{Lease: lease}, nil
	}
	if r, ok := sess.replies[key]; ok && key != "" && r.live(now) {
		s.LocalLeases.Release(ctx, lease)
		return store.Begun{Replied: true, Reply: bytes.Clone(r.v)}, nil
	}
	return store.Begun{Lease: lease, Session: clone(sess.v), Known: true}, nil
}

// Commit implements store.Store.
func (s *Store) Commit(ctx context.Context, c store.Commit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	stored := 0
	cur := s.live(c.Session.ID, now)
	if cur != nil {
		stored = cur.v.Events
	}
	if c.Lease.SessionID != c.Session.ID || !s.Holds(c.Lease) || stored != c.Read {
		return fmt.Errorf("memstore: commit of an event of session %q (it read %d events, %d are stored): %w", c.Session.ID, c.Read, stored, store.ErrConflict)
	}
	sess, entry := c.Numbered()
	s.put(cur, sess, entry, now)
	if c.ReplyKey != "" {
		s.remember(s.sessions[sess.ID], c.ReplyKey, c.Reply, now)
	}
	s.LocalLeases.Release(ctx, c.Lease)
	return nil
}

// remember keeps the reply of the event just put, for its redeliveries, no
// longer than its entry (and dropping those expired as the session's
// entries are); call with mu held.
func (s *Store) remember(sess *session, key string, body []byte, now time.Time) {
	if sess.replies == nil || len(sess.replies) >= 2*len(sess.entries) {
		for k, r := range sess.replies {
			if !r.live(now) {
				delete(sess.replies, k)
			}
		}
	}
	if sess.replies == nil {
		sess.replies = map[string]expiring[[]byte]{}
	}
	sess.replies[key] = expiring[[]byte]{bytes.Clone(body), now.Add(min(s.replyTTL, s.sessionTTL))}
}

// put stores sess with entry added to cur's transcript (cur nil: a new
// session, or one that expired with its transcript); call with mu held.
func (s *Store) put(cur *session, sess store.Session, entry store.Entry, now time.Time) {
	if cur == nil {
		cur = &session{}
		s.sessions[sess.ID] = cur
	}
	cur.expiring = expiring[store.Session]{clone(sess), now.Add(s.sessionTTL)}
	// Entries expire in the order written: drop those gone from the front.
	gone := 0
	for gone < len(cur.entries) && !cur.entries[gone].live(now) {
		gone++
	}
	entry.Event, entry.Reply = bytes.Clone(entry.Event), bytes.Clone(entry.Reply)
	cur.entries = append(cur.entries[gone:], expiring[store.Entry]{entry, now.Add(s.sessionTTL)})
	s.dropExpired(now)
}

// dropExpired removes what expired, once every few hundred writes, so a
// long-running simulator does not keep every call; call with mu held.
func (s *Store) dropExpired(now time.Time) {
	if s.sweep--; s.sweep > 0 {
		return
	}
	s.sweep = 256
	for id, sess := range s.sessions {
		if !sess.live(now) {
			delete(s.sessions, id)
		}
	}
	for _, keys := range s.kv {
		for k, v := range keys {
			if !v.live(now) {
				delete(keys, k)
			}
		}
	}
}

// Register implements store.Store.
func (s *Store) Register(ctx context.Context, sess store.Session) (store.Session, error) {
	if err := ctx.Err(); err != nil {
		return store.Session{}, err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.live(sess.ID, now)
	var old *store.Session
	if cur != nil {
		old = &cur.v
	}
	merged, entry := store.Registered(old, sess)
	s.put(cur, merged, entry, now)
	return clone(merged), nil
}

// Transcript implements store.Store.
func (s *Store) Transcript(ctx context.Context, sessionID string) ([]store.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.live(sessionID, now)
	if sess == nil {
		return nil, nil
	}
	var out []store.Entry
	for _, e := range sess.entries {
		if e.live(now) {
			out = append(out, e.v)
		}
	}
	return out, nil
}

// Sessions implements store.Store. fn runs outside the store's lock.
func (s *Store) Sessions(ctx context.Context, fn func(store.Session) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	s.mu.Lock()
	var all []store.Session
	for _, sess := range s.sessions {
		if sess.live(now) {
			all = append(all, clone(sess.v))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b store.Session) int {
		if c := b.Updated.Compare(a.Updated); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, sess := range all {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !fn(sess) {
			return nil
		}
	}
	return nil
}

func clone(s store.Session) store.Session {
	s.Vars = bytes.Clone(s.Vars)
	return s
}

// KVGet implements store.KV.
func (s *Store) KVGet(ctx context.Context, app, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.kv[app][key]
	if !ok || !v.live(time.Now()) {
		return nil, false, nil
	}
	return bytes.Clone(v.v), true, nil
}

// KVSet implements store.KV.
func (s *Store) KVSet(ctx context.Context, app, key string, value []byte, ttl time.Duration, quota store.KVQuota) error {
	return s.kvWrite(ctx, app, key, quota, func(expiring[[]byte], bool) (expiring[[]byte], bool, error) {
		return expiring[[]byte]{bytes.Clone(value), expiry(ttl)}, true, nil
	})
}

// KVDelete implements store.KV.
func (s *Store) KVDelete(ctx context.Context, app, key string) error {
	return s.kvWrite(ctx, app, key, store.KVQuota{}, func(expiring[[]byte], bool) (expiring[[]byte], bool, error) {
		return expiring[[]byte]{}, false, nil
	})
}

// KVIncr implements store.KV.
func (s *Store) KVIncr(ctx context.Context, app, key string, delta float64, ttl time.Duration, quota store.KVQuota) (float64, error) {
	var result float64
	err := s.kvWrite(ctx, app, key, quota, func(cur expiring[[]byte], found bool) (expiring[[]byte], bool, error) {
		n := 0.0
		if found {
			f, err := strconv.ParseFloat(string(cur.v), 64)
			if err != nil {
				return cur, false, fmt.Errorf("kv key %q holds %.40q, not a number", key, cur.v)
			}
			n = f
		}
		result = n + delta
		if math.IsInf(result, 0) || math.IsNaN(result) {
			return cur, false, fmt.Errorf("kv key %q: %v + %v is not a number", key, n, delta)
		}
		next := expiring[[]byte]{[]byte(strconv.FormatFloat(result, 'f', -1, 64)), cur.expires}
		if ttl > 0 {
			next.expires = expiry(ttl)
		}
		return next, true, nil
	})
	return result, err
}

func expiry(ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return time.Now().Add(ttl)
}

// kvWrite replaces app's key by what change returns (keep false: deletes
// it), unless that takes the app over quota; a write that leaves the app no
// fuller than it was is always allowed.
func (s *Store) kvWrite(ctx context.Context, app, key string, quota store.KVQuota,
	change func(cur expiring[[]byte], found bool) (next expiring[[]byte], keep bool, err error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := s.kv[app]
	cur, found := keys[key]
	found = found && cur.live(now)
	next, keep, err := change(cur, found)
	if err != nil {
		return err
	}
	var before store.KVQuota // what the app holds: its live keys and their bytes
	for k, v := range keys {
		if v.live(now) {
			before.Keys++
			before.Bytes += int64(len(k) + len(v.v))
		}
	}
	after := before
	if found {
		after.Keys--
		after.Bytes -= int64(len(key) + len(cur.v))
	}
	if keep {
		after.Keys++
		after.Bytes += int64(len(key) + len(next.v))
	}
	if quota.Keys > 0 && after.Keys > quota.Keys && after.Keys > before.Keys ||
		quota.Bytes > 0 && after.Bytes > quota.Bytes && after.Bytes > before.Bytes {
		return &store.KVQuotaError{App: app, Quota: quota, Keys: after.Keys, Bytes: after.Bytes}
	}
	if !keep {
		delete(keys, key)
		return nil
	}
	if keys == nil {
		keys = map[string]expiring[[]byte]{}
		s.kv[app] = keys
	}
	keys[key] = next
	s.dropExpired(now)
	return nil
}

// KVList implements store.KV.
func (s *Store) KVList(ctx context.Context, app, prefix string, limit, maxBytes int) ([]store.KVPair, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	s.mu.Lock()
	var keys []string
	for k, v := range s.kv[app] {
		if strings.HasPrefix(k, prefix) && v.live(now) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []store.KVPair
	size := 0
	for _, k := range keys {
		if limit > 0 && len(out) >= limit {
			break
		}
		v := s.kv[app][k].v
		if size += len(k) + len(v); maxBytes > 0 && size > maxBytes {
			s.mu.Unlock()
			return nil, store.ErrKVListTooLarge
		}
		out = append(out, store.KVPair{Key: k, Value: bytes.Clone(v)})
	}
	s.mu.Unlock()
	return out, nil
}
