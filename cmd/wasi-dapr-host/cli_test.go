package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testenv"
)

const printGuest = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "to-stdout\n")
  (data (i32.const 0x200) "to-stderr\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 0x100)) (i32.store (i32.const 4) (i32.const 10))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 0) (i32.const 0x200))
    (drop (call $w (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $exit (i32.const 42))))`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCLIErrors(t *testing.T) {
	bin := testenv.HostBinary(t)
	notWasm := writeFile(t, "notes.wasm", "hello")
	imports := writeFile(t, "imports.wat", `(module
		(import "env" "abort" (func (param i32 i32 i32 i32)))
		(import "env" "seed" (func (result f64)))
		(import "wasi_snapshot_preview1" "sock_accept_v2" (func))
		(func (export "_start")))`)
	ok := writeFile(t, "ok.wat", `(module (func (export "_start")))`)
	for _, c := range []struct {
		name string
		env  []string
		args []string
		code int
		want []string
	}{
		{"no command", nil, nil, 2, []string{"Usage"}},
		{"unknown command", nil, []string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`}},
		{"no module", nil, []string{"run"}, 2, []string{"no module given"}},
		{"missing file", nil, []string{"run", "/nonexistent/app.wasm"}, 1, []string{"/nonexistent/app.wasm: no such file"}},
		{"not wasm", nil, []string{"run", notWasm}, 1, []string{"not a WebAssembly module", `found "hello"`}},
		{"unknown imports are all listed", nil, []string{"run", imports}, 1,
			[]string{"3 function(s)", "env::abort", "env::seed", "wasi_snapshot_preview1::sock_accept_v2"}},
		{"bad size", nil, []string{"run", "--max-memory", "lots", ok}, 2, []string{"--max-memory", `"lots" is not a size`}},
		{"bad duration", nil, []string{"run", "--timeout", "5", ok}, 2, []string{"--timeout", "not a duration"}},
		{"bad handles", nil, []string{"run", "--max-http-handles", "0", ok}, 2, []string{"--max-http-handles 0"}},
		{"bad allow-list entry", nil, []string{"run", "--allow-host", "http://[::1", ok}, 2, []string{"--allow-host", "http://[::1"}},
		{"bad env entry", nil, []string{"run", "--env", "=x", ok}, 2, []string{`--env "=x"`}},
		{"bad dir", nil, []string{"run", "--dir", "/nonexistent-dir", ok}, 2, []string{"is not a directory"}},
		{"bad env variable", []string{"WASI_DAPR_MAX_HTTP_BODY=-3"}, []string{"run", ok}, 2, []string{"WASI_DAPR_MAX_HTTP_BODY"}},
		{"bad DAPR_HTTP_PORT", []string{"DAPR_HTTP_PORT=http"}, []string{"run", ok}, 2, []string{"DAPR_HTTP_PORT"}},
		{"unknown flag", nil, []string{"run", "--frob", ok}, 2, []string{"unknown flag --frob"}},
		{"bad log level", nil, []string{"run", "--log-level", "loud", ok}, 2, []string{"--log-level"}},
		{"bad log level from the environment", []string{"WASI_DAPR_LOG_LEVEL=loud"}, []string{"run", ok}, 2, []string{"--log-level \"loud\""}},
		{"bad socket limit", nil, []string{"run", "--max-sockets", "0", ok}, 2, []string{"--max-sockets 0"}},
		{"bad listen grant", nil, []string{"run", "--tcp-listen", "localhost", ok}, 2, []string{"--tcp-listen \"localhost\""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := testenv.Run(t, 30*time.Second, c.env, bin, c.args...)
			if r.Code != c.code {
				t.Errorf("exit %d, want %d; stderr %s", r.Code, c.code, r.Stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr %q lacks %q", r.Stderr, w)
				}
			}
			if c.code != 0 && c.name != "no command" && strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
				t.Errorf("error is not one line: %q", r.Stderr)
			}
		})
	}
}

