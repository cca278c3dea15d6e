// Package redisstore is the store.Store that several luaivr instances share:
// sessions, transcripts, sent replies, leases and kv kept in Redis
// (standalone, behind Sentinel, or a Cluster), so that any instance behind a
// load balancer can take any event of any call, and an instance that dies
// mid-call loses nothing.
//
// Every key of a session carries the session's id as a hash tag
// ("luaivr:{id}:s"), so in a Cluster they live in one slot, and one Lua
// script (EVALSHA) commits an event: it checks the lease and the version the
// event read, and writes the session, the transcript entry and the reply
// together or not at all. Leases are SET NX PX with a random token, renewed
// and released by scripts that compare the token first.
//
// The list of sessions (luaivr sessions) is one sorted set kept by the
// commits. On a single Redis the commit script writes it too; in a Cluster it
// is one key in its own slot, written by a second script after the commit
// (one more round trip per event, all on the master that holds it, and a
// session whose instance dies between the two is not listed until its next
// event; nothing else depends on it).
//
// Each operation is bounded by a timeout (?timeout=, store.DefaultTimeout): a
// Redis that is down or stalled answers store.ErrUnavailable within it, and
// Ready says so from a background ping, so callers get the fallback at once.
package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/luaivr/luaivr/store"
)

func init() {
	for _, scheme := range []string{"redis", "rediss", "redis+sentinel", "rediss+sentinel"} {
		store.RegisterScheme(scheme, func(u *url.URL, opts store.Options) (store.Store, error) { return Open(u.String(), opts) })
	}
}

// Defaults of the URL's options.
const (
	DefaultPrefix     = "luaivr"
	DefaultMaxEntries = 1000
)

// Config is what a store URL says; ParseURL reads it.
type Config struct {
	Addrs    []string // host:port of the Redis servers, or of the Sentinels
	Sentinel string   // the master set Sentinel watches ("": no Sentinel)
	Cluster  bool     // Addrs are seeds of a Redis Cluster
	TLS      bool
	Username string
	Password string
	DB       int
	// Timeout bounds each operation; Prefix starts every key; MaxEntries is
	// how many transcript entries a session keeps (the newest); Wait is the
	// replicas that must have a commit before it returns (WAIT).
	Timeout    time.Duration
	Prefix     string
	MaxEntries int
	Wait       int
}

