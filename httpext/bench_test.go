package httpext_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
	"github.com/wasi-dapr-host/wasi-dapr-host/httpext"
	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testenv"
	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testguest"
)

// getLoopWAT exports get(n): n state GETs through the extension, each read to the end and closed.
// It returns 0, or the first error code / non-200 status it met.
func getLoopWAT(url string) string {
	return fmt.Sprintf(`(module
  (import "wasi_experimental_http" "req" (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "body_read" (func $body_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "close" (func $close (param i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0x100) %s)
  (data (i32.const 0x800) "GET")
  (func (export "get") (param $n i32) (result i32) (local $code i32)
    (block $out
      (loop $next
        (br_if $out (i32.eqz (local.get $n)))
        (local.set $code (call $req (i32.const 0x100) (i32.const %d) (i32.const 0x800) (i32.const 3)
          (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0x10) (i32.const 0x14)))
        (if (local.get $code) (then (return (local.get $code))))
        (if (i32.ne (i32.load16_u (i32.const 0x10)) (i32.const 200)) (then (return (i32.load16_u (i32.const 0x10)))))
        (loop $read
          (local.set $code (call $body_read (i32.load (i32.const 0x14)) (i32.const 0x10000) (i32.const 0x8000) (i32.const 0x18)))
          (if (local.get $code) (then (return (local.get $code))))
          (br_if $read (i32.load (i32.const 0x18))))
        (drop (call $close (i32.load (i32.const 0x14))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.const 0)))`, testguest.Quote(url), len(url))
}

// BenchmarkStateGet compares a guest's state GET to a real daprd through the extension with a native Go
// http.Client doing the same GET, in the same run, interleaved in rounds so both see the same machine.
// It reports guest-ns/op, native-ns/op and guest/native.
func BenchmarkStateGet(b *testing.B) {
	d := testenv.StartDaprd(b, testenv.DaprdOptions{AppID: "bench-get"})
	url := d.HTTPURL() + "/v1.0/state/statestore/bench"
	resp, err := http.Post(d.HTTPURL()+"/v1.0/state/statestore", "application/json",
		strings.NewReader(`[{"key":"bench","value":{"name":"Tatooine","test":123}}]`))
	if err != nil || resp.StatusCode != 204 {
		b.Fatalf("seeding state: %v %v", resp, err)
	}
	resp.Body.Close()

	list, _ := allowlist.Parse([]string{d.HTTPURL()})
	x := httpext.New(httpext.Config{Allow: list, Log: zerolog.Nop()})
	e, err := host.NewEngine(host.Options{Extensions: []host.Extension{x}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	m, err := e.LoadBytes("get.wasm", []byte(getLoopWAT(url)))
	if err != nil {
		b.Fatal(err)
	}
	in, err := m.Instantiate(context.Background(), host.RunConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	guest := func(n int) {
		out, err := in.Call("get", int32(n))
		if err != nil || out[0].(int32) != 0 {
			b.Fatalf("guest get: %v %v", out, err)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	native := func(n int) {
		for i := 0; i < n; i++ {
			resp, err := client.Get(url)
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("native get: %v %v", resp, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	guest(50) // warm both connection pools
	native(50)

	const round = 100
	var tg, tn time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		t0 := time.Now()
		guest(n)
		t1 := time.Now()
		native(n)
		tg, tn = tg+t1.Sub(t0), tn+time.Since(t1)
	}
	b.StopTimer()
	b.ReportMetric(float64(tg.Nanoseconds())/float64(b.N), "guest-ns/op")
	b.ReportMetric(float64(tn.Nanoseconds())/float64(b.N), "native-ns/op")
	b.ReportMetric(float64(tg)/float64(tn), "guest/native")
}
