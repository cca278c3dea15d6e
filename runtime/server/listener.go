package server

import (
	"container/list"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The listener below is what keeps a flood of connections from stopping the
// server. fasthttp's Serve treats every accept error but a timeout as
// permanent and returns, which ends `luaivr serve`: running out of file
// descriptors (EMFILE), which anyone can cause by opening connections and
// sending nothing, would take the server down. So the server accepts through
// a listener that:
//
//  1. holds at most MaxConns connections, and at most MaxConnsPerIP from one
//     source (an IPv4 address, or an IPv6 /64, which one host owns whole);
//  2. at either limit, makes room by closing the connection that has been
//     idle longest (one that sent nothing yet, or is waiting between keep-alive
//     requests) and refuses the new one only when none is idle: a connection
//     is not cut while a request is being read or answered (one exception: a
//     pipelined request that arrived in part with the one before it), and a
//     flood of idle connections cannot lock 8x8 out;
//  3. waits out accept errors (out of file descriptors, or anything else)
//     instead of returning them, closing an idle connection to free a
//     descriptor; only Close ends Accept.
//
// The limits count connections, not requests: the per-event deadline, the
// read and write timeouts and the body limit bound what each one costs.

// ConnStats count what the listener did with connections; /metrics shows them.
type ConnStats struct {
	Open            atomic.Int64 // connections held now
	Idle            atomic.Int64 // of those, waiting for a request
	RefusedMaxConns atomic.Int64 // closed at accept: at MaxConns, none idle
	RefusedMaxPerIP atomic.Int64 // closed at accept: the source at MaxConnsPerIP, none of its idle
	Shed            atomic.Int64 // idle connections closed to make room
	AcceptErrors    atomic.Int64 // accepts that failed and were retried
}

// FileLimit is the number of files the process may hold open (RLIMIT_NOFILE).
// Go's runtime has already raised the soft limit to the hard one at start, so
// this is as high as it goes without the operator (`ulimit -n`, systemd's
// LimitNOFILE=). Each connection holds one; 0 when it cannot be read.
func FileLimit() uint64 {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return 0
	}
	return lim.Cur
}

// DefaultMaxConns is the connection limit when none is given: half the file
// limit, leaving the other half to the data folder's files and the scripts'
// http calls, and at most 4096, which bounds what idle connections cost in
// memory (about 20 KB each).
func DefaultMaxConns() int {
	n := FileLimit() / 2
	switch {
	case n == 0 || n > 4096:
		return 4096
	case n < 16:
		return 16
	}
	return int(n)
}

// connListener wraps the server's net.Listener; see the comment above.
type connListener struct {
	net.Listener
	maxConns, maxPerIP int
	exempt             []*net.IPNet // sources without a per-IP limit (trusted proxies)
	stats              *ConnStats
	log                *slog.Logger

	mu      sync.Mutex
	open    int
	idle    list.List // of *conn, idle longest first
	sources map[netip.Addr]*source

	closed    chan struct{}
	closeOnce sync.Once

	refusedLog, shedLog, errorLog throttle
}

// source is what one IPv4 address or IPv6 /64 holds.
type source struct {
	key  netip.Addr
	open int
	idle list.List // of *conn, idle longest first
}

func newConnListener(ln net.Listener, maxConns, maxPerIP int, exempt []*net.IPNet, stats *ConnStats, log *slog.Logger) *connListener {
	return &connListener{
		Listener: ln, maxConns: maxConns, maxPerIP: maxPerIP, exempt: exempt, stats: stats, log: log,
		sources: map[netip.Addr]*source{}, closed: make(chan struct{}),
	}
}

// Accept returns the next connection within the limits. Its only error is
// net.ErrClosed, after Close.
func (l *connListener) Accept() (net.Conn, error) {
	var wait time.Duration
	for {
		nc, err := l.Listener.Accept()
		select {
		case <-l.closed:
			if nc != nil {
				nc.Close()
			}
			return nil, net.ErrClosed
		default:
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, net.ErrClosed
			}
			wait = min(max(2*wait, 5*time.Millisecond), 500*time.Millisecond)
			l.acceptFailed(err)
			select {
			case <-time.After(wait):
			case <-l.closed:
				return nil, net.ErrClosed
			}
			continue
		}
		wait = 0
		if c := l.admit(nc); c != nil {
			return c, nil
		}
	}
}

// Close stops Accept, even while it waits out an error.
func (l *connListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func (l *connListener) acceptFailed(err error) {
	l.stats.AcceptErrors.Add(1)
	victim := l.shedOne(nil) // a descriptor back, for the connection waiting
	if skipped, ok := l.errorLog.allow(); ok {
		msg := "accepting a connection failed; retrying"
		if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
			msg = "out of file descriptors: raise the limit (ulimit -n, systemd LimitNOFILE=) or lower --max-conns; retrying"
		}
		l.log.Error(msg, "err", err, "file_limit", FileLimit(), "open_conns", l.stats.Open.Load(),
			"closed_idle", victim != nil, "failures_not_logged", skipped)
	}
	if victim != nil {
		victim.Conn.Close()
	}
}

