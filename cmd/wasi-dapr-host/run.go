package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/rs/zerolog"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
)

// RunConfig is the configuration of `wasi-dapr-host run`; each field is a flag and a WASI_DAPR_ variable.
type RunConfig struct {
	Env            List        `envconfig:"ENV"`
	Dirs           List        `envconfig:"DIRS"`
	Invoke         string      `envconfig:"INVOKE"`
	MaxMemory      Size        `envconfig:"MAX_MEMORY" default:"256MiB"`
	Timeout        Duration    `envconfig:"TIMEOUT" default:"0s"`
	WaitForSidecar OptDuration `envconfig:"WAIT_FOR_SIDECAR"`
	DaprEnv        bool        `envconfig:"DAPR_ENV" default:"true"`
	Outbound
	LogConfig
}

const runUsage = `Usage: wasi-dapr-host run [flags] MODULE.wasm [ARGS...]

Runs MODULE once: its _start (or the function named by --invoke, or just its start section). ARGS are
the guest's argv[1:]; put -- before them if one starts with '-'. The exit status is the guest's.

The guest reaches the network only through wasi_experimental_http, and only destinations named by
--allow-host. With no --allow-host the guest may reach its Dapr sidecar and nothing else:
DAPR_HTTP_ENDPOINT, or http://127.0.0.1|localhost|[::1]:$DAPR_HTTP_PORT (3500 if unset).

Flags (each also from the environment variable in brackets):
`

func runFlags(c *RunConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&c.Env, "env", "set a guest environment variable KEY=VALUE (KEY alone copies the host's), repeatable [WASI_DAPR_ENV]")
	fs.Var(&c.Dirs, "dir", "preopen a host directory: HOST[:GUEST][:ro], repeatable [WASI_DAPR_DIRS]")
	fs.StringVar(&c.Invoke, "invoke", c.Invoke, "call this exported function instead of _start; ARGS are its parameters [WASI_DAPR_INVOKE]")
	fs.Var(&c.MaxMemory, "max-memory", "cap on the guest's linear memory [WASI_DAPR_MAX_MEMORY]")
	fs.Var(&c.Timeout, "timeout", "interrupt the guest after this wall-clock time, 0 for none [WASI_DAPR_TIMEOUT]")
	fs.Var(&c.WaitForSidecar, "wait-for-sidecar", "wait until the sidecar is ready first (alone: up to 60s; or =DURATION) [WASI_DAPR_WAIT_FOR_SIDECAR]")
	fs.BoolVar(&c.DaprEnv, "dapr-env", c.DaprEnv, "pass DAPR_HTTP_PORT, DAPR_GRPC_PORT and DAPR_HTTP_ENDPOINT (never the token) to the guest [WASI_DAPR_DAPR_ENV]")
	c.Outbound.flags(fs)
	c.LogConfig.flags(fs)
	return fs
}

func runCommand(args []string, stdout, stderr io.Writer) error {
	c := RunConfig{WaitForSidecar: OptDuration{Default: 60 * time.Second}}
	if err := envconfig.Process("WASI_DAPR", &c); err != nil {
		return usageError{envError(err)}
	}
	fs := runFlags(&c)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, runUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return usageError{flagError(err)}
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return usageError{"no module given: wasi-dapr-host run [flags] MODULE.wasm [ARGS...]"}
	}
	modulePath, guestArgs := rest[0], rest[1:]
	if len(guestArgs) > 0 && guestArgs[0] == "--" {
		guestArgs = guestArgs[1:]
	}

	log, held, closeLog, err := setupLogging(c.LogConfig)
	if err != nil {
		return usageError{err.Error()}
	}
	defer closeLog()

	w, err := c.Outbound.wire(log)
	if err != nil {
		return err
	}
	env, err := guestEnv(c.Env.Values, c.DaprEnv)
	if err != nil {
		return usageError{err.Error()}
	}
	preopens, err := parseDirs(c.Dirs.Values)
	if err != nil {
		return usageError{err.Error()}
	}

	engine, err := host.NewEngine(host.Options{CacheDir: w.cacheDir, MaxMemory: int64(c.MaxMemory), Extensions: w.extensions})
	if err != nil {
		return err
	}
	defer engine.Close()
	mod, err := engine.Load(modulePath)
	if err != nil {
		return err
	}
	log.Debug().Str("module", mod.Name).Bool("cached", mod.Cached).Dur("compile", mod.CompileTime).Msg("module ready")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.WaitForSidecar.D > 0 {
		if err := w.sidecar.WaitReady(ctx, c.WaitForSidecar.D, log); err != nil {
			return err
		}
	}

	rc := host.RunConfig{
		Args: guestArgs, Env: env, Preopens: preopens, InheritStdio: true,
		MaxMemory: int64(c.MaxMemory), Timeout: time.Duration(c.Timeout),
	}
	if c.Invoke != "" {
		rc.Invoke, rc.InvokeArgs, rc.Args = c.Invoke, guestArgs, nil
	}
	if held != nil {
		held.hold()
	}
	res, err := mod.Run(ctx, rc)
	if held != nil {
		held.release()
	}
	if err != nil {
		return err
	}
	for _, r := range res.Results {
		fmt.Fprintln(stdout, r)
	}
	if res.Trap != "" {
		fmt.Fprintf(stderr, "wasi-dapr-host: guest %s trapped: %s\n", mod.Name, res.Trap)
	}
	if res.ExitCode != 0 {
		return exitError{res.ExitCode}
	}
	return nil
}

