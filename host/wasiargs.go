package host

// Setting argv and the environment through wasmtime-go costs two cgo calls per string (C.CString's
// malloc, then free) plus one per list; a WAGI request has ~20 variables, which made this the largest
// part of making an instance. Here the strings travel in one Go byte buffer (no Go pointers in it, so
// cgo may pass it) and one C call builds the pointer arrays and hands them to wasmtime.

// The C side is wdh_set_args_env in fastrun.c.

// #include "capi.h"
import "C"

import (
	"errors"
	"strings"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

var fastWasiArgs = firstFieldIsPointer(wasmtime.WasiConfig{})

// errArgsEnv is wasmtime refusing argv or the environment (it wants UTF-8).
var errArgsEnv = errors.New("the arguments or the environment are not valid UTF-8")

// setArgsEnv sets argv and the environment (KEY=VALUE entries, already validated) on w.
func setArgsEnv(w *wasmtime.WasiConfig, argv []string, env []string) error {
	if !fastWasiArgs {
		w.SetArgv(argv)
		keys, vals := splitEnv(env)
		w.SetEnv(keys, vals)
		return nil
	}
	buf := argsEnvBuf(argv, env, nil)
	ptr := *(**C.wasi_config_t)(unsafe.Pointer(w))
	if C.wdh_set_args_env(ptr, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(argv)), C.size_t(len(env))) == 0 {
		return errArgsEnv
	}
	return nil
}

// argsEnvBuf lays out argv, the environment's names, its values, then extra, each NUL-terminated.
func argsEnvBuf(argv, env, extra []string) []byte {
	n := 1
	for _, a := range argv {
		n += len(a) + 1
	}
	for _, kv := range env {
		n += len(kv) + 1
	}
	for _, x := range extra {
		n += len(x) + 1
	}
	buf := make([]byte, 0, n)
	for _, a := range argv {
		buf = appendCString(buf, a)
	}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		buf = appendCString(buf, k)
	}
	for _, kv := range env {
		_, v, _ := strings.Cut(kv, "=")
		buf = appendCString(buf, v)
	}
	for _, x := range extra {
		buf = appendCString(buf, x)
	}
	return append(buf, 0)
}

// appendCString appends s up to its first NUL (as C.CString would be read) and a terminating NUL.
func appendCString(buf []byte, s string) []byte {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	buf = append(buf, s...)
	return append(buf, 0)
}

func splitEnv(env []string) ([]string, []string) {
	keys := make([]string, len(env))
	vals := make([]string, len(env))
	for i, kv := range env {
		keys[i], vals[i], _ = strings.Cut(kv, "=")
	}
	return keys, vals
}