// ParseURL reads a store URL:
//
//	redis://[user:password@]host:port[/db][?options]
//	rediss://…                                      TLS
//	redis://h1:7000,h2:7001,h3:7002?cluster=1        a Cluster, from any of its nodes
//	redis+sentinel://[user:password@]s1:26379,s2:26379/master[/db][?options]
//
// In a list of hosts each has its port (Go's URL parser reads what follows
// the last colon as the port). Options: timeout (per operation, default 1s),
// wait (replicas, default 0), prefix (of every key, default luaivr),
// max_entries (of a session's transcript, default 1000), cluster (1: a
// Cluster).
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var bad *url.Error
		if errors.As(err, &bad) { // without the URL, which may hold a password
			err = bad.Err
		}
		return Config{}, fmt.Errorf("redisstore: the store URL does not parse: %v (give each host of a list its port)", err)
	}
	cfg := Config{Timeout: store.DefaultTimeout, Prefix: DefaultPrefix, MaxEntries: DefaultMaxEntries}
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("redisstore: %s: %s", store.Redacted(u), fmt.Sprintf(format, args...))
	}
	scheme, sentinel := strings.CutSuffix(u.Scheme, "+sentinel")
	switch scheme {
	case "redis":
	case "rediss":
		cfg.TLS = true
	default:
		return bad("the scheme is not redis://, rediss://, redis+sentinel:// or rediss+sentinel://")
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	defaultPort := "6379"
	if sentinel {
		defaultPort = "26379"
	}
	hosts := strings.Split(u.Host, ",")
	for _, h := range hosts {
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			if len(hosts) > 1 {
				return bad("%q has no port: give each host of a list its port", h)
			}
			h = net.JoinHostPort(h, defaultPort)
		}
		cfg.Addrs = append(cfg.Addrs, h)
	}
	if len(cfg.Addrs) == 0 {
		return bad("no host: write redis://host:6379")
	}
	path := strings.Split(strings.Trim(u.Path, "/"), "/")
	if sentinel {
		if path[0] == "" {
			return bad("no master set: write redis+sentinel://sentinel:26379/mymaster")
		}
		cfg.Sentinel, path = path[0], path[1:]
	}
	if len(path) > 1 {
		return bad("the path is /db (a number) after the host")
	}
	if len(path) == 1 && path[0] != "" {
		if cfg.DB, err = strconv.Atoi(path[0]); err != nil || cfg.DB < 0 {
			return bad("the database %q is not a number", path[0])
		}
	}
	for k, vs := range u.Query() {
		if len(vs) > 1 {
			return bad("%s is given %d times: give each option once", k, len(vs))
		}
		v := vs[0]
		switch k {
		case "timeout":
			cfg.Timeout, err = time.ParseDuration(v)
			if err != nil || cfg.Timeout <= 0 {
				return bad("timeout=%q is not a positive duration such as 500ms", v)
			}
		case "wait":
			if cfg.Wait, err = strconv.Atoi(v); err != nil || cfg.Wait < 0 {
				return bad("wait=%q is not a number of replicas", v)
			}
		case "prefix":
			// Without a colon the prefix is the first part of every key, so
			// that two prefixes never share a key (P:kv would be inside P's kv).
			if cfg.Prefix = v; v == "" || strings.ContainsAny(v, "{}:") {
				return bad("prefix=%q: give a non-empty prefix without {, } or :", v)
			}
		case "max_entries":
			if cfg.MaxEntries, err = strconv.Atoi(v); err != nil || cfg.MaxEntries < 1 {
				return bad("max_entries=%q is not a positive number", v)
			}
		case "cluster":
			if cfg.Cluster, err = strconv.ParseBool(v); err != nil {
				return bad("cluster=%q: write cluster=1", v)
			}
		default:
			return bad("unknown option %q (known: timeout, wait, prefix, max_entries, cluster)", k)
		}
	}
	if len(cfg.Addrs) > 1 && !cfg.Cluster && cfg.Sentinel == "" {
		return bad("several hosts: add ?cluster=1 for the nodes of a Cluster, or write redis+sentinel:// for Sentinels (one Redis is one host)")
	}
	if cfg.Cluster && (cfg.Sentinel != "" || cfg.DB != 0) {
		return bad("a Cluster has no Sentinel and only database 0")
	}
	return cfg, nil
}

// Store is a store.Store in Redis. Open it with Open.
type Store struct {
	options rueidis.ClientOption
	client  atomic.Pointer[rueidis.Client] // nil until Redis first answered
	cluster atomic.Bool                    // the client is a Cluster's
	cfg     Config
	where   string // the URL without its password, for messages
	logger  *slog.Logger

	sessionTTL, replyTTL time.Duration

	mu       sync.Mutex
	notReady error // the last ping's failure, nil once one succeeds
	stop     chan struct{}
	done     chan struct{}

	orphans    chan struct{} // releaseLater's places
	background sync.WaitGroup
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Readier = (*Store)(nil)
)

// pingInterval is how often Ready's ping runs.
const pingInterval = 250 * time.Millisecond

