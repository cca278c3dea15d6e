package httpmod

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// The allow-list (--http-allow) names what scripts may call. An entry is
//
//	api.example.com         that host, on ports 80 and 443
//	api.example.com:8443    that host, on that port only
//	*.example.com           any name under example.com (not example.com itself), ports 80 and 443
//	127.0.0.1:8081, [::1]   an IP address, with or without a port as above
//
// Names and addresses are distinct: "localhost" does not allow http://127.0.0.1/.
// A URL's host is checked before the request and again at every redirect, and
// the dialer checks once more where the connection really goes (see dial).
type allowList []entry

type entry struct {
	name     string     // lower case; for a wildcard, the suffix with its dot (".example.com")
	wildcard bool       // "*.example.com"
	ip       netip.Addr // valid when the entry is an address
	port     string     // "" = 80 and 443
}

// CheckAllow reports the first entry of an --http-allow list that is not a
// host, host:port, *.domain or IP address. Open skips such entries, so the
// command line should refuse them before serving.
func CheckAllow(entries []string) error {
	for _, s := range entries {
		if _, err := parseEntry(s); err != nil {
			return err
		}
	}
	return nil
}

func parseAllow(entries []string) allowList {
	var a allowList
	for _, s := range entries {
		if e, err := parseEntry(s); err == nil {
			a = append(a, e)
		}
	}
	return a
}

func parseEntry(s string) (entry, error) {
	bad := func(why string) (entry, error) {
		return entry{}, fmt.Errorf("--http-allow %q: %s (use host, host:port, *.domain or an IP address)", s, why)
	}
	host := strings.ToLower(strings.TrimSpace(s))
	if strings.Contains(host, "/") {
		return bad("an entry is a host, not a URL")
	}
	var e entry
	if ip, err := netip.ParseAddr(host); err == nil { // also a bare IPv6 address, whose colons are not a port
		return entry{ip: ip.Unmap().WithZone("")}, nil
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("the port is not a number from 1 to 65535")
		}
		host, e.port = h, p
	}
	host = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		e.ip = ip.Unmap().WithZone("")
		return e, nil
	}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		e.wildcard, host = true, rest
	}
	if !isName(host) {
		return bad("not a host name")
	}
	e.name = host
	if e.wildcard {
		e.name = "." + host
	}
	return e, nil
}

func isName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// allows reports whether host (a name or an address, as in a URL or a dial) on
// port is in the list.
func (a allowList) allows(host, port string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	ip, err := netip.ParseAddr(host)
	isIP := err == nil
	for _, e := range a {
		switch {
		case !e.allowsPort(port):
		case isIP:
			if e.ip.IsValid() && e.ip == ip.Unmap().WithZone("") {
				return true
			}
		case e.wildcard:
			if strings.HasSuffix(host, e.name) && len(host) > len(e.name) {
				return true
			}
		case host == e.name:
			return true
		}
	}
	return false
}

func (e entry) allowsPort(port string) bool {
	if e.port == "" {
		return port == "80" || port == "443"
	}
	return port == e.port
}

// checkURL is the check of a URL before it is fetched, and of every redirect.
func (a allowList) checkURL(u *url.URL) error {
	if u.Scheme == "" {
		return fmt.Errorf("bad URL %s: it needs http:// or https://", shown(u))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("only http and https URLs can be fetched, not %s", shown(u))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("bad URL %s: no host", shown(u))
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if !a.allows(u.Hostname(), port) {
		return &deniedError{fmt.Sprintf("host %s is not in the allow-list (--http-allow)", u.Host)}
	}
	return nil
}

// deniedError is a refusal by the allow-list, wherever in the client it happens.
type deniedError struct{ msg string }

func (e *deniedError) Error() string { return e.msg }

// metadata are cloud metadata services outside link-local space: AWS's IPv6
// endpoint and Alibaba Cloud's. (AWS, GCP, Azure and Oracle's IPv4 endpoint,
// 169.254.169.254, is link-local.)
var metadata = []netip.Addr{netip.MustParseAddr("fd00:ec2::254"), netip.MustParseAddr("100.100.100.200")}

// maxIdlePerHost is the idle connections kept to one host: more than the
// scripts that run at once by default (4 per CPU) on most machines.
const maxIdlePerHost = 64

// transport is the default client's: no proxy, since the allow-list must see
// the real destination, and a dialer that checks it.
func (a allowList) transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = a.dial
	t.MaxResponseHeaderBytes = 64 << 10
	// net/http keeps 2 idle connections per host by default: with the
	// scripts of many calls asking one CRM at once, every request past the
	// second opened a new connection and left one in TIME_WAIT (5,162
	// after 10 s of about 4,000 events a second, each with a request; 72
	// with this). Keep as many as scripts may run at once.
	t.MaxIdleConnsPerHost = maxIdlePerHost
	t.MaxIdleConns = 4 * maxIdlePerHost
	return t
}

// dial connects only where the allow-list allows, checked on the address the
// socket connects to.
//
// Checking a URL's host is not enough on its own: an allowed name can resolve
// (or be re-pointed, by DNS rebinding) to an address inside our network, such as
// the cloud metadata service that hands out credentials. So the check runs in
// the dialer's Control hook, after DNS and before connect, on the very address
// being connected to: nothing resolves the name again between check and
// connect. A name connects only to what it resolves to, and never to a
// link-local or metadata address unless that address is itself an entry.
// Private and loopback addresses stay reachable by name, since the business
// systems an IVR calls often live there.
func (a allowList) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if !a.allows(host, port) {
		return nil, &deniedError{fmt.Sprintf("host %s is not in the allow-list (--http-allow)", addr)}
	}
	d := net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
		return a.checkConn(host, address)
	}}
	return d.DialContext(ctx, network, addr)
}

// checkConn checks the ip:port a connection to host is about to reach.
func (a allowList) checkConn(host, address string) error {
	ipText, port, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(ipText)
	if err != nil {
		return err
	}
	ip = ip.Unmap().WithZone("")
	internal := ip.IsLinkLocalUnicast()
	for _, m := range metadata {
		internal = internal || ip == m
	}
	if internal && !a.allows(ip.String(), port) {
		return &deniedError{fmt.Sprintf("host %s resolves to %s, a link-local or cloud metadata address (only an --http-allow entry with that address allows it)", host, ip)}
	}
	return nil
}

// errDenied finds an allow-list refusal inside an error from the client.
func errDenied(err error) (*deniedError, bool) {
	var d *deniedError
	ok := errors.As(err, &d)
	return d, ok
}
