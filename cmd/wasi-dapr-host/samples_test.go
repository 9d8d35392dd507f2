package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testenv"
)

// sampleWasm returns a built sample guest; `make samples` (part of `make test`) builds them from source.
func sampleWasm(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(testenv.RepoRoot(t), rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not built: run `make samples` (or `make test`) first", rel)
	}
	return p
}

// The AssemblyScript seed flow against a real daprd: save a string, bulk-save a JSON object, read both
// back, compare, report — and the state really is in the store afterwards.
func TestAssemblyScriptSeedFlow(t *testing.T) {
	wasm := sampleWasm(t, "samples/assemblyscript/build/cli.wasm")
	d := testenv.StartDaprd(t, testenv.DaprdOptions{AppID: "seed"})
	bin := testenv.HostBinary(t)
	r := testenv.Run(t, 60*time.Second, d.Env(), bin, "run", "--cache-dir", t.TempDir(), wasm)
	if r.Code != 0 || !strings.Contains(r.Stdout, "seed flow: OK") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{`weapon = "Death Star"`, `planets = {"name":"Tatooine","test":123}`} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.Stdout)
		}
	}
	if code, body := daprGet(t, d, "/v1.0/state/statestore/weapon"); code != 200 || body != `"Death Star"` {
		t.Errorf("weapon in daprd: %d %s", code, body)
	}
	if code, body := daprGet(t, d, "/v1.0/state/statestore/planets"); code != 200 || body != `{"name":"Tatooine","test":123}` {
		t.Errorf("planets in daprd: %d %s", code, body)
	}
	// A store daprd does not have: the guest reports the failure and exits 1.
	r = testenv.Run(t, 60*time.Second, d.Env(), bin, "run", "--env", "STATE_STORE=nosuchstore", wasm)
	if r.Code != 1 || !strings.Contains(r.Stderr, "seed flow: FAILED") {
		t.Fatalf("missing store: exit %d stderr %s", r.Code, r.Stderr)
	}
}