// Open connects to the Redis that raw names (see ParseURL). A URL that does
// not parse, or that names a Cluster as one Redis or one Redis as a
// Cluster, is refused. A Redis that does not answer is not: the store is
// not ready (events get the fallback), and connects by itself once Redis
// answers, so that an instance started during an outage recovers with it.
func Open(raw string, opts store.Options) (*Store, error) {
	cfg, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(raw)
	s := &Store{cfg: cfg, where: store.Redacted(u),
		logger: opts.Logger, sessionTTL: opts.SessionTTL, replyTTL: opts.ReplyTTL,
		stop: make(chan struct{}), done: make(chan struct{}), orphans: make(chan struct{}, maxOrphans)}
	s.options = rueidis.ClientOption{
		InitAddress:       cfg.Addrs,
		Username:          cfg.Username,
		Password:          cfg.Password,
		SelectDB:          cfg.DB,
		ForceSingleClient: !cfg.Cluster && cfg.Sentinel == "",
		DisableCache:      true,
		ConnWriteTimeout:  cfg.Timeout,
		Dialer:            net.Dialer{Timeout: cfg.Timeout},
		ClientName:        "luaivr",
	}
	if cfg.TLS { // each node's certificate is checked against the host dialled
		s.options.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.Sentinel != "" {
		s.options.Sentinel = rueidis.SentinelOption{MasterSet: cfg.Sentinel, Dialer: s.options.Dialer, TLSConfig: s.options.TLSConfig,
			Username: cfg.Username, Password: cfg.Password}
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.sessionTTL <= 0 {
		s.sessionTTL = 24 * time.Hour
	}
	if s.replyTTL <= 0 {
		s.replyTTL = 24 * time.Hour
	}
	if err := s.connect(); errors.Is(err, errMode) {
		return nil, err
	} else if err != nil {
		s.notReady = err
		s.logger.Error("store unavailable at start: events get the fallback until Redis answers", "store", s.where, "err", err)
	}
	go s.watch()
	return s, nil
}

// errMode marks a URL that says Cluster where there is none, or the reverse.
var errMode = errors.New("the URL does not match the Redis it names")

// connect makes the client, checks the mode and the AOF settings, and
// publishes it for the operations.
func (s *Store) connect() error {
	client, err := rueidis.NewClient(s.options)
	if err != nil {
		return fmt.Errorf("redisstore: cannot reach %s: %v (is Redis running there, with this user and password?): %w", s.where, err, store.ErrUnavailable)
	}
	s.cluster.Store(client.Mode() == rueidis.ClientModeCluster)
	if err := s.checkMode(client); err != nil {
		client.Close()
		return err
	}
	s.checkDurability(client)
	s.client.Store(&client)
	return nil
}

// checkDurability logs what an answered event may lose on this Redis, from
// its AOF settings (CONFIG GET; a server that refuses CONFIG is not
// checked): a caller has heard the reply of every commit that returned.
func (s *Store) checkDurability(client rueidis.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	kv, err := client.Do(ctx, client.B().ConfigGet().Parameter("appendonly", "appendfsync").Build()).AsStrMap()
	if err != nil {
		s.logger.Info("store: cannot read Redis's AOF settings (CONFIG GET refused): make sure it runs with appendonly yes and appendfsync always, or answered events can be lost", "store", s.where, "err", err)
		return
	}
	const fix = "set appendonly yes and appendfsync always on Redis (each write then waits for an fsync: see the README's Several instances on Redis)"
	switch {
	case kv["appendonly"] != "yes":
		s.logger.Warn("store: Redis runs without AOF (appendonly no): a restart or crash of Redis loses every answered event since its last snapshot; "+fix, "store", s.where)
	case kv["appendfsync"] != "always":
		s.logger.Warn("store: Redis syncs its AOF appendfsync "+kv["appendfsync"]+": a crash of the Redis process or its machine can lose the events of the last second or two, whose replies callers already heard; "+fix, "store", s.where)
	}
}

// checkMode refuses a Cluster node named without ?cluster=1 (every key of
// another slot would fail), and ?cluster=1 on a Redis that is no Cluster
// (what the operator believes of the setup is wrong).
func (s *Store) checkMode(client rueidis.Client) error {
	if s.cfg.Cluster && !s.cluster.Load() {
		return fmt.Errorf("redisstore: %s is not a Redis Cluster (cluster_enabled is off): remove ?cluster=1, or name the Cluster's nodes: %w", s.where, errMode)
	}
	if s.cluster.Load() || s.cfg.Sentinel != "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	info, err := client.Do(ctx, client.B().Info().Section("cluster").Build()).ToString()
	if _, refused := rueidis.IsRedisErr(err); refused {
		return nil // INFO not allowed to this user: nothing to check
	} else if err != nil {
		return s.fail(ctx, "reading INFO", err)
	}
	if strings.Contains(info, "cluster_enabled:1") {
		return fmt.Errorf("redisstore: %s is a node of a Redis Cluster: add ?cluster=1 to the URL: %w", s.where, errMode)
	}
	return nil
}

// watch probes Redis every pingInterval for Ready, and logs when it stops and
// starts taking events.
func (s *Store) watch() {
	defer close(s.done)
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	health := s.cfg.Prefix + ":{health}:" + store.NewToken() // this instance's
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
		err := s.probe(ctx, health)
		cancel()
		s.mu.Lock()
		was := s.notReady
		if _, answered := rueidis.IsRedisErr(err); answered {
			s.notReady = fmt.Errorf("redis at %s refuses writes (%v): a replica (READONLY) is named instead of the master, Redis is out of memory (OOM), or its replicas are missing; events get the fallback until it takes them", s.where, err)
		} else if err != nil {
			s.notReady = fmt.Errorf("redis at %s does not take writes (%v): check that it runs and is reachable, and has the replicas ?wait= asks for; events get the fallback until it does", s.where, err)
		} else {
			s.notReady = nil
		}
		s.mu.Unlock()
		switch {
		case err != nil && was == nil:
			s.logger.Error("store unavailable", "store", s.where, "err", err)
		case err == nil && was != nil:
			s.logger.Info("store available again", "store", s.where)
		}
	}
}

// probe writes key, a few seconds' health mark, as a commit would, so that a
// Redis that answers but cannot take events (a replica, out of memory, too
// few replicas for ?wait=) is not ready.
func (s *Store) probe(ctx context.Context, key string) error {
	client := s.current()
	if client == nil {
		return s.connect()
	}
	set := client.B().Set().Key(key).Value("1").PxMilliseconds(ms(20 * pingInterval)).Build()
	if s.cfg.Wait == 0 {
		return client.Do(ctx, set).Error()
	}
	return client.Dedicated(func(d rueidis.DedicatedClient) error {
		res := d.DoMulti(ctx, set, d.B().Wait().Numreplicas(int64(s.cfg.Wait)).Timeout(ms(s.cfg.Timeout/2)).Build())
		if err := res[0].Error(); err != nil {
			return err
		}
		got, err := res[1].AsInt64()
		if err == nil && got < int64(s.cfg.Wait) {
			err = fmt.Errorf("only %d of %d replicas (wait=%d) answer", got, s.cfg.Wait, s.cfg.Wait)
		}
		return err
	})
}

// Ready implements store.Readier: nil while the last ping was answered.
func (s *Store) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notReady
}

