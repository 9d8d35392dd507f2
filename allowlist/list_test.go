package allowlist

import (
	"errors"
	"strings"
	"testing"
)

func mustParse(t *testing.T, entries ...string) *List {
	t.Helper()
	l, err := Parse(entries)
	if err != nil {
		t.Fatalf("Parse(%q): %v", entries, err)
	}
	return l
}

func TestMatch(t *testing.T) {
	type tc struct {
		scheme, host string
		port         uint16
		allow        bool
	}
	tests := []struct {
		entries []string
		cases   []tc
	}{
		// The reference host allowed any port once the host matched.
		{[]string{"http://127.0.0.1:3500"}, []tc{
			{"http", "127.0.0.1", 3500, true},
			{"http", "127.0.0.1", 3501, false},
			{"http", "127.0.0.1", 80, false},
			{"https", "127.0.0.1", 3500, false},
			{"tcp", "127.0.0.1", 3500, false},
			{"http", "::ffff:127.0.0.1", 3500, true},
			{"http", "localhost", 3500, false}, // a name is not its address
			{"http", "127.0.0.2", 3500, false},
		}},
		// Default ports.
		{[]string{"http://example.com"}, []tc{
			{"http", "example.com", 80, true},
			{"http", "EXAMPLE.COM.", 80, true},
			{"http", "example.com", 443, false},
			{"http", "example.com", 8080, false},
			{"https", "example.com", 443, false},
			{"http", "www.example.com", 80, false},
			{"http", "example.com.evil.net", 80, false},
			{"http", "evilexample.com", 80, false},
		}},
		{[]string{"https://example.com"}, []tc{
			{"https", "example.com", 443, true},
			{"http", "example.com", 80, false},
			{"http", "example.com", 443, false},
			{"tcp", "example.com", 443, false},
		}},
		{[]string{"*://example.com"}, []tc{
			{"http", "example.com", 80, true},
			{"https", "example.com", 443, true},
			{"http", "example.com", 443, false},
			{"https", "example.com", 80, false},
			{"tcp", "example.com", 80, false},
			{"tcp", "example.com", 443, false},
		}},
		{[]string{"*://example.com:9000"}, []tc{
			{"http", "example.com", 9000, true},
			{"https", "example.com", 9000, true},
			{"tcp", "example.com", 9000, true},
			{"tcp", "example.com", 9001, false},
		}},
		{[]string{"tcp://db:5432"}, []tc{
			{"tcp", "db", 5432, true},
			{"http", "db", 5432, false},
			{"https", "db", 5432, false},
			{"tcp", "db", 5433, false},
		}},
		{[]string{"tcp://db:*"}, []tc{
			{"tcp", "db", 1, true},
			{"tcp", "db", 65535, true},
			{"http", "db", 80, false},
		}},
		{[]string{"http://a:8000-8999"}, []tc{
			{"http", "a", 7999, false},
			{"http", "a", 8000, true},
			{"http", "a", 8500, true},
			{"http", "a", 8999, true},
			{"http", "a", 9000, false},
		}},
		// Wildcards match strictly below the suffix.
		{[]string{"https://*.example.com"}, []tc{
			{"https", "a.example.com", 443, true},
			{"https", "a.b.example.com", 443, true},
			{"https", "A.Example.Com.", 443, true},
			{"https", "example.com", 443, false},
			{"https", "aexample.com", 443, false},
			{"https", "a.example.com.evil.net", 443, false},
			{"http", "a.example.com", 80, false},
		}},
		{[]string{"http://Example.COM.:8080"}, []tc{
			{"http", "example.com", 8080, true},
			{"http", "example.com.", 8080, true},
		}},
		// IP rules match IP targets only; name rules names only.
		{[]string{"http://localhost:3500"}, []tc{
			{"http", "localhost", 3500, true},
			{"http", "127.0.0.1", 3500, false},
			{"http", "::1", 3500, false},
		}},
		{[]string{"http://[::1]:3500"}, []tc{
			{"http", "::1", 3500, true},
			{"http", "[::1]", 3500, true},
			{"http", "127.0.0.1", 3500, false},
			{"http", "::2", 3500, false},
		}},
		{[]string{"http://[::ffff:127.0.0.1]:3500"}, []tc{
			{"http", "127.0.0.1", 3500, true},
			{"http", "::ffff:127.0.0.1", 3500, true},
		}},
		{[]string{"tcp://10.0.0.0/8:5432"}, []tc{
			{"tcp", "10.0.0.1", 5432, true},
			{"tcp", "10.255.255.255", 5432, true},
			{"tcp", "::ffff:10.1.2.3", 5432, true},
			{"tcp", "11.0.0.1", 5432, false},
			{"tcp", "10.0.0.1", 5433, false},
			{"http", "10.0.0.1", 5432, false},
		}},
		{[]string{"http://[fd00::/8]:*"}, []tc{
			{"http", "fd12::1", 1234, true},
			{"http", "fe00::1", 1234, false},
			{"http", "10.0.0.1", 1234, false},
		}},
		{[]string{"http://[::ffff:10.0.0.0/104]"}, []tc{
			{"http", "10.9.9.9", 80, true},
			{"http", "11.0.0.0", 80, false},
		}},
		{[]string{"insecure:allow-all"}, []tc{
			{"http", "anything.example", 80, true},
			{"tcp", "169.254.169.254", 1, true},
			{"https", "::1", 443, true},
		}},
		// Targets that do not normalize match nothing, even allow-all.
		{[]string{"insecure:allow-all", "http://127.0.0.1"}, []tc{
			{"http", "127.1", 80, false},
			{"http", "2130706433", 80, false},
			{"ftp", "a", 21, false},
			{"http", "a", 0, false},
		}},
		{nil, []tc{
			{"http", "localhost", 80, false},
			{"http", "127.0.0.1", 80, false},
		}},
	}
	for _, tt := range tests {
		l := mustParse(t, tt.entries...)
		for _, c := range tt.cases {
			// Hand-built targets: Match must normalize them itself.
			tg := Target{Scheme: c.scheme, Host: c.host, Port: c.port}
			r, ok := l.Match(tg)
			if ok != c.allow {
				t.Errorf("%v.Match(%s://%s:%d) = %v, want %v", tt.entries, c.scheme, c.host, c.port, ok, c.allow)
				continue
			}
			if ok && !r.matches(mustTarget(t, c.scheme, c.host, c.port)) {
				t.Errorf("%v.Match(%s://%s:%d) returned rule %v that does not match", tt.entries, c.scheme, c.host, c.port, r)
			}
			if !ok && r.String() != (Rule{}).String() {
				t.Errorf("denied Match returned a non-zero rule %v", r)
			}
		}
	}
}

