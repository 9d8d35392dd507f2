package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
	"github.com/wasi-dapr-host/wasi-dapr-host/manifest"
	"github.com/wasi-dapr-host/wasi-dapr-host/wagi"
)

type module struct {
	spec    manifest.Module
	mod     *host.Module
	allow   *allowlist.List
	slots   chan struct{}
	waiting atomic.Int64
	log     zerolog.Logger
	metrics *metrics
	daprEnv map[string]string // the sidecar's address, as `run` passes it (the module's env wins)
	envOnce sync.Once
	env     map[string]string // the module's env over daprEnv; read-only once made
	ready   <-chan struct{}
}

// outcome is how one guest run ended, for the caller to map to HTTP or Dapr statuses.
type outcome struct {
	resp        wagi.Response
	err         error // nil: resp is valid
	busy        bool
	timedOut    bool
	instantiate time.Duration
}

// run executes one request in a fresh instance, waiting for a slot in the module's bounded queue.
func (m *module) run(ctx context.Context, q wagi.Request) outcome {
	// The app port opens before modules are compiled (so /healthz can say 503); work that arrives in
	// that window waits for them rather than failing.
	select {
	case <-m.ready:
	case <-ctx.Done():
		return outcome{err: errors.New("module not loaded yet"), busy: true}
	}
	if n := m.waiting.Add(1); n > int64(m.spec.Limits.Queue)+int64(cap(m.slots)) {
		m.waiting.Add(-1)
		return outcome{err: errBusy, busy: true}
	}
	select {
	case m.slots <- struct{}{}:
	case <-ctx.Done():
		m.waiting.Add(-1)
		return outcome{err: ctx.Err(), busy: true}
	}
	defer func() { <-m.slots; m.waiting.Add(-1) }()

	m.envOnce.Do(func() {
		m.env = map[string]string{}
		for _, src := range []map[string]string{m.daprEnv, m.spec.Env} {
			for k, v := range src {
				m.env[k] = v
			}
		}
	})
	if q.Extra == nil {
		q.Extra = m.env // Env only reads it
	} else {
		for k, v := range m.env {
			if _, set := q.Extra[k]; !set {
				q.Extra[k] = v
			}
		}
	}
	var stdout, stderr bytes.Buffer
	args := q.Args()
	if len(m.spec.Args) > 0 {
		args = append(append([]string{}, m.spec.Args...), args...)
	}
	rc := host.RunConfig{
		Args: args, Env: q.Env(),
		Capture: true, Stdin: q.Body, Stdout: &stdout, Stderr: &stderr, MaxStdout: 64 << 20, MaxStderr: 1 << 20,
		MaxMemory: m.spec.Limits.MaxMemory, Timeout: m.spec.Limits.Timeout, Allow: m.allow, HTTPTimeout: m.spec.Limits.HTTPTimeout,
		Name: m.spec.Name,
	}
	res, err := m.mod.Run(ctx, rc)
	o := outcome{instantiate: res.Instantiate}
	if stderr.Len() > 0 {
		for _, line := range strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n") {
			m.log.Info().Str("stream", "stderr").Msg(line)
		}
	}
	switch {
	case err != nil:
		o.err = err
	case res.TimedOut:
		o.err, o.timedOut = fmt.Errorf("timed out after %s", m.spec.Limits.Timeout), true
	case res.Trap != "":
		o.err = fmt.Errorf("guest trapped: %s", firstLine(res.Trap))
	case res.ExitCode != 0:
		o.err = fmt.Errorf("guest exited with status %d", res.ExitCode)
	default:
		o.resp, o.err = wagi.ParseResponse(stdout.Bytes())
	}
	return o
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