// Close implements store.Store.
func (s *Store) Close() error {
	close(s.stop)
	<-s.done
	s.background.Wait()
	if client := s.current(); client != nil {
		client.Close()
	}
	return nil
}

// op is the client, and ctx bounded by the store's timeout; ErrUnavailable
// while Redis has not answered since Open.
func (s *Store) op(ctx context.Context) (rueidis.Client, context.Context, context.CancelFunc, error) {
	client := s.current()
	if client == nil {
		return nil, nil, nil, fmt.Errorf("redisstore: %s %w", s.where, errNotConnected)
	}
	octx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	return client, octx, cancel, nil
}

// errNotConnected is the error of operations before Redis first answered.
var errNotConnected = fmt.Errorf("has not answered since luaivr started: %w", store.ErrUnavailable)

// current is the client, nil until Redis first answered.
func (s *Store) current() rueidis.Client {
	if c := s.client.Load(); c != nil {
		return *c
	}
	return nil
}

// fail is err of an operation: ctx's own error when the caller gave up, else
// store.ErrUnavailable with why. parent is the caller's ctx.
func (s *Store) fail(parent context.Context, what string, err error) error {
	if cerr := parent.Err(); cerr != nil {
		return fmt.Errorf("redisstore: %s: %w", what, cerr)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %v (the store URL's ?timeout=)", s.cfg.Timeout)
	}
	return fmt.Errorf("redisstore: %s at %s: %v: %w", what, s.where, err, store.ErrUnavailable)
}

// Keys. Ids and app names are escaped so that a } in one cannot end the hash
// tag early or make two keys one.

var escaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")

func (s *Store) sessionKeys(id string) (lease, session, transcript string) {
	base := s.cfg.Prefix + ":{" + escaper.Replace(id) + "}:"
	return base + "l", base + "s", base + "t"
}

func (s *Store) replyKey(id, key string) string {
	return s.cfg.Prefix + ":{" + escaper.Replace(id) + "}:r:" + key
}

// indexKeys share one hash tag, so that one script writes both in a Cluster
// (a session named "sessions" has keys of other suffixes).
func (s *Store) indexKeys() (index, expiry string) {
	return s.cfg.Prefix + ":{sessions}:i", s.cfg.Prefix + ":{sessions}:x"
}

// Session implements store.Store.
func (s *Store) Session(ctx context.Context, id string) (store.Session, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.Session{}, false, err
	}
	_, key, _ := s.sessionKeys(id)
	client, octx, cancel, err := s.op(ctx)
	if err != nil {
		return store.Session{}, false, err
	}
	defer cancel()
	b, err := client.Do(octx, client.B().Hget().Key(key).Field("s").Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return store.Session{}, false, nil
	} else if err != nil {
		return store.Session{}, false, s.fail(ctx, "reading session "+id, err)
	}
	sess, err := store.DecodeSession(b)
	if err != nil {
		return store.Session{}, false, fmt.Errorf("redisstore: session %s at %s is not what luaivr writes: %v", id, s.where, err)
	}
	return sess, true, nil
}

