// Package allowlist decides which network destinations a WebAssembly guest may
// reach. It is deny-by-default: a destination is allowed only when one entry
// names its scheme, host and port. The same list is checked when a request is
// made, when a connection is dialed (after DNS) and on every redirect.
package allowlist

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Schemes accepted in entries and targets.
const (
	SchemeHTTP  = "http"
	SchemeHTTPS = "https"
	SchemeTCP   = "tcp"
	SchemeUDP   = "udp"
	// SchemeAny in an entry matches http, https and tcp.
	SchemeAny = "*"
)

// AllowAllEntry is the entry that allows every destination. Callers should
// warn loudly when it is in use.
const AllowAllEntry = "insecure:allow-all"

// hostKind says how a rule's host part matches.
type hostKind uint8

const (
	hostName   hostKind = iota + 1 // exact DNS name
	hostSuffix                     // *.suffix: any name strictly below suffix
	hostIP                         // one IP address
	hostCIDR                       // an IP prefix
)

// Rule is one parsed allow-list entry. The zero Rule matches nothing.
type Rule struct {
	// Raw is the entry exactly as the user wrote it.
	Raw string

	allowAll bool
	scheme   string // http, https, tcp or *
	kind     hostKind
	name     string       // hostName: the name; hostSuffix: the suffix without "*."
	prefix   netip.Prefix // hostIP (full-length prefix) and hostCIDR

	// defaultPort means no port was written: the scheme's default port
	// (80 for http, 443 for https, none for tcp) applies.
	defaultPort bool
	portLow     uint16
	portHigh    uint16
}

// EntryError is a problem with one allow-list entry. Its message is a single
// line that names the entry, says what is wrong and how to fix it.
type EntryError struct {
	Entry   string // the entry as given
	Problem string // what is wrong
	Fix     string // how to fix it; may be empty
}

// Error implements error.
func (e *EntryError) Error() string {
	s := fmt.Sprintf("allow-list entry %q: %s", e.Entry, e.Problem)
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

// ParseRule parses one entry of the form scheme://host[:port][/] or the
// special entry insecure:allow-all. Surrounding spaces are ignored.
func ParseRule(entry string) (Rule, error) {
	fail := func(problem, fix string) (Rule, error) {
		return Rule{}, &EntryError{Entry: entry, Problem: problem, Fix: fix}
	}
	s := strings.TrimSpace(entry)
	if s == "" {
		return fail("entry is empty", "use e.g. http://localhost:3500")
	}
	// Checking the whole entry up front keeps every later message, which may
	// quote parts of it, printable and on one line.
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= 0x80:
			return fail("contains non-ASCII characters", "write international names in punycode (xn--...)")
		case b <= ' ' || b == 0x7f:
			return fail("contains spaces or control characters", "remove them")
		}
	}
	if strings.EqualFold(s, AllowAllEntry) {
		return Rule{Raw: entry, allowAll: true}, nil
	}

	schemeText, rest, ok := strings.Cut(s, "://")
	if !ok || schemeText == "" {
		h := s
		if ok {
			h = rest
		}
		return fail("missing scheme", fmt.Sprintf("write it as http://%s, https://%s or tcp://%s", h, h, h))
	}
	scheme := strings.ToLower(schemeText)
	switch scheme {
	case SchemeHTTP, SchemeHTTPS, SchemeTCP, SchemeUDP, SchemeAny:
	default:
		return fail(fmt.Sprintf("unsupported scheme %q", schemeText), "use http, https, tcp, udp or *")
	}

	// A URL-like entry may carry parts that would make it look narrower than
	// it is (a path) or hide the real host (userinfo); refuse them all.
	if strings.Contains(rest, "@") {
		return fail("userinfo (user@) is not allowed", fmt.Sprintf("use %s://host[:port]", scheme))
	}
	if strings.Contains(rest, "?") {
		return fail("a query is not allowed", fmt.Sprintf("use %s://host[:port]", scheme))
	}
	if strings.Contains(rest, "#") {
		return fail("a fragment is not allowed", fmt.Sprintf("use %s://host[:port]", scheme))
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return fail("host is missing", fmt.Sprintf("use e.g. %s://localhost:8080", scheme))
	}

	var hostText, portText string
	hasPort, bracketed := false, false
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return fail("missing ']' after IPv6 address", fmt.Sprintf("use e.g. %s://[::1]:8080", scheme))
		}
		hostText, bracketed = rest[1:end], true
		switch after := rest[end+1:]; {
		case after == "":
		case after[0] == ':':
			portText, hasPort = after[1:], true
		case after[0] == '/':
			return fail("a path is not allowed", fmt.Sprintf("use %s://%s[:port]", scheme, rest[:end+1]))
		default:
			return fail(fmt.Sprintf("unexpected %q after ']'", after), fmt.Sprintf("use %s://%s:port", scheme, rest[:end+1]))
		}
	} else {
		if strings.Count(rest, ":") > 1 {
			fix := fmt.Sprintf("put IPv6 addresses in brackets, e.g. %s://[::1]:8080 or %s://[fd00::/8]", scheme, scheme)
			if _, err := netip.ParseAddr(rest); err == nil {
				fix = fmt.Sprintf("use %s://[%s]", scheme, rest)
			} else if _, err := netip.ParsePrefix(rest); err == nil {
				fix = fmt.Sprintf("use %s://[%s]", scheme, rest)
			}
			return fail("IPv6 address without brackets", fix)
		}
		hostText, portText, hasPort = strings.Cut(rest, ":")
	}

	r := Rule{Raw: entry, scheme: scheme}
	if problem, fix := r.parseHost(hostText, bracketed); problem != "" {
		return fail(problem, fix)
	}
	host := r.hostString()

	if !hasPort {
		if scheme == SchemeTCP || scheme == SchemeUDP {
			return fail(scheme+" entries need a port", fmt.Sprintf("use e.g. %s://%s:5432 or %s://%s:*", scheme, host, scheme, host))
		}
		r.defaultPort = true
		return r, nil
	}
	if strings.Contains(portText, "/") {
		return fail("a path is not allowed", fmt.Sprintf("use %s://%s:port", scheme, host))
	}
	example := fmt.Sprintf("use e.g. %s://%s:8080, %s://%s:8000-8999 or %s://%s:*", scheme, host, scheme, host, scheme, host)
	switch {
	case portText == "":
		return fail("port is empty after ':'", example)
	case portText == "*":
		r.portLow, r.portHigh = 1, 65535
	case strings.Contains(portText, "-"):
		loText, hiText, _ := strings.Cut(portText, "-")
		lo, problem := parsePort(loText)
		if problem != "" {
			return fail(problem, example)
		}
		hi, problem := parsePort(hiText)
		if problem != "" {
			return fail(problem, example)
		}
		if lo > hi {
			return fail(fmt.Sprintf("port range %d-%d is reversed", lo, hi), fmt.Sprintf("use %s://%s:%d-%d", scheme, host, hi, lo))
		}
		r.portLow, r.portHigh = lo, hi
	default:
		p, problem := parsePort(portText)
		if problem != "" {
			return fail(problem, fmt.Sprintf("use e.g. %s://%s:8080", scheme, host))
		}
		r.portLow, r.portHigh = p, p
	}
	return r, nil
}

