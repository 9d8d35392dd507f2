package host

// Captured runs (serve mode: one fresh instance per request, stdin the request, stdout the response)
// take a path that crosses from Go into C once per request. wasmtime-go makes every step its own cgo
// call and every host function a reflect-driven callback from C into Go (~6 µs for a guest that writes
// its response once, see shared/notes/wasmtime-go.md); here fastrun.c sets up the WASI context and the
// limits, instantiates a pre-linked module (wasmtime's InstancePre: imports resolved once per module),
// runs the entry point and serves fd_read/fd_write on fds 0-2 from memory, all in one call. The store
// is still made by wasmtime-go, so Go host functions (the extensions) find their data as always.
//
// The C API's types are declared in capi.h; wasmtime-go keeps the pointers and handles we need in its
// structs' first fields, which layoutOK checks, so a wrapper change disables this path (captured runs
// then fail with a clear error) instead of corrupting memory.

// #include <stdlib.h>
// #include "capi.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// Default caps on captured output; what a guest writes beyond them is dropped.
const (
	DefaultMaxStdout = 64 << 20
	DefaultMaxStderr = 1 << 20
)

// firstFieldIsPointer tells whether a wasmtime-go struct keeps a pointer in its first field, where
// this package reads the C object behind it.
func firstFieldIsPointer(v interface{}) bool {
	t := reflect.TypeOf(v)
	return t.Kind() == reflect.Struct && t.NumField() >= 1 && t.Field(0).Type.Kind() == reflect.Pointer &&
		t.Field(0).Offset == 0
}

var layoutOK = firstFieldIsPointer(wasmtime.Store{}) && firstFieldIsPointer(wasmtime.Linker{}) &&
	firstFieldIsPointer(wasmtime.Module{}) && fastWasiArgs

var errLayout = errors.New("captured stdio is unavailable: this wasmtime-go's internal layout is not the one this host was built for")

func storePtr(s *wasmtime.Store) *C.wasmtime_store_t {
	return *(**C.wasmtime_store_t)(unsafe.Pointer(s))
}

func linkerPtr(l *wasmtime.Linker) *C.wasmtime_linker_t {
	return *(**C.wasmtime_linker_t)(unsafe.Pointer(l))
}

func modulePtr(m *wasmtime.Module) *C.wasmtime_module_t {
	return *(**C.wasmtime_module_t)(unsafe.Pointer(m))
}

// linkFastStdio defines fd_read and fd_write of wasi_snapshot_preview1 as fastrun.c's functions.
func linkFastStdio(l *wasmtime.Linker) error {
	if !layoutOK {
		return nil // captured runs refuse to start; nothing to link
	}
	if err := C.wdh_define_stdio(linkerPtr(l)); err != nil {
		return errors.New(takeError(err))
	}
	return nil
}

func takeError(err *C.wasmtime_error_t) string {
	var msg C.wasm_byte_vec_t
	C.wasmtime_error_message(err, &msg)
	s := C.GoStringN(msg.data, C.int(msg.size))
	C.wasm_byte_vec_delete(&msg)
	C.wasmtime_error_delete(err)
	return s
}

// instancePre returns the module pre-linked against the captured-stdio linker, made on first use.
func (m *Module) instancePre() (*C.wasmtime_instance_pre_t, error) {
	m.preOnce.Do(func() {
		var pre *C.wasmtime_instance_pre_t
		if err := C.wasmtime_linker_instantiate_pre(linkerPtr(m.engine.linker(true, m.shadows)), modulePtr(m.wt), &pre); err != nil {
			m.preErr = fmt.Errorf("linking %s: %s", m.Name, cleanMessage(takeError(err)))
			return
		}
		m.pre = unsafe.Pointer(pre)
	})
	return (*C.wasmtime_instance_pre_t)(m.pre), m.preErr
}

func (m *Module) closePre() {
	if m.pre != nil {
		C.wasmtime_instance_pre_delete((*C.wasmtime_instance_pre_t)(m.pre))
		m.pre = nil
	}
}

