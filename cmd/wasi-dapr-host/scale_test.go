package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testenv"
	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testguest"
)

// startRedis runs Debian's redis-server on a free loopback port, without persistence.
func startRedis(t *testing.T) int {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is needed for the scale-out test: apt-get install redis-server (make test does)")
	}
	port := testenv.FreePort(t)
	p := testenv.Start(t, nil, bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir())
	testenv.WaitTCP(t, p, "127.0.0.1:"+strconv.Itoa(port), 15*time.Second)
	return port
}

// redisComponents writes the repository's Redis components pointed at this Redis.
func redisComponents(t *testing.T, port int) string {
	dir := filepath.Join(t.TempDir(), "components")
	os.MkdirAll(dir, 0o755)
	for _, f := range []string{"statestore.yaml", "pubsub.yaml"} {
		b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "components", "redis", f))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("localhost:6379"), []byte("127.0.0.1:"+strconv.Itoa(port)))
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	return dir
}

// ledger is the replicas' shared witness: each relay guest tells it which replica handled what.
type ledger struct {
	mu      sync.Mutex
	invoked map[string][]string // replica -> request ids
	events  map[string][]string // replica -> event ids
}

func (l *ledger) handler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	replica := strings.TrimPrefix(r.URL.Path, "/")
	l.mu.Lock()
	defer l.mu.Unlock()
	if bytes.Contains(body, []byte(`"specversion"`)) { // a CloudEvent
		l.events[replica] = append(l.events[replica], extractID(body))
	} else {
		l.invoked[replica] = append(l.invoked[replica], string(body))
	}
	fmt.Fprintf(w, "content-type: text/plain\n\nhandled by %s", replica)
}

