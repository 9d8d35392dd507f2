package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

const wasiImports = `
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
`

func newEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	e, err := NewEngine(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func load(t testing.TB, e *Engine, wat string) *Module {
	t.Helper()
	m, err := e.LoadBytes("test.wasm", []byte(wat))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExitCodes(t *testing.T) {
	e := newEngine(t, Options{})
	cases := []struct {
		name     string
		wat      string
		rc       RunConfig
		code     int
		trap     string
		timedOut bool
	}{
		{"normal return", `(module (func (export "_start")))`, RunConfig{}, 0, "", false},
		{"proc_exit 3", `(module ` + wasiImports + ` (memory (export "memory") 1)
			(func (export "_start") (call $proc_exit (i32.const 3))))`, RunConfig{}, 3, "", false},
		{"proc_exit 0 early", `(module ` + wasiImports + ` (memory (export "memory") 1)
			(func (export "_start") (call $proc_exit (i32.const 0)) unreachable))`, RunConfig{}, 0, "", false},
		{"trap", `(module (func $boom unreachable) (func (export "_start") (call $boom)))`, RunConfig{}, TrapExitCode, "unreachable", false},
		{"trap backtrace names the function", `(module (func $deep_function unreachable) (func (export "_start") (call $deep_function)))`, RunConfig{}, TrapExitCode, "deep_function", false},
		{"timeout", `(module (func (export "_start") (loop br 0)))`, RunConfig{Timeout: 50 * time.Millisecond}, TrapExitCode, "timed out", true},
		{"start section only", `(module ` + wasiImports + ` (memory (export "memory") 1)
			(func $s (call $proc_exit (i32.const 7))) (start $s))`, RunConfig{}, 7, "", false},
		{"start section traps", `(module (func $s unreachable) (start $s))`, RunConfig{}, TrapExitCode, "unreachable", false},
		{"invoke named export", `(module (func (export "work") (result i32) i32.const 42) (func (export "_start") unreachable))`,
			RunConfig{Invoke: "work"}, 0, "", false},
		{"memory cap: grow beyond fails, guest sees -1 and exits 9", `(module ` + wasiImports + ` (memory (export "memory") 1)
			(func (export "_start")
			  (if (i32.eq (memory.grow (i32.const 64)) (i32.const -1)) (then (call $proc_exit (i32.const 9))))))`,
			RunConfig{MaxMemory: 1 << 20}, 9, "", false},
		{"memory cap: grow within cap succeeds", `(module ` + wasiImports + ` (memory (export "memory") 1)
			(func (export "_start")
			  (if (i32.eq (memory.grow (i32.const 10)) (i32.const -1)) (then (call $proc_exit (i32.const 9))))))`,
			RunConfig{MaxMemory: 1 << 20}, 0, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := load(t, e, c.wat)
			start := time.Now()
			res, err := m.Run(context.Background(), c.rc)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitCode != c.code {
				t.Errorf("exit code %d, want %d (trap %q)", res.ExitCode, c.code, res.Trap)
			}
			if c.trap != "" && !strings.Contains(res.Trap, c.trap) {
				t.Errorf("trap %q does not mention %q", res.Trap, c.trap)
			}
			if c.trap == "" && res.Trap != "" {
				t.Errorf("unexpected trap %q", res.Trap)
			}
			if res.TimedOut != c.timedOut {
				t.Errorf("TimedOut=%v, want %v", res.TimedOut, c.timedOut)
			}
			if c.timedOut && time.Since(start) > 5*time.Second {
				t.Errorf("timeout took %v", time.Since(start))
			}
		})
	}
}

func TestInvokeParamsAndResults(t *testing.T) {
	e := newEngine(t, Options{})
	m := load(t, e, `(module (func (export "add") (param i32 i64) (result i64) (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1))))`)
	res, err := m.Run(context.Background(), RunConfig{Invoke: "add", InvokeArgs: []string{"40", "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 1 || res.Results[0] != int64(42) {
		t.Fatalf("results %v, want [42]", res.Results)
	}
	for _, bad := range [][]string{{"1"}, {"x", "2"}, {"99999999999", "1"}} {
		if _, err := m.Run(context.Background(), RunConfig{Invoke: "add", InvokeArgs: bad}); err == nil {
			t.Errorf("args %v: no error", bad)
		}
	}
	_, err = m.Run(context.Background(), RunConfig{Invoke: "nope"})
	if err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "add") {
		t.Fatalf("unknown export error %v should name it and list the exports", err)
	}
}

func TestInitialMemoryOverCap(t *testing.T) {
	e := newEngine(t, Options{})
	m := load(t, e, `(module (memory (export "memory") 100) (func (export "_start")))`)
	_, err := m.Run(context.Background(), RunConfig{MaxMemory: 1 << 20})
	if err == nil || !strings.Contains(err.Error(), "--max-memory") {
		t.Fatalf("want a --max-memory error, got %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	e := newEngine(t, Options{})
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "hello.txt")
	os.WriteFile(notWasm, []byte("hello world"), 0o644)
	empty := filepath.Join(dir, "empty.wasm")
	os.WriteFile(empty, nil, 0o644)
	broken := filepath.Join(dir, "broken.wasm")
	os.WriteFile(broken, []byte("\x00asm\x01\x00\x00\x00\x01\xff"), 0o644)
	cases := []struct{ path, want string }{
		{filepath.Join(dir, "missing.wasm"), "no such file"},
		{notWasm, `magic bytes \0asm at the start, found "hello wo"`},
		{empty, "file is empty"},
		{broken, "invalid WebAssembly"},
	}
	for _, c := range cases {
		_, err := e.Load(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%s) = %v, want error containing %q", filepath.Base(c.path), err, c.want)
		}
	}
	_, err := e.LoadBytes("imports.wasm", []byte(`(module
		(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
		(import "env" "abort" (func (param i32 i32 i32 i32)))
		(import "wasi_snapshot_preview1" "no_such_call" (func))
		(import "wasi_experimental_http_typo" "req" (func)))`))
	if err == nil {
		t.Fatal("unknown imports accepted")
	}
	for _, want := range []string{"3 function(s)", "env::abort", "wasi_snapshot_preview1::no_such_call", "wasi_experimental_http_typo::req"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "fd_write") {
		t.Errorf("error %q lists a provided import", err)
	}
}

func TestModuleCache(t *testing.T) {
	dir := t.TempDir()
	wat := `(module (func (export "_start")))`
	e1 := newEngine(t, Options{CacheDir: dir})
	m1 := load(t, e1, wat)
	if m1.Cached {
		t.Fatal("first load claims the cache")
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "*.cwasm"))
	if len(entries) != 1 {
		t.Fatalf("cache holds %d entries, want 1", len(entries))
	}
	e2 := newEngine(t, Options{CacheDir: dir})
	m2 := load(t, e2, wat)
	if !m2.Cached {
		t.Fatal("second load did not use the cache")
	}
	if res, err := m2.Run(context.Background(), RunConfig{}); err != nil || res.ExitCode != 0 {
		t.Fatalf("cached module run: %v %v", res, err)
	}
	// A damaged entry is recompiled and replaced, not trusted.
	os.WriteFile(entries[0], []byte("garbage"), 0o600)
	e3 := newEngine(t, Options{CacheDir: dir})
	m3 := load(t, e3, wat)
	if m3.Cached {
		t.Fatal("damaged cache entry was used")
	}
	if _, err := m3.Run(context.Background(), RunConfig{}); err != nil {
		t.Fatal(err)
	}
	// Concurrent loads of a new module leave exactly one good entry and no temporary files.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := newEngine(t, Options{CacheDir: dir})
			m := load(t, e, `(module (func (export "_start") (drop (i32.const 5))))`)
			if _, err := m.Run(context.Background(), RunConfig{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	all, _ := os.ReadDir(dir)
	if len(all) != 2 {
		var names []string
		for _, a := range all {
			names = append(names, a.Name())
		}
		t.Fatalf("cache dir holds %v, want 2 entries", names)
	}
}

func TestArgsEnvPreopen(t *testing.T) {
	e := newEngine(t, Options{})
	// args_sizes_get / environ_sizes_get report counts; the guest exits with argc*10+envc.
	m := load(t, e, `(module
		(import "wasi_snapshot_preview1" "args_sizes_get" (func $as (param i32 i32) (result i32)))
		(import "wasi_snapshot_preview1" "environ_sizes_get" (func $es (param i32 i32) (result i32)))
		(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
		(memory (export "memory") 1)
		(func (export "_start")
		  (drop (call $as (i32.const 0) (i32.const 4)))
		  (drop (call $es (i32.const 8) (i32.const 12)))
		  (call $exit (i32.add (i32.mul (i32.load (i32.const 0)) (i32.const 10)) (i32.load (i32.const 8))))))`)
	res, err := m.Run(context.Background(), RunConfig{Args: []string{"a", "b"}, Env: []string{"A=1"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 31 {
		t.Fatalf("argc*10+envc = %d, want 31 (argv0 + 2 args, 1 env var, host env not leaked)", res.ExitCode)
	}
	if _, err := m.Run(context.Background(), RunConfig{Env: []string{"NOEQUALS"}}); err == nil {
		t.Fatal("malformed env accepted")
	}
	if _, err := m.Run(context.Background(), RunConfig{Preopens: []Preopen{{HostPath: "/does/not/exist", GuestPath: "/x"}}}); err == nil {
		t.Fatal("missing preopen dir accepted")
	}
}

func TestPooling(t *testing.T) {
	if !configLayoutOK() {
		t.Fatal("wasmtime-go's Config layout changed: the pooling allocator cannot be enabled")
	}
	e := newEngine(t, Options{PoolSize: 2, MaxMemory: 1 << 20})
	if !e.pooled {
		t.Fatal("pooling not enabled")
	}
	m := load(t, e, `(module (memory (export "memory") 1) (func (export "_start")))`)
	a, err := m.Instantiate(context.Background(), RunConfig{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Instantiate(context.Background(), RunConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// A third concurrent instance does not fit the pool: an error, not a crash.
	if _, err := m.Instantiate(context.Background(), RunConfig{}); err == nil {
		t.Fatal("instance beyond the pool was made")
	}
	a.Close()
	if c, err := m.Instantiate(context.Background(), RunConfig{}); err != nil {
		t.Fatalf("slot not reused after Close: %v", err)
	} else {
		c.Close()
	}
	b.Close()
	// A memory larger than a slot fails at instantiation with a clear message.
	_, err = e.LoadBytes("big.wasm", []byte(`(module (memory (export "memory") 32) (func (export "_start")))`))
	if err == nil || !strings.Contains(err.Error(), "--max-memory") || strings.Contains(err.Error(), "Stack backtrace") {
		t.Fatalf("2 MiB memory in 1 MiB slots: %v", err)
	}
}

func TestRecover(t *testing.T) {
	f := func() (code int32) {
		defer Recover(zerolog.Nop(), "boom", &code, 12)
		var m map[string]int
		m["x"] = 1 // a host-side bug
		return 0
	}
	if got := f(); got != 12 {
		t.Fatalf("a panicking host function returned %d, want the errno 12", got)
	}
}
