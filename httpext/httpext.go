package httpext

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"github.com/rs/zerolog"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
)

// Defaults for Config's zero fields.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultMaxBody    = 16 << 20
	DefaultMaxHandles = 16
	maxRedirects      = 10
	// TokenHeader carries the Dapr API token; the host adds it to sidecar-bound requests only.
	TokenHeader = "dapr-api-token"
)

// Config sets the extension's policy and limits.
type Config struct {
	// Allow is the default allow-list; an instance may carry its own (host.InstanceInfo.Allow).
	Allow *allowlist.List
	// Timeout bounds one request, from req until its body is read or closed.
	Timeout time.Duration
	// MaxBody is how many response bytes a guest may read from one response.
	MaxBody int64
	// MaxHandles is how many responses one instance may hold open.
	MaxHandles int
	// APIToken, when set, is sent as dapr-api-token on requests bound for one of Sidecar; the guest never
	// sees it, and it is dropped when a redirect leaves the sidecar.
	APIToken string
	Sidecar  []allowlist.Target
	// Log receives denials (once per destination) and failures.
	Log zerolog.Logger
	// RootCAs verifies https servers; nil means the system's roots.
	RootCAs *x509.CertPool
}

// Extension is the wasi_experimental_http host API. One Extension serves every instance of an engine.
// Requests run on the calling thread over blocking sockets (see blockingConn) with keep-alive
// connections pooled per allow-list, so a connection dialed under one policy is never reused under
// another.
type Extension struct {
	cfg     Config
	denials *allowlist.Denials
	pool    connPool
}

// New makes the extension; zero limits take their defaults.
func New(cfg Config) *Extension {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxHandles <= 0 {
		cfg.MaxHandles = DefaultMaxHandles
	}
	return &Extension{cfg: cfg, denials: &allowlist.Denials{}}
}

// Name implements host.Extension.
func (x *Extension) Name() string { return ModuleName }

// NewSession implements host.Extension.
func (x *Extension) NewSession(inst *host.InstanceInfo) host.Session {
	list := x.cfg.Allow
	if inst.Allow != nil {
		list = inst.Allow
	}
	return &Session{x: x, inst: inst, list: list, handles: map[uint32]*response{}, next: 1}
}

// Link implements host.Extension: it defines the five functions of the ABI.
func (x *Extension) Link(l *wasmtime.Linker, slot int) error {
	session := func(c *wasmtime.Caller) *Session {
		s, _ := host.SessionOf(c, slot).(*Session)
		return s
	}
	defs := map[string]interface{}{
		"req": func(c *wasmtime.Caller, urlPtr, urlLen, methodPtr, methodLen, hdrPtr, hdrLen, bodyPtr, bodyLen, statusPtr, handlePtr int32) (code int32) {
			defer host.Recover(x.cfg.Log, "req", &code, RuntimeError)
			return session(c).req(c, urlPtr, urlLen, methodPtr, methodLen, hdrPtr, hdrLen, bodyPtr, bodyLen, statusPtr, handlePtr)
		},
		"close": func(c *wasmtime.Caller, handle int32) (code int32) {
			defer host.Recover(x.cfg.Log, "close", &code, RuntimeError)
			return session(c).close(handle)
		},
		"header_get": func(c *wasmtime.Caller, handle, namePtr, nameLen, valuePtr, valueLen, writtenPtr int32) (code int32) {
			defer host.Recover(x.cfg.Log, "header_get", &code, RuntimeError)
			return session(c).headerGet(c, handle, namePtr, nameLen, valuePtr, valueLen, writtenPtr)
		},
		"headers_get_all": func(c *wasmtime.Caller, handle, bufPtr, bufLen, writtenPtr int32) (code int32) {
			defer host.Recover(x.cfg.Log, "headers_get_all", &code, RuntimeError)
			return session(c).headersGetAll(c, handle, bufPtr, bufLen, writtenPtr)
		},
		"body_read": func(c *wasmtime.Caller, handle, bufPtr, bufLen, writtenPtr int32) (code int32) {
			defer host.Recover(x.cfg.Log, "body_read", &code, RuntimeError)
			return session(c).bodyRead(c, handle, bufPtr, bufLen, writtenPtr)
		},
	}
	for name, fn := range defs {
		if err := l.FuncWrap(ModuleName, name, fn); err != nil {
			return fmt.Errorf("%s::%s: %w", ModuleName, name, err)
		}
	}
	return nil
}

// setToken adds the Dapr API token to sidecar-bound requests and removes it from any other, so a
// redirect away from the sidecar never carries it.
func (x *Extension) setToken(req *http.Request, t allowlist.Target) {
	req.Header.Del(TokenHeader)
	if x.cfg.APIToken == "" {
		return
	}
	for _, s := range x.cfg.Sidecar {
		if s.Scheme == t.Scheme && s.Host == t.Host && s.Port == t.Port {
			req.Header.Set(TokenHeader, x.cfg.APIToken)
			return
		}
	}
}

// denied logs a refused destination once per destination.
func (x *Extension) denied(module string, u string, de *allowlist.DeniedError) {
	key := module + " " + de.Target.String()
	if !x.denials.Seen(key) {
		return
	}
	ev := x.cfg.Log.Warn().Str("module", module).Str("url", u).Str("reason", de.Reason)
	if de.Suggest != "" {
		ev = ev.Str("allow_with", "--allow-host "+de.Suggest)
	}
	ev.Msg("guest HTTP request denied by the allow-list")
}

// redact drops userinfo from a URL before it is logged.
func redact(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	c := *u
	c.User = nil
	return c.String()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
