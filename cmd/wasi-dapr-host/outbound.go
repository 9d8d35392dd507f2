package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/daprclient"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
	"github.com/wasi-dapr-host/wasi-dapr-host/httpext"
	"github.com/wasi-dapr-host/wasi-dapr-host/sockext"
)

// Outbound is the configuration `run` and `serve` share: what guests may reach and how, and where
// compiled modules are kept. Embedded, so its variables are WASI_DAPR_<NAME> in both commands.
type Outbound struct {
	AllowHosts     List     `envconfig:"ALLOW_HOSTS"`
	HTTPTimeout    Duration `envconfig:"HTTP_TIMEOUT" default:"30s"`
	MaxHTTPBody    Size     `envconfig:"MAX_HTTP_BODY" default:"16MiB"`
	MaxHTTPHandles int      `envconfig:"MAX_HTTP_HANDLES" default:"16"`
	TCPListen      List     `envconfig:"TCP_LISTEN"`
	MaxSockets     int      `envconfig:"MAX_SOCKETS" default:"64"`
	ConnectTimeout Duration `envconfig:"CONNECT_TIMEOUT" default:"10s"`
	CacheDir       string   `envconfig:"CACHE_DIR"`
	NoCache        bool     `envconfig:"NO_CACHE"`
}

func (o *Outbound) flags(fs *flag.FlagSet) {
	fs.Var(&o.AllowHosts, "allow-host", "allow a destination: scheme://host[:port], repeatable; default: the sidecar only [WASI_DAPR_ALLOW_HOSTS, comma list]")
	fs.Var(&o.HTTPTimeout, "http-timeout", "time limit of one outbound HTTP request [WASI_DAPR_HTTP_TIMEOUT]")
	fs.Var(&o.MaxHTTPBody, "max-http-body", "response bytes a guest may read from one response [WASI_DAPR_MAX_HTTP_BODY]")
	fs.IntVar(&o.MaxHTTPHandles, "max-http-handles", o.MaxHTTPHandles, "open HTTP responses per instance [WASI_DAPR_MAX_HTTP_HANDLES]")
	fs.Var(&o.TCPListen, "tcp-listen", "let guests listen on IP:PORT through the socket API, repeatable [WASI_DAPR_TCP_LISTEN]")
	fs.IntVar(&o.MaxSockets, "max-sockets", o.MaxSockets, "sockets per instance [WASI_DAPR_MAX_SOCKETS]")
	fs.Var(&o.ConnectTimeout, "connect-timeout", "time limit of a guest socket connect [WASI_DAPR_CONNECT_TIMEOUT]")
	fs.StringVar(&o.CacheDir, "cache-dir", o.CacheDir, "where compiled modules are kept [WASI_DAPR_CACHE_DIR]")
	fs.BoolVar(&o.NoCache, "no-cache", o.NoCache, "compile every time, keep nothing on disk [WASI_DAPR_NO_CACHE]")
}

// wiring is what the shared configuration becomes: the allow-list, the sidecar and the extensions.
type wiring struct {
	list       *allowlist.List
	sidecar    daprclient.Sidecar
	extensions []host.Extension
	cacheDir   string
}

// wire checks the shared configuration and builds the extensions. Its errors are the user's to fix.
func (o *Outbound) wire(log zerolog.Logger) (wiring, error) {
	var w wiring
	if o.MaxHTTPHandles <= 0 {
		return w, usageError{fmt.Sprintf("--max-http-handles %d: must be at least 1", o.MaxHTTPHandles)}
	}
	if o.MaxSockets <= 0 {
		return w, usageError{fmt.Sprintf("--max-sockets %d: must be at least 1", o.MaxSockets)}
	}
	var err error
	if w.sidecar, err = daprclient.FromEnv(os.Getenv); err != nil {
		return w, usageError{err.Error()}
	}
	if w.list, err = buildAllowList(o.AllowHosts.Values, log); err != nil {
		return w, usageError{err.Error()}
	}
	sidecarTargets, err := allowlist.SidecarTargets(os.Getenv)
	if err != nil {
		return w, usageError{err.Error()}
	}
	x := httpext.New(httpext.Config{Allow: w.list, Timeout: time.Duration(o.HTTPTimeout), MaxBody: int64(o.MaxHTTPBody),
		MaxHandles: o.MaxHTTPHandles, APIToken: w.sidecar.Token, Sidecar: sidecarTargets, Log: log})
	sx, err := sockext.New(sockext.Config{Allow: w.list, Listen: o.TCPListen.Values, MaxSockets: o.MaxSockets,
		ConnectTimeout: time.Duration(o.ConnectTimeout), Log: log})
	if err != nil {
		return w, usageError{err.Error()}
	}
	w.extensions = []host.Extension{x, sx}
	w.cacheDir = cacheDirFor(o.CacheDir, o.NoCache)
	return w, nil
}