func TestCLIGuestResults(t *testing.T) {
	bin := testenv.HostBinary(t)
	cache := t.TempDir()
	run := func(env []string, args ...string) testenv.Result {
		return testenv.Run(t, 30*time.Second, env, bin, append([]string{"run", "--cache-dir", cache}, args...)...)
	}
	print := writeFile(t, "print.wat", printGuest)
	r := run(nil, print)
	if r.Code != 42 || r.Stdout != "to-stdout\n" || r.Stderr != "to-stderr\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	trap := writeFile(t, "trap.wat", `(module (func $explode unreachable) (func (export "_start") (call $explode)))`)
	r = run(nil, trap)
	if r.Code != 134 || !strings.Contains(r.Stderr, "unreachable") || !strings.Contains(r.Stderr, "wasm backtrace") || !strings.Contains(r.Stderr, "trap.wat!explode") {
		t.Fatalf("trap: exit %d stderr %q", r.Code, r.Stderr)
	}
	spin := writeFile(t, "spin.wat", `(module (func (export "_start") (loop br 0)))`)
	r = run(nil, "--timeout", "200ms", spin)
	if r.Code != 134 || !strings.Contains(r.Stderr, "timed out after 200ms") || r.Took > 10*time.Second {
		t.Fatalf("timeout: exit %d after %v, stderr %q", r.Code, r.Took, r.Stderr)
	}
	grow := writeFile(t, "grow.wat", `(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
		(memory (export "memory") 1)
		(func (export "_start") (call $exit (i32.ne (memory.grow (i32.const 32)) (i32.const -1)))))`)
	if r = run(nil, "--max-memory", "1MiB", grow); r.Code != 0 {
		t.Fatalf("growth past --max-memory succeeded: exit %d %s", r.Code, r.Stderr)
	}
	if r = run(nil, "--max-memory", "4MiB", grow); r.Code != 1 {
		t.Fatalf("growth within --max-memory failed: exit %d %s", r.Code, r.Stderr)
	}
	add := writeFile(t, "add.wat", `(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))`)
	if r = run(nil, "--invoke", "add", add, "40", "2"); r.Code != 0 || r.Stdout != "42\n" {
		t.Fatalf("invoke: exit %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	start := writeFile(t, "start.wat", `(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
		(memory (export "memory") 1) (func $s (call $exit (i32.const 5))) (start $s))`)
	if r = run(nil, start); r.Code != 5 {
		t.Fatalf("start section: exit %d %s", r.Code, r.Stderr)
	}
	// argv and env: the guest exits with argc*10+envc; only the given variables (plus the sidecar's
	// address, when set) reach it, never the host's own environment.
	counts := writeFile(t, "counts.wat", `(module
		(import "wasi_snapshot_preview1" "args_sizes_get" (func $as (param i32 i32) (result i32)))
		(import "wasi_snapshot_preview1" "environ_sizes_get" (func $es (param i32 i32) (result i32)))
		(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
		(memory (export "memory") 1)
		(func (export "_start")
		  (drop (call $as (i32.const 0) (i32.const 4))) (drop (call $es (i32.const 8) (i32.const 12)))
		  (call $exit (i32.add (i32.mul (i32.load (i32.const 0)) (i32.const 10)) (i32.load (i32.const 8))))))`)
	env := []string{"SECRET=x", "DAPR_API_TOKEN=tok", "DAPR_HTTP_PORT=3500", "COPY_ME=1"}
	if r = run(env, "--env", "A=1", "--env", "COPY_ME", counts, "--", "x", "-y"); r.Code != 33 {
		t.Fatalf("argc*10+envc = %d, want 33 (3 args; A, COPY_ME, DAPR_HTTP_PORT)", r.Code)
	}
	if r = run(env, "--dapr-env=false", counts); r.Code != 10 {
		t.Fatalf("--dapr-env=false: %d, want 10", r.Code)
	}
	// The module cache: the second run loads compiled code.
	entries, _ := filepath.Glob(filepath.Join(cache, "*.cwasm"))
	if len(entries) < 5 {
		t.Fatalf("cache holds %d entries", len(entries))
	}
}

func TestCLIVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := realMain([]string{"version"}, &out, &errb); code != 0 {
		t.Fatal(code)
	}
	for _, w := range []string{"wasi-dapr-host", "wasmtime 39.0.1", "Dapr API v1.0"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("version output %q lacks %q", out.String(), w)
		}
	}
}

// Host logs wait until the guest ends when they share its stream, so guest output is never split by them.
func TestLogsNotMixedWithGuestOutput(t *testing.T) {
	bin := testenv.HostBinary(t)
	// The guest writes to stderr, makes a denied request (a host warning), then writes again.
	wat := `(module
	  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
	  (import "wasi_experimental_http" "req" (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
	  (memory (export "memory") 1)
	  (data (i32.const 0x100) "guest-line-1\n")
	  (data (i32.const 0x200) "guest-line-2\n")
	  (data (i32.const 0x300) "http://127.0.0.1:9/x")
	  (data (i32.const 0x400) "GET")
	  (func $say (param i32)
	    (i32.store (i32.const 0) (local.get 0)) (i32.store (i32.const 4) (i32.const 13))
	    (drop (call $w (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8))))
	  (func (export "_start")
	    (call $say (i32.const 0x100))
	    (drop (call $req (i32.const 0x300) (i32.const 20) (i32.const 0x400) (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0x10) (i32.const 0x14)))
	    (call $say (i32.const 0x200))))`
	p := writeFile(t, "mixed.wat", wat)
	r := testenv.Run(t, 30*time.Second, nil, bin, "run", "--log-format", "json", p)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	if !strings.HasPrefix(r.Stderr, "guest-line-1\nguest-line-2\n") || !strings.Contains(r.Stderr, "denied") {
		t.Fatalf("guest output split by host logs: %q", r.Stderr)
	}
	logFile := filepath.Join(t.TempDir(), "host.log")
	r = testenv.Run(t, 30*time.Second, nil, bin, "run", "--log-output", logFile, p)
	logged, _ := os.ReadFile(logFile)
	if r.Stderr != "guest-line-1\nguest-line-2\n" || !strings.Contains(string(logged), "denied") {
		t.Fatalf("with --log-output: stderr %q, log %q", r.Stderr, logged)
	}
}

// --dir preopens: the guest creates a file in its first preopen (fd 3) and exits with the errno.
func TestCLIPreopens(t *testing.T) {
	bin := testenv.HostBinary(t)
	wat := writeFile(t, "create.wat", `(module
	  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
	  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
	  (memory (export "memory") 1)
	  (data (i32.const 0x100) "made-by-guest.txt")
	  (func (export "_start")
	    (call $exit (call $open (i32.const 3) (i32.const 0) (i32.const 0x100) (i32.const 17)
	      (i32.const 1) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 0x10)))))`)
	dir := t.TempDir()
	r := testenv.Run(t, 30*time.Second, nil, bin, "run", "--dir", dir+":/data", wat)
	if r.Code != 0 {
		t.Fatalf("create in a writable preopen: errno %d %s", r.Code, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "made-by-guest.txt")); err != nil {
		t.Fatal("the file did not land in the host directory")
	}
	ro := t.TempDir()
	r = testenv.Run(t, 30*time.Second, nil, bin, "run", "--dir", ro+":/data:ro", wat)
	if r.Code == 0 {
		t.Fatal("created a file in a read-only preopen")
	}
	if _, err := os.Stat(filepath.Join(ro, "made-by-guest.txt")); err == nil {
		t.Fatal("the read-only directory was written")
	}
	if r = testenv.Run(t, 30*time.Second, nil, bin, "run", wat); r.Code == 0 {
		t.Fatal("opened a file with no preopen")
	}
}

// WASI_DAPR_ALLOW_HOSTS takes a comma list; a --allow-host flag replaces it.
func TestCLIAllowHostsFromEnv(t *testing.T) {
	bin := testenv.HostBinary(t)
	bad := []string{"WASI_DAPR_ALLOW_HOSTS=http://127.0.0.1:3500, ftp://x"}
	r := testenv.Run(t, 30*time.Second, bad, bin, "run", writeFile(t, "ok.wat", `(module (func (export "_start")))`))
	if r.Code != 2 || !strings.Contains(r.Stderr, "ftp://x") {
		t.Fatalf("bad entry from the environment: exit %d %s", r.Code, r.Stderr)
	}
	r = testenv.Run(t, 30*time.Second, bad, bin, "run", "--allow-host", "http://127.0.0.1:3500", writeFile(t, "ok.wat", `(module (func (export "_start")))`))
	if r.Code != 0 {
		t.Fatalf("flag should replace the environment's list: exit %d %s", r.Code, r.Stderr)
	}
}
