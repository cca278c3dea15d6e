package server

import (
	"container/list"
	"errors"
	"io"
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
//  2. at either limit, makes room by closing the connection that has waited
//     longest on its client: first among the idle ones (sent nothing yet, or
//     nothing since their last answer), else among those still sending a
//     request (a slow client, sending its headers a byte at a time). It
//     refuses the new connection only when every one is being answered. So a
//     flood of idle or slow connections, from one source or many, cannot lock
//     8x8 out, and a request that was read is never cut while it is handled
//     or answered (a pipelined request that arrived in part with the one
//     before it counts as idle once that one is answered);
//  3. waits out accept errors (out of file descriptors, or anything else)
//     instead of returning them, closing a few waiting connections to free
//     descriptors; only Close ends Accept.
//
// The limits count connections, not requests: the per-event deadline, the
// read and write timeouts and the body limit bound what each one costs. The
// bookkeeping is one mutex taken twice per Read of a connection.

// ConnStats count what the listener did with connections, and the webhooks
// the guard refused; /metrics shows them.
type ConnStats struct {
	Open            atomic.Int64 // connections held now
	Idle            atomic.Int64 // of those, waiting for a request
	Reading         atomic.Int64 // of those, waiting for the rest of a request
	RefusedMaxConns atomic.Int64 // closed at accept: at MaxConns, every connection being answered
	RefusedMaxPerIP atomic.Int64 // closed at accept: the source at MaxConnsPerIP, each being answered
	ShedIdle        atomic.Int64 // idle connections closed to make room
	ShedReading     atomic.Int64 // connections closed in the middle of a request to make room
	AcceptErrors    atomic.Int64 // accepts that failed and were retried
	Rejected        atomic.Int64 // webhooks the guard refused (--webhook-auth, --allow-from)
}

// FileLimit is the number of files the process may hold open (RLIMIT_NOFILE,
// soft). Go's runtime raised it at start to one below the hard limit (package
// syscall, since Go 1.19), so this is as high as it goes without the operator
// (`ulimit -Hn`, systemd's LimitNOFILE=). Each connection holds one; 0 when it
// cannot be read.
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
// memory (about 18 KB each, measured).
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
	waiting waiting
	sources map[netip.Addr]*source

	closed    chan struct{}
	closeOnce sync.Once

	logs quiet
}

// source is what one IPv4 address or IPv6 /64 holds.
type source struct {
	key     netip.Addr
	open    int
	waiting waiting
}

// waiting holds the connections, of the listener or of one source, that the
// server waits on in Read, each list in the order they began to wait: idle
// ones (no request begun) and reading ones (a request begun).
type waiting struct{ idle, reading list.List }

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
			// Closed connections give their descriptors back as soon
			// as their goroutines wake: retry almost at once. With none to
			// close, back off.
			wait = min(max(2*wait, 5*time.Millisecond), 500*time.Millisecond)
			if l.acceptFailed(err) > 0 {
				wait = time.Millisecond
			}
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

// acceptFailed counts and logs a failed accept, and closes up to shedOnError
// waiting connections to free descriptors; it returns how many it closed.
func (l *connListener) acceptFailed(err error) int {
	l.stats.AcceptErrors.Add(1)
	var victims []*conn
	l.mu.Lock()
	for len(victims) < shedOnError {
		v := l.shedLocked(nil)
		if v == nil {
			break
		}
		victims = append(victims, v)
	}
	l.mu.Unlock()
	msg := "accepting a connection failed; retrying"
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		msg = "out of file descriptors: raise the limit (ulimit -n, systemd LimitNOFILE=) or lower --max-conns; retrying"
	}
	l.logs.log(l.log, slog.LevelError, msg, "err", err, "file_limit", FileLimit(), "open_conns", l.stats.Open.Load(),
		"closed_waiting", len(victims))
	for _, v := range victims {
		v.Conn.Close()
	}
	return len(victims)
}

