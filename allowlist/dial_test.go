package allowlist

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeResolver answers from a map and records the names asked for.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	asked   []string
	quiet   bool // do not record names (long fuzz runs)
}

func (f *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if !f.quiet {
		f.mu.Lock()
		f.asked = append(f.asked, host)
		f.mu.Unlock()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ans, ok := f.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range ans {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestResolve(t *testing.T) {
	res := &fakeResolver{answers: map[string][]string{
		"app.example":      {"10.0.0.5", "::ffff:10.0.0.6", "10.0.0.5"},
		"metadata.example": {"169.254.169.254"},
		"ll6.example":      {"fe80::1"},
		"zero.example":     {"0.0.0.0"},
		"zero6.example":    {"::"},
		"mcast.example":    {"224.0.0.1", "ff02::1"},
		"mixed.example":    {"169.254.169.254", "10.0.0.7", "0.0.0.0"},
		"mapped.example":   {"::ffff:169.254.169.254"},
		"empty.example":    {},
		"localhost":        {"127.0.0.1", "::1"},
	}}
	tests := []struct {
		entries []string
		target  Target
		want    []netip.Addr
		denied  bool   // *DeniedError expected
		errText string // substring of the error
	}{
		{[]string{"http://app.example"}, Target{"http", "app.example", 80, netip.Addr{}}, addrs("10.0.0.5", "10.0.0.6"), false, ""},
		{[]string{"http://localhost:3500"}, Target{"http", "localhost", 3500, netip.Addr{}}, addrs("127.0.0.1", "::1"), false, ""},
		{[]string{"http://localhost:3500"}, Target{"http", "localhost", 3501, netip.Addr{}}, nil, true, "no allow-list entry matches"},
		{[]string{"http://127.0.0.1:3500"}, Target{"http", "127.0.0.1", 3500, netip.Addr{}}, addrs("127.0.0.1"), false, ""},
		{[]string{"http://127.0.0.1:3500"}, Target{"http", "127.0.0.1", 3501, netip.Addr{}}, nil, true, "no allow-list entry matches"},
		{[]string{"http://metadata.example"}, Target{"http", "metadata.example", 80, netip.Addr{}}, nil, true, "resolved only to forbidden addresses: 169.254.169.254 (link-local)"},
		{[]string{"http://mapped.example"}, Target{"http", "mapped.example", 80, netip.Addr{}}, nil, true, "169.254.169.254 (link-local)"},
		{[]string{"http://ll6.example"}, Target{"http", "ll6.example", 80, netip.Addr{}}, nil, true, "fe80::1 (link-local)"},
		{[]string{"http://zero.example"}, Target{"http", "zero.example", 80, netip.Addr{}}, nil, true, "0.0.0.0 (unspecified)"},
		{[]string{"http://zero6.example"}, Target{"http", "zero6.example", 80, netip.Addr{}}, nil, true, ":: (unspecified)"},
		{[]string{"http://mcast.example"}, Target{"http", "mcast.example", 80, netip.Addr{}}, nil, true, "multicast"},
		{[]string{"http://*.example"}, Target{"http", "mixed.example", 80, netip.Addr{}}, addrs("10.0.0.7"), false, ""},
		// An explicit IP or CIDR entry with the same scheme and port lets the name use it.
		{[]string{"http://metadata.example", "http://169.254.169.254"}, Target{"http", "metadata.example", 80, netip.Addr{}}, addrs("169.254.169.254"), false, ""},
		{[]string{"http://metadata.example", "http://169.254.0.0/16"}, Target{"http", "metadata.example", 80, netip.Addr{}}, addrs("169.254.169.254"), false, ""},
		{[]string{"http://ll6.example", "http://[fe80::/10]"}, Target{"http", "ll6.example", 80, netip.Addr{}}, addrs("fe80::1"), false, ""},
		// ...but not one for another port or scheme.
		{[]string{"http://metadata.example", "http://169.254.169.254:8080"}, Target{"http", "metadata.example", 80, netip.Addr{}}, nil, true, "forbidden"},
		{[]string{"http://metadata.example", "tcp://169.254.169.254:80"}, Target{"http", "metadata.example", 80, netip.Addr{}}, nil, true, "forbidden"},
		// An explicit IP entry allows the IP target itself.
		{[]string{"http://169.254.169.254"}, Target{"http", "169.254.169.254", 80, netip.Addr{}}, addrs("169.254.169.254"), false, ""},
		{[]string{"http://[::ffff:169.254.169.254]"}, Target{"http", "::ffff:169.254.169.254", 80, netip.Addr{}}, addrs("169.254.169.254"), false, ""},
		{[]string{"insecure:allow-all"}, Target{"http", "metadata.example", 80, netip.Addr{}}, addrs("169.254.169.254"), false, ""},
		// Resolver failures and empty answers are errors but not denials.
		{[]string{"http://nx.example"}, Target{"http", "nx.example", 80, netip.Addr{}}, nil, false, "no such host"},
		{[]string{"http://empty.example"}, Target{"http", "empty.example", 80, netip.Addr{}}, nil, false, "resolved to no addresses"},
		// Invalid targets are denials too.
		{[]string{"insecure:allow-all"}, Target{"http", "127.1", 80, netip.Addr{}}, nil, true, "ambiguous IPv4"},
		{[]string{"insecure:allow-all"}, Target{"http", "fe80::1%eth0", 80, netip.Addr{}}, nil, true, "zones"},
	}
	for _, tt := range tests {
		l := mustParse(t, tt.entries...)
		l.Resolver = res
		got, err := l.Resolve(t.Context(), tt.target)
		name := fmt.Sprintf("%v.Resolve(%v)", tt.entries, tt.target)
		if tt.errText == "" {
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("%s = %v, %v; want %v", name, got, err, tt.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s = %v, want error containing %q", name, got, tt.errText)
			continue
		}
		var de *DeniedError
		if errors.As(err, &de) != tt.denied {
			t.Errorf("%s: error %v: DeniedError=%v, want %v", name, err, !tt.denied, tt.denied)
		}
		if !strings.Contains(err.Error(), tt.errText) {
			t.Errorf("%s: error %q does not contain %q", name, err, tt.errText)
		}
		if got != nil {
			t.Errorf("%s returned addresses %v with an error", name, got)
		}
	}
}

func TestResolveDeniedNeverResolves(t *testing.T) {
	res := &fakeResolver{answers: map[string][]string{"evil.example": {"10.0.0.1"}}}
	l := mustParse(t, "http://good.example")
	l.Resolver = res
	_, err := l.Resolve(t.Context(), Target{Scheme: "http", Host: "evil.example", Port: 80})
	var de *DeniedError
	if !errors.As(err, &de) {
		t.Fatalf("want DeniedError, got %v", err)
	}
	if de.Suggest != "http://evil.example" || de.Target.Host != "evil.example" {
		t.Fatalf("DeniedError = %+v", de)
	}
	if len(res.asked) != 0 {
		t.Fatalf("denied name was looked up: %v", res.asked)
	}
}

func TestResolveKeepsDNSError(t *testing.T) {
	l := mustParse(t, "http://nx.example")
	l.Resolver = &fakeResolver{}
	_, err := l.Resolve(t.Context(), Target{Scheme: "http", Host: "nx.example", Port: 80})
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("want wrapped *net.DNSError, got %v", err)
	}
}

// listen opens a loopback listener and counts accepted connections.
func listen(t *testing.T) (port uint16, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			n++
			mu.Unlock()
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return uint16(ln.Addr().(*net.TCPAddr).Port), func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// waitAccepted waits until the listener has accepted want connections.
func waitAccepted(t *testing.T, accepted func() int, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for accepted() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := accepted(); got != want {
		t.Fatalf("listener accepted %d connections, want %d", got, want)
	}
}

func TestDialContextAllowed(t *testing.T) {
	port, accepted := listen(t)
	p := strconv.Itoa(int(port))
	res := &fakeResolver{answers: map[string][]string{
		// Not resolvable by real DNS: success proves only the IP was dialed.
		"sidecar.test": {"127.0.0.1"},
	}}
	tests := []struct {
		entry, scheme, network, addr string
	}{
		{"tcp://127.0.0.1:" + p, "tcp", "tcp", "127.0.0.1:" + p},
		{"tcp://127.0.0.1:" + p, "tcp", "tcp4", "127.0.0.1:" + p},
		{"http://127.0.0.1:" + p, "http", "tcp", "127.0.0.1:" + p},
		{"tcp://127.0.0.0/8:*", "TCP", "tcp", "[::ffff:127.0.0.1]:" + p},
		{"http://sidecar.test:" + p, "http", "tcp", "sidecar.test:" + p},
		{"*://*.test:" + p, "tcp", "tcp", "SIDECAR.TEST.:" + p},
	}
	for i, tt := range tests {
		l := mustParse(t, tt.entry)
		l.Resolver = res
		l.Dialer = &net.Dialer{Timeout: 2 * time.Second}
		c, err := l.DialContext(t.Context(), tt.scheme, tt.network, tt.addr)
		if err != nil {
			t.Fatalf("%s: DialContext(%s, %s, %s): %v", tt.entry, tt.scheme, tt.network, tt.addr, err)
		}
		if got := c.RemoteAddr().String(); got != "127.0.0.1:"+p {
			t.Errorf("connected to %s", got)
		}
		c.Close()
		waitAccepted(t, accepted, i+1)
	}
}

func TestDialContextDenied(t *testing.T) {
	port, accepted := listen(t)
	p := strconv.Itoa(int(port))
	other := strconv.Itoa(int(port) + 1)
	if port == 65535 {
		other = "1"
	}
	res := &fakeResolver{answers: map[string][]string{
		"sidecar.test":  {"127.0.0.1"},
		"metadata.test": {"169.254.169.254"},
	}}
	tests := []struct {
		entry, scheme, network, addr string
		denied                       bool
	}{
		{"tcp://127.0.0.1:" + other, "tcp", "tcp", "127.0.0.1:" + p, true},     // port mismatch
		{"http://127.0.0.1:" + p, "tcp", "tcp", "127.0.0.1:" + p, true},        // scheme mismatch
		{"https://127.0.0.1:" + p, "http", "tcp", "127.0.0.1:" + p, true},      // https does not allow http
		{"tcp://localhost:" + p, "tcp", "tcp", "127.0.0.1:" + p, true},         // name rule, IP target
		{"tcp://127.0.0.1:" + p, "tcp", "tcp", "sidecar.test:" + p, true},      // IP rule, name target
		{"insecure:allow-all", "tcp", "tcp", "127.1:" + p, true},               // legacy IPv4
		{"insecure:allow-all", "tcp", "tcp", "2130706433:" + p, true},          // decimal IPv4
		{"insecure:allow-all", "tcp", "tcp", "0x7f.0.0.1:" + p, true},          // hex IPv4
		{"insecure:allow-all", "tcp", "tcp", "0177.0.0.1:" + p, true},          // octal IPv4
		{"insecure:allow-all", "tcp", "tcp", "[fe80::1%lo]:" + p, true},        // zone
		{"insecure:allow-all", "ftp", "tcp", "127.0.0.1:" + p, true},           // scheme
		{"insecure:allow-all", "tcp", "tcp", "127.0.0.1", true},                // no port
		{"tcp://metadata.test:" + p, "tcp", "tcp", "metadata.test:" + p, true}, // forbidden answer
		{"tcp://127.0.0.1:" + p, "tcp", "udp", "127.0.0.1:" + p, false},        // network
		{"tcp://127.0.0.1:" + p, "tcp", "tcp6", "127.0.0.1:" + p, false},       // no v6 address
	}
	for _, tt := range tests {
		l := mustParse(t, tt.entry)
		l.Resolver = res
		c, err := l.DialContext(t.Context(), tt.scheme, tt.network, tt.addr)
		if err == nil {
			c.Close()
			t.Errorf("%s: DialContext(%s, %s, %q) connected", tt.entry, tt.scheme, tt.network, tt.addr)
			continue
		}
		var de *DeniedError
		if errors.As(err, &de) != tt.denied {
			t.Errorf("%s: DialContext(%s, %s, %q): %v; DeniedError want %v", tt.entry, tt.scheme, tt.network, tt.addr, err, tt.denied)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("multi-line error %q", err)
		}
	}
	// Give any stray connection time to arrive before checking.
	time.Sleep(50 * time.Millisecond)
	if n := accepted(); n != 0 {
		t.Fatalf("listener accepted %d connections from denied dials", n)
	}
}

func TestDialContextTriesEachAddress(t *testing.T) {
	port, accepted := listen(t)
	p := strconv.Itoa(int(port))
	// Nothing listens on [::1] at this port, so the first address fails
	// (refused or unreachable) and the dial must go on to 127.0.0.1.
	res := &fakeResolver{answers: map[string][]string{"two.test": {"::1", "127.0.0.1"}}}
	l := mustParse(t, "tcp://two.test:"+p)
	l.Resolver = res
	l.Dialer = &net.Dialer{Timeout: time.Second}
	c, err := l.DialContext(t.Context(), "tcp", "tcp", "two.test:"+p)
	if err != nil {
		t.Fatalf("DialContext: %v", err)
	}
	defer c.Close()
	if got := c.RemoteAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.1" {
		t.Fatalf("connected to %s", got)
	}
	waitAccepted(t, accepted, 1)
	if !slices.Equal(res.asked, []string{"two.test"}) {
		t.Fatalf("resolver asked %v", res.asked)
	}
}

func TestDialContextHonorsContext(t *testing.T) {
	port, accepted := listen(t)
	l := mustParse(t, "tcp://127.0.0.1:*")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	c, err := l.DialContext(ctx, "tcp", "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err == nil {
		c.Close()
		t.Fatal("dial with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	if accepted() != 0 {
		t.Fatal("cancelled dial reached the listener")
	}
	var nilCtx context.Context
	if c, err := l.DialContext(nilCtx, "tcp", "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))); err != nil {
		t.Fatalf("nil context: %v", err)
	} else {
		c.Close()
	}
}

func TestDeniedErrorMessage(t *testing.T) {
	e := &DeniedError{
		Target:  Target{Scheme: "http", Host: "example.com", Port: 8080},
		Reason:  "no allow-list entry matches",
		Suggest: "http://example.com:8080",
	}
	want := "allow-list denied http://example.com:8080: no allow-list entry matches (to allow it, add http://example.com:8080)"
	if e.Error() != want {
		t.Fatalf("Error() = %q, want %q", e.Error(), want)
	}
	hostile := &DeniedError{Target: Target{Scheme: "tcp", Host: "a\nINFO fake", Port: 1}, Reason: "x"}
	if strings.Contains(hostile.Error(), "\n") {
		t.Fatalf("hostile host broke the line: %q", hostile.Error())
	}
	inner := errors.New("cause")
	if !errors.Is(&DeniedError{Err: inner}, inner) {
		t.Fatal("Unwrap does not expose Err")
	}
}
