package allowlist

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// DeniedError is returned when the allow-list refuses a destination. Use
// errors.As to map it to a guest-visible error code.
type DeniedError struct {
	// Target is the destination asked for. When the destination did not
	// normalize, it holds the raw scheme, host and port as given.
	Target Target
	// Reason says why it was denied.
	Reason string
	// Suggest is the entry that would allow it, or "" when none should be
	// suggested.
	Suggest string
	// Err is the underlying cause, if any (for example one wrapping
	// ErrInvalidTarget).
	Err error
}

// Error implements error. The message is one line even for hostile input.
func (e *DeniedError) Error() string {
	s := "allow-list denied " + printable(e.Target.String()) + ": " + e.Reason
	if e.Suggest != "" {
		s += " (to allow it, add " + e.Suggest + ")"
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *DeniedError) Unwrap() error { return e.Err }

// printable quotes s when it holds anything but printable ASCII, so guest
// supplied text cannot forge log lines.
func printable(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return strconv.Quote(s)
		}
	}
	return s
}

// Resolve is the dial-time check. It re-runs Match itself and returns the
// addresses a connection to t may use: for an IP target the address itself;
// for a host name the resolver's answers, unmapped, without link-local,
// unspecified and multicast addresses unless an IP or CIDR rule with the
// same scheme and port names them. Denials are *DeniedError; resolver
// failures are returned wrapped.
func (l *List) Resolve(ctx context.Context, t Target) ([]netip.Addr, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	nt, err := NewTarget(t.Scheme, t.Host, t.Port)
	if err != nil {
		return nil, &DeniedError{Target: t, Reason: err.Error(), Err: err}
	}
	if _, ok := l.Match(nt); !ok {
		return nil, &DeniedError{Target: nt, Reason: "no allow-list entry matches", Suggest: l.Suggest(nt)}
	}
	if nt.Addr.IsValid() {
		return []netip.Addr{nt.Addr}, nil
	}
	answers, err := l.resolver().LookupNetIP(ctx, "ip", nt.Host)
	if err != nil {
		return nil, fmt.Errorf("allowlist: resolving %s: %w", nt.Host, err)
	}
	var out []netip.Addr
	var dropped []string
	seen := make(map[netip.Addr]bool, len(answers))
	for _, a := range answers {
		a = a.Unmap().WithZone("")
		if !a.IsValid() || seen[a] {
			continue
		}
		seen[a] = true
		// A name must not lead to cloud metadata (169.254.169.254), "this
		// host" (0.0.0.0) or multicast unless the user named the address.
		if why := forbidden(a); why != "" && !l.ipAllowed(nt, a) {
			dropped = append(dropped, a.String()+" ("+why+")")
			continue
		}
		out = append(out, a)
	}
	if len(out) > 0 {
		return out, nil
	}
	if len(dropped) == 0 {
		return nil, fmt.Errorf("allowlist: %s resolved to no addresses", nt.Host)
	}
	return nil, &DeniedError{
		Target: nt,
		Reason: fmt.Sprintf("name resolved only to forbidden addresses: %s; such addresses are reachable only through an entry naming the IP or CIDR", strings.Join(dropped, ", ")),
	}
}

// forbidden says why a resolved address is unsafe to reach through a name,
// or "" when it is not.
func forbidden(a netip.Addr) string {
	switch {
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast():
		return "multicast"
	}
	return ""
}

// DialContext is the one dial function for HTTP and socket extensions.
// scheme is http, https or tcp; network is tcp, tcp4 or tcp6; addr is
// host:port with a numeric port. It normalizes addr, runs Resolve and dials
// only the returned IP addresses in turn, never the name.
func (l *List) DialContext(ctx context.Context, scheme, network, addr string) (net.Conn, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if l == nil {
		l = &List{}
	}
	var want func(netip.Addr) bool
	switch network {
	case "tcp":
		want = func(netip.Addr) bool { return true }
	case "tcp4":
		want = netip.Addr.Is4
	case "tcp6":
		want = netip.Addr.Is6
	default:
		return nil, fmt.Errorf("allowlist: network %q is not supported; use tcp, tcp4 or tcp6", network)
	}
	t, err := TargetFromAddr(scheme, addr)
	if err != nil {
		return nil, &DeniedError{Target: rawTarget(scheme, addr), Reason: err.Error(), Err: err}
	}
	ips, err := l.Resolve(ctx, t)
	if err != nil {
		return nil, err
	}
	d := l.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	}
	var first error
	for _, ip := range ips {
		if !want(ip) {
			continue
		}
		if err := ctx.Err(); err != nil {
			if first == nil {
				first = err
			}
			break
		}
		c, err := d.DialContext(ctx, network, netip.AddrPortFrom(ip, t.Port).String())
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		return nil, fmt.Errorf("allowlist: %s has no allowed %s address", t, network)
	}
	return nil, first
}

// rawTarget keeps what a caller asked for when it does not normalize, for
// error messages.
func rawTarget(scheme, addr string) Target {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return Target{Scheme: scheme, Host: addr}
	}
	port, _ := strconv.ParseUint(portText, 10, 16)
	return Target{Scheme: scheme, Host: host, Port: uint16(port)}
}
