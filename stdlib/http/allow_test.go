package httpmod

import (
	"strings"
	"testing"
)

func TestAllows(t *testing.T) {
	t.Parallel()
	a := parseAllow([]string{"api.example.com", "pay.example.com:8443", "*.crm.example.com", "127.0.0.1:8081", "[::1]", "Partner.Example.NET."})
	tests := []struct {
		host, port string
		want       bool
	}{
		{"api.example.com", "443", true},
		{"api.example.com", "80", true},
		{"API.example.com.", "443", true},
		{"api.example.com", "8443", false},
		{"x.api.example.com", "443", false},
		{"pay.example.com", "8443", true},
		{"pay.example.com", "443", false},
		{"eu.crm.example.com", "443", true},
		{"a.b.crm.example.com", "80", true},
		{"crm.example.com", "443", false},
		{"evilcrm.example.com", "443", false},
		{"127.0.0.1", "8081", true},
		{"127.0.0.1", "80", false},
		{"localhost", "8081", false}, // a name is not the address it resolves to
		{"::1", "443", true},
		{"::ffff:127.0.0.1", "8081", true},
		{"partner.example.net", "443", true},
		{"example.com", "443", false},
	}
	for _, tt := range tests {
		if got := a.allows(tt.host, tt.port); got != tt.want {
			t.Errorf("allows(%s, %s) = %v, want %v", tt.host, tt.port, got, tt.want)
		}
	}
	if parseAllow(nil).allows("api.example.com", "443") {
		t.Error("an empty list allows nothing")
	}
}

// The dialer's check of where a connection really goes: an allowed name that
// resolves to the metadata service is refused, unless that address is listed.
func TestCheckConn(t *testing.T) {
	t.Parallel()
	a := parseAllow([]string{"api.example.com", "*.example.org", "169.254.169.254:80"})
	tests := []struct {
		host, address string
		refused       bool
	}{
		{"api.example.com", "93.184.216.34:443", false},
		{"api.example.com", "10.0.0.7:443", false},
		{"api.example.com", "127.0.0.1:443", false},
		{"api.example.com", "169.254.169.254:443", true},
		{"api.example.com", "169.254.10.1:80", true},
		{"api.example.com", "[::ffff:169.254.169.254]:443", true},
		{"api.example.com", "[fe80::1%eth0]:443", true},
		{"x.example.org", "[fd00:ec2::254]:80", true},
		{"x.example.org", "100.100.100.200:80", true},
		{"x.example.org", "169.254.169.254:80", false}, // listed by address and port
		{"169.254.169.254", "169.254.169.254:80", false},
	}
	for _, tt := range tests {
		err := a.checkConn(tt.host, tt.address)
		if (err != nil) != tt.refused {
			t.Errorf("checkConn(%s, %s) = %v, want refused %v", tt.host, tt.address, err, tt.refused)
		}
		if err != nil && !strings.Contains(err.Error(), "link-local or cloud metadata") {
			t.Errorf("checkConn(%s, %s): %v", tt.host, tt.address, err)
		}
	}
}

func TestCheckAllow(t *testing.T) {
	t.Parallel()
	if err := CheckAllow([]string{"api.example.com", "api.example.com:8443", "*.example.com", "127.0.0.1:8081", "fd00::1", "[fd00::1]:8443", " crm.local "}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "*", "https://api.example.com", "api.example.com/v1", "api.example.com:0", "api.example.com:https", "a b", "*.*.example.com", "api.*.com", "api..example.com"} {
		if err := CheckAllow([]string{bad}); err == nil || !strings.Contains(err.Error(), "--http-allow") {
			t.Errorf("CheckAllow(%q) = %v", bad, err)
		}
	}
}
