package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
)

// DefaultMaxMemory is the default cap on a guest's linear memory.
const DefaultMaxMemory = 256 << 20

// Preopen grants the guest a host directory.
type Preopen struct {
	HostPath  string
	GuestPath string
	ReadOnly  bool
}

// RunConfig is what one run of a module gets.
type RunConfig struct {
	// Args is the guest's argv[1:]; argv[0] is the module name.
	Args []string
	// Env is the guest's whole environment, as KEY=VALUE; nothing of the host's is added.
	Env []string
	// Preopens are the directories the guest may open.
	Preopens []Preopen
	// InheritStdio gives the guest the host's stdin, stdout and stderr; otherwise they are empty/discarded.
	InheritStdio bool
	// Capture, when set, serves the guest's stdin from Stdin and sends stdout/stderr to Stdout/Stderr
	// (nil writers discard) from memory, without wasmtime's WASI stdio; the writers get the output when
	// the guest has ended, at most MaxStdout/MaxStderr bytes of it (0: DefaultMaxStdout/Stderr).
	// Preopens and inherited stdio are refused. Only Run supports it, not Instantiate.
	Capture   bool
	Stdin     []byte
	Stdout    io.Writer
	Stderr    io.Writer
	MaxStdout int
	MaxStderr int
	// MaxMemory caps the guest's linear memory in bytes (0: DefaultMaxMemory).
	MaxMemory int64
	// Timeout interrupts the guest after this wall-clock time (0: none).
	Timeout time.Duration
	// Invoke calls this export instead of _start; InvokeArgs are parsed as its parameters.
	Invoke     string
	InvokeArgs []string
	// Allow, when set, replaces the engine's default allow-list for this run.
	Allow *allowlist.List
	// HTTPTimeout, when positive, replaces the HTTP extension's per-request timeout for this run.
	HTTPTimeout time.Duration
	// Name, when set, names the instance in extension logs instead of the module's file name.
	Name string
}

// Result is how a run ended. A guest that traps or times out is a Result, not an error: errors are for
// failures of the host or of instantiation.
type Result struct {
	// ExitCode is the guest's proc_exit code, 0 on a normal return, or 134 after a trap.
	ExitCode int
	// Trap is the trap message with its wasm backtrace, when the guest trapped.
	Trap string
	// TimedOut is set when the trap was the timeout.
	TimedOut bool
	// Results are the return values of an --invoke'd function.
	Results []interface{}
	// Instantiate is the time spent making the instance (not running it).
	Instantiate time.Duration
}

// TrapExitCode is the exit status of a trapped guest (128+SIGABRT, as wasmtime's CLI reports it).
const TrapExitCode = 134

// Instance is one live instance of a module. Run makes, runs and closes one; tests and triggers that need
// to call several exports of the same instance use Instantiate.
type Instance struct {
	m       *Module
	store   *wasmtime.Store
	inst    *wasmtime.Instance
	data    *instanceData
	cancel  context.CancelFunc
	timeout time.Duration
}

// Run makes a fresh instance of the module, runs it to completion and releases everything it held.
func (m *Module) Run(ctx context.Context, rc RunConfig) (Result, error) {
	var res Result
	start := time.Now()
	var entry string
	switch {
	case rc.Invoke != "":
		entry = rc.Invoke
		if _, ok := m.sigs[entry]; !ok {
			return res, fmt.Errorf("module %s has no exported function %q (exports: %s)", m.Name, entry, m.exportList())
		}
	default:
		if _, ok := m.sigs["_start"]; ok {
			entry = "_start"
		}
	}
	var params []interface{}
	if rc.Invoke != "" {
		var err error
		if params, err = parseParams(m.ExportedFunc(entry), rc.InvokeArgs); err != nil {
			return res, fmt.Errorf("--invoke %s: %w", entry, err)
		}
	}
	if rc.Capture {
		return m.runCaptured(ctx, rc, entry, params)
	}

	in, err := m.Instantiate(ctx, rc)
	res.Instantiate = time.Since(start)
	if err != nil {
		// A start section runs during instantiation: its trap or proc_exit is the guest's result.
		var ge *GuestError
		if errors.As(err, &ge) {
			return ge.Result, nil
		}
		return res, err
	}
	defer in.Close()
	if entry == "" {
		return res, nil // all the work was in the start section
	}
	if rc.Invoke != "" && m.ExportedFunc("_initialize") != nil {
		if _, err := in.Call("_initialize"); err != nil {
			return guestResult(err, res)
		}
	}
	out, err := in.Call(entry, params...)
	if err != nil {
		return guestResult(err, res)
	}
	res.Results = out
	return res, nil
}