// parseHost fills the host fields of r. It returns a problem and a fix on error.
func (r *Rule) parseHost(h string, bracketed bool) (problem, fix string) {
	s := r.scheme
	if bracketed {
		if h == "" {
			return "empty brackets", fmt.Sprintf("use e.g. %s://[::1]:8080", s)
		}
		if strings.Contains(h, "%") {
			return "IPv6 zones (%) are not allowed", fmt.Sprintf("remove the zone, e.g. %s://[fe80::1]", s)
		}
		if strings.Contains(h, "/") {
			p, err := netip.ParsePrefix(h)
			if err != nil {
				return fmt.Sprintf("%q is not a valid IPv6 CIDR", h), fmt.Sprintf("use e.g. %s://[fd00::/8]", s)
			}
			if !p.Addr().Is6() {
				return "IPv4 CIDRs must not be in brackets", fmt.Sprintf("use %s://%s", s, p)
			}
			if p != p.Masked() {
				return fmt.Sprintf("CIDR %s has host bits set", p), fmt.Sprintf("use %s://[%s]", s, p.Masked())
			}
			r.kind, r.prefix = hostCIDR, unmapPrefix(p)
			return "", ""
		}
		a, err := netip.ParseAddr(h)
		if err != nil {
			return fmt.Sprintf("%q is not a valid IPv6 address", h), fmt.Sprintf("use e.g. %s://[::1]:8080", s)
		}
		if !a.Is6() {
			return "IPv4 addresses must not be in brackets", fmt.Sprintf("use %s://%s", s, a)
		}
		a = a.Unmap()
		r.kind, r.prefix = hostIP, netip.PrefixFrom(a, a.BitLen())
		return "", ""
	}

	if strings.Contains(h, "/") {
		if p, err := netip.ParsePrefix(h); err == nil && p.Addr().Is4() {
			if p != p.Masked() {
				return fmt.Sprintf("CIDR %s has host bits set", p), fmt.Sprintf("use %s://%s", s, p.Masked())
			}
			r.kind, r.prefix = hostCIDR, p
			return "", ""
		}
		before, _, _ := strings.Cut(h, "/")
		if a, err := netip.ParseAddr(before); err == nil && a.Is4() {
			return fmt.Sprintf("%q is not a valid CIDR", h), fmt.Sprintf("use e.g. %s://10.0.0.0/8", s)
		}
		return "a path is not allowed", fmt.Sprintf("use %s://%s[:port]", s, before)
	}
	if h == "" {
		return "host is missing", fmt.Sprintf("use e.g. %s://localhost:8080", s)
	}
	if h == "*" {
		return "host * is not allowed", fmt.Sprintf("name a domain such as %s://*.example.com, or use %s to allow everything", s, AllowAllEntry)
	}
	if suffix, ok := strings.CutPrefix(h, "*."); ok {
		name, err := normalizeName(suffix)
		if err != nil {
			return fmt.Sprintf("wildcard suffix: %s", err), fmt.Sprintf("use e.g. %s://*.example.com", s)
		}
		r.kind, r.name = hostSuffix, name
		return "", ""
	}
	if strings.Contains(h, "*") {
		return "'*' is only allowed as the whole first label", fmt.Sprintf("use e.g. %s://*.example.com", s)
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(h, ".")); err == nil && a.Is4() {
		r.kind, r.prefix = hostIP, netip.PrefixFrom(a, 32)
		return "", ""
	}
	name, err := normalizeName(h)
	if err != nil {
		if msg := err.Error(); strings.Contains(msg, ";") {
			return msg, "" // the message already says how to fix it
		}
		return err.Error(), fmt.Sprintf("use a DNS name or an address such as %s://127.0.0.1", s)
	}
	r.kind, r.name = hostName, name
	return "", ""
}

