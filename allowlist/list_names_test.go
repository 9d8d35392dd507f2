package allowlist

import (
	"strings"
	"testing"
)

func TestNamesHost(t *testing.T) {
	l, err := Parse([]string{"tcp://db.internal:5432", "tcp://*.cache.internal:*", "http://web.internal", "tcp://10.0.0.1:80"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		scheme, host string
		want         bool
	}{
		{"tcp", "db.internal", true},
		{"tcp", "DB.Internal.", true},
		{"tcp", "a.cache.internal", true},
		{"tcp", "cache.internal", false},
		{"tcp", "web.internal", false}, // named for http only
		{"http", "web.internal", true},
		{"tcp", "10.0.0.1", false}, // IPs are not names
		{"tcp", "evil.example", false},
		{"tcp", "127.1", false},
	} {
		if got := l.NamesHost(c.scheme, c.host); got != c.want {
			t.Errorf("NamesHost(%s, %s) = %v, want %v", c.scheme, c.host, got, c.want)
		}
	}
	var nilList *List
	if nilList.NamesHost("tcp", "db.internal") {
		t.Error("a nil list names nothing")
	}
}

func TestUDPScheme(t *testing.T) {
	l, err := Parse([]string{"udp://10.0.0.53:53", "*://dns.internal:5353"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		scheme, host string
		port         uint16
		want         bool
	}{
		{"udp", "10.0.0.53", 53, true},
		{"tcp", "10.0.0.53", 53, false}, // udp does not allow tcp
		{"udp", "10.0.0.53", 54, false},
		{"udp", "dns.internal", 5353, true}, // * covers udp
	} {
		tg, err := NewTarget(c.scheme, c.host, c.port)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := l.Match(tg); ok != c.want {
			t.Errorf("%s://%s:%d: %v, want %v", c.scheme, c.host, c.port, ok, c.want)
		}
	}
	if _, err := Parse([]string{"udp://10.0.0.53"}); err == nil || !strings.Contains(err.Error(), "udp entries need a port") {
		t.Errorf("udp without a port: %v", err)
	}
}
