package allowlist

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRuleValid(t *testing.T) {
	tests := []struct {
		entry string
		want  string // canonical String()
	}{
		{"http://localhost:3500", "http://localhost:3500"},
		{"http://localhost:3500/", "http://localhost:3500"},
		{"  HTTP://LocalHost.:3500  ", "http://localhost:3500"},
		{"https://api.example.com", "https://api.example.com"},
		{"http://example.com/", "http://example.com"},
		{"tcp://db:5432", "tcp://db:5432"},
		{"tcp://db:*", "tcp://db:*"},
		{"tcp://db:1-65535", "tcp://db:*"},
		{"http://a:8000-8999", "http://a:8000-8999"},
		{"http://a:8080-8080", "http://a:8080"},
		{"http://a:0080", "http://a:80"},
		{"*://example.com", "*://example.com"},
		{"*://example.com:9000", "*://example.com:9000"},
		{"http://*.example.com", "http://*.example.com"},
		{"http://*.Example.COM.:81", "http://*.example.com:81"},
		{"http://127.0.0.1:3500", "http://127.0.0.1:3500"},
		{"http://127.0.0.1.:3500", "http://127.0.0.1:3500"},
		{"http://[::1]:3500", "http://[::1]:3500"},
		{"http://[::1]", "http://[::1]"},
		{"http://[0:0::1]/", "http://[::1]"},
		{"http://[::ffff:127.0.0.1]:3500", "http://127.0.0.1:3500"},
		{"tcp://10.0.0.0/8:5432", "tcp://10.0.0.0/8:5432"},
		{"http://10.0.0.0/8", "http://10.0.0.0/8"},
		{"http://10.0.0.0/8/", "http://10.0.0.0/8"},
		{"http://[fd00::/8]:*", "http://[fd00::/8]:*"},
		{"http://[::ffff:10.0.0.0/104]", "http://10.0.0.0/8"},
		{"http://169.254.169.254", "http://169.254.169.254"},
		{"insecure:allow-all", "insecure:allow-all"},
		{"INSECURE:Allow-All", "insecure:allow-all"},
		{"http://xn--bcher-kva.example", "http://xn--bcher-kva.example"},
	}
	for _, tt := range tests {
		r, err := ParseRule(tt.entry)
		if err != nil {
			t.Errorf("ParseRule(%q): unexpected error %v", tt.entry, err)
			continue
		}
		if got := r.String(); got != tt.want {
			t.Errorf("ParseRule(%q).String() = %q, want %q", tt.entry, got, tt.want)
		}
		if r.Raw != tt.entry {
			t.Errorf("ParseRule(%q).Raw = %q", tt.entry, r.Raw)
		}
		if r.AllowsAll() != (tt.want == AllowAllEntry) {
			t.Errorf("ParseRule(%q).AllowsAll() = %v", tt.entry, r.AllowsAll())
		}
	}
}

