package server

import (
	"net/netip"
	"testing"
)

// One host owns a whole IPv6 /64 and can dial from any address in it: the
// per-source limit counts the /64. IPv4, also written as IPv4-mapped IPv6, is
// one address.
func TestSourceKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"198.51.100.7", "::ffff:198.51.100.7", true},
		{"198.51.100.7", "198.51.100.8", false},
	} {
		ka, kb := sourceKey(netip.MustParseAddr(tt.a)), sourceKey(netip.MustParseAddr(tt.b))
		if (ka == kb) != tt.same {
			t.Errorf("%s and %s: keys %s and %s, same source: %v", tt.a, tt.b, ka, kb, tt.same)
		}
	}
}
