package allowlist

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

func mustTarget(t *testing.T, scheme, host string, port uint16) Target {
	t.Helper()
	tg, err := NewTarget(scheme, host, port)
	if err != nil {
		t.Fatalf("NewTarget(%q, %q, %d): %v", scheme, host, port, err)
	}
	return tg
}

func TestNewTarget(t *testing.T) {
	tests := []struct {
		scheme, host string
		port         uint16
		want         Target
	}{
		{"http", "Example.COM.", 80, Target{Scheme: "http", Host: "example.com", Port: 80}},
		{"HTTPS", "api.example.com", 443, Target{Scheme: "https", Host: "api.example.com", Port: 443}},
		{"tcp", "db", 5432, Target{Scheme: "tcp", Host: "db", Port: 5432}},
		{"tcp", "127.0.0.1", 1, Target{Scheme: "tcp", Host: "127.0.0.1", Port: 1, Addr: netip.MustParseAddr("127.0.0.1")}},
		{"tcp", "127.0.0.1.", 1, Target{Scheme: "tcp", Host: "127.0.0.1", Port: 1, Addr: netip.MustParseAddr("127.0.0.1")}},
		{"tcp", "::1", 9, Target{Scheme: "tcp", Host: "::1", Port: 9, Addr: netip.MustParseAddr("::1")}},
		{"tcp", "[::1]", 9, Target{Scheme: "tcp", Host: "::1", Port: 9, Addr: netip.MustParseAddr("::1")}},
		{"tcp", "[0:0:0:0:0:0:0:1]", 9, Target{Scheme: "tcp", Host: "::1", Port: 9, Addr: netip.MustParseAddr("::1")}},
		{"http", "[::ffff:127.0.0.1]", 3500, Target{Scheme: "http", Host: "127.0.0.1", Port: 3500, Addr: netip.MustParseAddr("127.0.0.1")}},
		{"http", "::ffff:7f00:1", 3500, Target{Scheme: "http", Host: "127.0.0.1", Port: 3500, Addr: netip.MustParseAddr("127.0.0.1")}},
		{"http", "FD00::AB", 80, Target{Scheme: "http", Host: "fd00::ab", Port: 80, Addr: netip.MustParseAddr("fd00::ab")}},
		{"http", "a-b.c0", 80, Target{Scheme: "http", Host: "a-b.c0", Port: 80}},
		{"http", "0x.example", 80, Target{Scheme: "http", Host: "0x.example", Port: 80}},
		{"http", "deadbeef", 80, Target{Scheme: "http", Host: "deadbeef", Port: 80}},
	}
	for _, tt := range tests {
		got, err := NewTarget(tt.scheme, tt.host, tt.port)
		if err != nil {
			t.Errorf("NewTarget(%q, %q, %d): %v", tt.scheme, tt.host, tt.port, err)
			continue
		}
		if got != tt.want {
			t.Errorf("NewTarget(%q, %q, %d) = %+v, want %+v", tt.scheme, tt.host, tt.port, got, tt.want)
		}
		if got.IsIP() != tt.want.Addr.IsValid() {
			t.Errorf("NewTarget(%q).IsIP() = %v", tt.host, got.IsIP())
		}
	}
}

// legacyIPv4 are spellings that inet_aton or URL parsers read as an IPv4
// address but that are not a canonical dotted quad.
var legacyIPv4 = []string{
	"2130706433", "2130706433.", "127.1", "127.1.", "127.0.1", "0x7f.0.0.1", "0x7f.0.0.1.",
	"0X7F.0.0.1", "0x7f000001", "0x7F000001", "0177.0.0.1", "0177.0.0.1.", "127.000.0.1",
	"127.0.0.01", "0", "0x", "0.0", "1.2.3.4.5", "017700000001", "169.254.43518",
	"0xa9.0xfe.0xa9.0xfe", "foo.127.1", "a.0x10",
}

