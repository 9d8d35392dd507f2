package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testenv"
	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testguest"
)

// procKiB reads a "Name:   123 kB" line of /proc/PID/status.
func procKiB(pid int, name string) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+":") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			return n
		}
	}
	return -1
}

// BenchmarkPeakRSS: the host process in serve mode with 64 requests in flight on a small guest (each
// instance waits on an outbound HTTP call the test holds open); reports the process's peak RSS.
func BenchmarkPeakRSS(b *testing.B) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 64)
	srv := startSlowControl(b, arrived, release)
	dir := b.TempDir()
	mod := filepath.Join(dir, "wait.wat")
	os.WriteFile(mod, []byte(testguest.Relay(srv+"/wait")), 0o644)
	port := testenv.FreePort(b)
	p := testenv.Start(b, []string{"WASI_DAPR_ALLOW_HOSTS=" + srv, "WASI_DAPR_CACHE_DIR=" + filepath.Join(dir, "cache")},
		testenv.HostBinary(b), "serve", "--module", mod, "--app-port", strconv.Itoa(port), "--listen-address", "127.0.0.1",
		"--concurrency", "64", "--log-level", "warn")
	testenv.WaitHTTP(b, p, fmt.Sprintf("http://127.0.0.1:%d/healthz", port), 30*time.Second)
	pid := p.Pid()
	var peak int
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		for j := 0; j < 64; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/x", port), "text/plain", strings.NewReader("payload"))
				if err == nil {
					resp.Body.Close()
				}
			}()
		}
		for j := 0; j < 64; j++ {
			<-arrived
		}
		peak = max(peak, procKiB(pid, "VmRSS"))
		for j := 0; j < 64; j++ {
			release <- struct{}{}
		}
		wg.Wait()
	}
	b.ReportMetric(float64(max(peak, procKiB(pid, "VmHWM")))/1024, "peak-RSS-MiB")
}

// startSlowControl answers each request only when the test releases it, so instances stay in flight.
func startSlowControl(b *testing.B, arrived chan<- struct{}, release <-chan struct{}) string {
	mux := http.NewServeMux()
	mux.HandleFunc("/wait", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.Write([]byte("content-type: text/plain\n\ndone"))
	})
	srv := &http.Server{Handler: mux}
	l, err := netListen()
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
