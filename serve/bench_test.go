package serve_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
	"github.com/wasi-dapr-host/wasi-dapr-host/httpext"
	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testenv"
	"github.com/wasi-dapr-host/wasi-dapr-host/manifest"
	"github.com/wasi-dapr-host/wasi-dapr-host/serve"
)

// trivialWAGI answers every request with a header block and "ok".
const trivialWAGI = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "content-type: text/plain\n\nok")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 0x100)) (i32.store (i32.const 4) (i32.const 28))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`

// startServer runs serve mode in-process with one module on a loopback port.
func startServer(b *testing.B, wat string, concurrency int) string {
	dir := b.TempDir()
	path := filepath.Join(dir, "trivial.wat")
	os.WriteFile(path, []byte(wat), 0o644)
	man, err := manifest.Single(path, nil, nil, nil, manifest.Limits{Timeout: 10 * time.Second, MaxMemory: 16 << 20,
		MaxBody: 4 << 20, Concurrency: concurrency, Queue: 1024, HTTPTimeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	list, _ := allowlist.Parse([]string{"http://127.0.0.1:3500"})
	e, err := host.NewEngine(host.Options{PoolSize: concurrency + 8, MaxMemory: 16 << 20,
		Extensions: []host.Extension{httpext.New(httpext.Config{Allow: list, Log: zerolog.Nop()})}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	s, err := serve.New(serve.Config{Manifest: man, Engine: e, Allow: list, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, addr, 5*time.Second) }()
	b.Cleanup(func() { cancel(); <-done })
	for i := 0; ; i++ {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 500 {
			b.Fatal("server not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "http://" + addr
}

// startNative serves the same answer from a plain net/http handler.
func startNative(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	})}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 64}}
}

func get(b *testing.B, c *http.Client, url string) {
	resp, err := c.Post(url, "application/json", nil)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// latencies sends n requests one at a time and returns them sorted.
func latencies(b *testing.B, url string, n int) []time.Duration {
	c := newClient()
	get(b, c, url)
	out := make([]time.Duration, n)
	for i := range out {
		t0 := time.Now()
		get(b, c, url)
		out[i] = time.Since(t0)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// throughput sends n requests from `workers` goroutines and returns requests per second.
func throughput(b *testing.B, url string, n, workers int) float64 {
	c := newClient()
	var wg sync.WaitGroup
	per := n / workers
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				get(b, c, url)
			}
		}()
	}
	wg.Wait()
	return float64(per*workers) / time.Since(t0).Seconds()
}

// BenchmarkServeLatency: requests sent straight to the app port (no daprd), one at a time; reports the
// p50 and p99 of the guest app, of a native net/http handler, and the host's overhead (p50 difference).
func BenchmarkServeLatency(b *testing.B) {
	guest := startServer(b, trivialWAGI, 64)
	native := startNative(b)
	n := max(b.N, 200)
	b.ResetTimer()
	g := latencies(b, guest, n)
	nat := latencies(b, native, n)
	b.StopTimer()
	b.ReportMetric(float64(g[n/2].Microseconds()), "guest-p50-µs")
	b.ReportMetric(float64(g[n*99/100].Microseconds()), "guest-p99-µs")
	b.ReportMetric(float64(nat[n/2].Microseconds()), "native-p50-µs")
	b.ReportMetric(float64((g[n/2] - nat[n/2]).Microseconds()), "overhead-p50-µs")
}

// BenchmarkServeThroughput: 16 concurrent clients straight to the app port; guest app vs native handler.
// Besides requests per second it reports this process's CPU time per request (server and client
// together: both sides pay the same client).
func BenchmarkServeThroughput(b *testing.B) {
	compareThroughput(b, startServer(b, trivialWAGI, 64), startNative(b), true)
}

// compareThroughput runs the two targets in alternating rounds, so that a slow spell of a shared
// machine falls on both, and reports the totals.
func compareThroughput(b *testing.B, guest, native string, cpu bool) {
	const rounds, workers = 5, 16
	per := max(max(b.N, 3200)/rounds, 320)
	throughput(b, guest, 320, workers) // warm
	throughput(b, native, 320, workers)
	var wall, used [2]time.Duration
	b.ResetTimer()
	for r := 0; r < rounds; r++ {
		for i, url := range []string{guest, native} {
			c0, t0 := cpuTime(), time.Now()
			throughput(b, url, per, workers)
			wall[i] += time.Since(t0)
			used[i] += cpuTime() - c0
		}
	}
	b.StopTimer()
	n := float64(rounds * (per / workers) * workers)
	g, nat := n/wall[0].Seconds(), n/wall[1].Seconds()
	b.ReportMetric(g, "guest-req/s")
	b.ReportMetric(nat, "native-req/s")
	b.ReportMetric(g/nat, "guest/native")
	if cpu {
		b.ReportMetric(float64(used[0].Microseconds())/n, "guest-cpu-µs/req")
		b.ReportMetric(float64(used[1].Microseconds())/n, "native-cpu-µs/req")
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServeThroughDaprd: 16 concurrent clients invoke through daprd; the guest app (serve mode,
// trivial WAGI guest) vs a native Go app behind its own daprd, in the same run.
func BenchmarkServeThroughDaprd(b *testing.B) {
	guestApp := startServer(b, trivialWAGI, 64)
	nativeApp := startNative(b)
	port := func(u string) int {
		_, p, _ := net.SplitHostPort(u[len("http://"):])
		n := 0
		fmt.Sscan(p, &n)
		return n
	}
	dg := testenv.StartDaprd(b, testenv.DaprdOptions{AppID: "bench-guest", AppPort: port(guestApp)})
	dn := testenv.StartDaprd(b, testenv.DaprdOptions{AppID: "bench-native", AppPort: port(nativeApp)})
	compareThroughput(b, dg.HTTPURL()+"/v1.0/invoke/bench-guest/method/hello",
		dn.HTTPURL()+"/v1.0/invoke/bench-native/method/hello", false)
}
