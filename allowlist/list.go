package allowlist

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Resolver looks up host names. *net.Resolver implements it; tests inject
// fakes.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// List is a parsed allow-list. A List with no rules denies everything. Its
// methods are safe for concurrent use once the exported fields are set; a nil
// *List denies everything.
type List struct {
	// Resolver resolves host-name targets at dial time; nil means
	// net.DefaultResolver.
	Resolver Resolver
	// Dialer dials the resolved addresses; nil means a dialer with a 30s
	// timeout and 30s keep-alive. Its own Resolver is never used because only
	// IP addresses are dialed.
	Dialer *net.Dialer

	rules []Rule
}

// Parse parses entries into a List. Every bad entry is reported, one per
// line, in the returned error (each an *EntryError, joined). Duplicate
// entries (same canonical form) are kept once.
func Parse(entries []string) (*List, error) {
	l := &List{}
	var errs []error
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		r, err := ParseRule(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if key := r.String(); !seen[key] {
			seen[key] = true
			l.rules = append(l.rules, r)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return l, nil
}

// SplitEntries splits a comma- or whitespace-separated list of entries, as
// given in an environment variable, dropping empty items.
func SplitEntries(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}

// Rules returns a copy of the list's rules in the order given.
func (l *List) Rules() []Rule {
	if l == nil {
		return nil
	}
	return append([]Rule(nil), l.rules...)
}

// AllowsAll reports whether the list contains insecure:allow-all.
func (l *List) AllowsAll() bool {
	if l == nil {
		return false
	}
	for _, r := range l.rules {
		if r.allowAll {
			return true
		}
	}
	return false
}

// String lists the canonical rules, comma-separated, for logs.
func (l *List) String() string {
	if l == nil || len(l.rules) == 0 {
		return "(empty: every destination is denied)"
	}
	parts := make([]string, len(l.rules))
	for i, r := range l.rules {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// Match is the request-time check: it reports the first rule whose scheme,
// host and port all match t. The target is normalized again first, so a
// hand-built Target cannot skip normalization; a target that does not
// normalize matches nothing. Host-name rules match only host-name targets
// and IP/CIDR rules only IP targets.
func (l *List) Match(t Target) (Rule, bool) {
	if l == nil {
		return Rule{}, false
	}
	nt, err := NewTarget(t.Scheme, t.Host, t.Port)
	if err != nil {
		return Rule{}, false
	}
	for _, r := range l.rules {
		if r.matches(nt) {
			return r, true
		}
	}
	return Rule{}, false
}

// Suggest returns the entry that would allow t, such as
// http://example.com:8080, for "denied" log lines. The port is left out when
// it is the scheme's default. It returns "" when t does not normalize.
func (l *List) Suggest(t Target) string {
	nt, err := NewTarget(t.Scheme, t.Host, t.Port)
	if err != nil {
		return ""
	}
	host := nt.Host
	if nt.Addr.Is6() {
		host = "[" + host + "]"
	}
	if nt.Port == defaultPort(nt.Scheme) {
		return nt.Scheme + "://" + host
	}
	return nt.Scheme + "://" + host + ":" + strconv.Itoa(int(nt.Port))
}

// ipAllowed reports whether an IP or CIDR rule (or allow-all) with t's scheme
// and port names addr explicitly.
func (l *List) ipAllowed(t Target, addr netip.Addr) bool {
	for _, r := range l.rules {
		if r.allowAll {
			return true
		}
		if r.isIP() && r.schemeMatches(t.Scheme) && r.portMatches(t.Scheme, t.Port) && r.prefix.Contains(addr) {
			return true
		}
	}
	return false
}

func (l *List) resolver() Resolver {
	if l.Resolver != nil {
		return l.Resolver
	}
	return net.DefaultResolver
}

// NamesHost reports whether some rule for scheme (or *) names the host name host, whatever its port:
// a socket guest may resolve only names the allow-list names. IP literals and names that do not
// normalize are never "named" here.
func (l *List) NamesHost(scheme, host string) bool {
	if l == nil {
		return false
	}
	nt, err := NewTarget(scheme, host, 1)
	if err != nil || nt.Addr.IsValid() {
		return false
	}
	for _, r := range l.rules {
		if r.allowAll {
			return true
		}
		if !r.schemeMatches(scheme) {
			continue
		}
		switch r.kind {
		case hostName:
			if nt.Host == r.name {
				return true
			}
		case hostSuffix:
			if strings.HasSuffix(nt.Host, "."+r.name) {
				return true
			}
		}
	}
	return false
}
