package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// ParseKeys reads paths written as the --keys flag takes them: paths separated
// by ";", each a comma-separated list of one prompt's digits (0-9, * and #) or
// "timeout" (also "t") for no input. "1,1,1;3" is two paths.
func ParseKeys(s string) ([][]string, error) {
	var paths [][]string
	for p := range strings.SplitSeq(s, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		var path []string
		for k := range strings.SplitSeq(p, ",") {
			k = strings.TrimSpace(k)
			switch {
			case k == "t" || k == "timeout":
				k = timeoutKey
			case k == "" || strings.Trim(k, "0123456789*#") != "":
				return nil, fmt.Errorf("keys %q: %q is not digits (0-9, *, #) or \"timeout\"", p, k)
			}
			path = append(path, k)
		}
		paths = append(paths, path)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("keys %q: no path (write paths as \"1,1,1;1,2,2;3\")", s)
	}
	return paths, nil
}

const timeoutKey = "timeout"

// CheckTarget refuses a URL whose host is not this machine (127.0.0.0/8, ::1
// or localhost) unless allowRemote: the load would land on someone's server.
func CheckTarget(rawURL string, allowRemote bool) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("target %q: use an http:// or https:// URL, e.g. %s", rawURL, DefaultURL)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("target %q: no host", rawURL)
	}
	if allowRemote || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("refusing to load %s: %s is not this machine (127.0.0.0/8, ::1 or localhost), "+
		"and thousands of webhooks a second against someone else's server is an attack; "+
		"if the server is yours, pass --allow-remote", rawURL, host)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// target is a parsed URL, ready for fasthttp.
type target struct {
	url   string
	addr  string // host:port
	tls   bool
	admin string // scheme://host of /healthz
}

func parseTarget(rawURL string) (target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return target{}, err
	}
	t := target{url: rawURL, tls: u.Scheme == "https", admin: u.Scheme + "://" + u.Host}
	port := u.Port()
	if port == "" {
		port = "80"
		if t.tls {
			port = "443"
		}
	}
	t.addr = net.JoinHostPort(u.Hostname(), port)
	return t, nil
}

// reachable dials the target once, so that a server that is not running is
// one clear error rather than a run of transport errors.
func reachable(ctx context.Context, rawURL string) error {
	tgt, err := parseTarget(rawURL)
	if err != nil {
		return err
	}
	conn, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", tgt.addr)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w (is luaivr serve running there?)", tgt.addr, err)
	}
	return conn.Close()
}