// cacheDirFor is the compiled-module cache: the given folder, else the user's cache, or none.
func cacheDirFor(dir string, off bool) string {
	if off {
		return ""
	}
	if dir == "" {
		if base, err := os.UserCacheDir(); err == nil {
			dir = filepath.Join(base, "wasi-dapr-host", "modules")
		}
	}
	return dir
}

// buildAllowList parses the user's entries, or takes the sidecar's when there are none.
func buildAllowList(entries []string, log zerolog.Logger) (*allowlist.List, error) {
	if len(entries) == 0 {
		var err error
		if entries, err = allowlist.Sidecar(os.Getenv); err != nil {
			return nil, err
		}
		log.Debug().Strs("allow", entries).Msg("no --allow-host given: the guest may reach its Dapr sidecar only")
	}
	list, err := allowlist.Parse(entries)
	if err != nil {
		return nil, fmt.Errorf("--allow-host: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if list.AllowsAll() {
		log.Warn().Msg("allow-list contains insecure:allow-all: the guest may reach ANY destination; use it only for local experiments")
	}
	return list, nil
}

// daprEnvVars are the sidecar's address as `dapr run` and the injector set it; guests get them (never
// DAPR_API_TOKEN, which the host adds to sidecar-bound requests itself).
var daprEnvVars = []string{"DAPR_HTTP_ENDPOINT", "DAPR_HTTP_PORT", "DAPR_GRPC_PORT", "APP_ID"}

// guestEnv builds the guest's environment: the sidecar's address (unless disabled), then --env entries.
// Nothing else of the host's environment reaches the guest.
func guestEnv(entries []string, daprEnv bool) ([]string, error) {
	var env []string
	if daprEnv {
		for _, k := range daprEnvVars {
			if v, ok := os.LookupEnv(k); ok {
				env = append(env, k+"="+v)
			}
		}
	}
	for _, e := range entries {
		k, v, ok := strings.Cut(e, "=")
		if k == "" || strings.ContainsAny(k, "\x00") {
			return nil, fmt.Errorf("--env %q: want KEY=VALUE or KEY", e)
		}
		if !ok {
			hv, found := os.LookupEnv(k)
			if !found {
				return nil, fmt.Errorf("--env %s: the host has no variable %s to copy; give KEY=VALUE", k, k)
			}
			v = hv
		}
		env = append(env, k+"="+v)
	}
	return env, nil
}

// parseDirs reads HOST[:GUEST][:ro]; GUEST defaults to HOST.
func parseDirs(entries []string) ([]host.Preopen, error) {
	var out []host.Preopen
	for _, e := range entries {
		p := host.Preopen{}
		s := e
		if strings.HasSuffix(s, ":ro") {
			p.ReadOnly, s = true, strings.TrimSuffix(s, ":ro")
		}
		hostPath, guestPath, ok := strings.Cut(s, ":")
		if !ok {
			guestPath = hostPath
		}
		if hostPath == "" || guestPath == "" {
			return nil, fmt.Errorf("--dir %q: want HOST[:GUEST][:ro], e.g. --dir ./data:/data:ro", e)
		}
		fi, err := os.Stat(hostPath)
		if err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("--dir %q: %s is not a directory", e, hostPath)
		}
		p.HostPath, p.GuestPath = hostPath, guestPath
		out = append(out, p)
	}
	return out, nil
}

// flagError rewrites the flag package's messages into the --name form users type.
func flagError(err error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		// invalid value "12x" for flag -max-memory: <reason>
		if i := strings.Index(rest, " for flag -"); i >= 0 {
			name, reason, _ := strings.Cut(rest[i+len(" for flag -"):], ": ")
			return "--" + name + ": " + reason
		}
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag --" + strings.TrimPrefix(name, "-")
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "--" + strings.TrimPrefix(name, "-") + " needs a value"
	}
	return msg
}

// envError turns envconfig's message into one that names the variable and the fix.
func envError(err error) string {
	var pe *envconfig.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("environment variable %s=%q: %v", pe.KeyName, pe.Value, pe.Err)
	}
	return err.Error()
}
