package allowlist

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// ErrInvalidTarget is wrapped by every error about a destination that cannot
// be normalized (bad scheme, port or host, legacy IPv4 forms, IPv6 zones).
var ErrInvalidTarget = errors.New("invalid destination")

// Target is a normalized destination a guest asks for.
type Target struct {
	// Scheme is http, https or tcp.
	Scheme string
	// Host is lowercase without a trailing dot; an IP is in its canonical
	// text form without brackets, IPv4-mapped IPv6 unmapped to IPv4.
	Host string
	// Port is 1..65535.
	Port uint16
	// Addr is valid exactly when Host is an IP literal.
	Addr netip.Addr
}

// NewTarget normalizes a destination given as scheme, host and port, as
// socket APIs do. host may be an IPv6 literal with or without brackets.
func NewTarget(scheme, host string, port uint16) (Target, error) {
	sc := strings.ToLower(scheme)
	switch sc {
	case SchemeHTTP, SchemeHTTPS, SchemeTCP, SchemeUDP:
	default:
		return Target{}, invalidTarget("scheme %q is not http, https, tcp or udp", scheme)
	}
	if port == 0 {
		return Target{}, invalidTarget("port 0 is not allowed")
	}
	h, addr, err := normalizeHost(host)
	if err != nil {
		return Target{}, err
	}
	return Target{Scheme: sc, Host: h, Port: port, Addr: addr}, nil
}

// TargetFromURL normalizes the destination of an http or https URL. When the
// URL has no port, the scheme's default (80 or 443) is used. Userinfo is
// ignored: the target is the real host after the '@'.
func TargetFromURL(u *url.URL) (Target, error) {
	if u == nil {
		return Target{}, invalidTarget("no URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != SchemeHTTP && scheme != SchemeHTTPS {
		return Target{}, invalidTarget("URL scheme %q is not http or https", u.Scheme)
	}
	port := defaultPort(scheme)
	if p := u.Port(); p != "" {
		v, problem := parsePort(p)
		if problem != "" {
			return Target{}, invalidTarget("%s", problem)
		}
		port = v
	}
	return NewTarget(scheme, u.Hostname(), port)
}

// TargetFromAddr normalizes a "host:port" address (as passed to a dial
// function) for the given scheme. The port must be numeric.
func TargetFromAddr(scheme, addr string) (Target, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return Target{}, invalidTarget("address %q is not host:port", addr)
	}
	port, problem := parsePort(portText)
	if problem != "" {
		return Target{}, invalidTarget("%s", problem)
	}
	return NewTarget(scheme, host, port)
}

// String returns scheme://host:port, with brackets around IPv6 hosts.
func (t Target) String() string {
	return t.Scheme + "://" + t.HostPort()
}

// HostPort returns host:port, with brackets around IPv6 hosts.
func (t Target) HostPort() string {
	return net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port)))
}

// IsIP reports whether the target host is an IP literal.
func (t Target) IsIP() bool { return t.Addr.IsValid() }

func invalidTarget(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidTarget, fmt.Sprintf(format, args...))
}

// normalizeHost returns the canonical host and, for IP literals, the address.
func normalizeHost(host string) (string, netip.Addr, error) {
	h := host
	if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
		if !strings.Contains(h, ":") {
			return "", netip.Addr{}, invalidTarget("brackets are only for IPv6 addresses, not %q", host)
		}
	}
	if h == "" {
		return "", netip.Addr{}, invalidTarget("host is empty")
	}
	if strings.Contains(h, ":") {
		if strings.Contains(h, "%") {
			return "", netip.Addr{}, invalidTarget("IPv6 zones are not allowed in %q", host)
		}
		a, err := netip.ParseAddr(h)
		if err != nil || a.Zone() != "" {
			return "", netip.Addr{}, invalidTarget("host %q is not a valid IPv6 address", host)
		}
		a = a.Unmap()
		return a.String(), a, nil
	}
	// Go's parser accepts only canonical dotted quads (no leading zeros, no
	// short or hex forms), which is exactly the IPv4 syntax we allow.
	if a, err := netip.ParseAddr(strings.TrimSuffix(h, ".")); err == nil && a.Is4() {
		return a.String(), a, nil
	}
	name, err := normalizeName(h)
	if err != nil {
		return "", netip.Addr{}, fmt.Errorf("%w: %s", ErrInvalidTarget, err)
	}
	return name, netip.Addr{}, nil
}

// normalizeName checks a DNS host name and returns it lowercased without one
// trailing dot. Names whose last label is a number are refused: resolvers
// and URL parsers read them as legacy IPv4 forms (127.1, 2130706433,
// 0x7f.0.0.1, 0177.0.0.1), which would let a guest reach an address under a
// spelling no rule names.
func normalizeName(host string) (string, error) {
	b := make([]byte, 0, len(host))
	for i := 0; i < len(host); i++ {
		c := host[i]
		// Checked before lowercasing: strings.ToLower maps some non-ASCII
		// runes (such as the Kelvin sign) to ASCII letters.
		if c >= 0x80 {
			return "", fmt.Errorf("host %q is not ASCII; use punycode (xn--...)", host)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	name := strings.TrimSuffix(string(b), ".")
	if name == "" {
		return "", errors.New("host is empty")
	}
	if len(name) > 253 {
		return "", fmt.Errorf("host %q is longer than 253 characters", host)
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" {
			return "", fmt.Errorf("host %q has an empty label", host)
		}
		if len(l) > 63 {
			return "", fmt.Errorf("host %q has a label longer than 63 characters", host)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return "", fmt.Errorf("host %q contains %q; only a-z, 0-9, '-' and '.' are allowed", host, string(rune(c)))
			}
		}
	}
	if looksNumeric(labels[len(labels)-1]) {
		return "", fmt.Errorf("host %q is an ambiguous IPv4 form; write addresses as a dotted quad like 127.0.0.1", host)
	}
	return name, nil
}

// looksNumeric reports whether a label is a decimal, octal or 0x-hex number,
// as inet_aton and the WHATWG URL parser read it.
func looksNumeric(label string) bool {
	digits := label
	hex := false
	if rest, ok := strings.CutPrefix(label, "0x"); ok {
		digits, hex = rest, true
	}
	if digits == "" {
		return hex // a bare "0x" parses as zero
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if '0' <= c && c <= '9' || hex && 'a' <= c && c <= 'f' {
			continue
		}
		return false
	}
	return true
}
