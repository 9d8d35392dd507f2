// Package host is the engine core of wasi-dapr-host: it compiles and caches modules, links WASI and the
// host extensions, and runs a fresh, isolated instance of a module under memory and time limits.
package host

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// WasmtimeVersion is the wasmtime release linked into this binary (the module version of wasmtime-go).
const WasmtimeVersion = "39.0.1"

// EpochTick is how often the engine's epoch advances; timeouts are measured in ticks of this length.
const EpochTick = 5 * time.Millisecond

// noDeadline is the epoch deadline of a store that has no timeout: far enough never to be reached.
const noDeadline = math.MaxUint64 / 4

// Options configure an Engine. The zero value is usable: no disk cache, default limits.
type Options struct {
	// CacheDir keeps compiled modules between runs; empty disables the disk cache.
	CacheDir string
	// Extensions are linked into every instance besides WASI.
	Extensions []Extension
	// PoolSize, when positive, pre-allocates slots for this many concurrent instances (the pooling
	// allocator): instantiation then costs no memory mapping. More concurrent instances than this fail
	// to instantiate. 0 allocates on demand.
	PoolSize int
	// MaxMemory is the largest linear memory any instance may have (default DefaultMaxMemory); with a
	// pool it sizes each slot.
	MaxMemory int64
}

// Engine owns the wasmtime engine, the linker shared by every instance and the epoch ticker.
type Engine struct {
	wt *wasmtime.Engine
	// linkers[captured stdio][shadowed WASI]: WASI as wasmtime provides it, optionally with stdin/stdout
	// in memory, optionally with the WASI functions that shadowing extensions replace (for modules that
	// import those extensions' functions; every other module keeps wasmtime's own).
	linkers    [2][2]*wasmtime.Linker
	extensions []Extension
	cacheDir   string
	settings   string // engine settings that change compiled code: part of the cache key
	pooled     bool
	maxMemory  int64

	helperMu sync.Mutex
	helpers  map[string]*wasmtime.Module

	tickOnce sync.Once
	stopTick chan struct{}
}

// NewEngine makes an engine with epoch interruption enabled, WASI and every extension linked.
func NewEngine(opts Options) (*Engine, error) {
	cfg := wasmtime.NewConfig()
	cfg.SetEpochInterruption(true)
	cfg.SetCraneliftOptLevel(wasmtime.OptLevelSpeed)
	maxMem := opts.MaxMemory
	if maxMem <= 0 {
		maxMem = DefaultMaxMemory
	}
	pooled := opts.PoolSize > 0 && usePooling(cfg, opts.PoolSize, maxMem)
	wt := wasmtime.NewEngineWithConfig(cfg)

	var linkers [2][2]*wasmtime.Linker
	for _, captured := range []bool{false, true} {
		for _, shadows := range []bool{false, true} {
			l, err := newLinker(wt, opts.Extensions, captured, shadows)
			if err != nil {
				return nil, err
			}
			linkers[b2i(captured)][b2i(shadows)] = l
		}
	}
	e := &Engine{
		wt:         wt,
		linkers:    linkers,
		extensions: opts.Extensions,
		cacheDir:   opts.CacheDir,
		pooled:     pooled,
		maxMemory:  maxMem,
		settings:   fmt.Sprintf("epoch=1,opt=speed,target=native,pool=%v,maxmem=%d", pooled, maxMem),
		stopTick:   make(chan struct{}),
	}
	if e.cacheDir != "" {
		if err := os.MkdirAll(e.cacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("module cache %s: %w (set --cache-dir to a writable folder, or --cache-dir='' to disable it)", e.cacheDir, err)
		}
	}
	return e, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// linker returns the linker for an instance.
func (e *Engine) linker(captured, shadows bool) *wasmtime.Linker {
	return e.linkers[b2i(captured)][b2i(shadows)]
}

// newLinker links WASI, optionally the in-memory stdio functions, then every extension, and with
// shadows the WASI replacements of shadowing extensions.
func newLinker(wt *wasmtime.Engine, exts []Extension, capturedStdio, shadows bool) (*wasmtime.Linker, error) {
	l := wasmtime.NewLinker(wt)
	if err := l.DefineWasi(); err != nil {
		return nil, fmt.Errorf("linking WASI: %w", err)
	}
	l.AllowShadowing(true)
	if capturedStdio {
		if err := linkFastStdio(l); err != nil {
			return nil, fmt.Errorf("linking in-memory stdio: %w", err)
		}
	}
	for i, ext := range exts {
		if err := ext.Link(l, i); err != nil {
			return nil, fmt.Errorf("linking extension %s: %w", ext.Name(), err)
		}
		if se, ok := ext.(ShadowingExtension); ok && shadows {
			if err := se.LinkShadows(l, i); err != nil {
				return nil, fmt.Errorf("linking extension %s: %w", ext.Name(), err)
			}
		}
	}
	return l, nil
}

// Wasmtime returns the underlying wasmtime engine.
func (e *Engine) Wasmtime() *wasmtime.Engine { return e.wt }

// Close stops the epoch ticker. Modules and instances made by the engine must not be used afterwards.
func (e *Engine) Close() {
	select {
	case <-e.stopTick:
	default:
		close(e.stopTick)
	}
}

// startTicker advances the epoch every EpochTick once some instance has a timeout. One goroutine serves
// every store of the engine; a store's deadline counts ticks from the epoch at which it was set.
func (e *Engine) startTicker() {
	e.tickOnce.Do(func() {
		go func() {
			t := time.NewTicker(EpochTick)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					e.wt.IncrementEpoch()
				case <-e.stopTick:
					return
				}
			}
		}()
	})
}