// extractID pulls "id":"evN" out of the event's data.
func extractID(b []byte) string {
	i := bytes.Index(b, []byte(`"order":"`))
	if i < 0 {
		return "?"
	}
	rest := b[i+len(`"order":"`):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

type replica struct {
	host  *testenv.Process
	daprd *testenv.Daprd
}

// Two host + daprd pairs with one app-id, Redis state and pub/sub, mDNS name resolution on loopback:
// what Kubernetes does with two pods, on one machine.
func TestScaleOut(t *testing.T) {
	redisPort := startRedis(t)
	components := redisComponents(t, redisPort)
	l := &ledger{invoked: map[string][]string{}, events: map[string][]string{}}
	srv := &http.Server{Handler: http.HandlerFunc(l.handler)}
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ledgerURL := "http://" + ln.Addr().String()

	start := func(name string) replica {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "relay.wat"), []byte(testguest.Relay(ledgerURL+"/"+name)), 0o644)
		os.WriteFile(filepath.Join(dir, "wasi-dapr.yaml"), []byte(`modules:
  - name: scaled
    path: relay.wat
    routes: [/work]
    subscriptions:
      - {pubsub: pubsub, topic: orders, route: /events/orders}
`), 0o644)
		appPort, daprPort := testenv.FreePort(t), testenv.FreePort(t)
		env := []string{"APP_PORT=" + strconv.Itoa(appPort), "DAPR_HTTP_PORT=" + strconv.Itoa(daprPort),
			"WASI_DAPR_LISTEN_ADDRESS=127.0.0.1", "WASI_DAPR_ALLOW_HOSTS=" + ledgerURL}
		h := testenv.Start(t, env, testenv.HostBinary(t), "serve", "--config", filepath.Join(dir, "wasi-dapr.yaml"), "--grace", "10s", "--log-level", "warn")
		testenv.WaitHTTP(t, h, fmt.Sprintf("http://127.0.0.1:%d/healthz", appPort), 30*time.Second)
		d := testenv.StartDaprd(t, testenv.DaprdOptions{AppID: "scaled", AppPort: appPort, HTTPPort: daprPort, ResourcesPath: components,
			Args: []string{"--dapr-graceful-shutdown-seconds", "5"}})
		return replica{host: h, daprd: d}
	}
	a, b := start("a"), start("b")
	// The caller retries an invocation that could not reach a replica (as a resiliency policy in a real
	// deployment would): each retry resolves the app-id again, so a replica that went away is skipped
	// even while mDNS still remembers it.
	callerRes := filepath.Join(t.TempDir(), "caller")
	os.MkdirAll(callerRes, 0o755)
	for _, f := range []string{"statestore.yaml", "pubsub.yaml"} {
		b, _ := os.ReadFile(filepath.Join(components, f))
		os.WriteFile(filepath.Join(callerRes, f), b, 0o644)
	}
	os.WriteFile(filepath.Join(callerRes, "resiliency.yaml"), []byte(`apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: replica-loss
spec:
  policies:
    retries:
      nextReplica:
        policy: constant
        duration: 20ms
        maxRetries: 4
  targets:
    apps:
      scaled:
        retry: nextReplica
`), 0o644)
	caller := testenv.StartDaprd(t, testenv.DaprdOptions{AppID: "caller", ResourcesPath: callerRes})

	invoke := func(id string) int {
		resp, err := http.Post(caller.HTTPURL()+"/v1.0/invoke/scaled/method/work", "text/plain", strings.NewReader(id))
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// mDNS needs a moment to see both replicas.
	waitFor(t, "invocations to reach both replicas", 60*time.Second, func() bool {
		invoke("warmup")
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.invoked["a"]) > 0 && len(l.invoked["b"]) > 0
	})

	t.Run("invocations spread across both replicas", func(t *testing.T) {
		l.mu.Lock()
		na, nb := len(l.invoked["a"]), len(l.invoked["b"])
		l.mu.Unlock()
		for i := 0; i < 40; i++ {
			if code := invoke(fmt.Sprintf("spread-%d", i)); code != 200 {
				t.Fatalf("invocation %d: %d", i, code)
			}
		}
		l.mu.Lock()
		da, db := len(l.invoked["a"])-na, len(l.invoked["b"])-nb
		l.mu.Unlock()
		if da+db != 40 || da < 5 || db < 5 {
			t.Fatalf("40 invocations went %d to a and %d to b", da, db)
		}
	})

	t.Run("each event is processed once by the app-id", func(t *testing.T) {
		for i := 0; i < 30; i++ {
			body := fmt.Sprintf(`{"order":"ev%d"}`, i)
			resp, err := http.Post(caller.HTTPURL()+"/v1.0/publish/pubsub/orders", "application/json", strings.NewReader(body))
			if err != nil || resp.StatusCode != 204 {
				t.Fatalf("publish: %v %v", resp, err)
			}
			resp.Body.Close()
		}
		count := func() (map[string]int, int, int) {
			l.mu.Lock()
			defer l.mu.Unlock()
			seen := map[string]int{}
			for _, ids := range l.events {
				for _, id := range ids {
					seen[id]++
				}
			}
			return seen, len(l.events["a"]), len(l.events["b"])
		}
		waitFor(t, "all 30 events", 30*time.Second, func() bool { s, _, _ := count(); return len(s) >= 30 })
		time.Sleep(time.Second) // a duplicate would show up now
		seen, ea, eb := count()
		for id, n := range seen {
			if n != 1 {
				t.Errorf("event %s processed %d times", id, n)
			}
		}
		if len(seen) != 30 {
			t.Errorf("%d distinct events processed, want 30", len(seen))
		}
		t.Logf("events: %d on a, %d on b", ea, eb)
	})

	t.Run("stopping a replica mid-load loses no acknowledged request", func(t *testing.T) {
		var mu sync.Mutex
		acked := map[string]bool{}
		failed := 0
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("load-%d-%d", w, i)
					code := invoke(id)
					mu.Lock()
					if code == 200 {
						acked[id] = true
					} else {
						failed++
					}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Second)
		// Replica b goes away as Kubernetes stops a pod: SIGTERM to its daprd and its host together.
		var stopped sync.WaitGroup
		stopped.Add(1)
		go func() { defer stopped.Done(); b.daprd.Stop(15 * time.Second) }()
		if code := b.host.Signal(syscall.SIGTERM, 15*time.Second); code != 0 {
			t.Errorf("replica b's host exited %d", code)
		}
		stopped.Wait()
		time.Sleep(2 * time.Second)
		close(stop)
		wg.Wait()
		l.mu.Lock()
		processed := map[string]bool{}
		for _, ids := range l.invoked {
			for _, id := range ids {
				processed[id] = true
			}
		}
		l.mu.Unlock()
		var lost []string
		for id := range acked {
			if !processed[id] {
				lost = append(lost, id)
			}
		}
		if len(lost) > 0 {
			var odd []string
			for id := range processed {
				if !strings.HasPrefix(id, "load-") && !strings.HasPrefix(id, "spread-") && id != "warmup" {
					odd = append(odd, fmt.Sprintf("%q", id))
				}
			}
			t.Fatalf("%d acknowledged requests were never processed: %v (ledger entries of other shape: %v)", len(lost), lost, odd)
		}
		if len(acked) < 20 {
			t.Fatalf("only %d requests succeeded during the load", len(acked))
		}
		t.Logf("%d acknowledged, %d failed while replica b went away", len(acked), failed)
		// Once name resolution has forgotten b, the remaining replica serves every request.
		ok := 0
		codes := map[int]int{}
		deadline := time.Now().Add(60 * time.Second)
		for ok < 20 {
			code := invoke(fmt.Sprintf("after-%d", ok))
			codes[code]++
			if code == 200 {
				ok++
			} else {
				ok = 0
				time.Sleep(100 * time.Millisecond)
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the stop, requests still fail: %v", codes)
			}
		}
	})
	_ = a
}
