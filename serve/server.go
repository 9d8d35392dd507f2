// Package serve is the inbound side: the host as a Dapr app. daprd delivers service invocations,
// pub/sub events and input-binding events over the HTTP app channel; each runs in a fresh instance of
// the module that claims it, under the WAGI contract, with per-module limits.
package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
	"github.com/wasi-dapr-host/wasi-dapr-host/manifest"
)

// Config is what a Server needs.
type Config struct {
	Manifest *manifest.Manifest
	Engine   *host.Engine
	// Allow is the allow-list of modules that name none of their own.
	Allow *allowlist.List
	Log   zerolog.Logger
	// GuestEnv is given to every guest under its module's own env: the sidecar's address
	// (DAPR_HTTP_PORT, DAPR_GRPC_PORT, DAPR_HTTP_ENDPOINT, APP_ID), never the API token.
	GuestEnv map[string]string
}

// Server is the Dapr app channel in front of the modules.
type Server struct {
	cfg     Config
	modules []*module
	router  *mux.Router
	ready   atomic.Bool
	readyCh chan struct{} // closed once every module is loaded
	metrics *metrics
}

// New builds the routes. Modules are compiled by Load (Serve calls it after it starts listening, so
// /healthz answers 503 until every module is ready).
func New(cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, router: mux.NewRouter(), metrics: newMetrics(), readyCh: make(chan struct{})}
	for _, spec := range cfg.Manifest.Modules {
		m := &module{spec: spec, slots: make(chan struct{}, max(spec.Limits.Concurrency, 1)), log: cfg.Log.With().Str("module", spec.Name).Logger(), metrics: s.metrics, daprEnv: cfg.GuestEnv, ready: s.readyCh}
		m.allow = cfg.Allow
		if spec.Limits.HasAllowedHosts {
			list, err := allowlist.Parse(spec.Limits.AllowedHosts)
			if err != nil {
				return nil, fmt.Errorf("%s: module %s: allowedHosts: %s", cfg.Manifest.File, spec.Name, strings.ReplaceAll(err.Error(), "\n", "; "))
			}
			m.allow = list
		}
		s.modules = append(s.modules, m)
	}
	s.routes()
	return s, nil
}

// Load compiles every module; the server is ready when it returns nil.
func (s *Server) Load() error {
	for _, m := range s.modules {
		mod, err := s.cfg.Engine.Load(m.spec.Path)
		if err != nil {
			return fmt.Errorf("module %s: %w", m.spec.Name, err)
		}
		m.mod = mod
		m.log.Info().Str("path", m.spec.Path).Bool("cached", mod.Cached).Dur("compile", mod.CompileTime).Msg("module ready")
	}
	s.ready.Store(true)
	close(s.readyCh)
	return nil
}

// Handler is the app channel's HTTP handler.
func (s *Server) Handler() http.Handler { return s.router }

// Serve listens on addr with the HTTP app channel, loads the modules, and serves until ctx ends; then
// it stops accepting and lets in-flight requests finish within grace.
func (s *Server) Serve(ctx context.Context, addr string, grace time.Duration) error {
	var fresh freshConns
	srv := &http.Server{Handler: s.router, ReadHeaderTimeout: 10 * time.Second, ConnState: fresh.track}
	return s.serveChannel(ctx, addr, grace, channel{
		name: "HTTP", serve: srv.Serve, stop: func() { srv.Close() },
		drain: func(ctx context.Context) error { return fresh.whileShutdown(ctx, srv.Shutdown) },
	})
}

// freshConns are connections accepted but not yet carrying a request. http.Server.Shutdown treats
// them as busy for their first 5 seconds (a request might be on its way), so a client that opened a
// spare connection (daprd's pool, any keep-alive client under load) would hold shutdown for the whole
// grace period and make it report unfinished requests that never existed. They hold no work: during
// shutdown they are closed like idle keep-alive connections.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (f *freshConns) track(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st == http.StateNew {
		if f.conns == nil {
			f.conns = map[net.Conn]struct{}{}
		}
		f.conns[c] = struct{}{}
	} else {
		delete(f.conns, c)
	}
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
}

// whileShutdown runs shutdown, closing fresh connections until it returns (one may be accepted just
// before the listener closes).
func (f *freshConns) whileShutdown(ctx context.Context, shutdown func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- shutdown(ctx) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		f.closeAll()
		select {
		case err := <-done:
			return err
		case <-tick.C:
		}
	}
}

// channel is an app channel server as serveChannel drives it.
type channel struct {
	name  string
	serve func(net.Listener) error
	stop  func()
	// drain stops accepting and waits for in-flight work, giving up (with an error) when ctx ends.
	drain func(ctx context.Context) error
}

// serveChannel listens first (so /healthz can answer 503 while modules compile), then loads the
// modules, serves until ctx ends and drains within grace.
func (s *Server) serveChannel(ctx context.Context, addr string, grace time.Duration, ch channel) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("app port: %w (is another app on %s? set --app-port)", err, addr)
	}
	errc := make(chan error, 1)
	go func() { errc <- ch.serve(l) }()
	s.cfg.Log.Info().Str("addr", l.Addr().String()).Msg("app channel listening (" + ch.name + ")")
	if err := s.Load(); err != nil {
		ch.stop()
		return err
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.cfg.Log.Info().Dur("grace", grace).Msg("shutting down: no new requests, finishing in-flight ones")
	dctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := ch.drain(dctx); err != nil {
		ch.stop()
		return fmt.Errorf("in-flight requests did not finish within --grace %s", grace)
	}
	return nil
}

func (s *Server) routes() {
	r := s.router
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "modules are still compiling", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}).Methods(http.MethodGet)
	r.Handle("/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})).Methods(http.MethodGet)
	r.HandleFunc("/dapr/subscribe", s.subscribe).Methods(http.MethodGet)
	r.HandleFunc("/dapr/config", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"entities":[]}`))
	}).Methods(http.MethodGet)
	for _, m := range s.modules {
		for _, sub := range m.spec.Subscriptions {
			r.Handle(sub.Route, s.eventHandler(m, sub)).Methods(http.MethodPost)
		}
		for _, b := range m.spec.Bindings {
			r.HandleFunc("/"+b, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }).Methods(http.MethodOptions)
			r.Handle("/"+b, s.bindingHandler(m, b)).Methods(http.MethodPost)
		}
	}
	for _, m := range s.modules {
		for _, pattern := range m.spec.Routes {
			h := s.invokeHandler(m, pattern)
			if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
				r.Handle(prefix, h)
				r.PathPrefix(prefix + "/").Handler(h)
				if prefix == "" {
					r.Handle("/", h)
				}
			} else {
				r.Handle(pattern, h)
			}
		}
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Error(w, "no module serves "+req.URL.Path, http.StatusNotFound)
	})
}

var errBusy = errors.New("module busy: concurrency limit and queue full")