// runCaptured is Run for rc.Capture: entry is the export to call ("" for none), params its arguments.
func (m *Module) runCaptured(ctx context.Context, rc RunConfig, entry string, params []interface{}) (Result, error) {
	var res Result
	if len(rc.Preopens) > 0 || rc.InheritStdio {
		return res, errors.New("captured stdio cannot be combined with preopened directories or inherited stdio")
	}
	if !layoutOK {
		return res, errLayout
	}
	if err := checkEnv(rc.Env); err != nil {
		return res, err
	}
	var sig funcSig
	if entry != "" {
		var ok bool
		if sig, ok = m.sigs[entry]; !ok {
			return res, fmt.Errorf("module %s has no exported function %q (exports: %s)", m.Name, entry, m.exportList())
		}
	}
	initSig, init := m.sigs["_initialize"]
	init = init && rc.Invoke != ""
	if init && (len(initSig.params) != 0 || len(initSig.results) != 0) {
		return res, fmt.Errorf("module %s: _initialize must take and return nothing", m.Name)
	}
	vals, err := rawParams(sig, params)
	if err != nil {
		return res, fmt.Errorf("calling %s: %w", entry, err)
	}
	pre, err := m.instancePre()
	if err != nil {
		return res, err
	}

	store, data, cancel := m.newStore(ctx, rc)
	defer store.Close() // last, as Instance.Close does
	defer data.close()
	defer cancel()

	maxMem := rc.maxMemory()
	timeout, ticks := m.engine.deadline(ctx, rc.Timeout)
	argv := make([]string, 0, len(rc.Args)+1)
	argv = append(append(argv, m.Name), rc.Args...)
	var extra []string
	if entry != "" {
		extra = []string{entry}
	}
	strs := argsEnvBuf(argv, rc.Env, extra)
	outMax, errMax := rc.MaxStdout, rc.MaxStderr
	if outMax <= 0 {
		outMax = DefaultMaxStdout
	}
	if errMax <= 0 {
		errMax = DefaultMaxStderr
	}
	r := C.wdh_run_t{
		store: storePtr(store), pre: pre, argc: C.size_t(len(argv)), envc: C.size_t(len(rc.Env)),
		max_memory: C.int64_t(maxMem), deadline: C.uint64_t(ticks), call_initialize: C.int(b2i(init)),
		has_entry: C.int(b2i(entry != "")), nvals: C.size_t(len(vals)),
		stdin_len: C.size_t(len(rc.Stdin)), out_max: C.size_t(outMax), err_max: C.size_t(errMax),
	}
	var stdin *C.uint8_t
	if len(rc.Stdin) > 0 {
		stdin = (*C.uint8_t)(unsafe.Pointer(&rc.Stdin[0]))
	}
	var valp *C.wasmtime_val_raw_t
	if len(vals) > 0 {
		valp = &vals[0]
	}
	C.wdh_run(&r, (*C.char)(unsafe.Pointer(&strs[0])), stdin, valp)
	defer C.wdh_run_release(&r)

	res.Instantiate = time.Duration(r.inst_ns)
	if rc.Stdout != nil && r.out_len > 0 {
		rc.Stdout.Write(unsafe.Slice((*byte)(r.out), int(r.out_len)))
	}
	if rc.Stderr != nil && r.err_len > 0 {
		rc.Stderr.Write(unsafe.Slice((*byte)(r.err), int(r.err_len)))
	}
	msg := ""
	if r.msg_len > 0 {
		msg = C.GoStringN(r.msg.data, C.int(r.msg_len))
	}
	switch {
	case r.stage == 0:
		res.Results = readResults(sig, vals)
		return res, nil
	case r.stage == 4:
		return res, fmt.Errorf("module %s has no exported function %q", m.Name, entry)
	case r.stage == 5:
		return res, fmt.Errorf("setting up %s: %s", m.Name, cleanMessage(msg))
	case r.has_exit != 0:
		res.ExitCode = int(r.exit_status)
		return res, nil
	case r.is_trap != 0:
		res.ExitCode = TrapExitCode
		res.Trap = m.formatTrap(msg)
		if r.has_code != 0 && wasmtime.TrapCode(r.trap_code) == wasmtime.Interrupt {
			res.TimedOut = true
			res.Trap = fmt.Sprintf("guest timed out after %s (interrupted)\n%s", timeout, res.Trap)
		}
		return res, nil
	case r.stage == 1:
		return res, fmt.Errorf("instantiating %s: %s", m.Name, explainInstantiate(errors.New(msg), maxMem))
	default:
		return res, errors.New(cleanMessage(msg))
	}
}

