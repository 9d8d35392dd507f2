package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/wasi-dapr-host/wasi-dapr-host/host"
	"github.com/wasi-dapr-host/wasi-dapr-host/manifest"
	"github.com/wasi-dapr-host/wasi-dapr-host/serve"
)

// ServeConfig is the configuration of `wasi-dapr-host serve`.
type ServeConfig struct {
	Module        string   `envconfig:"MODULE"`
	Config        string   `envconfig:"CONFIG"`
	Subscribe     List     `envconfig:"SUBSCRIBE"`
	Bindings      List     `envconfig:"BINDINGS"`
	Routes        List     `envconfig:"ROUTES"`
	AppPort       int      `envconfig:"APP_PORT"`
	AppProtocol   string   `envconfig:"APP_PROTOCOL"`
	ListenAddress string   `envconfig:"LISTEN_ADDRESS" default:"0.0.0.0"`
	Timeout       Duration `envconfig:"TIMEOUT" default:"10s"`
	MaxMemory     Size     `envconfig:"MAX_MEMORY" default:"256MiB"`
	Concurrency   int      `envconfig:"CONCURRENCY" default:"64"`
	Queue         int      `envconfig:"QUEUE" default:"256"`
	MaxBody       Size     `envconfig:"MAX_BODY" default:"4MiB"`
	Grace         Duration `envconfig:"GRACE" default:"10s"`
	Outbound
	LogConfig
}

const serveUsage = `Usage: wasi-dapr-host serve (--module FILE [--subscribe PUBSUB/TOPIC[=ROUTE]]... [--binding NAME]... | --config FILE) [flags]

Serves as the Dapr app: daprd delivers invocations, pub/sub events and input-binding events to the app
port, and each runs in a fresh instance of the module (WAGI / CGI 1.1: env, argv and stdin in; header
block and body on stdout out).

Flags (each also from the environment variable in brackets):
`