func TestParseRuleErrors(t *testing.T) {
	tests := []struct {
		entry string
		want  []string // substrings of the message
	}{
		{"", []string{"entry is empty"}},
		{"   ", []string{"entry is empty"}},
		{"http://a:99999", []string{`allow-list entry "http://a:99999": port 99999 is out of range 1-65535; use e.g. http://a:8080`}},
		{"http://a:0", []string{"port 0 is out of range"}},
		{"http://a:99999999999999999999999", []string{"out of range"}},
		{"http://a:", []string{"port is empty"}},
		{"http://a:http", []string{`port "http" is not a number`}},
		{"http://a:-5", []string{"port is empty"}},
		{"http://a:+80", []string{"not a number"}},
		{"http://a:9000-8000", []string{"port range 9000-8000 is reversed", "http://a:8000-9000"}},
		{"http://a:1-70000", []string{"out of range"}},
		{"http://a:1-2-3", []string{"not a number"}},
		{"tcp://db", []string{"tcp entries need a port", "tcp://db:5432", "tcp://db:*"}},
		{"tcp://db/", []string{"tcp entries need a port"}},
		{"localhost:3500", []string{"missing scheme", "http://localhost:3500"}},
		{"://a", []string{"missing scheme", "http://a"}},
		{"ftp://a", []string{`unsupported scheme "ftp"`}},
		{"ws://a:80", []string{"unsupported scheme"}},
		{"http://", []string{"host is missing"}},
		{"http:///", []string{"host is missing"}},
		{"http://:80", []string{"host is missing"}},
		{"http://a/path", []string{"a path is not allowed"}},
		{"http://a:80/path", []string{"a path is not allowed"}},
		{"http://a//", []string{"a path is not allowed"}},
		{"http://[::1]/x", []string{"a path is not allowed"}},
		{"http://a?x=1", []string{"query"}},
		{"http://a#frag", []string{"fragment"}},
		{"http://user@a", []string{"userinfo"}},
		{"http://127.0.0.1:3500@evil.com", []string{"userinfo"}},
		{"http://::1", []string{"IPv6 address without brackets", "http://[::1]"}},
		{"http://fd00::/8", []string{"without brackets", "http://[fd00::/8]"}},
		{"http://fe80::1:80", []string{"without brackets"}},
		{"http://[::1", []string{"missing ']'"}},
		{"http://[::1]x", []string{"unexpected"}},
		{"http://[]", []string{"empty brackets"}},
		{"http://[fe80::1%eth0]", []string{"zones"}},
		{"http://[nothex::zz]", []string{"not a valid IPv6 address"}},
		{"http://[1.2.3.4]", []string{"must not be in brackets", "http://1.2.3.4"}},
		{"http://[10.0.0.0/8]", []string{"IPv4 CIDRs must not be in brackets"}},
		{"http://[fd00::/200]", []string{"not a valid IPv6 CIDR"}},
		{"http://[fd00::1/8]", []string{"host bits set", "http://[fd00::/8]"}},
		{"http://10.0.0.1/8", []string{"host bits set", "http://10.0.0.0/8"}},
		{"http://10.0.0.0/33", []string{"not a valid CIDR"}},
		{"http://*", []string{"host * is not allowed", AllowAllEntry}},
		{"http://*:80", []string{"host * is not allowed"}},
		{"http://*.", []string{"wildcard suffix"}},
		{"http://*.0.0.1", []string{"wildcard suffix", "ambiguous IPv4"}},
		{"http://a.*.com", []string{"'*' is only allowed"}},
		{"http://*a.com", []string{"'*' is only allowed"}},
		{"http://127.1", []string{"ambiguous IPv4"}},
		{"http://2130706433", []string{"ambiguous IPv4"}},
		{"http://0x7f.0.0.1", []string{"ambiguous IPv4"}},
		{"http://0177.0.0.1", []string{"ambiguous IPv4"}},
		{"http://127.000.0.1", []string{"ambiguous IPv4"}},
		{"http://1.2.3.4.5", []string{"ambiguous IPv4"}},
		{"http://a..b", []string{"empty label"}},
		{"http://a_b", []string{`contains "_"`}},
		{"http://bücher.example", []string{"non-ASCII", "punycode"}},
		{"http://a b", []string{"spaces or control characters"}},
		{"http://a\nb", []string{"spaces or control characters"}},
		{"http://" + strings.Repeat("a", 64) + ".com", []string{"longer than 63"}},
		{"http://" + strings.Repeat("a.", 130) + "com", []string{"longer than 253"}},
	}
	for _, tt := range tests {
		r, err := ParseRule(tt.entry)
		if err == nil {
			t.Errorf("ParseRule(%q) = %v, want error", tt.entry, r)
			continue
		}
		var ee *EntryError
		if !errors.As(err, &ee) || ee.Entry != tt.entry {
			t.Errorf("ParseRule(%q): error %#v is not an *EntryError for the entry", tt.entry, err)
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("ParseRule(%q): message has several lines: %q", tt.entry, msg)
		}
		if !strings.HasPrefix(msg, "allow-list entry ") {
			t.Errorf("ParseRule(%q): message does not name the entry: %q", tt.entry, msg)
		}
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("ParseRule(%q) error %q does not contain %q", tt.entry, msg, w)
			}
		}
	}
}

func TestZeroRuleMatchesNothing(t *testing.T) {
	var r Rule
	tgt := mustTarget(t, "http", "example.com", 80)
	if r.matches(tgt) {
		t.Fatal("zero Rule matched a target")
	}
	if r.String() == "" {
		t.Fatal("zero Rule has an empty String()")
	}
}
