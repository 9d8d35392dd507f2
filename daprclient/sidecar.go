// Package daprclient is the host's own talk with its Dapr sidecar: where it is (from the environment
// `dapr run` and the Kubernetes injector set), its API token, and waiting for it to be ready.
package daprclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rs/zerolog"
)

// APIVersion is the Dapr HTTP API version guests and the host talk to.
const APIVersion = "v1.0"

// TestedRuntime is the daprd release the integration tests run against.
const TestedRuntime = "1.16.5"

// Sidecar is where the Dapr sidecar listens.
type Sidecar struct {
	// HTTPEndpoint is the base URL of the sidecar's HTTP API, e.g. http://127.0.0.1:3500.
	HTTPEndpoint string
	// HTTPPort and GRPCPort are the ports from DAPR_HTTP_PORT / DAPR_GRPC_PORT (0 when unset).
	HTTPPort int
	GRPCPort int
	// Token is DAPR_API_TOKEN: the host sends it, the guest never sees it.
	Token string
}

// FromEnv reads DAPR_HTTP_ENDPOINT, DAPR_HTTP_PORT (default 3500), DAPR_GRPC_PORT and DAPR_API_TOKEN.
func FromEnv(getenv func(string) string) (Sidecar, error) {
	s := Sidecar{Token: getenv("DAPR_API_TOKEN")}
	var err error
	if s.HTTPPort, err = port(getenv, "DAPR_HTTP_PORT"); err != nil {
		return s, err
	}
	if s.GRPCPort, err = port(getenv, "DAPR_GRPC_PORT"); err != nil {
		return s, err
	}
	if ep := getenv("DAPR_HTTP_ENDPOINT"); ep != "" {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return s, fmt.Errorf("DAPR_HTTP_ENDPOINT=%q is not an http(s) URL like http://127.0.0.1:3500", ep)
		}
		s.HTTPEndpoint = u.Scheme + "://" + u.Host
	} else {
		p := s.HTTPPort
		if p == 0 {
			p = 3500
		}
		s.HTTPEndpoint = "http://127.0.0.1:" + strconv.Itoa(p)
	}
	return s, nil
}

func port(getenv func(string) string, name string) (int, error) {
	v := getenv(name)
	if v == "" {
		return 0, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("%s=%q is not a port number (1-65535)", name, v)
	}
	return p, nil
}

// WaitReady polls the sidecar's outbound health endpoint until it answers 2xx or the timeout passes.
// Outbound readiness is what a guest needs: the building blocks are loaded, whether or not the app
// channel is up yet.
func (s Sidecar) WaitReady(ctx context.Context, timeout time.Duration, log zerolog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := s.HTTPEndpoint + "/" + APIVersion + "/healthz/outbound"
	client := &http.Client{Timeout: 2 * time.Second}
	start := time.Now()
	delay := 20 * time.Millisecond
	logged := false
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if s.Token != "" {
			req.Header.Set("dapr-api-token", s.Token)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				log.Debug().Dur("waited", time.Since(start)).Msg("sidecar ready")
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if !logged && time.Since(start) > time.Second {
			log.Info().Str("url", u).Msg("waiting for the Dapr sidecar")
			logged = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the Dapr sidecar at %s was not ready within %s (last answer: %s); is daprd running with --dapr-http-port matching DAPR_HTTP_PORT?", s.HTTPEndpoint, timeout, last)
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}
