package host

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// echoWAT writes "hello " to stdout, copies stdin to stdout, and writes "err" to stderr.
const echoWAT = `(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "hello ")
  (data (i32.const 0x200) "err")
  (func (export "_start") (local $n i32)
    (i32.store (i32.const 0) (i32.const 0x100)) (i32.store (i32.const 4) (i32.const 6))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (block $done (loop $more
      (i32.store (i32.const 0) (i32.const 0x1000)) (i32.store (i32.const 4) (i32.const 5))
      (if (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)) (then (call $exit (i32.const 3))))
      (local.set $n (i32.load (i32.const 8)))
      (br_if $done (i32.eqz (local.get $n)))
      (i32.store (i32.const 4) (local.get $n))
      (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br $more)))
    (i32.store (i32.const 0) (i32.const 0x200)) (i32.store (i32.const 4) (i32.const 3))
    (drop (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    ;; a bad iovec pointer must be EFAULT (21), and fd 7 EBADF (8)
    (if (i32.ne (call $write (i32.const 1) (i32.const 0xfffffff0) (i32.const 1) (i32.const 8)) (i32.const 21)) (then (call $exit (i32.const 4))))
    (if (i32.ne (call $write (i32.const 7) (i32.const 0) (i32.const 1) (i32.const 8)) (i32.const 8)) (then (call $exit (i32.const 5))))))`

func TestCapturedStdio(t *testing.T) {
	e := newEngine(t, Options{})
	m := load(t, e, echoWAT)
	var out, errb bytes.Buffer
	res, err := m.Run(context.Background(), RunConfig{Capture: true, Stdin: []byte("world, in chunks"), Stdout: &out, Stderr: &errb})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	if out.String() != "hello world, in chunks" || errb.String() != "err" {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
	// Instances are isolated: a second run sees only its own stdin.
	out.Reset()
	if _, err := m.Run(context.Background(), RunConfig{Capture: true, Stdin: []byte("2"), Stdout: &out}); err != nil || out.String() != "hello 2" {
		t.Fatalf("second run: %q %v", out.String(), err)
	}
	if _, err := m.Run(context.Background(), RunConfig{Capture: true, Preopens: []Preopen{{HostPath: t.TempDir(), GuestPath: "/"}}}); err == nil || !strings.Contains(err.Error(), "preopen") {
		t.Fatalf("capture with preopens: %v", err)
	}
}

func BenchmarkEchoCaptured(b *testing.B) {
	e := newEngine(b, Options{PoolSize: 64})
	m := load(b, e, echoWAT)
	in := []byte(`{"id":1}`)
	var out bytes.Buffer
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		out.Reset()
		if res, err := m.Run(context.Background(), RunConfig{Capture: true, Stdin: in, Stdout: &out}); err != nil || res.ExitCode != 0 {
			b.Fatal(res, err)
		}
	}
}
