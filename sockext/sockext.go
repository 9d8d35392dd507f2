// Package sockext gives WASI guests WasmEdge-compatible TCP sockets (shared/abi/wasmedge-sockets.md):
// the extra functions WasmEdge puts in wasi_snapshot_preview1, which wasmedge_wasi_socket, tokio_wasi,
// hyper_wasi, reqwest_wasi and the WasmEdge Dapr SDK are built on. Unlike WasmEdge, every connect is
// checked against the allow-list (scheme tcp), names resolve only when the allow-list names them, and
// listening needs an explicit grant.
package sockext

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"github.com/rs/zerolog"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
)

// WASI errnos (wasi_snapshot_preview1) and WasmEdge's name-lookup additions.
const (
	errSuccess      = 0
	errAddrInUse    = 3
	errAddrNotAvail = 4
	errAgain        = 6
	errBadf         = 8
	errConnRefused  = 14
	errConnReset    = 15
	errFault        = 21
	errHostUnreach  = 23
	errInProgress   = 26
	errIntr         = 27
	errInval        = 28
	errIO           = 29
	errIsConn       = 30
	errMfile        = 33
	errNetUnreach   = 40
	errNoProtoOpt   = 50
	errNosys        = 52
	errNotConn      = 53
	errNotSock      = 57
	errNotSup       = 58
	errPipe         = 64
	errTimedOut     = 73
	errNotCapable   = 76
	errAINoName     = 84
	errAIFamily     = 81
	errAISocktype   = 86
	errAIService    = 85
)

// Defaults for Config's zero fields.
const (
	DefaultMaxSockets      = 64
	DefaultConnectTimeout  = 10 * time.Second
	DefaultMaxBytesPerCall = 1 << 20
	// FirstFD is the first socket fd handed to guests: far above the small numbers wasmtime's WASI
	// gives files, so the two never collide (WasmEdge's guests accept any value up to 0x7FFFFFFF).
	FirstFD = 0x40000000
)

// Config sets the extension's policy and limits.
type Config struct {
	// Allow is the default allow-list (connects need scheme tcp or *); an instance may carry its own.
	Allow *allowlist.List
	// Listen are the HOST:PORT addresses a guest may bind and listen on (nothing otherwise).
	Listen []string
	// MaxSockets is how many sockets one instance may hold.
	MaxSockets int
	// ConnectTimeout bounds one connect.
	ConnectTimeout time.Duration
	// MaxBytesPerCall bounds what one send or recv moves.
	MaxBytesPerCall int
	Log             zerolog.Logger
}

// Extension is the socket host API.
type Extension struct {
	cfg     Config
	listen  []netip.AddrPort
	denials allowlist.Denials
}

