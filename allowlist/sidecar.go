package allowlist

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Environment variables the Dapr runtime sets for applications.
const (
	EnvDaprHTTPEndpoint = "DAPR_HTTP_ENDPOINT"
	EnvDaprHTTPPort     = "DAPR_HTTP_PORT"
	EnvDaprGRPCPort     = "DAPR_GRPC_PORT"
)

// DefaultDaprHTTPPort is the sidecar HTTP port when DAPR_HTTP_PORT is unset.
const DefaultDaprHTTPPort = 3500

// loopbackHosts are the spellings of "this machine" a guest may use to reach
// a local sidecar. Each is matched literally, so all three are listed.
var loopbackHosts = []string{"127.0.0.1", "localhost", "::1"}

// Sidecar returns the entries used when the user gives none: the Dapr
// sidecar only. With DAPR_HTTP_ENDPOINT set it allows that endpoint's scheme,
// host and port plus tcp to the same host and port; otherwise http and tcp to
// 127.0.0.1, localhost and [::1] at DAPR_HTTP_PORT (default 3500). When
// DAPR_GRPC_PORT is set it adds tcp to the three loopback names at that port.
// getenv is usually os.Getenv (nil means os.Getenv).
func Sidecar(getenv func(string) string) ([]string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var entries []string
	if ep := strings.TrimSpace(getenv(EnvDaprHTTPEndpoint)); ep != "" {
		t, err := endpointTarget(ep)
		if err != nil {
			return nil, err
		}
		entries = append(entries, t.Scheme+"://"+t.HostPort(), SchemeTCP+"://"+t.HostPort())
	} else {
		port, err := envPort(getenv, EnvDaprHTTPPort, DefaultDaprHTTPPort)
		if err != nil {
			return nil, err
		}
		entries = append(entries, loopbackEntries(SchemeHTTP, port)...)
		entries = append(entries, loopbackEntries(SchemeTCP, port)...)
	}
	if strings.TrimSpace(getenv(EnvDaprGRPCPort)) != "" {
		port, err := envPort(getenv, EnvDaprGRPCPort, 0)
		if err != nil {
			return nil, err
		}
		entries = append(entries, loopbackEntries(SchemeTCP, port)...)
	}
	return entries, nil
}

// SidecarTargets returns the HTTP targets of the sidecar's HTTP API, so that
// callers attach the Dapr API token only to requests bound for the sidecar:
// the DAPR_HTTP_ENDPOINT target, or else http to 127.0.0.1, localhost and
// ::1 at DAPR_HTTP_PORT (default 3500). getenv nil means os.Getenv.
func SidecarTargets(getenv func(string) string) ([]Target, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if ep := strings.TrimSpace(getenv(EnvDaprHTTPEndpoint)); ep != "" {
		t, err := endpointTarget(ep)
		if err != nil {
			return nil, err
		}
		return []Target{t}, nil
	}
	port, err := envPort(getenv, EnvDaprHTTPPort, DefaultDaprHTTPPort)
	if err != nil {
		return nil, err
	}
	targets := make([]Target, 0, len(loopbackHosts))
	for _, h := range loopbackHosts {
		t, err := NewTarget(SchemeHTTP, h, port)
		if err != nil { // cannot happen for these constants; kept so we never panic
			return nil, err
		}
		targets = append(targets, t)
	}
	return targets, nil
}

// endpointTarget parses DAPR_HTTP_ENDPOINT. Any path is irrelevant to the
// allow-list and ignored.
func endpointTarget(ep string) (Target, error) {
	fix := "use e.g. http://dapr-sidecar:3500 or https://dapr.example.com"
	u, err := url.Parse(ep)
	if err != nil {
		return Target{}, fmt.Errorf("%s=%q is not a valid URL; %s", EnvDaprHTTPEndpoint, ep, fix)
	}
	if s := strings.ToLower(u.Scheme); s != SchemeHTTP && s != SchemeHTTPS {
		return Target{}, fmt.Errorf("%s=%q must start with http:// or https://; %s", EnvDaprHTTPEndpoint, ep, fix)
	}
	t, err := TargetFromURL(u)
	if err != nil {
		return Target{}, fmt.Errorf("%s=%q: %v; %s", EnvDaprHTTPEndpoint, ep, err, fix)
	}
	return t, nil
}

// envPort reads a port number from the environment, or def when unset.
func envPort(getenv func(string) string, name string, def uint16) (uint16, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	p, problem := parsePort(v)
	if problem != "" {
		return 0, fmt.Errorf("%s=%q is not a port number (1-65535): %s", name, v, problem)
	}
	return p, nil
}

func loopbackEntries(scheme string, port uint16) []string {
	out := make([]string, 0, len(loopbackHosts))
	for _, h := range loopbackHosts {
		out = append(out, scheme+"://"+net.JoinHostPort(h, strconv.Itoa(int(port))))
	}
	return out
}