// unmapPrefix turns ::ffff:a.b.c.d/n (n >= 96) into a.b.c.d/(n-96), because
// targets are unmapped before matching.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// parsePort parses a decimal port 1..65535.
func parsePort(s string) (uint16, string) {
	if s == "" {
		return 0, "port is empty"
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Sprintf("port %q is not a number", s)
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v < 1 || v > 65535 {
		return 0, fmt.Sprintf("port %s is out of range 1-65535", s)
	}
	return uint16(v), ""
}

// AllowsAll reports whether r is the insecure:allow-all entry.
func (r Rule) AllowsAll() bool { return r.allowAll }

// String returns the canonical form of the rule, which ParseRule accepts and
// parses to an equivalent rule.
func (r Rule) String() string {
	if r.allowAll {
		return AllowAllEntry
	}
	if r.kind == 0 {
		return "(invalid rule)"
	}
	s := r.scheme + "://" + r.hostString()
	switch {
	case r.defaultPort:
	case r.portLow == 1 && r.portHigh == 65535:
		s += ":*"
	case r.portLow == r.portHigh:
		s += ":" + strconv.Itoa(int(r.portLow))
	default:
		s += fmt.Sprintf(":%d-%d", r.portLow, r.portHigh)
	}
	return s
}

// hostString is the host part as written in a canonical entry.
func (r Rule) hostString() string {
	switch r.kind {
	case hostName:
		return r.name
	case hostSuffix:
		return "*." + r.name
	case hostIP:
		if r.prefix.Addr().Is6() {
			return "[" + r.prefix.Addr().String() + "]"
		}
		return r.prefix.Addr().String()
	case hostCIDR:
		if r.prefix.Addr().Is6() {
			return "[" + r.prefix.String() + "]"
		}
		return r.prefix.String()
	}
	return ""
}

// isIP reports whether the rule names addresses (IP or CIDR) rather than names.
func (r Rule) isIP() bool { return r.kind == hostIP || r.kind == hostCIDR }

// schemeMatches reports whether the rule's scheme covers the target scheme.
func (r Rule) schemeMatches(scheme string) bool {
	switch scheme {
	case SchemeHTTP, SchemeHTTPS, SchemeTCP, SchemeUDP:
		return r.scheme == SchemeAny || r.scheme == scheme
	}
	return false
}

// portMatches reports whether the rule's port covers port for this scheme.
func (r Rule) portMatches(scheme string, port uint16) bool {
	if port == 0 {
		return false
	}
	if r.defaultPort {
		return port == defaultPort(scheme)
	}
	return r.portLow <= port && port <= r.portHigh
}

// matches reports whether r allows the normalized target t.
func (r Rule) matches(t Target) bool {
	if r.allowAll {
		return true
	}
	if !r.schemeMatches(t.Scheme) || !r.portMatches(t.Scheme, t.Port) {
		return false
	}
	switch r.kind {
	case hostName:
		return !t.Addr.IsValid() && t.Host == r.name
	case hostSuffix:
		// Strictly below: "example.com" itself is not covered by *.example.com.
		return !t.Addr.IsValid() && strings.HasSuffix(t.Host, "."+r.name)
	case hostIP, hostCIDR:
		return t.Addr.IsValid() && r.prefix.Contains(t.Addr)
	}
	return false
}

// defaultPort is the port a scheme implies when none is given; 0 for tcp,
// which has none.
func defaultPort(scheme string) uint16 {
	switch scheme {
	case SchemeHTTP:
		return 80
	case SchemeHTTPS:
		return 443
	}
	return 0
}
