// Package testguest writes small WAT guests for tests: one HTTP request through wasi_experimental_http,
// with the response body copied to stdout.
package testguest

import (
	"fmt"
	"strings"
)

// Quote encodes s as a WAT string literal.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "\\%02x", s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// Request is a WAT command module that sends one request and writes the response body to stdout. It
// exits 0 on a 2xx status, status/100 otherwise (3, 4, 5), and 100+code when the extension returns an
// error code.
func Request(method, url, headers, body string) string {
	// Memory layout: 0x10 status, 0x14 handle, 0x18 written, 0x20 iovec, 0x100.. strings, 0x10000 buffer.
	urlOff, methodOff := 0x100, 0x100+len(url)
	hdrOff := methodOff + len(method)
	bodyOff := hdrOff + len(headers)
	return fmt.Sprintf(`(module
  (import "wasi_experimental_http" "req" (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "body_read" (func $body_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const %d) %s)
  (data (i32.const %d) %s)
  (data (i32.const %d) %s)
  (data (i32.const %d) %s)
  (func (export "_start") (local $code i32) (local $status i32)
    (local.set $code (call $req (i32.const %d) (i32.const %d) (i32.const %d) (i32.const %d)
      (i32.const %d) (i32.const %d) (i32.const %d) (i32.const %d) (i32.const 0x10) (i32.const 0x14)))
    (if (local.get $code) (then (call $exit (i32.add (i32.const 100) (local.get $code)))))
    (local.set $status (i32.load16_u (i32.const 0x10)))
    (block $done
      (loop $more
        (local.set $code (call $body_read (i32.load (i32.const 0x14)) (i32.const 0x10000) (i32.const 0x8000) (i32.const 0x18)))
        (if (local.get $code) (then (call $exit (i32.add (i32.const 100) (local.get $code)))))
        (br_if $done (i32.eqz (i32.load (i32.const 0x18))))
        (i32.store (i32.const 0x20) (i32.const 0x10000))
        (i32.store (i32.const 0x24) (i32.load (i32.const 0x18)))
        (drop (call $fd_write (i32.const 1) (i32.const 0x20) (i32.const 1) (i32.const 0x28)))
        (br $more)))
    (drop (call $close (i32.load (i32.const 0x14))))
    (if (i32.ge_u (local.get $status) (i32.const 300))
      (then (call $exit (i32.div_u (local.get $status) (i32.const 100)))))))`,
		urlOff, Quote(url), methodOff, Quote(method), hdrOff, Quote(headers), bodyOff, Quote(body),
		urlOff, len(url), methodOff, len(method), hdrOff, len(headers), bodyOff, len(body))
}

// stdinToMemory reads all of stdin into memory at 0x20000 and leaves its length at 0x1c.
const stdinToMemory = `
  (func $slurp (local $n i32) (local $total i32)
    (block $done (loop $more
      (i32.store (i32.const 0x30) (i32.add (i32.const 0x20000) (local.get $total)))
      (i32.store (i32.const 0x34) (i32.const 0x8000))
      (if (call $fd_read (i32.const 0) (i32.const 0x30) (i32.const 1) (i32.const 0x38)) (then (call $exit (i32.const 90))))
      (local.set $n (i32.load (i32.const 0x38)))
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $total (i32.add (local.get $total) (local.get $n)))
      (br $more)))
    (i32.store (i32.const 0x1c) (local.get $total)))`

// Relay is a WAGI guest that POSTs its stdin to url and writes the answer's body, verbatim, as its own
// stdout: a test server behind url sees what the guest was given and decides its whole WAGI response.
func Relay(url string) string {
	return fmt.Sprintf(`(module
  (import "wasi_experimental_http" "req" (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "body_read" (func $body_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 4)
  (data (i32.const 0x100) %s)
  (data (i32.const 0x800) "POST")
  %s
  (func (export "_start") (local $code i32)
    (call $slurp)
    (local.set $code (call $req (i32.const 0x100) (i32.const %d) (i32.const 0x800) (i32.const 4)
      (i32.const 0) (i32.const 0) (i32.const 0x20000) (i32.load (i32.const 0x1c)) (i32.const 0x10) (i32.const 0x14)))
    (if (local.get $code) (then (call $exit (i32.add (i32.const 100) (local.get $code)))))
    (block $done
      (loop $more
        (local.set $code (call $body_read (i32.load (i32.const 0x14)) (i32.const 0x10000) (i32.const 0x8000) (i32.const 0x18)))
        (if (local.get $code) (then (call $exit (i32.add (i32.const 100) (local.get $code)))))
        (br_if $done (i32.eqz (i32.load (i32.const 0x18))))
        (i32.store (i32.const 0x20) (i32.const 0x10000))
        (i32.store (i32.const 0x24) (i32.load (i32.const 0x18)))
        (drop (call $fd_write (i32.const 1) (i32.const 0x20) (i32.const 1) (i32.const 0x28)))
        (br $more)))
    (drop (call $close (i32.load (i32.const 0x14))))))`, Quote(url), stdinToMemory, len(url))
}

// SaveStdin is a WAGI guest that stores its stdin (a JSON value, such as a CloudEvent) under key in the
// state store at stateURL (…/v1.0/state/<store>), then answers 200 with an empty JSON body.
func SaveStdin(stateURL, key string) string {
	prefix := `[{"key":"` + key + `","value":`
	suffix := `}]`
	return fmt.Sprintf(`(module
  (import "wasi_experimental_http" "req" (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 8)
  (data (i32.const 0x100) %s)
  (data (i32.const 0x800) "POST")
  (data (i32.const 0x900) "content-type:application/json\n")
  (data (i32.const 0xa00) "content-type: application/json\n\n{}")
  (data (i32.const 0x1ff00) %s)
  (data (i32.const 0xb00) %s)
  %s
  (func (export "_start") (local $code i32) (local $n i32)
    (call $slurp)
    (local.set $n (i32.load (i32.const 0x1c)))
    ;; the suffix goes right after stdin, the prefix right before it
    (memory.copy (i32.add (i32.const 0x20000) (local.get $n)) (i32.const 0xb00) (i32.const %d))
    (local.set $code (call $req (i32.const 0x100) (i32.const %d) (i32.const 0x800) (i32.const 4)
      (i32.const 0x900) (i32.const 30)
      (i32.sub (i32.const 0x20000) (i32.const %d)) (i32.add (local.get $n) (i32.const %d))
      (i32.const 0x10) (i32.const 0x14)))
    (if (local.get $code) (then (call $exit (i32.add (i32.const 100) (local.get $code)))))
    (if (i32.ge_u (i32.load16_u (i32.const 0x10)) (i32.const 300)) (then (call $exit (i32.const 3))))
    (drop (call $close (i32.load (i32.const 0x14))))
    (i32.store (i32.const 0x20) (i32.const 0xa00))
    (i32.store (i32.const 0x24) (i32.const 34))
    (drop (call $fd_write (i32.const 1) (i32.const 0x20) (i32.const 1) (i32.const 0x28)))))`,
		Quote(stateURL), Quote(padLeft(prefix, 0x20000-0x1ff00)), Quote(suffix), stdinToMemory,
		len(suffix), len(stateURL), len(prefix), len(prefix)+len(suffix))
}

// padLeft right-aligns s in n bytes so that it ends exactly where stdin begins.
func padLeft(s string, n int) string {
	if len(s) > n {
		panic("prefix too long")
	}
	return strings.Repeat(" ", n-len(s)) + s
}