// admit counts nc in, making room if it must, or closes it and returns nil.
func (l *connListener) admit(nc net.Conn) *conn {
	key, limited := l.sourceOf(nc)
	var victims []*conn
	l.mu.Lock()
	c := &conn{Conn: nc, l: l}
	if limited {
		s := l.sources[key]
		if s == nil {
			s = &source{key: key}
			l.sources[key] = s
		}
		if s.open >= l.maxPerIP {
			v := l.shedLocked(s)
			if v == nil {
				if s.open == 0 {
					delete(l.sources, key)
				}
				l.mu.Unlock()
				l.refuse(nc, &l.stats.RefusedMaxPerIP, "--max-conns-per-ip", l.maxPerIP)
				return nil
			}
			victims = append(victims, v)
		}
		c.src = s
		s.open++
		l.sources[key] = s // again: shedding its last connection forgot it
	}
	if l.open >= l.maxConns {
		v := l.shedLocked(nil)
		if v == nil {
			if c.src != nil {
				l.forgetLocked(c.src)
			}
			l.mu.Unlock()
			l.refuse(nc, &l.stats.RefusedMaxConns, "--max-conns", l.maxConns)
			return nil
		}
		victims = append(victims, v)
	}
	l.open++
	l.stats.Open.Add(1)
	l.mu.Unlock()
	if len(victims) > 0 {
		if skipped, ok := l.shedLog.allow(); ok {
			l.log.Warn("connection limit reached: closed the connection idle longest to make room",
				"max_conns", l.maxConns, "max_conns_per_ip", l.maxPerIP, "remote", nc.RemoteAddr().String(), "not_logged", skipped)
		}
	}
	for _, v := range victims {
		v.Conn.Close()
	}
	return c
}

func (l *connListener) refuse(nc net.Conn, count *atomic.Int64, flag string, limit int) {
	count.Add(1)
	if skipped, ok := l.refusedLog.allow(); ok {
		l.log.Warn("connection refused: limit reached and no connection idle (raise "+flag+" if these are real clients)",
			"limit", limit, "remote", nc.RemoteAddr().String(), "not_logged", skipped)
	}
	nc.Close()
}

// shedOne releases the connection idle longest, for the caller to close.
func (l *connListener) shedOne(s *source) *conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.shedLocked(s)
}

// shedLocked releases the connection idle longest, of s or of all, and
// returns it for the caller to close once l.mu is unlocked; nil when none is
// idle.
func (l *connListener) shedLocked(s *source) *conn {
	idle := &l.idle
	if s != nil {
		idle = &s.idle
	}
	front := idle.Front()
	if front == nil {
		return nil
	}
	c := front.Value.(*conn)
	l.releaseLocked(c)
	l.stats.Shed.Add(1)
	return c
}

// sourceOf is the key the per-IP limit counts nc under, and whether it
// applies to nc.
func (l *connListener) sourceOf(nc net.Conn) (netip.Addr, bool) {
	if l.maxPerIP <= 0 {
		return netip.Addr{}, false
	}
	tcp, ok := nc.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	if contains(l.exempt, tcp.IP) {
		return netip.Addr{}, false // a proxy speaks for many callers
	}
	return sourceKey(tcp.AddrPort().Addr()), true
}

// sourceKey is an IPv4 address itself, and an IPv6 address's /64: one host
// is usually given a whole /64, and could dial from any address in it.
func sourceKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// releaseLocked takes c out of every count, once.
func (l *connListener) releaseLocked(c *conn) {
	if c.released {
		return
	}
	c.released = true
	l.notIdleLocked(c)
	l.open--
	l.stats.Open.Add(-1)
	if c.src != nil {
		l.forgetLocked(c.src)
	}
}

func (l *connListener) forgetLocked(s *source) {
	s.open--
	if s.open == 0 {
		delete(l.sources, s.key)
	}
}

func (l *connListener) idleLocked(c *conn) {
	if c.released || c.idleAll != nil {
		return
	}
	c.idleAll = l.idle.PushBack(c)
	l.stats.Idle.Add(1)
	if c.src != nil {
		c.idleSrc = c.src.idle.PushBack(c)
	}
}

func (l *connListener) notIdleLocked(c *conn) {
	if c.idleAll == nil {
		return
	}
	l.idle.Remove(c.idleAll)
	c.idleAll = nil
	l.stats.Idle.Add(-1)
	if c.idleSrc != nil {
		c.src.idle.Remove(c.idleSrc)
		c.idleSrc = nil
	}
}

// conn is one accepted connection. It is idle while the server waits in Read
// with every request it read answered: then, and only then, it may be shed.
type conn struct {
	net.Conn
	l   *connListener
	src *source // nil when the per-IP limit does not apply

	// unanswered: bytes were read and no Write followed yet. Read
	// and Write come from the one goroutine serving the connection.
	unanswered bool

	// Guarded by l.mu.
	released         bool
	idleAll, idleSrc *list.Element
}

func (c *conn) Read(b []byte) (int, error) {
	if !c.unanswered {
		c.l.mu.Lock()
		c.l.idleLocked(c)
		c.l.mu.Unlock()
	}
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.unanswered = true
	}
	c.l.mu.Lock()
	c.l.notIdleLocked(c)
	c.l.mu.Unlock()
	return n, err
}

func (c *conn) Write(b []byte) (int, error) {
	c.unanswered = false
	return c.Conn.Write(b)
}

func (c *conn) Close() error {
	c.l.mu.Lock()
	c.l.releaseLocked(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// throttle lets a repeated log line through once every ten seconds, and says
// how many it held back.
type throttle struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

func (t *throttle) allow() (skipped int, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now := time.Now(); t.last.IsZero() || now.Sub(t.last) >= 10*time.Second {
		skipped, t.skipped, t.last = t.skipped, 0, now
		return skipped, true
	}
	t.skipped++
	return 0, false
}