func guestResult(err error, res Result) (Result, error) {
	var ge *GuestError
	if errors.As(err, &ge) {
		ge.Result.Instantiate = res.Instantiate
		return ge.Result, nil
	}
	return res, err
}

// GuestError is how the guest ended when it did not return normally: proc_exit, a trap or the timeout.
type GuestError struct{ Result Result }

func (e *GuestError) Error() string {
	if e.Result.Trap != "" {
		return e.Result.Trap
	}
	return fmt.Sprintf("guest exited with status %d", e.Result.ExitCode)
}

// Instantiate makes a fresh, isolated instance: its own store, WASI context, limits and extension
// sessions. A start section runs here; if it exits or traps the error is a *GuestError.
func (m *Module) Instantiate(ctx context.Context, rc RunConfig) (*Instance, error) {
	if rc.Capture {
		return nil, errors.New("captured stdio is available to Module.Run only")
	}
	e := m.engine
	linker := e.linker(false, m.shadows)
	store, data, cancel := m.newStore(ctx, rc)
	in := &Instance{m: m, store: store, data: data, cancel: cancel}

	wasi, err := m.wasiConfig(rc)
	if err != nil {
		in.Close()
		return nil, err
	}
	store.SetWasi(wasi)

	maxMem := rc.maxMemory()
	store.Limiter(maxMem, -1, -1, -1, -1)

	timeout, ticks := e.deadline(ctx, rc.Timeout)
	in.timeout = timeout
	store.SetEpochDeadline(ticks)

	inst, err := linker.Instantiate(store, m.wt)
	if err != nil {
		in.Close()
		var res Result
		if m.guestEnd(err, &res, timeout) {
			return nil, &GuestError{Result: res}
		}
		return nil, fmt.Errorf("instantiating %s: %s", m.Name, explainInstantiate(err, maxMem))
	}
	in.inst = inst
	return in, nil
}

// newStore makes an instance's store, carrying its data for the extensions; cancel ends the run's
// context.
func (m *Module) newStore(ctx context.Context, rc RunConfig) (*wasmtime.Store, *instanceData, context.CancelFunc) {
	runCtx, cancel := context.WithCancel(ctx)
	name := m.Name
	if rc.Name != "" {
		name = rc.Name
	}
	data := &instanceData{engine: m.engine, info: InstanceInfo{Module: name, Context: runCtx, Allow: rc.Allow, HTTPTimeout: rc.HTTPTimeout}}
	return wasmtime.NewStoreWithData(m.engine.wt, data), data, cancel
}

func (rc RunConfig) maxMemory() int64 {
	if rc.MaxMemory <= 0 {
		return DefaultMaxMemory
	}
	return rc.MaxMemory
}

// checkEnv rejects an environment entry that is not KEY=VALUE.
func checkEnv(env []string) error {
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("environment entry %q: want KEY=VALUE", kv)
		}
	}
	return nil
}

// Call calls an exported function. A guest exit, trap or timeout is a *GuestError.
func (in *Instance) Call(name string, args ...interface{}) ([]interface{}, error) {
	fn := in.inst.GetFunc(in.store, name)
	if fn == nil {
		return nil, fmt.Errorf("module %s has no exported function %q", in.m.Name, name)
	}
	out, err := fn.Call(in.store, args...)
	if err != nil {
		var res Result
		if in.m.guestEnd(err, &res, in.timeout) {
			return nil, &GuestError{Result: res}
		}
		return nil, err
	}
	switch v := out.(type) {
	case nil:
		return nil, nil
	case []wasmtime.Val:
		vals := make([]interface{}, len(v))
		for i, x := range v {
			vals[i] = x.Get()
		}
		return vals, nil
	default:
		return []interface{}{v}, nil
	}
}

// Memory returns the instance's exported memory "memory" (nil if none). The slice is valid until the
// next call into the guest.
func (in *Instance) Memory() []byte {
	ext := in.inst.GetExport(in.store, "memory")
	if ext == nil || ext.Memory() == nil {
		return nil
	}
	return ext.Memory().UnsafeData(in.store)
}

// Close ends the instance: extension sessions release what they hold, then the store is freed.
func (in *Instance) Close() {
	if in.store == nil {
		return
	}
	in.cancel()
	in.data.close()
	in.store.Close()
	in.store = nil
}

