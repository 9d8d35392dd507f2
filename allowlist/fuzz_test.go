package allowlist

import (
	"context"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// sameRule compares everything but the raw text.
func sameRule(a, b Rule) bool {
	a.Raw, b.Raw = "", ""
	return a == b
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"http://localhost:3500", "https://a.example/", "tcp://db:*", "tcp://db:1-2", "*://x",
		"http://*.example.com", "http://[::1]:80", "http://[::ffff:1.2.3.4]", "tcp://10.0.0.0/8:1",
		"http://[fd00::/8]", "http://[::ffff:10.0.0.0/104]", "insecure:allow-all", "http://a:99999",
		"tcp://db", "http://::1", "http://127.1", "http://a/b", "http://a@b", "http://[", "://",
		"http://*.", "http://10.0.0.0/8/", "http://A.B.:0080", "*://[::]:*",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		r, err := ParseRule(entry)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error for %q: %q", entry, err)
			}
			return
		}
		s := r.String()
		r2, err := ParseRule(s)
		if err != nil {
			t.Fatalf("ParseRule(%q) ok, but its String %q does not re-parse: %v", entry, s, err)
		}
		if !sameRule(r, r2) {
			t.Fatalf("ParseRule(%q) = %#v; re-parsed %q = %#v", entry, r, s, r2)
		}
		if r2.String() != s {
			t.Fatalf("String not stable: %q -> %q", s, r2.String())
		}
		l, err := Parse([]string{entry, s})
		if err != nil || len(l.Rules()) != 1 {
			t.Fatalf("Parse(%q, %q) = %v, %v; want one rule", entry, s, l, err)
		}
	})
}

// inetAton reports whether s parses as IPv4 under the lenient BSD inet_aton
// rules (1-4 parts, each decimal, octal or 0x hex, one optional trailing dot).
func inetAton(s string) bool {
	s = strings.TrimSuffix(s, ".")
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return false
	}
	for _, p := range parts {
		base := 10
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			p, base = p[2:], 16
			if p == "" {
				continue
			}
		case len(p) > 1 && p[0] == '0':
			p, base = p[1:], 8
		}
		if _, err := strconv.ParseUint(p, base, 64); err != nil {
			return false
		}
	}
	return true
}

func checkTarget(t *testing.T, tg Target) {
	t.Helper()
	switch tg.Scheme {
	case SchemeHTTP, SchemeHTTPS, SchemeTCP, SchemeUDP:
	default:
		t.Fatalf("bad scheme in %+v", tg)
	}
	if tg.Port == 0 || tg.Host == "" {
		t.Fatalf("empty port or host in %+v", tg)
	}
	if a, err := netip.ParseAddr(tg.Host); err == nil {
		if !tg.Addr.IsValid() || a != tg.Addr || a.Is4In6() || a.Zone() != "" {
			t.Fatalf("IP host with bad Addr: %+v", tg)
		}
	} else {
		if tg.Addr.IsValid() {
			t.Fatalf("name host with Addr: %+v", tg)
		}
		if tg.Host != strings.ToLower(tg.Host) || strings.HasSuffix(tg.Host, ".") {
			t.Fatalf("name not normalized: %+v", tg)
		}
		if inetAton(tg.Host) {
			t.Fatalf("name %q is an IPv4 address to inet_aton", tg.Host)
		}
	}
	if again, err := NewTarget(tg.Scheme, tg.Host, tg.Port); err != nil || again != tg {
		t.Fatalf("NewTarget not idempotent for %+v: %+v, %v", tg, again, err)
	}
	if again, err := TargetFromAddr(tg.Scheme, tg.HostPort()); err != nil || again != tg {
		t.Fatalf("TargetFromAddr(%q) = %+v, %v; want %+v", tg.HostPort(), again, err, tg)
	}
	var empty List
	sug := empty.Suggest(tg)
	l, err := Parse([]string{sug})
	if err != nil {
		t.Fatalf("Suggest(%+v) = %q does not parse: %v", tg, sug, err)
	}
	if _, ok := l.Match(tg); !ok {
		t.Fatalf("Suggest(%+v) = %q does not allow it", tg, sug)
	}
	// Names never match IP rules and IPs never match name rules.
	for _, r := range fuzzList.Rules() {
		if r.matches(tg) && !r.allowAll && r.isIP() != tg.IsIP() {
			t.Fatalf("rule %v matched %+v across kinds", r, tg)
		}
	}
	if _, err := fuzzList.Resolve(context.Background(), tg); err == nil && !tg.IsIP() {
		// Only names the fake resolver knows can resolve.
		if _, ok := fuzzResolver.answers[tg.Host]; !ok {
			t.Fatalf("unknown name %q resolved", tg.Host)
		}
	}
}

var fuzzResolver = &fakeResolver{quiet: true, answers: map[string][]string{
	"a.example":    {"10.0.0.1", "169.254.169.254"},
	"meta.example": {"169.254.169.254"},
}}

var fuzzList = func() *List {
	l, err := Parse([]string{
		"http://localhost:3500", "*://*.example:*", "tcp://10.0.0.0/8:*", "http://[::1]:*",
		"https://127.0.0.1", "tcp://[fd00::/8]:1-1000",
	})
	if err != nil {
		panic(err)
	}
	l.Resolver = fuzzResolver
	return l
}()

func FuzzTarget(f *testing.F) {
	for _, s := range []string{
		"http://example.com/", "https://A.example.:8443/x", "http://127.0.0.1:3500", "http://[::1]/",
		"http://[::ffff:127.0.0.1]:3500/", "http://a@b/", "http://127.0.0.1:3500@evil.com/",
		"http://2130706433/", "http://127.1/", "http://0x7f.0.0.1/", "http://0177.0.0.1/",
		"http://[fe80::1%25eth0]/", "http://a:0/", "http://a..b/", "ftp://x/",
	} {
		f.Add(s, uint16(80))
	}
	f.Fuzz(fuzzTargetBody)
}

// fuzzTargetBody checks every way of building a target from s.
func fuzzTargetBody(t *testing.T, s string, port uint16) {
	if u, err := url.Parse(s); err == nil {
		if tg, err := TargetFromURL(u); err == nil {
			checkTarget(t, tg)
			if tg.Scheme == SchemeTCP {
				t.Fatalf("URL %q produced a tcp target", s)
			}
		}
	}
	for _, scheme := range []string{"http", "tcp"} {
		if tg, err := NewTarget(scheme, s, port); err == nil {
			checkTarget(t, tg)
		}
		if tg, err := TargetFromAddr(scheme, s); err == nil {
			checkTarget(t, tg)
		}
	}
	// Hand-built targets must never panic anywhere.
	raw := Target{Scheme: s, Host: s, Port: port}
	fuzzList.Match(raw)
	fuzzList.Suggest(raw)
	_, _ = fuzzList.Resolve(context.Background(), raw)
	_ = (&DeniedError{Target: raw}).Error()
}