// Begin implements store.Store: one script, one round trip.
func (s *Store) Begin(ctx context.Context, sessionID, replyKey string, ttl time.Duration) (store.Begun, error) {
	if err := ctx.Err(); err != nil {
		return store.Begun{}, err
	}
	lease := store.Lease{SessionID: sessionID, Token: store.NewToken()}
	lkey, skey, _ := s.sessionKeys(sessionID)
	client, octx, cancel, err := s.op(ctx)
	if err != nil {
		return store.Begun{}, err
	}
	defer cancel()
	named := "0"
	if replyKey != "" {
		named = "1"
	}
	keys := []string{lkey, skey, s.replyKey(sessionID, replyKey)}
	args := []string{lease.Token, strconv.FormatInt(ms(ttl), 10), named}
	res, err := beginScript.Exec(octx, client, keys, args).ToArray()
	if broken(err) && octx.Err() == nil { // the script is idempotent for its token: send it once more
		res, err = beginScript.Exec(octx, client, keys, args).ToArray()
	}
	var n int64
	if err == nil && len(res) > 0 {
		n, err = res[0].AsInt64()
	}
	if err != nil {
		if _, answered := rueidis.IsRedisErr(err); !answered {
			s.releaseLater(lease, ttl) // Redis may yet run what it did not answer
		}
		return store.Begun{}, s.fail(ctx, "taking the lease of session "+sessionID, err)
	}
	switch {
	case n == 0:
		return store.Begun{}, fmt.Errorf("session %s: %w", sessionID, store.ErrLocked)
	case n == 2 && len(res) == 2:
		body, err := res[1].AsBytes()
		if err != nil {
			return store.Begun{}, s.fail(ctx, "reading a reply of session "+sessionID, err)
		}
		return store.Begun{Replied: true, Reply: body}, nil
	}
	b := store.Begun{Lease: lease}
	if len(res) == 2 {
		raw, err := res[1].AsBytes()
		if err == nil {
			b.Session, err = store.DecodeSession(raw)
		}
		if err != nil {
			s.Release(ctx, lease)
			return store.Begun{}, fmt.Errorf("redisstore: session %s at %s is not what luaivr writes: %v", sessionID, s.where, err)
		}
		b.Known = true
	}
	return b, nil
}