// shedOnError is how many waiting connections a failed accept closes: a few,
// so that a backlog of connections past the file limit drains quickly.
const shedOnError = 16

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
	l.waitLocked(c) // idle until it sends a byte
	l.mu.Unlock()
	if len(victims) > 0 {
		l.logs.log(l.log, slog.LevelWarn, "connection limit reached: closed the connection that waited longest on its client to make room",
			"max_conns", l.maxConns, "max_conns_per_ip", l.maxPerIP, "remote", nc.RemoteAddr().String())
	}
	for _, v := range victims {
		v.Conn.Close()
	}
	return c
}

func (l *connListener) refuse(nc net.Conn, count *atomic.Int64, flag string, limit int) {
	count.Add(1)
	l.logs.log(l.log, slog.LevelWarn, "connection refused: limit reached with every connection being answered (raise "+flag+" if these are real clients)",
		"limit", limit, "remote", nc.RemoteAddr().String())
	nc.Close()
}

// shedLocked releases the connection that has waited longest on its client,
// of s or of all, idle ones first, and returns it for the caller to close
// once l.mu is unlocked; nil when none is waiting.
func (l *connListener) shedLocked(s *source) *conn {
	w := &l.waiting
	if s != nil {
		w = &s.waiting
	}
	count := &l.stats.ShedIdle
	front := w.idle.Front()
	if front == nil {
		count, front = &l.stats.ShedReading, w.reading.Front()
	}
	if front == nil {
		return nil
	}
	c := front.Value.(*conn)
	l.releaseLocked(c)
	c.shed.Store(true)
	count.Add(1)
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
	l.doneWaitingLocked(c)
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

// waitLocked puts c in the lists of connections waiting on their client.
func (l *connListener) waitLocked(c *conn) {
	if c.released || c.inAll != nil {
		return
	}
	all, gauge := &l.waiting.idle, &l.stats.Idle
	if c.unanswered {
		all, gauge = &l.waiting.reading, &l.stats.Reading
	}
	c.inAll, c.reading = all.PushBack(c), c.unanswered
	gauge.Add(1)
	if c.src != nil {
		src := &c.src.waiting.idle
		if c.reading {
			src = &c.src.waiting.reading
		}
		c.inSrc = src.PushBack(c)
	}
}

func (l *connListener) doneWaitingLocked(c *conn) {
	if c.inAll == nil {
		return
	}
	all, gauge := &l.waiting.idle, &l.stats.Idle
	if c.reading {
		all, gauge = &l.waiting.reading, &l.stats.Reading
	}
	all.Remove(c.inAll)
	c.inAll = nil
	gauge.Add(-1)
	if c.inSrc != nil {
		src := &c.src.waiting.idle
		if c.reading {
			src = &c.src.waiting.reading
		}
		src.Remove(c.inSrc)
		c.inSrc = nil
	}
}

// conn is one accepted connection. While the server waits in its Read it is
// idle (nothing unanswered: a new connection, or one between keep-alive
// requests) or reading (the rest of a request); either may be shed, and at
// no other time: not while its request is handled or answered.
type conn struct {
	net.Conn
	l    *connListener
	src  *source     // nil when the per-IP limit does not apply
	shed atomic.Bool // closed to make room: its Read ends as if the client had closed

	// unanswered: bytes were read and no Write followed yet. Read and Write
	// come from the one goroutine serving the connection.
	unanswered bool

	// Guarded by l.mu.
	released     bool
	inAll, inSrc *list.Element // in l.waiting and src.waiting, when waiting
	reading      bool          // in their reading lists, not idle
}

func (c *conn) Read(b []byte) (int, error) {
	c.l.mu.Lock()
	c.l.waitLocked(c)
	c.l.mu.Unlock()
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.unanswered = true
	}
	if err != nil && c.shed.Load() {
		err = io.EOF // fasthttp then closes it quietly, without a 400
	}
	c.l.mu.Lock()
	c.l.doneWaitingLocked(c)
	c.l.mu.Unlock()
	return n, err
}

// SetReadDeadline does nothing on a shed connection, so that fasthttp goes on
// to the Read that ends it quietly.
func (c *conn) SetReadDeadline(t time.Time) error {
	if c.shed.Load() {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
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