// deadline turns a run's timeout, shortened to the context's deadline, into epoch ticks (noDeadline
// when there is neither), starting the ticker when needed.
func (e *Engine) deadline(ctx context.Context, timeout time.Duration) (time.Duration, uint64) {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); timeout == 0 || left < timeout {
			timeout = max(left, time.Millisecond)
		}
	}
	if timeout <= 0 {
		return timeout, noDeadline
	}
	e.startTicker()
	return timeout, uint64((timeout + EpochTick - 1) / EpochTick)
}

// funcSig is an exported function's type as value kinds, kept per module so that a run does not make
// wasmtime-go type objects (each with a finalizer) to check it.
type funcSig struct{ params, results []wasmtime.ValKind }

func sigOf(ft *wasmtime.FuncType) funcSig {
	var s funcSig
	for _, p := range ft.Params() {
		s.params = append(s.params, p.Kind())
	}
	for _, r := range ft.Results() {
		s.results = append(s.results, r.Kind())
	}
	return s
}

func kindOf(v interface{}) (wasmtime.ValKind, bool) {
	switch v.(type) {
	case int32:
		return wasmtime.KindI32, true
	case int64:
		return wasmtime.KindI64, true
	case float32:
		return wasmtime.KindF32, true
	case float64:
		return wasmtime.KindF64, true
	}
	return 0, false
}

// rawParams lays out an export's arguments as wasmtime's raw values, with room for its results. Only
// number types are accepted (parseParams makes them from the function's own type).
func rawParams(sig funcSig, params []interface{}) ([]C.wasmtime_val_raw_t, error) {
	if len(params) != len(sig.params) {
		return nil, fmt.Errorf("the function takes %d parameter(s), %d given", len(sig.params), len(params))
	}
	for i, k := range sig.results {
		if _, ok := kindOf(zeroOf(k)); !ok {
			return nil, fmt.Errorf("result %d has type %s, which a captured run cannot return", i+1, k)
		}
	}
	n := max(len(sig.params), len(sig.results))
	if n == 0 {
		return nil, nil
	}
	vals := make([]C.wasmtime_val_raw_t, n)
	for i, p := range params {
		if k, ok := kindOf(p); !ok || k != sig.params[i] {
			return nil, fmt.Errorf("parameter %d has type %s, %T given", i+1, sig.params[i], p)
		}
		v := unsafe.Pointer(&vals[i])
		switch x := p.(type) {
		case int32:
			*(*int32)(v) = x
		case int64:
			*(*int64)(v) = x
		case float32:
			*(*float32)(v) = x
		case float64:
			*(*float64)(v) = x
		}
	}
	return vals, nil
}

func zeroOf(k wasmtime.ValKind) interface{} {
	switch k {
	case wasmtime.KindI32:
		return int32(0)
	case wasmtime.KindI64:
		return int64(0)
	case wasmtime.KindF32:
		return float32(0)
	case wasmtime.KindF64:
		return float64(0)
	}
	return nil
}

func readResults(sig funcSig, vals []C.wasmtime_val_raw_t) []interface{} {
	if len(sig.results) == 0 {
		return nil
	}
	out := make([]interface{}, len(sig.results))
	for i, k := range sig.results {
		v := unsafe.Pointer(&vals[i])
		switch k {
		case wasmtime.KindI32:
			out[i] = *(*int32)(v)
		case wasmtime.KindI64:
			out[i] = *(*int64)(v)
		case wasmtime.KindF32:
			out[i] = *(*float32)(v)
		case wasmtime.KindF64:
			out[i] = *(*float64)(v)
		}
	}
	return out
}