func TestNewTargetRejects(t *testing.T) {
	tests := []struct {
		scheme, host string
		port         uint16
		want         string
	}{
		{"http", "", 80, "host is empty"},
		{"http", "[]", 80, "brackets"},
		{"http", ".", 80, "host is empty"},
		{"http", "a..b", 80, "empty label"},
		{"http", ".a", 80, "empty label"},
		{"http", "a..", 80, "empty label"},
		{"http", "a_b", 80, "only a-z"},
		{"http", "a b", 80, "only a-z"},
		{"http", "a/b", 80, "only a-z"},
		{"http", "a@b", 80, "only a-z"},
		{"http", "a\x00b", 80, "only a-z"},
		{"http", "\u212aelvin.example", 80, "not ASCII"}, // Kelvin sign lowercases to 'k'
		{"http", "fe80::1%eth0", 80, "zones"},
		{"http", "[fe80::1%25eth0]", 80, "zones"},
		{"http", "1:2", 80, "not a valid IPv6"},
		{"http", "[example.com]", 80, "brackets are only for IPv6"},
		{"http", "[1.2.3.4]", 80, "brackets are only for IPv6"},
		{"ftp", "a", 21, "scheme"},
		{"", "a", 21, "scheme"},
		{"*", "a", 80, "scheme"},
		{"http", "a", 0, "port 0"},
	}
	for _, h := range legacyIPv4 {
		tests = append(tests, struct {
			scheme, host string
			port         uint16
			want         string
		}{"http", h, 80, "ambiguous IPv4"})
	}
	for _, tt := range tests {
		got, err := NewTarget(tt.scheme, tt.host, tt.port)
		if err == nil {
			t.Errorf("NewTarget(%q, %q, %d) = %+v, want error", tt.scheme, tt.host, tt.port, got)
			continue
		}
		if !errors.Is(err, ErrInvalidTarget) {
			t.Errorf("NewTarget(%q): error %v does not wrap ErrInvalidTarget", tt.host, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewTarget(%q, %q, %d) error %q does not contain %q", tt.scheme, tt.host, tt.port, err, tt.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("NewTarget(%q): multi-line error %q", tt.host, err)
		}
	}
}

func TestTargetFromURL(t *testing.T) {
	tests := []struct {
		url  string
		want string // Target.String(), or "" when an error is expected
		ip   bool
	}{
		{"http://example.com/x?y#z", "http://example.com:80", false},
		{"https://example.com", "https://example.com:443", false},
		{"HTTPS://EXAMPLE.com.:8443/", "https://example.com:8443", false},
		{"http://example.com:/", "http://example.com:80", false},
		{"http://127.0.0.1:3500/v1.0/state", "http://127.0.0.1:3500", true},
		{"http://[::1]:3500/", "http://[::1]:3500", true},
		{"http://[::ffff:127.0.0.1]:3500/", "http://127.0.0.1:3500", true},
		{"http://[::ffff:169.254.169.254]/", "http://169.254.169.254:80", true},
		// Userinfo is not the host: the real destination is after '@'.
		{"http://a@b/", "http://b:80", false},
		{"http://127.0.0.1:3500@evil.com/", "http://evil.com:80", false},
		{"http://user:pass@127.0.0.1:3500/", "http://127.0.0.1:3500", true},
		{"http://localhost:3500@169.254.169.254/", "http://169.254.169.254:80", true},
		{"ftp://example.com/", "", false},
		{"file:///etc/passwd", "", false},
		{"http:opaque", "", false},
		{"http:///path", "", false},
		{"http://a:0/", "", false},
		{"http://a:99999/", "", false},
		{"http://2130706433/", "", false},
		{"http://127.1/", "", false},
		{"http://0x7f.0.0.1/", "", false},
		{"http://0177.0.0.1/", "", false},
		{"http://127.000.0.1/", "", false},
		{"http://127.1./", "", false},
		{"http://[fe80::1%25eth0]/", "", false},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", tt.url, err)
		}
		got, err := TargetFromURL(u)
		if tt.want == "" {
			if err == nil {
				t.Errorf("TargetFromURL(%q) = %v, want error", tt.url, got)
			} else if !errors.Is(err, ErrInvalidTarget) {
				t.Errorf("TargetFromURL(%q): %v does not wrap ErrInvalidTarget", tt.url, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("TargetFromURL(%q): %v", tt.url, err)
			continue
		}
		if got.String() != tt.want || got.IsIP() != tt.ip {
			t.Errorf("TargetFromURL(%q) = %v (ip %v), want %v (ip %v)", tt.url, got, got.IsIP(), tt.want, tt.ip)
		}
	}
	if _, err := TargetFromURL(nil); err == nil {
		t.Error("TargetFromURL(nil) did not fail")
	}
}

func TestTargetFromAddr(t *testing.T) {
	tests := []struct {
		scheme, addr string
		want         string // "" means error
	}{
		{"tcp", "db:5432", "tcp://db:5432"},
		{"tcp", "[::1]:5432", "tcp://[::1]:5432"},
		{"http", "127.0.0.1:80", "http://127.0.0.1:80"},
		{"http", "[::ffff:127.0.0.1]:80", "http://127.0.0.1:80"},
		{"tcp", "db", ""},
		{"tcp", "db:postgres", ""},
		{"tcp", "db:0", ""},
		{"tcp", "db:65536", ""},
		{"tcp", "::1:80", ""},
		{"tcp", "127.1:80", ""},
		{"tcp", "[fe80::1%eth0]:80", ""},
		{"udp", "db:53", "udp://db:53"},
		{"ftp", "db:21", ""},
	}
	for _, tt := range tests {
		got, err := TargetFromAddr(tt.scheme, tt.addr)
		if tt.want == "" {
			if err == nil {
				t.Errorf("TargetFromAddr(%q, %q) = %v, want error", tt.scheme, tt.addr, got)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("TargetFromAddr(%q, %q) = %v, %v; want %v", tt.scheme, tt.addr, got, err, tt.want)
		}
		if got.HostPort() != strings.TrimPrefix(tt.want, tt.scheme+"://") {
			t.Errorf("HostPort() = %q", got.HostPort())
		}
	}
}
