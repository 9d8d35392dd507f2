package host

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"github.com/rs/zerolog"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/internal/guestmem"
)

// Extension is a host API linked into every instance (the HTTP extension, sockets, …). Its functions are
// defined once on the engine's linker; its per-instance state is a Session made on first use.
type Extension interface {
	// Name names the extension in errors and logs.
	Name() string
	// Link defines the extension's functions. slot is the index to pass to SessionOf.
	Link(l *wasmtime.Linker, slot int) error
	// NewSession makes the state of one instance. It is closed when the instance ends.
	NewSession(inst *InstanceInfo) Session
}

// ShadowingExtension also replaces some WASI functions (the socket extension's fd_close, for one), but
// only for modules that import its own functions: other modules keep wasmtime's WASI untouched.
type ShadowingExtension interface {
	Extension
	// Uses tells whether a module imports (module, name) pairs of this extension.
	Uses(imports [][2]string) bool
	// LinkShadows defines the replacement WASI functions.
	LinkShadows(l *wasmtime.Linker, slot int) error
}

// Caller-side helpers for shadowing extensions, which must hand ordinary fds back to wasmtime's WASI.

// WASIHelper is an instance, in the caller's store, of a module whose imports are wasmtime's own WASI
// functions; calling its exports runs them against the caller's WASI context. It is made on first use.
func WASIHelper(caller *wasmtime.Caller, wat string) (*wasmtime.Instance, error) {
	d, ok := caller.Data().(*instanceData)
	if !ok || d == nil || d.engine == nil {
		return nil, errNotOurs
	}
	if d.helper != nil {
		return d.helper, nil
	}
	m, err := d.engine.helperModule(wat)
	if err != nil {
		return nil, err
	}
	inst, err := d.engine.linker(false, false).Instantiate(caller, m)
	if err != nil {
		return nil, err
	}
	d.helper = inst
	return inst, nil
}

// Session is an extension's per-instance state; Close releases everything it holds (handles, sockets).
type Session interface {
	Close()
}

// InstanceInfo describes the running instance to the extensions.
type InstanceInfo struct {
	// Module is the module's name.
	Module string
	// Context ends when the instance ends or its run is cancelled.
	Context context.Context
	// Allow, when set, replaces the extensions' default allow-list for this instance.
	Allow *allowlist.List
	// HTTPTimeout, when positive, replaces the HTTP extension's per-request timeout for this instance.
	HTTPTimeout time.Duration
}

// instanceData is what a wasmtime Store carries for us.
type instanceData struct {
	engine   *Engine
	info     InstanceInfo
	sessions []Session
	helper   *wasmtime.Instance
	mem      guestmem.Slot
}

// MemorySlot implements guestmem.Slotted.
func (d *instanceData) MemorySlot() *guestmem.Slot { return &d.mem }

// SessionOf returns the caller instance's session of the extension linked at slot, making it on first
// use so that instances that never call an extension pay nothing for it. It returns nil when the caller
// is not an instance of this host.
func SessionOf(caller *wasmtime.Caller, slot int) Session {
	d, ok := caller.Data().(*instanceData)
	if !ok || d == nil || d.engine == nil || slot < 0 || slot >= len(d.engine.extensions) {
		return nil
	}
	if d.sessions == nil {
		d.sessions = make([]Session, len(d.engine.extensions))
	}
	if d.sessions[slot] == nil {
		d.sessions[slot] = d.engine.extensions[slot].NewSession(&d.info)
	}
	return d.sessions[slot]
}

func (d *instanceData) close() {
	for _, s := range d.sessions {
		if s != nil {
			s.Close()
		}
	}
	d.sessions = nil
}

// Recover keeps a host-side bug in an extension's function from unwinding into wasmtime (which would
// take the process down): deferred in each host function, it logs the panic with its stack and makes
// the guest see errno instead. It must itself be the deferred call (recover works only there):
//
//	defer host.Recover(log, "req", &code, RuntimeError)
func Recover(log zerolog.Logger, fn string, code *int32, errno int32) {
	if r := recover(); r != nil {
		log.Error().Str("func", fn).Interface("panic", r).Bytes("stack", debug.Stack()).Msg("host function failure")
		*code = errno
	}
}