// New checks the listen grants and makes the extension.
func New(cfg Config) (*Extension, error) {
	if cfg.MaxSockets <= 0 {
		cfg.MaxSockets = DefaultMaxSockets
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.MaxBytesPerCall <= 0 {
		cfg.MaxBytesPerCall = DefaultMaxBytesPerCall
	}
	x := &Extension{cfg: cfg}
	for _, l := range cfg.Listen {
		ap, err := netip.ParseAddrPort(l)
		if err != nil || ap.Port() == 0 {
			return nil, fmt.Errorf("--tcp-listen %q: want IP:PORT, e.g. 127.0.0.1:8081 or [::1]:8081", l)
		}
		x.listen = append(x.listen, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	}
	return x, nil
}

// Name implements host.Extension.
func (x *Extension) Name() string { return "wasmedge sockets" }

// NewSession implements host.Extension.
func (x *Extension) NewSession(inst *host.InstanceInfo) host.Session {
	list := x.cfg.Allow
	if inst.Allow != nil {
		list = inst.Allow
	}
	return &Session{x: x, inst: inst, list: list, socks: map[int32]*socket{}, next: FirstFD}
}

// Uses implements host.ShadowingExtension: a module that imports any sock_* function gets the socket
// versions of fd_close, fd_fdstat_get, fd_fdstat_set_flags and poll_oneoff.
func (x *Extension) Uses(imports [][2]string) bool {
	for _, imp := range imports {
		if imp[0] == wasiModule && strings.HasPrefix(imp[1], "sock_") {
			return true
		}
	}
	return false
}

const wasiModule = "wasi_snapshot_preview1"

// Link implements host.Extension: the sock_* functions (new names; nothing of WASI is replaced here).
func (x *Extension) Link(l *wasmtime.Linker, slot int) error {
	session := func(c *wasmtime.Caller) *Session {
		s, _ := host.SessionOf(c, slot).(*Session)
		return s
	}
	type fn = interface{}
	defs := map[string]fn{
		"sock_open": func(c *wasmtime.Caller, af, typ, fdOut int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_open", &e, errIO)
			return session(c).open(c, af, typ, fdOut)
		},
		"sock_connect": func(c *wasmtime.Caller, fd, addr, port int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_connect", &e, errIO)
			return session(c).connect(c, fd, addr, port)
		},
		"sock_bind": func(c *wasmtime.Caller, fd, addr, port int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_bind", &e, errIO)
			return session(c).bind(c, fd, addr, port)
		},
		"sock_listen": func(c *wasmtime.Caller, fd, backlog int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_listen", &e, errIO)
			return session(c).listen(fd, backlog)
		},
		"sock_accept": func(c *wasmtime.Caller, fd, fdOut int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_accept", &e, errIO)
			return session(c).accept(c, fd, fdOut)
		},
		"sock_send": func(c *wasmtime.Caller, fd, iovs, iovsLen, flags, sentOut int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_send", &e, errIO)
			return session(c).send(c, fd, iovs, iovsLen, flags, sentOut)
		},
		"sock_recv": func(c *wasmtime.Caller, fd, iovs, iovsLen, flags, lenOut, oflagsOut int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_recv", &e, errIO)
			return session(c).recv(c, fd, iovs, iovsLen, flags, lenOut, oflagsOut)
		},
		"sock_send_to": func(c *wasmtime.Caller, fd, iovs, iovsLen, addr, port, flags, sentOut int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_send_to", &e, errIO)
			return session(c).sendTo(c, fd, iovs, iovsLen, addr, port, flags, sentOut)
		},
		"sock_recv_from": func(c *wasmtime.Caller, fd, iovs, iovsLen, addr, flags, portOut, lenOut, oflagsOut int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_recv_from", &e, errIO)
			return session(c).recvFrom(c, fd, iovs, iovsLen, addr, flags, portOut, lenOut, oflagsOut)
		},
		"sock_shutdown": func(c *wasmtime.Caller, fd, how int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_shutdown", &e, errIO)
			return session(c).shutdown(fd, how)
		},
		"sock_getlocaladdr": func(c *wasmtime.Caller, fd, addr, typeOut, portOut int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_getlocaladdr", &e, errIO)
			return session(c).getAddr(c, fd, addr, typeOut, portOut, false)
		},
		"sock_getpeeraddr": func(c *wasmtime.Caller, fd, addr, typeOut, portOut int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_getpeeraddr", &e, errIO)
			return session(c).getAddr(c, fd, addr, typeOut, portOut, true)
		},
		"sock_getsockopt": func(c *wasmtime.Caller, fd, level, name, value, lenInOut int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_getsockopt", &e, errIO)
			return session(c).getsockopt(c, fd, level, name, value, lenInOut)
		},
		"sock_setsockopt": func(c *wasmtime.Caller, fd, level, name, value, length int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_setsockopt", &e, errIO)
			return session(c).setsockopt(c, fd, level, name, value, length)
		},
		"sock_getaddrinfo": func(c *wasmtime.Caller, node, nodeLen, service, serviceLen, hints, res, maxLen, resLenOut int32) (e int32) {
			defer host.Recover(x.cfg.Log, "sock_getaddrinfo", &e, errIO)
			return session(c).getaddrinfo(c, node, nodeLen, service, serviceLen, hints, res, maxLen, resLenOut)
		},
	}
	for name, f := range defs {
		if err := l.FuncWrap(wasiModule, name, f); err != nil {
			return fmt.Errorf("%s::%s: %w", wasiModule, name, err)
		}
	}
	return nil
}

// LinkShadows implements host.ShadowingExtension.
func (x *Extension) LinkShadows(l *wasmtime.Linker, slot int) error {
	session := func(c *wasmtime.Caller) *Session {
		s, _ := host.SessionOf(c, slot).(*Session)
		return s
	}
	defs := map[string]interface{}{
		"fd_close": func(c *wasmtime.Caller, fd int32) (e int32) {
			defer host.Recover(x.cfg.Log, "fd_close", &e, errIO)
			return session(c).fdClose(c, fd)
		},
		"fd_fdstat_get": func(c *wasmtime.Caller, fd, out int32) (e int32) {
			defer host.Recover(x.cfg.Log, "fd_fdstat_get", &e, errIO)
			return session(c).fdstatGet(c, fd, out)
		},
		"fd_fdstat_set_flags": func(c *wasmtime.Caller, fd, flags int32) (e int32) {
			defer host.Recover(x.cfg.Log, "fd_fdstat_set_flags", &e, errIO)
			return session(c).fdstatSetFlags(c, fd, flags)
		},
		"poll_oneoff": func(c *wasmtime.Caller, in, out, n, neventsOut int32) (e int32) {
			defer host.Recover(x.cfg.Log, "poll_oneoff", &e, errIO)
			return session(c).pollOneoff(c, in, out, n, neventsOut)
		},
	}
	for name, f := range defs {
		if err := l.FuncWrap(wasiModule, name, f); err != nil {
			return fmt.Errorf("%s::%s: %w", wasiModule, name, err)
		}
	}
	return nil
}
