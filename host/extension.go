package host

import (
	"context"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
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
	stdio    *stdio // captured standard streams, or nil
}

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
