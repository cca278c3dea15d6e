package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"strings"

	"github.com/valyala/fasthttp"
)

// Guard decides who may post webhooks. 8x8 does not sign webhooks; it can
// send a fixed Authorization header configured on the sub-account's webhook
// (httpAuthHeader), and it calls from published addresses. Both checks are
// off by default, for local use.
type Guard struct {
	// Authorization is the exact header value 8x8 sends; "" accepts any.
	Authorization string
	// AllowFrom are the networks webhooks may come from; empty allows all.
	AllowFrom []*net.IPNet
	// TrustProxy are reverse proxies whose X-Forwarded-For names the client.
	// Without them X-Forwarded-For is ignored: anyone can write it.
	TrustProxy []*net.IPNet
}

// ParseNets reads a comma-separated list of networks ("203.0.113.0/24") and
// single addresses ("198.51.100.7").
func ParseNets(list string) ([]*net.IPNet, error) {
	var nets []*net.IPNet
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, "/") {
			ip := net.ParseIP(item)
			if ip == nil {
				return nil, fmt.Errorf("%q is not an IP address or a network like 203.0.113.0/24", item)
			}
			bits := 32
			if ip.To4() == nil {
				bits = 128
			}
			item = fmt.Sprintf("%s/%d", item, bits)
		}
		_, n, err := net.ParseCIDR(item)
		if err != nil {
			return nil, fmt.Errorf("%q is not a network like 203.0.113.0/24", item)
		}
		nets = append(nets, n)
	}
	return nets, nil
}

// check returns "" when the request may pass, else why not (for the log,
// never for the caller).
func (g *Guard) check(ctx *fasthttp.RequestCtx) (status int, reason string) {
	if len(g.AllowFrom) > 0 {
		ip := g.clientIP(ctx)
		if !contains(g.AllowFrom, ip) {
			return fasthttp.StatusForbidden, "source " + ip.String() + " is not in --allow-from"
		}
	}
	if g.Authorization != "" {
		got := ctx.Request.Header.Peek("Authorization")
		if !sameSecret(got, g.Authorization) {
			if len(got) == 0 {
				return fasthttp.StatusUnauthorized, "no Authorization header"
			}
			return fasthttp.StatusUnauthorized, "wrong Authorization header"
		}
	}
	return 0, ""
}

// clientIP is the connection's address, or, when that is a trusted proxy, the
// last address in X-Forwarded-For that is not one of our proxies.
func (g *Guard) clientIP(ctx *fasthttp.RequestCtx) net.IP {
	ip := ctx.RemoteIP()
	if !contains(g.TrustProxy, ip) {
		return ip
	}
	// Every X-Forwarded-For line, in order: a proxy may add its own line
	// after a forged one sent by the client.
	var lines []string
	for _, l := range ctx.Request.Header.PeekAll("X-Forwarded-For") {
		lines = append(lines, string(l))
	}
	hops := strings.Split(strings.Join(lines, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := net.ParseIP(strings.TrimSpace(hops[i]))
		if hop == nil {
			return ip // a garbled header: judge the proxy itself
		}
		if !contains(g.TrustProxy, hop) {
			return hop
		}
		ip = hop
	}
	return ip
}

func contains(nets []*net.IPNet, ip net.IP) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// sameSecret compares a presented secret with the expected one in time that
// depends on neither, not even their lengths: it compares their digests.
func sameSecret(got []byte, want string) bool {
	a, b := sha256.Sum256(got), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
