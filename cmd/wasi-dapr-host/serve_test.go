package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testenv"
	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testguest"
)

// control is the test's side of the relay guests: it sees what each guest was given and scripts its
// answer.
type control struct {
	url   string
	mu    sync.Mutex
	calls map[string]int
	last  map[string][]byte
}

func startControl(t *testing.T) *control {
	c := &control{calls: map[string]int{}, last: map[string][]byte{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.calls[r.URL.Path]++
		n := c.calls[r.URL.Path]
		c.last[r.URL.Path] = body
		c.mu.Unlock()
		switch r.URL.Path {
		case "/flaky": // fails first, succeeds after: Dapr must deliver again
			if n == 1 {
				io.WriteString(w, "status: 500\n\n")
				return
			}
			io.WriteString(w, "content-type: application/json\n\n{}")
		case "/poison":
			io.WriteString(w, "status: 404\n\n")
		case "/slow":
			time.Sleep(800 * time.Millisecond)
			io.WriteString(w, "content-type: text/plain\n\nslow done")
		default:
			io.WriteString(w, "content-type: text/plain\n\nrelayed")
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c.url = "http://" + l.Addr().String()
	return c
}

func (c *control) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[path]
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const serveManifest = `
defaults:
  timeout: 5s
modules:
  - name: echo
    path: echo.wat
    routes: [/echo, /echo/...]
  - name: saver
    path: saver.wat
    subscriptions:
      - {pubsub: pubsub, topic: orders, route: /events/orders}
  - name: flaky
    path: flaky.wat
    subscriptions:
      - {pubsub: pubsub, topic: flaky, route: /events/flaky}
  - name: poison
    path: poison.wat
    subscriptions:
      - {pubsub: pubsub, topic: poison, route: /events/poison}
  - name: tick
    path: tick.wat
    bindings: [tick]
  - name: slow
    path: slow.wat
    routes: [/slow]
    concurrency: 2
    queue: 0
  - name: spin
    path: spin.wat
    routes: [/spin]
    timeout: 300ms
  - name: trap
    path: trap.wat
    routes: [/trap]
  - name: nohdr
    path: nohdr.wat
    routes: [/nohdr]
`

const cronComponent = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: tick
spec:
  type: bindings.cron
  version: v1
  metadata:
    - name: schedule
      value: "@every 1s"
    - name: direction
      value: input
`

// setupServe writes the manifest, its guests and the resources, then starts the host and daprd.
func setupServe(t *testing.T, protocol string) (*testenv.Daprd, *testenv.Process, *control, int) {
	t.Helper()
	dir := t.TempDir()
	ctl := startControl(t)
	appPort, daprPort := testenv.FreePort(t), testenv.FreePort(t)
	state := fmt.Sprintf("http://127.0.0.1:%d/v1.0/state/statestore", daprPort)
	echo, err := os.ReadFile("testdata/echo.wat")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"wasi-dapr.yaml": serveManifest,
		"echo.wat":       string(echo),
		"saver.wat":      testguest.SaveStdin(state, "last-order"),
		"flaky.wat":      testguest.Relay(ctl.url + "/flaky"),
		"poison.wat":     testguest.Relay(ctl.url + "/poison"),
		"tick.wat":       testguest.Relay(ctl.url + "/tick"),
		"slow.wat":       testguest.Relay(ctl.url + "/slow"),
		"spin.wat":       `(module (memory (export "memory") 1) (func (export "_start") (loop br 0)))`,
		"trap.wat":       `(module (memory (export "memory") 1) (func (export "_start") unreachable))`,
		"nohdr.wat": `(module (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
			(memory (export "memory") 1) (data (i32.const 0x100) "garbage")
			(func (export "_start") (i32.store (i32.const 0) (i32.const 0x100)) (i32.store (i32.const 4) (i32.const 7))
			  (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := filepath.Join(dir, "components")
	os.MkdirAll(res, 0o755)
	for _, f := range []string{"statestore.yaml", "pubsub.yaml"} {
		b, _ := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "components", f))
		os.WriteFile(filepath.Join(res, f), b, 0o644)
	}
	os.WriteFile(filepath.Join(res, "tick.yaml"), []byte(cronComponent), 0o644)

	env := []string{
		"APP_PORT=" + strconv.Itoa(appPort), "APP_PROTOCOL=" + protocol, "DAPR_HTTP_PORT=" + strconv.Itoa(daprPort),
		"WASI_DAPR_LISTEN_ADDRESS=127.0.0.1", "WASI_DAPR_CACHE_DIR=" + filepath.Join(dir, "cache"),
		"WASI_DAPR_ALLOW_HOSTS=" + fmt.Sprintf("http://127.0.0.1:%d,%s", daprPort, ctl.url),
	}
	host := testenv.Start(t, env, testenv.HostBinary(t), "serve", "--config", filepath.Join(dir, "wasi-dapr.yaml"), "--log-format", "json", "--grace", "5s")
	if protocol == "http" {
		testenv.WaitHTTP(t, host, fmt.Sprintf("http://127.0.0.1:%d/healthz", appPort), 30*time.Second)
	} else {
		testenv.WaitTCP(t, host, fmt.Sprintf("127.0.0.1:%d", appPort), 30*time.Second)
	}
	d := testenv.StartDaprd(t, testenv.DaprdOptions{AppID: "wasm-" + protocol, AppPort: appPort, AppProtocol: protocol,
		HTTPPort: daprPort, ResourcesPath: res})
	// daprd reads subscriptions once the app channel is up; wait until it reports them.
	waitFor(t, "daprd to load the subscriptions", 30*time.Second, func() bool {
		_, body := daprGet(t, d, "/v1.0/metadata")
		return strings.Contains(body, `"poison"`)
	})
	return d, host, ctl, appPort
}

func invoke(t *testing.T, d *testenv.Daprd, method string, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(d.HTTPURL()+"/v1.0/invoke/"+d.AppID+"/method/"+method, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func publish(t *testing.T, d *testenv.Daprd, topic, data string) {
	t.Helper()
	resp, err := http.Post(d.HTTPURL()+"/v1.0/publish/pubsub/"+topic, "application/json", strings.NewReader(data))
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("publish %s: %v %v", topic, resp, err)
	}
	resp.Body.Close()
}

func TestServeHTTP(t *testing.T) { testServe(t, "http") }
func TestServeGRPC(t *testing.T) { testServe(t, "grpc") }

func testServe(t *testing.T, protocol string) {
	d, host, ctl, appPort := setupServe(t, protocol)

	t.Run("invocation round trip, binary body, fresh instance each time", func(t *testing.T) {
		body := []byte{0, 1, 2, 0xff, 0xfe, 'h', 'i', '\n', 0}
		for i := 0; i < 3; i++ {
			resp, got := invoke(t, d, "echo/item", body)
			if resp.StatusCode != 200 || !bytes.Equal(got, body) {
				t.Fatalf("status %d body %q", resp.StatusCode, got)
			}
			if protocol == "http" && resp.Header.Get("X-Calls") != "1" {
				t.Fatalf("a guest global counted %q calls: state survived between requests", resp.Header.Get("X-Calls"))
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Fatalf("content type %q", ct)
			}
		}
	})
	t.Run("unknown route, trap, timeout and a guest without headers cost only their request", func(t *testing.T) {
		// Over gRPC the host answers with status codes that daprd turns back into the same HTTP ones.
		cases := map[string]int{"nosuch": 404, "trap": 500, "spin": 504, "nohdr": 500}
		for method, want := range cases {
			if resp, body := invoke(t, d, method, nil); resp.StatusCode != want {
				t.Errorf("%s: status %d (%s), want %d", method, resp.StatusCode, body, want)
			}
		}
		if resp, _ := invoke(t, d, "echo", []byte("still alive")); resp.StatusCode != 200 {
			t.Fatalf("the host stopped serving after failures: %d", resp.StatusCode)
		}
	})
	t.Run("published event reaches the guest, which saves it to state", func(t *testing.T) {
		publish(t, d, "orders", `{"id":1,"item":"droid"}`)
		var saved map[string]any
		waitFor(t, "the saved event", 10*time.Second, func() bool {
			code, body := daprGet(t, d, "/v1.0/state/statestore/last-order")
			return code == 200 && json.Unmarshal([]byte(body), &saved) == nil
		})
		data, _ := saved["data"].(map[string]any)
		if saved["topic"] != "orders" || saved["pubsubname"] != "pubsub" || data["item"] != "droid" {
			t.Fatalf("saved event %v", saved)
		}
	})
	t.Run("a guest that fails first is delivered again", func(t *testing.T) {
		publish(t, d, "flaky", `{"n":1}`)
		waitFor(t, "a second delivery", 10*time.Second, func() bool { return ctl.count("/flaky") >= 2 })
		time.Sleep(500 * time.Millisecond)
		if n := ctl.count("/flaky"); n != 2 {
			t.Fatalf("%d deliveries, want 2 (retry once, then success)", n)
		}
	})
	t.Run("404 drops the event", func(t *testing.T) {
		publish(t, d, "poison", `{"n":1}`)
		waitFor(t, "the delivery", 10*time.Second, func() bool { return ctl.count("/poison") >= 1 })
		time.Sleep(700 * time.Millisecond)
		if n := ctl.count("/poison"); n != 1 {
			t.Fatalf("%d deliveries of a dropped event", n)
		}
	})
	t.Run("input binding (cron) triggers a guest", func(t *testing.T) {
		waitFor(t, "a cron tick", 10*time.Second, func() bool { return ctl.count("/tick") >= 1 })
	})
	if protocol == "http" {
		t.Run("concurrency limit with no queue answers 503 with Retry-After", func(t *testing.T) {
			var wg sync.WaitGroup
			var busy, ok atomic.Int32
			for i := 0; i < 3; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/slow", appPort), "text/plain", nil)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					switch {
					case resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "":
						busy.Add(1)
					case resp.StatusCode == 200:
						ok.Add(1)
					}
				}()
				time.Sleep(50 * time.Millisecond)
			}
			wg.Wait()
			if ok.Load() != 2 || busy.Load() != 1 {
				t.Fatalf("%d ok, %d busy; want 2 and 1", ok.Load(), busy.Load())
			}
		})
		t.Run("metrics", func(t *testing.T) {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", appPort))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, want := range []string{`wasi_dapr_requests_total{kind="invoke",module="echo",status="200"}`,
				`wasi_dapr_errors_total{module="spin",reason="timeout"}`, `wasi_dapr_instantiate_duration_seconds_count{module="echo"}`} {
				if !strings.Contains(string(b), want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		})
	}
	t.Run("graceful shutdown finishes in-flight requests", func(t *testing.T) {
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, body := invoke(t, d, "slow", nil)
				codes[i] = resp.StatusCode
				if resp.StatusCode == 200 && string(body) != "slow done" {
					codes[i] = -1
				}
			}()
		}
		waitFor(t, "requests in flight", 5*time.Second, func() bool { return ctl.count("/slow") >= 2+map[string]int{"http": 2, "grpc": 0}[protocol] })
		if code := host.Signal(syscall.SIGTERM, 10*time.Second); code != 0 {
			t.Fatalf("host exit %d after SIGTERM", code)
		}
		wg.Wait()
		if codes[0] != 200 || codes[1] != 200 {
			t.Fatalf("in-flight requests got %v", codes)
		}
	})
}

// The --module form, request limits and start-up errors, straight to the app port (no daprd needed).
func TestServeModuleFlags(t *testing.T) {
	bin := testenv.HostBinary(t)
	dir := t.TempDir()
	echo, _ := os.ReadFile("testdata/echo.wat")
	mod := filepath.Join(dir, "echo.wat")
	os.WriteFile(mod, echo, 0o644)
	port := testenv.FreePort(t)
	p := testenv.Start(t, []string{"APP_PORT=" + strconv.Itoa(port)}, bin, "serve", "--module", mod, "--listen-address", "127.0.0.1",
		"--subscribe", "pubsub/orders", "--subscribe", "pubsub/audit=/audit", "--binding", "cron-x", "--max-body", "1KiB")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	testenv.WaitHTTP(t, p, base+"/healthz", 30*time.Second)

	resp, err := http.Get(base + "/dapr/subscribe")
	if err != nil {
		t.Fatal(err)
	}
	var subs []map[string]any
	json.NewDecoder(resp.Body).Decode(&subs)
	resp.Body.Close()
	if len(subs) != 2 || subs[0]["topic"] != "orders" || subs[0]["route"] != "/events/pubsub/orders" || subs[1]["route"] != "/audit" {
		t.Fatalf("subscriptions %v", subs)
	}
	req, _ := http.NewRequest(http.MethodOptions, base+"/cron-x", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("OPTIONS on a binding: %v %v", resp, err)
	}
	// Every path goes to the one module.
	resp, err = http.Post(base+"/any/path?x=1", "text/plain", strings.NewReader("hi"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("catch-all route: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Post(base+"/big", "text/plain", strings.NewReader(strings.Repeat("x", 2048)))
	if err != nil || resp.StatusCode != 413 {
		t.Fatalf("oversized body: %v %v", resp, err)
	}
	resp.Body.Close()
	if code := p.Signal(syscall.SIGINT, 10*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGINT", code)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "give --module FILE or --config FILE"},
		{[]string{"serve", "--module", mod, "--config", mod}, "not both"},
		{[]string{"serve", "--module", mod, "--subscribe", "orders"}, "want PUBSUB/TOPIC"},
		{[]string{"serve", "--module", mod, "--app-protocol", "ws"}, "use http or grpc"},
		{[]string{"serve", "--module", filepath.Join(dir, "missing.wasm")}, "missing.wasm"},
		{[]string{"serve", "--config", writeFile(t, "bad.yaml", "modules:\n  - name: a\n    path: nowhere.wasm\n    routes: [/a]\n")}, "bad.yaml:3"},
	} {
		r := testenv.Run(t, 30*time.Second, []string{"APP_PORT=" + strconv.Itoa(testenv.FreePort(t))}, bin, c.args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q lacks %q", c.args, r.Code, r.Stderr, c.want)
		}
	}
}

// A connection that never sends a request (a client's spare pooled connection) does not hold shutdown:
// SIGTERM ends the host at once and cleanly, not after --grace with an error about in-flight requests.
func TestServeShutdownWithIdleConnection(t *testing.T) {
	dir := t.TempDir()
	echo, _ := os.ReadFile("testdata/echo.wat")
	mod := filepath.Join(dir, "echo.wat")
	os.WriteFile(mod, echo, 0o644)
	port := testenv.FreePort(t)
	p := testenv.Start(t, []string{"APP_PORT=" + strconv.Itoa(port)}, testenv.HostBinary(t), "serve", "--module", mod,
		"--listen-address", "127.0.0.1", "--grace", "20s")
	testenv.WaitHTTP(t, p, fmt.Sprintf("http://127.0.0.1:%d/healthz", port), 30*time.Second)
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(100 * time.Millisecond) // accepted by the server
	// net/http alone would wait 5s for such a connection; 3s is well over what shutdown needs.
	if code := p.Signal(syscall.SIGTERM, 3*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM (-1: still running after 3s); output:\n%s", code, p.Output())
	}
	if strings.Contains(p.Output(), "did not finish") {
		t.Fatalf("shutdown reported unfinished requests:\n%s", p.Output())
	}
}
