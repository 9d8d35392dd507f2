package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testenv"
	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testguest"
)

// app is a Dapr app written in Go that the tests put behind daprd: it subscribes to pubsub/orders,
// records what it receives and echoes invocations.
type app struct {
	port   int
	mu     sync.Mutex
	events []map[string]any
	got    chan struct{}
}

func startApp(t *testing.T) *app {
	t.Helper()
	a := &app{got: make(chan struct{}, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dapr/subscribe", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[{"pubsubname":"pubsub","topic":"orders","route":"/orders"}]`)
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		json.NewDecoder(r.Body).Decode(&ev)
		a.mu.Lock()
		a.events = append(a.events, ev)
		a.mu.Unlock()
		a.got <- struct{}{}
		io.WriteString(w, `{"status":"SUCCESS"}`)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "echo(%s %s)", r.Method, b)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	a.port = l.Addr().(*net.TCPAddr).Port
	return a
}

// runGuest writes a WAT guest to a file and runs it with the host binary.
func runGuest(t *testing.T, env []string, wat string, flags ...string) testenv.Result {
	t.Helper()
	path := filepath.Join(t.TempDir(), "guest.wat")
	if err := os.WriteFile(path, []byte(wat), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"run", "--log-format", "json", "--cache-dir", filepath.Join(t.TempDir(), "cache")}, flags...)
	args = append(args, path)
	return testenv.Run(t, 60*time.Second, env, testenv.HostBinary(t), args...)
}