// broken reports an error of the connection itself (closed, reset: Redis
// restarted), after which a command that is safe to repeat is sent once more
// on a new one; not an answer of Redis, nor a timeout (Redis may be
// stalled: the caller is better served by the fallback now).
func broken(err error) bool {
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	_, answered := rueidis.IsRedisErr(err)
	return !answered
}

// maxOrphans bounds the leases being released in the background.
const maxOrphans = 64

// releaseLater releases, once Redis answers again, a lease whose Acquire got
// no answer: Redis may have taken it (a stalled server runs what it had
// read once it goes on), and then nobody would own it until its ttl ran out,
// leaving the caller in silence. Tried every pingInterval for at most the
// lease's ttl, after which it expired anyway; beyond maxOrphans pending,
// leases are left to expire.
func (s *Store) releaseLater(l store.Lease, ttl time.Duration) {
	select {
	case s.orphans <- struct{}{}:
	default:
		return
	}
	key, _, _ := s.sessionKeys(l.SessionID)
	s.background.Add(1)
	go func() {
		defer func() { <-s.orphans; s.background.Done() }()
		for until := time.Now().Add(ttl); time.Now().Before(until); {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
			err := errNotConnected
			if client := s.current(); client != nil {
				err = releaseScript.Exec(ctx, client, []string{key}, []string{l.Token}).Error()
			}
			cancel()
			if err == nil {
				return
			}
			select {
			case <-s.stop:
				return
			case <-time.After(pingInterval):
			}
		}
	}()
}

