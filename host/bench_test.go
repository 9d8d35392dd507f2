package host_test

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
	"github.com/wasi-dapr-host/wasi-dapr-host/httpext"
)

// A guest linked against WASI and the HTTP extension, with a trivial _start: what one fresh instance
// of a precompiled module costs the host.
const trivialGuest = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (import "wasi_experimental_http" "req" (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "body_read" (func (param i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "close" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))`

func BenchmarkInstantiate(b *testing.B) {
	list, err := allowlist.Parse([]string{"http://127.0.0.1:3500"})
	if err != nil {
		b.Fatal(err)
	}
	e, err := host.NewEngine(host.Options{PoolSize: 128, Extensions: []host.Extension{httpext.New(httpext.Config{Allow: list, Log: zerolog.Nop()})}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	m, err := e.LoadBytes("trivial.wasm", []byte(trivialGuest))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rc := host.RunConfig{Args: []string{"a"}, Env: []string{"DAPR_HTTP_PORT=3500"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := m.Run(ctx, rc)
		if err != nil || res.ExitCode != 0 {
			b.Fatal(res, err)
		}
	}
}
