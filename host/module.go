package host

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// Module is a compiled module ready to be instantiated any number of times.
type Module struct {
	engine *Engine
	wt     *wasmtime.Module
	// Name is the file name (or the name given to LoadBytes); used as argv[0] and in logs.
	Name string
	// Cached tells whether the compiled code came from the disk cache.
	Cached bool
	// CompileTime is how long compiling (or loading from the cache) took.
	CompileTime time.Duration

	exports map[string]*wasmtime.ExternType
	sigs    map[string]funcSig // the exported functions' types
	shadows bool               // links the WASI replacements of a shadowing extension it uses

	// The module pre-linked for captured runs (fastrun.go), made on first use.
	preOnce sync.Once
	pre     unsafe.Pointer
	preErr  error
}

// Load reads, compiles (or loads from the cache) and checks a module file.
func (e *Engine) Load(path string) (*Module, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("module %s: no such file", path)
		}
		return nil, fmt.Errorf("module %s: %w", path, err)
	}
	return e.LoadBytes(filepath.Base(path), data)
}

// LoadBytes compiles a module from WebAssembly binary or text and checks that every import it asks for
// is provided, listing all the missing ones at once.
func (e *Engine) LoadBytes(name string, data []byte) (*Module, error) {
	wasm, err := toBinary(data)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", name, err)
	}
	start := time.Now()
	wt, cached, err := e.compile(wasm)
	if err != nil {
		msg := cleanMessage(err.Error())
		if strings.Contains(msg, "pooling allocator") {
			return nil, fmt.Errorf("module %s does not fit this host's instance limits: %s (raise --max-memory)", name, msg)
		}
		return nil, fmt.Errorf("module %s: invalid WebAssembly: %s", name, msg)
	}
	m := &Module{engine: e, wt: wt, Name: name, Cached: cached, CompileTime: time.Since(start),
		exports: map[string]*wasmtime.ExternType{}, sigs: map[string]funcSig{}}
	for _, ex := range wt.Exports() {
		m.exports[ex.Name()] = ex.Type()
		if ft := ex.Type().FuncType(); ft != nil {
			m.sigs[ex.Name()] = sigOf(ft)
		}
	}
	var imports [][2]string
	for _, imp := range wt.Imports() {
		if imp.Name() != nil {
			imports = append(imports, [2]string{imp.Module(), *imp.Name()})
		}
	}
	for _, ext := range e.extensions {
		if se, ok := ext.(ShadowingExtension); ok && se.Uses(imports) {
			m.shadows = true
		}
	}
	if missing := e.missingImports(wt); len(missing) > 0 {
		return nil, fmt.Errorf("module %s imports %d function(s) this host does not provide: %s",
			name, len(missing), strings.Join(missing, ", "))
	}
	return m, nil
}

// toBinary accepts the WebAssembly binary format, or the text format (converted here), and rejects
// anything else with a message that says what the file looks like.
func toBinary(data []byte) ([]byte, error) {
	if bytes.HasPrefix(data, []byte("\x00asm")) {
		return data, nil
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if bytes.HasPrefix(trimmed, []byte("(")) || bytes.HasPrefix(trimmed, []byte(";;")) {
		wasm, err := wasmtime.Wat2Wasm(string(data))
		if err != nil {
			return nil, fmt.Errorf("invalid WebAssembly text: %s", firstLines(err.Error(), 3))
		}
		return wasm, nil
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: the file is empty", ErrNotWasm)
	}
	head := data
	if len(head) > 8 {
		head = head[:8]
	}
	return nil, fmt.Errorf("%w: expected the magic bytes \\0asm at the start, found %q", ErrNotWasm, head)
}

// missingImports lists, as module::name, every import the linker cannot satisfy.
func (e *Engine) missingImports(wt *wasmtime.Module) []string {
	store := wasmtime.NewStoreWithData(e.wt, &instanceData{})
	defer store.Close()
	// A store whose WASI context was never set aborts the process when a WASI function is linked.
	store.SetWasi(wasmtime.NewWasiConfig())
	var missing []string
	for _, imp := range wt.Imports() {
		name := ""
		if imp.Name() != nil {
			name = *imp.Name()
		}
		if e.linker(false, true).Get(store, imp.Module(), name) == nil {
			missing = append(missing, imp.Module()+"::"+name)
		}
	}
	sort.Strings(missing)
	return missing
}

// HasExport tells whether the module exports name.
func (m *Module) HasExport(name string) bool {
	_, ok := m.exports[name]
	return ok
}

// ExportedFunc returns the type of an exported function, or nil.
func (m *Module) ExportedFunc(name string) *wasmtime.FuncType {
	if t, ok := m.exports[name]; ok {
		return t.FuncType()
	}
	return nil
}

// Close releases the compiled code. No run of the module may be in progress.
func (m *Module) Close() {
	m.closePre()
	m.wt.Close()
}

// cleanMessage folds a wasmtime error onto one line and drops the native stack backtrace.
func cleanMessage(s string) string {
	if i := strings.Index(s, "Stack backtrace:"); i >= 0 {
		s = s[:i]
	}
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l == "Caused by:" {
			continue
		}
		parts = append(parts, l)
	}
	return strings.Join(parts, "; ")
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}
