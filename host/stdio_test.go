package host

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
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

// How captured runs end: each way a guest can stop is reported as Module.Run's other paths report it.
func TestCapturedRunEnds(t *testing.T) {
	e := newEngine(t, Options{PoolSize: 16})
	run := func(wat string, rc RunConfig) (Result, error) {
		t.Helper()
		rc.Capture = true
		return load(t, e, wat).Run(context.Background(), rc)
	}
	const exitImport = `(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))`

	res, err := run(`(module (memory (export "memory") 1) (func (export "_start") unreachable))`, RunConfig{})
	if err != nil || res.ExitCode != TrapExitCode || !strings.Contains(res.Trap, "unreachable") || !strings.Contains(res.Trap, "test.wasm!") || res.TimedOut {
		t.Fatalf("trap: %v %+v", err, res)
	}
	res, err = run(`(module `+exitImport+` (memory (export "memory") 1) (func (export "_start") (call $exit (i32.const 7))))`, RunConfig{})
	if err != nil || res.ExitCode != 7 || res.Trap != "" {
		t.Fatalf("proc_exit: %v %+v", err, res)
	}
	res, err = run(`(module `+exitImport+` (memory (export "memory") 1) (func $s (call $exit (i32.const 9))) (start $s) (func (export "_start")))`, RunConfig{})
	if err != nil || res.ExitCode != 9 {
		t.Fatalf("exit in the start section: %v %+v", err, res)
	}
	res, err = run(`(module (func (export "_start") (loop (br 0))))`, RunConfig{Timeout: 50 * time.Millisecond})
	if err != nil || !res.TimedOut || res.ExitCode != TrapExitCode || !strings.Contains(res.Trap, "timed out after 50ms") {
		t.Fatalf("timeout: %v %+v", err, res)
	}
	// An initial memory over the limit is an instantiation error that says what to raise.
	if _, err = run(`(module (memory (export "memory") 20) (func (export "_start")))`, RunConfig{MaxMemory: 1 << 20}); err == nil || !strings.Contains(err.Error(), "--max-memory") {
		t.Fatalf("memory over the limit: %v", err)
	}
	if _, err = run(`(module (func (export "_start")))`, RunConfig{Args: []string{"\xff"}}); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("bad argv: %v", err)
	}
	// The same for a run without captured stdio.
	if _, err = load(t, e, `(module (func (export "_start")))`).Run(context.Background(), RunConfig{Env: []string{"K=\xff"}}); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("bad environment: %v", err)
	}
	if _, err = load(t, e, `(module (func (export "_start")))`).Instantiate(context.Background(), RunConfig{Capture: true}); err == nil {
		t.Fatal("Instantiate accepted captured stdio")
	}
}

// --invoke with captured stdio: _initialize first, typed parameters and results, output captured.
func TestCapturedInvoke(t *testing.T) {
	e := newEngine(t, Options{})
	m := load(t, e, `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "adding")
  (global $g (mut i64) (i64.const 0))
  (func (export "_initialize") (global.set $g (i64.const 40)))
  (func (export "add") (param i32 i64) (result i64 f64)
    (i32.store (i32.const 0) (i32.const 0x100)) (i32.store (i32.const 4) (i32.const 6))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i64.add (global.get $g) (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1)))
    (f64.const 2.5)))`)
	var out bytes.Buffer
	res, err := m.Run(context.Background(), RunConfig{Capture: true, Stdout: &out, Invoke: "add", InvokeArgs: []string{"1", "2"}})
	if err != nil || res.ExitCode != 0 || len(res.Results) != 2 || res.Results[0] != int64(43) || res.Results[1] != 2.5 || out.String() != "adding" {
		t.Fatalf("%v %+v %q", err, res, out.String())
	}
	if _, err := m.Run(context.Background(), RunConfig{Capture: true, Invoke: "add", InvokeArgs: []string{"1"}}); err == nil || !strings.Contains(err.Error(), "2 parameter(s), 1 given") {
		t.Fatalf("wrong arity: %v", err)
	}
}

// The WASI errors of the in-memory fd_read/fd_write, and the output cap.
func TestCapturedStdioErrors(t *testing.T) {
	e := newEngine(t, Options{})
	m := load(t, e, `(module
  (import "wasi_snapshot_preview1" "fd_read" (func $r (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "0123456789abcdefghij")
  (func $expect (param $got i32) (param $want i32) (param $code i32)
    (if (i32.ne (local.get $got) (local.get $want)) (then (call $exit (local.get $code)))))
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 0x100)) (i32.store (i32.const 4) (i32.const 20))
    ;; more than 1024 iovecs: EINVAL
    (call $expect (call $w (i32.const 1) (i32.const 0) (i32.const 1025) (i32.const 8)) (i32.const 28) (i32.const 10))
    ;; an iovec whose buffer runs past the end of memory: EFAULT, nothing written
    (i32.store (i32.const 0x40) (i32.const 0x100)) (i32.store (i32.const 0x44) (i32.const 4))
    (i32.store (i32.const 0x48) (i32.const 0xfff0)) (i32.store (i32.const 0x4c) (i32.const 0x20))
    (call $expect (call $w (i32.const 1) (i32.const 0x40) (i32.const 2) (i32.const 8)) (i32.const 21) (i32.const 11))
    ;; the result pointer out of bounds: EFAULT
    (call $expect (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 0x10000)) (i32.const 21) (i32.const 12))
    ;; reading stdout, writing stdin: EBADF
    (call $expect (call $r (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)) (i32.const 8) (i32.const 13))
    (call $expect (call $w (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)) (i32.const 8) (i32.const 14))
    ;; past the cap the write still succeeds (as if read and dropped): nwritten is the full length
    (call $expect (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)) (i32.const 0) (i32.const 15))
    (call $expect (i32.load (i32.const 8)) (i32.const 20) (i32.const 16))
    ;; stdin spread over two iovecs
    (i32.store (i32.const 0x10) (i32.const 0x200)) (i32.store (i32.const 0x14) (i32.const 2))
    (i32.store (i32.const 0x18) (i32.const 0x300)) (i32.store (i32.const 0x1c) (i32.const 8))
    (call $expect (call $r (i32.const 0) (i32.const 0x10) (i32.const 2) (i32.const 8)) (i32.const 0) (i32.const 17))
    (call $expect (i32.load (i32.const 8)) (i32.const 5) (i32.const 18))
    (call $expect (i32.load16_u (i32.const 0x200)) (i32.const 0x6968) (i32.const 19))
    (call $expect (i32.load8_u (i32.const 0x302)) (i32.const 0x21) (i32.const 20))))`)
	var out bytes.Buffer
	res, err := m.Run(context.Background(), RunConfig{Capture: true, Stdin: []byte("hi, !"), Stdout: &out, MaxStdout: 10})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	if out.String() != "0123456789" {
		t.Fatalf("stdout past the cap: %q", out.String())
	}
}

// Concurrent captured runs each see their own stdin and stdout.
func TestCapturedStdioConcurrent(t *testing.T) {
	e := newEngine(t, Options{PoolSize: 16})
	m := load(t, e, echoWAT)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				in := fmt.Sprintf("goroutine %d run %d", g, i)
				var out bytes.Buffer
				if res, err := m.Run(context.Background(), RunConfig{Capture: true, Stdin: []byte(in), Stdout: &out}); err != nil || res.ExitCode != 0 || out.String() != "hello "+in {
					errs <- fmt.Errorf("%s: %q %v %+v", in, out.String(), err, res)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