// Renew implements store.Store.
func (s *Store) Renew(ctx context.Context, l store.Lease, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key, _, _ := s.sessionKeys(l.SessionID)
	client, octx, cancel, err := s.op(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	n, err := renewScript.Exec(octx, client, []string{key}, []string{l.Token, strconv.FormatInt(ms(ttl), 10)}).AsInt64()
	if err != nil {
		return s.fail(ctx, "renewing the lease of session "+l.SessionID, err)
	}
	if n == 0 || l.Token == "" {
		return fmt.Errorf("session %s: renewing its lease: %w", l.SessionID, store.ErrConflict)
	}
	return nil
}

// Release implements store.Store.
func (s *Store) Release(ctx context.Context, l store.Lease) error {
	if l.Token == "" {
		return nil
	}
	key, _, _ := s.sessionKeys(l.SessionID)
	client, octx, cancel, err := s.op(context.WithoutCancel(ctx)) // a release is worth sending even as the event gives up
	if err != nil {
		return err
	}
	defer cancel()
	if err := releaseScript.Exec(octx, client, []string{key}, []string{l.Token}).Error(); err != nil {
		return s.fail(ctx, "releasing the lease of session "+l.SessionID, err)
	}
	return nil
}

// Commit implements store.Store.
func (s *Store) Commit(ctx context.Context, c store.Commit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.Lease.Token == "" || c.Lease.SessionID != c.Session.ID {
		return fmt.Errorf("redisstore: commit of an event of session %q without its lease: %w", c.Session.ID, store.ErrConflict)
	}
	sess, entry := c.Numbered()
	applied, err := s.write(ctx, c.Lease.Token, c.Read, sess, entry, c.ReplyKey, c.Reply)
	if err != nil {
		return err
	}
	if !applied {
		return fmt.Errorf("redisstore: commit of an event of session %q (it read %d events): %w", c.Session.ID, c.Read, store.ErrConflict)
	}
	return nil
}

// maxRegisterTries bounds Register's compare-and-swap against a session that
// changes under it at every try.
const maxRegisterTries = 50

// Register implements store.Store: a compare-and-swap on the session's
// version, retried while events commit in between.
func (s *Store) Register(ctx context.Context, sess store.Session) (store.Session, error) {
	if err := ctx.Err(); err != nil {
		return store.Session{}, err
	}
	for range maxRegisterTries {
		old, ok, err := s.Session(ctx, sess.ID)
		if err != nil {
			return store.Session{}, err
		}
		var prev *store.Session
		if ok {
			prev = &old
		}
		merged, entry := store.Registered(prev, sess)
		applied, err := s.write(ctx, "", merged.Events-1, merged, entry, "", nil)
		if err != nil {
			return store.Session{}, err
		}
		if applied {
			return merged, nil
		}
	}
	return store.Session{}, fmt.Errorf("redisstore: registering session %s: it changed at each of %d tries: %w", sess.ID, maxRegisterTries, store.ErrConflict)
}

// write runs commitScript (token "": a Register), then in a Cluster the index
// script, then WAIT when the URL asks for replicas. applied is false when the
// script refused the write.
func (s *Store) write(ctx context.Context, token string, read int, sess store.Session, entry store.Entry, replyKey string, reply []byte) (applied bool, err error) {
	sj, ej := store.AppendSession(nil, sess), store.AppendEntry(nil, entry)
	lease, skey, tkey := s.sessionKeys(sess.ID)
	hasReply := "0"
	if replyKey != "" {
		hasReply = "1"
	}
	score := strconv.FormatInt(-sess.Updated.UnixMicro(), 10)
	ttl := strconv.FormatInt(ms(s.sessionTTL), 10)
	keys := []string{lease, skey, tkey, s.replyKey(sess.ID, replyKey)}
	if !s.cluster.Load() {
		idx, exp := s.indexKeys()
		keys = append(keys, idx, exp)
	}
	args := []string{token, strconv.Itoa(read), string(sj), string(ej), string(reply), hasReply,
		ttl, strconv.FormatInt(ms(min(s.replyTTL, s.sessionTTL)), 10), strconv.Itoa(s.cfg.MaxEntries), sess.ID, score}

	client, octx, cancel, err := s.op(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	var n int64
	if s.cfg.Wait > 0 {
		n, err = s.writeAndWait(octx, client, keys, args)
	} else {
		n, err = commitScript.Exec(octx, client, keys, args).AsInt64()
		if broken(err) && octx.Err() == nil {
			// Sent once more: had the first run landed, the second finds
			// the lease gone or the version moved on and writes nothing
			// (ErrConflict: the engine re-reads, and answers a redelivery
			// from the reply cache).
			n, err = commitScript.Exec(octx, client, keys, args).AsInt64()
		}
	}
	if err != nil {
		return false, s.fail(ctx, "committing an event of session "+sess.ID, err)
	}
	if n == 0 {
		return false, nil
	}
	if s.cluster.Load() {
		idx, exp := s.indexKeys()
		if err := indexScript.Exec(octx, client, []string{idx, exp}, []string{sess.ID, score, ttl}).Error(); err != nil {
			// The event is saved; only luaivr sessions misses it until its next event.
			s.logger.Warn("session not added to the list of sessions", "session", sess.ID, "store", s.where, "err", err)
		}
	}
	return true, nil
}

// writeAndWait runs the commit script and WAIT on one connection, so that
// WAIT counts the replicas that have this commit; fewer than asked is an
// error (the commit is on the master, and a redelivery gets its reply).
func (s *Store) writeAndWait(ctx context.Context, client rueidis.Client, keys, args []string) (int64, error) {
	var n int64
	err := client.Dedicated(func(d rueidis.DedicatedClient) error {
		res := d.DoMulti(ctx,
			d.B().Eval().Script(commitLua).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build(),
			d.B().Wait().Numreplicas(int64(s.cfg.Wait)).Timeout(ms(s.cfg.Timeout/2)).Build()) // half: an answer before the timeout
		var err error
		if n, err = res[0].AsInt64(); err != nil {
			return err
		}
		got, err := res[1].AsInt64()
		if err != nil {
			return err
		}
		if n == 1 && got < int64(s.cfg.Wait) {
			return fmt.Errorf("only %d of %d replicas (wait=%d) took the commit in time", got, s.cfg.Wait, s.cfg.Wait)
		}
		return nil
	})
	return n, err
}

// Transcript implements store.Store.
func (s *Store) Transcript(ctx context.Context, sessionID string) ([]store.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	_, skey, tkey := s.sessionKeys(sessionID)
	client, octx, cancel, err := s.op(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	res := client.DoMulti(octx,
		client.B().Exists().Key(skey).Build(),
		client.B().Lrange().Key(tkey).Start(0).Stop(-1).Build())
	live, err := res[0].AsInt64()
	if err != nil {
		return nil, s.fail(ctx, "reading the transcript of session "+sessionID, err)
	}
	raw, err := res[1].AsStrSlice()
	if err != nil {
		return nil, s.fail(ctx, "reading the transcript of session "+sessionID, err)
	}
	if live == 0 {
		return nil, nil
	}
	out := make([]store.Entry, 0, len(raw))
	for _, r := range raw {
		e, err := store.DecodeEntry([]byte(r))
		if err != nil {
			return nil, fmt.Errorf("redisstore: an entry of session %s at %s is not what luaivr writes: %v", sessionID, s.where, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// sessionsPage is how many sessions Sessions reads per round trip.
const sessionsPage = 100

// Sessions implements store.Store, a page of the index at a time. A session
// that moves up while the list is read is visited once.
func (s *Store) Sessions(ctx context.Context, fn func(store.Session) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	idx, _ := s.indexKeys()
	seen := map[string]bool{}
	for start := int64(0); ; start += sessionsPage {
		client, octx, cancel, err := s.op(ctx)
		if err != nil {
			return err
		}
		ids, err := client.Do(octx, client.B().Zrange().Key(idx).Min(strconv.FormatInt(start, 10)).
			Max(strconv.FormatInt(start+sessionsPage-1, 10)).Build()).AsStrSlice()
		if err != nil {
			cancel()
			return s.fail(ctx, "listing sessions", err)
		}
		if len(ids) == 0 {
			cancel()
			return nil
		}
		cmds := make(rueidis.Commands, 0, len(ids))
		for _, id := range ids {
			_, skey, _ := s.sessionKeys(id)
			cmds = append(cmds, client.B().Hget().Key(skey).Field("s").Build())
		}
		res := client.DoMulti(octx, cmds...)
		cancel()
		for i, r := range res {
			b, err := r.AsBytes()
			if rueidis.IsRedisNil(err) || seen[ids[i]] {
				continue // expired, not yet dropped from the index; or visited on the page before
			} else if err != nil {
				return s.fail(ctx, "listing sessions", err)
			}
			seen[ids[i]] = true
			sess, err := store.DecodeSession(b)
			if err != nil {
				return fmt.Errorf("redisstore: session %s at %s is not what luaivr writes: %v", ids[i], s.where, err)
			}
			if !fn(sess) {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
}

// ms is d in whole milliseconds, at least 1 (Redis refuses an expiry of 0).
func ms(d time.Duration) int64 { return max(1, d.Milliseconds()) }
