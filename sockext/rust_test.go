package sockext

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testenv"
)

// buildRustGuest compiles testdata/rust/<name>.rs with Debian's rustc for wasm32-wasi (make test
// installs it: apt-get install rustc libstd-rust-dev-wasm32).
func buildRustGuest(t *testing.T, name string) []byte {
	t.Helper()
	rustc := "/usr/bin/rustc"
	if _, err := os.Stat(rustc); err != nil {
		t.Fatalf("%s is needed to build the Rust test guest: apt-get install rustc libstd-rust-dev-wasm32 (make test does)", rustc)
	}
	out := filepath.Join(t.TempDir(), name+".wasm")
	cmd := exec.Command(rustc, "--edition", "2021", "--target", "wasm32-wasi", "-C", "opt-level=s", "-C", "strip=debuginfo",
		filepath.Join("testdata", "rust", name+".rs"), "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rustc: %v\n%s", err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// A Rust guest with its own extern bindings resolves the sidecar by name, speaks HTTP/1.1 to a real
// daprd over one socket to save state and read it back; connecting elsewhere and listening without a
// grant are refused.
func TestRustGuestTalksToDaprd(t *testing.T) {
	wasm := buildRustGuest(t, "sockhttp")
	d := testenv.StartDaprd(t, testenv.DaprdOptions{AppID: "sock-app"})
	port := strconv.Itoa(d.HTTPPort)
	getenv := func(k string) string {
		if k == "DAPR_HTTP_PORT" {
			return port
		}
		return ""
	}
	entries, err := allowlist.Sidecar(getenv) // the default list: the sidecar, by HTTP and by TCP
	if err != nil {
		t.Fatal(err)
	}
	list, err := allowlist.Parse(entries)
	if err != nil {
		t.Fatal(err)
	}
	x, err := New(Config{Allow: list, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	e, err := host.NewEngine(host.Options{Extensions: []host.Extension{x}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	m, err := e.LoadBytes("sockhttp.wasm", wasm)
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (host.Result, string, string) {
		var out, errb bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := m.Run(ctx, host.RunConfig{Args: args, Capture: true, Stdout: &out, Stderr: &errb})
		if err != nil {
			t.Fatal(err)
		}
		return res, out.String(), errb.String()
	}
	res, out, errOut := run("save", "localhost", port, "statestore", "sock-key", `{"via":"socket"}`)
	if res.ExitCode != 0 || strings.TrimSpace(out) != `save 204 get 200 {"via":"socket"}` {
		t.Fatalf("exit %d stdout %q stderr %q", res.ExitCode, out, errOut)
	}
	// The state really landed: read it through daprd's HTTP API from the test.
	resp, err := httpGet(d.HTTPURL() + "/v1.0/state/statestore/sock-key")
	if err != nil || resp != `{"via":"socket"}` {
		t.Fatalf("state in daprd: %q %v", resp, err)
	}
	// daprd's metrics port is on the same host but not in the list.
	res, _, errOut = run("save", "localhost", strconv.Itoa(d.MetricsPort), "statestore", "k", "1")
	if res.ExitCode != 3 || !strings.Contains(errOut, "sock_connect failed: errno 76") {
		t.Fatalf("connect elsewhere: exit %d stderr %q", res.ExitCode, errOut)
	}
	res, _, errOut = run("listen", strconv.Itoa(testenv.FreePort(t)))
	if res.ExitCode != 3 || !strings.Contains(errOut, "sock_bind failed: errno 76") {
		t.Fatalf("listen without a grant: exit %d stderr %q", res.ExitCode, errOut)
	}
}