func daprGet(t *testing.T, d *testenv.Daprd, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(d.HTTPURL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestGuestUsesRealDaprd(t *testing.T) {
	a := startApp(t)
	d := testenv.StartDaprd(t, testenv.DaprdOptions{AppID: "wasm-app", AppPort: a.port})
	env := d.Env()
	base := d.HTTPURL()
	state := base + "/v1.0/state/statestore"
	json := "content-type:application/json\n"

	t.Run("save", func(t *testing.T) {
		r := runGuest(t, env, testguest.Request("POST", state, json, `[{"key":"weapon","value":"Death Star"}]`))
		if r.Code != 0 {
			t.Fatalf("exit %d, stderr %s", r.Code, r.Stderr)
		}
		if code, body := daprGet(t, d, "/v1.0/state/statestore/weapon"); code != 200 || body != `"Death Star"` {
			t.Fatalf("state after save: %d %s", code, body)
		}
	})
	t.Run("bulk save", func(t *testing.T) {
		r := runGuest(t, env, testguest.Request("POST", state, json,
			`[{"key":"planets","value":{"name":"Tatooine","test":123}},{"key":"moon","value":"Yavin 4"}]`))
		if r.Code != 0 {
			t.Fatalf("exit %d, stderr %s", r.Code, r.Stderr)
		}
		if code, body := daprGet(t, d, "/v1.0/state/statestore/planets"); code != 200 || body != `{"name":"Tatooine","test":123}` {
			t.Fatalf("planets: %d %s", code, body)
		}
		if _, body := daprGet(t, d, "/v1.0/state/statestore/moon"); body != `"Yavin 4"` {
			t.Fatalf("moon: %s", body)
		}
	})
	t.Run("get", func(t *testing.T) {
		r := runGuest(t, env, testguest.Request("GET", state+"/weapon", "", ""))
		if r.Code != 0 || r.Stdout != `"Death Star"` {
			t.Fatalf("exit %d stdout %q stderr %s", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("delete", func(t *testing.T) {
		r := runGuest(t, env, testguest.Request("DELETE", state+"/moon", "", ""))
		if r.Code != 0 {
			t.Fatalf("exit %d stderr %s", r.Code, r.Stderr)
		}
		if code, body := daprGet(t, d, "/v1.0/state/statestore/moon"); code != 204 || body != "" {
			t.Fatalf("moon after delete: %d %q", code, body)
		}
	})
	t.Run("publish", func(t *testing.T) {
		r := runGuest(t, env, testguest.Request("POST", base+"/v1.0/publish/pubsub/orders", json, `{"id":7,"item":"droid"}`))
		if r.Code != 0 {
			t.Fatalf("exit %d stderr %s", r.Code, r.Stderr)
		}
		select {
		case <-a.got:
		case <-time.After(10 * time.Second):
			t.Fatal("the subscriber never received the event")
		}
		a.mu.Lock()
		ev := a.events[len(a.events)-1]
		a.mu.Unlock()
		data, _ := ev["data"].(map[string]any)
		if ev["topic"] != "orders" || ev["pubsubname"] != "pubsub" || data["item"] != "droid" {
			t.Fatalf("event %v", ev)
		}
	})
	t.Run("invoke", func(t *testing.T) {
		r := runGuest(t, env, testguest.Request("POST", base+"/v1.0/invoke/wasm-app/method/echo", "", "ping"))
		if r.Code != 0 || r.Stdout != "echo(POST ping)" {
			t.Fatalf("exit %d stdout %q stderr %s", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("localhost name is allowed by default", func(t *testing.T) {
		r := runGuest(t, env, testguest.Request("GET", strings.Replace(state, "127.0.0.1", "localhost", 1)+"/weapon", "", ""))
		if r.Code != 0 || r.Stdout != `"Death Star"` {
			t.Fatalf("exit %d stdout %q stderr %s", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("other destinations are denied and logged once", func(t *testing.T) {
		other := fmt.Sprintf("http://127.0.0.1:%d/echo", a.port) // the app's own port, not the sidecar
		wat := testguest.Request("GET", other, "", "")
		r := runGuest(t, env, wat)
		if r.Code != 107 {
			t.Fatalf("exit %d (want 107: destination_not_allowed), stderr %s", r.Code, r.Stderr)
		}
		if !strings.Contains(r.Stderr, "denied") || !strings.Contains(r.Stderr, fmt.Sprintf(`--allow-host http://127.0.0.1:%d`, a.port)) {
			t.Fatalf("denial log lacks the fix: %s", r.Stderr)
		}
		// Explicitly allowed, it goes through.
		r = runGuest(t, env, wat, "--allow-host", fmt.Sprintf("http://127.0.0.1:%d", a.port))
		if r.Code != 0 || r.Stdout != "echo(GET )" {
			t.Fatalf("allowed: exit %d stdout %q stderr %s", r.Code, r.Stdout, r.Stderr)
		}
		// --allow-host replaces the default: the sidecar is now out of reach.
		r = runGuest(t, env, testguest.Request("GET", state+"/weapon", "", ""), "--allow-host", fmt.Sprintf("http://127.0.0.1:%d", a.port))
		if r.Code != 107 {
			t.Fatalf("sidecar with a custom list: exit %d", r.Code)
		}
	})
}

func TestAPIToken(t *testing.T) {
	d := testenv.StartDaprd(t, testenv.DaprdOptions{AppID: "token-app", APIToken: "t0ken"})
	wat := testguest.Request("POST", d.HTTPURL()+"/v1.0/state/statestore", "content-type:application/json\n", `[{"key":"secret","value":1}]`)
	if r := runGuest(t, d.Env(), wat); r.Code != 4 {
		t.Fatalf("without the token: exit %d, want 4 (401)", r.Code)
	}
	if r := runGuest(t, append(d.Env(), "DAPR_API_TOKEN=t0ken"), wat); r.Code != 0 {
		t.Fatalf("with the token: exit %d stderr %s", r.Code, r.Stderr)
	}
}

func TestWaitForSidecar(t *testing.T) {
	wat := testguest.Request("GET", "http://127.0.0.1:1/", "", "")
	port := testenv.FreePort(t)
	start := time.Now()
	r := runGuest(t, []string{fmt.Sprintf("DAPR_HTTP_PORT=%d", port)}, wat, "--wait-for-sidecar=1s")
	if r.Code != 1 || !strings.Contains(r.Stderr, "not ready within 1s") {
		t.Fatalf("exit %d stderr %s", r.Code, r.Stderr)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatalf("waited %v", time.Since(start))
	}
	// With the sidecar up, the guest runs after it is ready.
	d := testenv.StartDaprd(t, testenv.DaprdOptions{AppID: "wait-app"})
	r = runGuest(t, d.Env(), testguest.Request("GET", d.HTTPURL()+"/v1.0/healthz", "", ""), "--wait-for-sidecar")
	if r.Code != 0 {
		t.Fatalf("exit %d stderr %s", r.Code, r.Stderr)
	}
}