// cacheKey names a compiled module: its bytes, the wasmtime version and the engine settings all matter.
func (e *Engine) cacheKey(wasm []byte) string {
	h := sha256.New()
	h.Write([]byte("wasi-dapr-host\x00" + WasmtimeVersion + "\x00" + e.settings + "\x00"))
	h.Write(wasm)
	return hex.EncodeToString(h.Sum(nil))
}

// compile returns a compiled module, from the disk cache when it holds one for these bytes.
// The second return value tells whether the cache was used.
func (e *Engine) compile(wasm []byte) (*wasmtime.Module, bool, error) {
	if e.cacheDir == "" {
		m, err := wasmtime.NewModule(e.wt, wasm)
		return m, false, err
	}
	path := filepath.Join(e.cacheDir, e.cacheKey(wasm)+".cwasm")
	if m, err := e.loadCached(path); err == nil {
		return m, true, nil
	}
	// No entry, or a stale or damaged one: compile, and (re)place it below.
	m, err := wasmtime.NewModule(e.wt, wasm)
	if err != nil {
		return nil, false, err
	}
	if code, err := m.Serialize(); err == nil {
		e.storeCached(path, code)
	}
	return m, false, nil
}

// A cache entry is the SHA-256 of the compiled code followed by the code. The digest is checked before
// wasmtime sees the bytes: deserializing runs no verifier, and a truncated or damaged entry must never
// reach it. Entries are read into memory rather than mapped, so a file changed under a running host
// cannot fault it.
func (e *Engine) loadCached(path string) (*wasmtime.Module, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < sha256.Size {
		return nil, errors.New("cache entry too short")
	}
	sum := sha256.Sum256(data[sha256.Size:])
	if !bytes.Equal(sum[:], data[:sha256.Size]) {
		return nil, errors.New("cache entry checksum mismatch")
	}
	return wasmtime.NewModuleDeserialize(e.wt, data[sha256.Size:])
}

// storeCached writes an entry to a private temporary file and renames it into place, so concurrent runs
// never see a partial entry; the last writer wins with identical contents. Failures only cost a cache miss.
func (e *Engine) storeCached(path string, code []byte) {
	tmp, err := os.CreateTemp(e.cacheDir, ".tmp-*.cwasm")
	if err != nil {
		return
	}
	sum := sha256.Sum256(code)
	_, werr := tmp.Write(sum[:])
	if werr == nil {
		_, werr = tmp.Write(code)
	}
	cerr := tmp.Close()
	if werr == nil && cerr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
	}
}

// ErrNotWasm reports a file that is neither a WebAssembly binary nor WebAssembly text.
var ErrNotWasm = errors.New("not a WebAssembly module")

var errNotOurs = errors.New("the caller is not an instance of this host")

// helperModule compiles (once per engine and text) a helper module for WASIHelper.
func (e *Engine) helperModule(wat string) (*wasmtime.Module, error) {
	e.helperMu.Lock()
	defer e.helperMu.Unlock()
	if m, ok := e.helpers[wat]; ok {
		return m, nil
	}
	wasm, err := wasmtime.Wat2Wasm(wat)
	if err != nil {
		return nil, err
	}
	m, err := wasmtime.NewModule(e.wt, wasm)
	if err != nil {
		return nil, err
	}
	if e.helpers == nil {
		e.helpers = map[string]*wasmtime.Module{}
	}
	e.helpers[wat] = m
	return m, nil
}
