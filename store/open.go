package store

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options configure Open. The zero value of every field is usable.
type Options struct {
	// SessionTTL and ReplyTTL are how long a session (with its transcript)
	// and a sent reply are kept after their last write. Default 24h each.
	SessionTTL time.Duration
	ReplyTTL   time.Duration
	// Logger receives the store's warnings and errors; nil discards them.
	Logger *slog.Logger
	// Brief: the store is opened for a command that ends in a moment
	// (sessions, call): no background work such as Badger's value-log GC.
	Brief bool

	// For a data folder (badger): fsync every commit before it returns (one
	// sync for the commits that wait together: group commit); the
	// free space in bytes to keep on its disk (0: the store's default,
	// negative: no check); open a damaged folder, moving aside what cannot
	// be read.
	SyncWrites bool
	MinFree    int64
	Repair     bool
}

// DefaultTimeout bounds one store operation unless the engine is told
// otherwise: a store that does not answer within it is unavailable, and the
// caller hears the fallback.
const DefaultTimeout = time.Second

// Opener opens the store a URL names.
type Opener func(u *url.URL, opts Options) (Store, error)

var schemes struct {
	sync.Mutex
	m map[string]Opener
}

// RegisterScheme makes Open answer URLs of this scheme (badgerstore registers
// "badger", memstore "mem", a Redis store its own). It panics on a scheme
// registered twice: two stores cannot both own one.
func RegisterScheme(scheme string, open Opener) {
	schemes.Lock()
	defer schemes.Unlock()
	if schemes.m == nil {
		schemes.m = map[string]Opener{}
	}
	if schemes.m[scheme] != nil {
		panic("store: scheme " + scheme + " registered twice")
	}
	schemes.m[scheme] = open
}

// Open opens the store that raw names: "badger:///var/lib/luaivr" or a plain
// path (a Badger data folder), "mem://" (in memory, gone on Close), or a URL
// of a scheme a store package registered (import it for its side effect).
func Open(raw string, opts Options) (Store, error) {
	if raw == "" {
		return nil, fmt.Errorf("no store given: pass --store URL (%s) or a data folder", strings.Join(Schemes(), ", "))
	}
	u, err := url.Parse(raw)
	var bad *url.Error
	if errors.As(err, &bad) && strings.Contains(raw, "://") { // a URL, not a path: say why (without the URL, which may hold a password)
		return nil, fmt.Errorf("the store URL does not parse: %v (in a list of hosts, give each its port)", bad.Err)
	}
	if err != nil || u.Scheme == "" || len(u.Scheme) == 1 { // a plain path (C:\ is one too)
		u = &url.URL{Scheme: "badger", Path: raw}
	}
	schemes.Lock()
	open := schemes.m[u.Scheme]
	schemes.Unlock()
	if open == nil {
		return nil, fmt.Errorf("store %s: no store for the scheme %q (known: %s); a plain path is a Badger data folder",
			Redacted(u), u.Scheme, strings.Join(Schemes(), ", "))
	}
	return open(u, opts)
}

// Redacted is u for messages and logs, without what its userinfo holds: in
// redis://secret@host the one name is the password (url.URL.Redacted
// masks only a password after a colon).
func Redacted(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	c := *u
	c.User = url.User("xxxxx")
	return c.String()
}

// Schemes lists the URL schemes Open knows, sorted, as "scheme://".
func Schemes() []string {
	schemes.Lock()
	defer schemes.Unlock()
	var out []string
	for s := range schemes.m {
		out = append(out, s+"://")
	}
	slices.Sort(out)
	return out
}