// guestEnd turns an error from running guest code into the Result; false means it was not the guest's.
func (m *Module) guestEnd(err error, res *Result, timeout time.Duration) bool {
	var werr *wasmtime.Error
	if errors.As(err, &werr) {
		if code, ok := werr.ExitStatus(); ok {
			res.ExitCode = int(code)
			return true
		}
	}
	var trap *wasmtime.Trap
	if errors.As(err, &trap) {
		res.ExitCode = TrapExitCode
		res.Trap = m.formatTrap(trap.Message())
		if code := trap.Code(); code != nil && *code == wasmtime.Interrupt {
			res.TimedOut = true
			res.Trap = fmt.Sprintf("guest timed out after %s (interrupted)\n%s", timeout, res.Trap)
		}
		return true
	}
	return false
}

// formatTrap turns wasmtime's trap text into "cause" plus the wasm backtrace, dropping the native stack
// (useless to a guest author) and naming the module in each frame.
func (m *Module) formatTrap(msg string) string {
	cause, trace := msg, ""
	if i := strings.Index(msg, "Caused by:"); i >= 0 {
		cause = msg[i+len("Caused by:"):]
		if j := strings.Index(cause, "Stack backtrace:"); j >= 0 {
			cause = cause[:j]
		}
		cause = strings.TrimSpace(cause)
	}
	if i := strings.Index(msg, "wasm backtrace:"); i >= 0 {
		trace = msg[i:]
		if j := strings.Index(trace, "\n\n"); j >= 0 {
			trace = trace[:j]
		}
		trace = strings.ReplaceAll(trace, "<unknown>!", m.Name+"!")
	}
	if trace == "" {
		return cause
	}
	return cause + "\n" + trace
}

func explainInstantiate(err error, maxMem int64) string {
	msg := cleanMessage(err.Error())
	if strings.Contains(msg, "memory") && (strings.Contains(msg, "limit") || strings.Contains(msg, "exceed") || strings.Contains(msg, "failed to grow")) {
		return fmt.Sprintf("%s (the guest's initial memory is larger than --max-memory=%d bytes; raise it)", msg, maxMem)
	}
	if strings.Contains(msg, "maximum concurrent") || strings.Contains(msg, "pooling") {
		return msg + " (too many instances at once for the instance pool)"
	}
	return msg
}

func (m *Module) wasiConfig(rc RunConfig) (*wasmtime.WasiConfig, error) {
	if err := checkEnv(rc.Env); err != nil {
		return nil, err
	}
	w := wasmtime.NewWasiConfig()
	argv := make([]string, 0, len(rc.Args)+1)
	if err := setArgsEnv(w, append(append(argv, m.Name), rc.Args...), rc.Env); err != nil {
		return nil, err
	}
	if rc.InheritStdio {
		w.InheritStdin()
		w.InheritStdout()
		w.InheritStderr()
	}
	for _, p := range rc.Preopens {
		dirPerms, filePerms := wasmtime.DIR_READ|wasmtime.DIR_WRITE, wasmtime.FILE_READ|wasmtime.FILE_WRITE
		if p.ReadOnly {
			dirPerms, filePerms = wasmtime.DIR_READ, wasmtime.FILE_READ
		}
		if err := w.PreopenDir(p.HostPath, p.GuestPath, dirPerms, filePerms); err != nil {
			return nil, fmt.Errorf("--dir %s: %w", p.HostPath, err)
		}
	}
	return w, nil
}

func (m *Module) exportList() string {
	var names []string
	for n, t := range m.exports {
		if t.FuncType() != nil {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// parseParams converts command-line words to the parameters of an exported function.
func parseParams(ft *wasmtime.FuncType, args []string) ([]interface{}, error) {
	ps := ft.Params()
	if len(args) != len(ps) {
		return nil, fmt.Errorf("the function takes %d parameter(s), %d given", len(ps), len(args))
	}
	out := make([]interface{}, len(ps))
	for i, p := range ps {
		var err error
		switch p.Kind() {
		case wasmtime.KindI32:
			var v int64
			v, err = strconv.ParseInt(args[i], 0, 32)
			out[i] = int32(v)
		case wasmtime.KindI64:
			out[i], err = strconv.ParseInt(args[i], 0, 64)
		case wasmtime.KindF32:
			var v float64
			v, err = strconv.ParseFloat(args[i], 32)
			out[i] = float32(v)
		case wasmtime.KindF64:
			out[i], err = strconv.ParseFloat(args[i], 64)
		default:
			return nil, fmt.Errorf("parameter %d has type %s, which cannot be given on the command line", i+1, p.Kind())
		}
		if err != nil {
			return nil, fmt.Errorf("parameter %d: %q is not a valid %s", i+1, args[i], p.Kind())
		}
	}
	return out, nil
}
