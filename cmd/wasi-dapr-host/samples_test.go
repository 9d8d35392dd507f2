package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
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

// The seed flow of each language's cli sample against a real daprd: save a string, bulk-save a JSON
// object, read both back, compare, report — and the state really is in the store afterwards.
func TestSeedFlowAssemblyScript(t *testing.T) {
	testSeedFlow(t, "samples/assemblyscript/build/cli.wasm")
}
func TestSeedFlowRust(t *testing.T) { testSeedFlow(t, "samples/rust/build/cli.wasm") }

func testSeedFlow(t *testing.T, rel string) {
	wasm := sampleWasm(t, rel)
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

// The order service of each language under serve mode, behind a real daprd: orders are validated,
// stored and published; the subscription counts them; everything is reached through daprd's invoke API.
func TestOrderServiceAssemblyScript(t *testing.T) { testOrderService(t, "samples/assemblyscript") }
func TestOrderServiceRust(t *testing.T)           { testOrderService(t, "samples/rust") }

func testOrderService(t *testing.T, dir string) {
	root := testenv.RepoRoot(t)
	sampleWasm(t, filepath.Join(dir, "build/service.wasm"))
	appPort, daprPort := testenv.FreePort(t), testenv.FreePort(t)
	// The sample's own manifest, unchanged: the host tells the guest where its sidecar is.
	env := []string{"APP_PORT=" + strconv.Itoa(appPort), "DAPR_HTTP_PORT=" + strconv.Itoa(daprPort),
		"WASI_DAPR_LISTEN_ADDRESS=127.0.0.1", "WASI_DAPR_CACHE_DIR=" + t.TempDir()}
	p := testenv.Start(t, env, testenv.HostBinary(t), "serve", "--config", filepath.Join(root, dir, "wasi-dapr.yaml"), "--log-format", "json")
	testenv.WaitHTTP(t, p, fmt.Sprintf("http://127.0.0.1:%d/healthz", appPort), 30*time.Second)
	d := testenv.StartDaprd(t, testenv.DaprdOptions{AppID: "orders", AppPort: appPort, HTTPPort: daprPort})
	waitFor(t, "daprd to load the subscription", 30*time.Second, func() bool {
		_, body := daprGet(t, d, "/v1.0/metadata")
		return strings.Contains(body, "order-created")
	})
	call := func(method, path, body string) (int, string, http.Header) {
		req, _ := http.NewRequest(method, d.HTTPURL()+"/v1.0/invoke/orders/method/"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	for i := 1; i <= 3; i++ {
		code, body, hdr := call("POST", "orders", fmt.Sprintf(`{"id":"o%d","item":"droid","quantity":%d}`, i, i))
		if code != 201 || !strings.Contains(body, fmt.Sprintf(`"o%d"`, i)) || hdr.Get("Location") != fmt.Sprintf("/orders/o%d", i) {
			t.Fatalf("create o%d: %d %s location %q", i, code, body, hdr.Get("Location"))
		}
	}
	if code, body, _ := call("GET", "orders/o2", ""); code != 200 || !strings.Contains(body, `"droid"`) {
		t.Fatalf("get o2: %d %s", code, body)
	}
	if code, _, _ := call("GET", "orders/nope", ""); code != 404 {
		t.Fatalf("get a missing order: %d", code)
	}
	if code, body, _ := call("POST", "orders", `{"id":"o9","item":"droid","quantity":0}`); code != 400 || !strings.Contains(body, "quantity") {
		t.Fatalf("invalid order: %d %s", code, body)
	}
	if code, body := daprGet(t, d, "/v1.0/state/statestore/order-o1"); code != 200 || !strings.Contains(body, `"o1"`) {
		t.Fatalf("order-o1 in the store: %d %s", code, body)
	}
	waitFor(t, "the subscription to count 3 orders", 15*time.Second, func() bool {
		code, body, _ := call("GET", "stats", "")
		return code == 200 && strings.Contains(strings.ReplaceAll(body, " ", ""), `"created":3`)
	})
}
