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