func serveCommand(args []string, stdout, stderr io.Writer) error {
	c := ServeConfig{}
	if err := envconfig.Process("WASI_DAPR", &c); err != nil {
		return usageError{envError(err)}
	}
	// As `dapr run` sets them: APP_PORT and APP_PROTOCOL, unless WASI_DAPR_* says otherwise.
	if c.AppPort == 0 {
		if v := os.Getenv("APP_PORT"); v != "" {
			p, err := strconv.Atoi(v)
			if err != nil {
				return usageError{fmt.Sprintf("APP_PORT=%q is not a port number", v)}
			}
			c.AppPort = p
		} else {
			c.AppPort = 8080
		}
	}
	if c.AppProtocol == "" {
		if c.AppProtocol = os.Getenv("APP_PROTOCOL"); c.AppProtocol == "" {
			c.AppProtocol = "http"
		}
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Module, "module", c.Module, "the one module every invocation goes to [WASI_DAPR_MODULE]")
	fs.StringVar(&c.Config, "config", c.Config, "a manifest (YAML) naming several modules [WASI_DAPR_CONFIG]")
	fs.Var(&c.Subscribe, "subscribe", "with --module: subscribe PUBSUB/TOPIC[=ROUTE], repeatable [WASI_DAPR_SUBSCRIBE]")
	fs.Var(&c.Bindings, "binding", "with --module: input binding NAME delivered to POST /NAME, repeatable [WASI_DAPR_BINDINGS]")
	fs.Var(&c.Routes, "route", "with --module: invocation routes (default /... = every path), repeatable [WASI_DAPR_ROUTES]")
	fs.IntVar(&c.AppPort, "app-port", c.AppPort, "port daprd delivers to [WASI_DAPR_APP_PORT, else APP_PORT, else 8080]")
	fs.StringVar(&c.AppProtocol, "app-protocol", c.AppProtocol, "http or grpc [WASI_DAPR_APP_PROTOCOL, else APP_PROTOCOL]")
	fs.StringVar(&c.ListenAddress, "listen-address", c.ListenAddress, "address to listen on [WASI_DAPR_LISTEN_ADDRESS]")
	fs.Var(&c.Timeout, "timeout", "per-request time limit [WASI_DAPR_TIMEOUT]")
	fs.Var(&c.MaxMemory, "max-memory", "guest linear memory cap [WASI_DAPR_MAX_MEMORY]")
	fs.IntVar(&c.Concurrency, "concurrency", c.Concurrency, "instances running at once per module [WASI_DAPR_CONCURRENCY]")
	fs.IntVar(&c.Queue, "queue", c.Queue, "requests waiting per module; beyond: 503 / RETRY [WASI_DAPR_QUEUE]")
	fs.Var(&c.MaxBody, "max-body", "request body cap [WASI_DAPR_MAX_BODY]")
	fs.Var(&c.Grace, "grace", "on SIGTERM/SIGINT, time for in-flight requests [WASI_DAPR_GRACE]")
	c.Outbound.flags(fs)
	c.LogConfig.flags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, serveUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return usageError{flagError(err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	switch {
	case c.Module == "" && c.Config == "":
		return usageError{"give --module FILE or --config FILE"}
	case c.Module != "" && c.Config != "":
		return usageError{"give --module or --config, not both"}
	case c.Config != "" && (len(c.Subscribe.Values) > 0 || len(c.Bindings.Values) > 0 || len(c.Routes.Values) > 0):
		return usageError{"--subscribe, --binding and --route go with --module; with --config put them in the manifest"}
	case c.AppProtocol != "http" && c.AppProtocol != "grpc":
		return usageError{fmt.Sprintf("--app-protocol %q: use http or grpc", c.AppProtocol)}
	case c.AppPort < 1 || c.AppPort > 65535:
		return usageError{fmt.Sprintf("--app-port %d: not a port number", c.AppPort)}
	case c.Concurrency < 1:
		return usageError{"--concurrency must be at least 1"}
	case c.Queue < 0:
		return usageError{"--queue must be 0 or more"}
	}

	// Logs: serve mode captures guest stdio, so nothing is shared with the guest.
	c.LogConfig.Interleave = true
	log, _, closeLog, err := setupLogging(c.LogConfig)
	if err != nil {
		return usageError{err.Error()}
	}
	defer closeLog()

	limits := manifest.Limits{Timeout: time.Duration(c.Timeout), HTTPTimeout: time.Duration(c.HTTPTimeout),
		MaxMemory: int64(c.MaxMemory), MaxBody: int64(c.MaxBody), Concurrency: c.Concurrency, Queue: c.Queue}
	var man *manifest.Manifest
	if c.Config != "" {
		if man, err = manifest.Load(c.Config); err != nil {
			return err
		}
	} else {
		var subs []manifest.Subscription
		for _, s := range c.Subscribe.Values {
			sub, err := parseSubscribe(s)
			if err != nil {
				return usageError{err.Error()}
			}
			subs = append(subs, sub)
		}
		if man, err = manifest.Single(c.Module, c.Routes.Values, subs, c.Bindings.Values, limits); err != nil {
			return err
		}
	}

	w, err := c.Outbound.wire(log)
	if err != nil {
		return err
	}
	pool, maxMem := 0, int64(0)
	for _, m := range man.Modules {
		pool += m.Limits.Concurrency
		maxMem = max(maxMem, m.Limits.MaxMemory)
	}
	// Socket guests may make a helper instance (wasmtime's own fd_close and poll) beside their own.
	engine, err := host.NewEngine(host.Options{CacheDir: w.cacheDir, PoolSize: 2*pool + 8, MaxMemory: maxMem, Extensions: w.extensions})
	if err != nil {
		return err
	}
	defer engine.Close()
	guestEnv := map[string]string{}
	for _, k := range daprEnvVars {
		if v, ok := os.LookupEnv(k); ok {
			guestEnv[k] = v
		}
	}
	srv, err := serve.New(serve.Config{Manifest: man, Engine: engine, Allow: w.list, Log: log, GuestEnv: guestEnv})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	addr := net.JoinHostPort(c.ListenAddress, strconv.Itoa(c.AppPort))
	if c.AppProtocol == "grpc" {
		return srv.ServeGRPC(ctx, addr, time.Duration(c.Grace))
	}
	return srv.Serve(ctx, addr, time.Duration(c.Grace))
}

// parseSubscribe reads PUBSUB/TOPIC[=ROUTE].
func parseSubscribe(s string) (manifest.Subscription, error) {
	spec, route, _ := strings.Cut(s, "=")
	ps, topic, ok := strings.Cut(spec, "/")
	if !ok || ps == "" || topic == "" || strings.Contains(topic, "/") {
		return manifest.Subscription{}, fmt.Errorf("--subscribe %q: want PUBSUB/TOPIC or PUBSUB/TOPIC=/route", s)
	}
	if route != "" && !strings.HasPrefix(route, "/") {
		return manifest.Subscription{}, fmt.Errorf("--subscribe %q: the route must start with /", s)
	}
	return manifest.Subscription{PubSub: ps, Topic: topic, Route: route}, nil
}