func TestMatchReturnsFirstRule(t *testing.T) {
	l := mustParse(t, "http://a:80", "http://a:*", "*://a:80")
	r, ok := l.Match(Target{Scheme: "http", Host: "a", Port: 80})
	if !ok || r.Raw != "http://a:80" {
		t.Fatalf("Match = %v, %v; want first rule", r, ok)
	}
	r, ok = l.Match(Target{Scheme: "http", Host: "a", Port: 81})
	if !ok || r.Raw != "http://a:*" {
		t.Fatalf("Match = %v, %v; want second rule", r, ok)
	}
}

func TestMatchRenormalizesForgedAddr(t *testing.T) {
	// A caller-built target claiming an allowed Addr for a different host
	// must be judged by its host.
	l := mustParse(t, "http://127.0.0.1:80")
	forged := Target{Scheme: "http", Host: "evil.com", Port: 80, Addr: mustTarget(t, "http", "127.0.0.1", 80).Addr}
	if _, ok := l.Match(forged); ok {
		t.Fatal("forged Addr was trusted")
	}
}

func TestParseList(t *testing.T) {
	l := mustParse(t, "http://a", "HTTP://A/", "tcp://b:1", "insecure:allow-all")
	if got := len(l.Rules()); got != 3 {
		t.Fatalf("duplicates kept: %d rules: %v", got, l.Rules())
	}
	if want := "http://a, tcp://b:1, insecure:allow-all"; l.String() != want {
		t.Fatalf("String() = %q, want %q", l.String(), want)
	}
	if !l.AllowsAll() {
		t.Fatal("AllowsAll() = false with insecure:allow-all")
	}
	if mustParse(t, "http://a").AllowsAll() {
		t.Fatal("AllowsAll() = true without insecure:allow-all")
	}
	// Rules returns a copy.
	rs := l.Rules()
	rs[0] = Rule{}
	if l.Rules()[0].String() != "http://a" {
		t.Fatal("Rules() exposes internal state")
	}
	empty := mustParse(t)
	if _, ok := empty.Match(Target{Scheme: "http", Host: "a", Port: 80}); ok {
		t.Fatal("empty list allowed something")
	}
	if !strings.Contains(empty.String(), "denied") {
		t.Fatalf("empty String() = %q", empty.String())
	}

	_, err := Parse([]string{"http://ok", "http://a:99999", "tcp://db"})
	if err == nil {
		t.Fatal("Parse with bad entries succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "http://a:99999") || !strings.Contains(lines[1], "tcp://db") {
		t.Fatalf("want one line per bad entry, got %q", err.Error())
	}
	var ee *EntryError
	if !errors.As(err, &ee) {
		t.Fatal("joined error does not contain *EntryError")
	}
}

func TestNilList(t *testing.T) {
	var l *List
	if _, ok := l.Match(Target{Scheme: "http", Host: "a", Port: 80}); ok {
		t.Fatal("nil list allowed")
	}
	if l.AllowsAll() || l.Rules() != nil || l.String() == "" {
		t.Fatal("nil list accessors misbehave")
	}
	if _, err := l.Resolve(t.Context(), Target{Scheme: "http", Host: "a", Port: 80}); err == nil {
		t.Fatal("nil list resolved")
	}
	if _, err := l.DialContext(t.Context(), "http", "tcp", "a:80"); err == nil {
		t.Fatal("nil list dialed")
	}
}

func TestSplitEntries(t *testing.T) {
	got := SplitEntries(" http://a:1, ,tcp://b:2\thttps://c ,,")
	want := []string{"http://a:1", "tcp://b:2", "https://c"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("SplitEntries = %q, want %q", got, want)
	}
	if len(SplitEntries("")) != 0 {
		t.Fatal("SplitEntries(\"\") not empty")
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		scheme, host string
		port         uint16
		want         string
	}{
		{"http", "Example.com.", 8080, "http://example.com:8080"},
		{"http", "example.com", 80, "http://example.com"},
		{"https", "example.com", 443, "https://example.com"},
		{"https", "example.com", 80, "https://example.com:80"},
		{"tcp", "db", 5432, "tcp://db:5432"},
		{"http", "::1", 3500, "http://[::1]:3500"},
		{"http", "::ffff:127.0.0.1", 3501, "http://127.0.0.1:3501"},
		{"http", "127.1", 80, ""},
	}
	var l List
	for _, tt := range tests {
		tg := Target{Scheme: tt.scheme, Host: tt.host, Port: tt.port}
		got := l.Suggest(tg)
		if got != tt.want {
			t.Errorf("Suggest(%v) = %q, want %q", tg, got, tt.want)
			continue
		}
		if got == "" {
			continue
		}
		// The suggestion really allows the target and nothing on another port.
		sl := mustParse(t, got)
		if _, ok := sl.Match(tg); !ok {
			t.Errorf("suggested %q does not allow %v", got, tg)
		}
		other := tg
		other.Port++
		if _, ok := sl.Match(other); ok {
			t.Errorf("suggested %q also allows %v", got, other)
		}
	}
}
