package httpext

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
)

// harnessWAT re-exports the five ABI functions so a test can drive one instance step by step.
const harnessWAT = `(module
  (import "wasi_experimental_http" "req" (func $req (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "close" (func $close (param i32) (result i32)))
  (import "wasi_experimental_http" "header_get" (func $header_get (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "headers_get_all" (func $headers_get_all (param i32 i32 i32 i32) (result i32)))
  (import "wasi_experimental_http" "body_read" (func $body_read (param i32 i32 i32 i32) (result i32)))
  %s
  (func (export "req") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (call $req (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (local.get 5) (local.get 6) (local.get 7) (local.get 8) (local.get 9)))
  (func (export "close") (param i32) (result i32) (call $close (local.get 0)))
  (func (export "header_get") (param i32 i32 i32 i32 i32 i32) (result i32)
    (call $header_get (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (local.get 5)))
  (func (export "headers_get_all") (param i32 i32 i32 i32) (result i32)
    (call $headers_get_all (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "body_read") (param i32 i32 i32 i32) (result i32)
    (call $body_read (local.get 0) (local.get 1) (local.get 2) (local.get 3))))`

// Fixed places in the harness's memory (2 pages = 128 KiB).
const (
	offStatus  = 0x10
	offHandle  = 0x14
	offWritten = 0x18
	offURL     = 0x100
	offMethod  = 0x800
	offHeaders = 0x900
	offBody    = 0x1000
	offBuf     = 0x8000
	memSize    = 2 << 16
)

type guest struct {
	t  *testing.T
	in *host.Instance
}

type setup struct {
	allow      []string
	maxBody    int64
	maxHandles int
	timeout    time.Duration
	token      string
	sidecar    []allowlist.Target
	noMemory   bool
}

func newGuest(t *testing.T, s setup) (*guest, *Extension) {
	t.Helper()
	list, err := allowlist.Parse(s.allow)
	if err != nil {
		t.Fatal(err)
	}
	x := New(Config{Allow: list, MaxBody: s.maxBody, MaxHandles: s.maxHandles, Timeout: s.timeout,
		APIToken: s.token, Sidecar: s.sidecar, Log: zerolog.New(zerolog.NewTestWriter(t))})
	e, err := host.NewEngine(host.Options{Extensions: []host.Extension{x}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	mem := `(memory (export "memory") 2)`
	if s.noMemory {
		mem = `(memory (export "not_memory") 2)`
	}
	m, err := e.LoadBytes("harness.wasm", []byte(fmt.Sprintf(harnessWAT, mem)))
	if err != nil {
		t.Fatal(err)
	}
	in, err := m.Instantiate(context.Background(), host.RunConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Close)
	return &guest{t: t, in: in}, x
}

func (g *guest) put(off int, s string) (int32, int32) {
	if mem := g.in.Memory(); mem != nil {
		copy(mem[off:], s)
	}
	return int32(off), int32(len(s))
}

func (g *guest) call(name string, args ...int32) int32 {
	g.t.Helper()
	vals := make([]interface{}, len(args))
	for i, a := range args {
		vals[i] = a
	}
	out, err := g.in.Call(name, vals...)
	if err != nil {
		g.t.Fatalf("%s: %v", name, err)
	}
	return out[0].(int32)
}

func (g *guest) u32(off int) uint32 { return binary.LittleEndian.Uint32(g.in.Memory()[off:]) }
func (g *guest) u16(off int) uint16 { return binary.LittleEndian.Uint16(g.in.Memory()[off:]) }

// req sends a request; it returns the code, status and handle.
func (g *guest) req(method, url, headers, body string) (int32, uint16, uint32) {
	g.t.Helper()
	up, ul := g.put(offURL, url)
	mp, ml := g.put(offMethod, method)
	hp, hl := g.put(offHeaders, headers)
	bp, bl := g.put(offBody, body)
	code := g.call("req", up, ul, mp, ml, hp, hl, bp, bl, offStatus, offHandle)
	if code != Success {
		return code, 0, 0
	}
	return code, g.u16(offStatus), g.u32(offHandle)
}

// readBody reads the whole body in chunks of n bytes, returning the last code.
func (g *guest) readBody(h uint32, n int) (string, int32) {
	g.t.Helper()
	var out bytes.Buffer
	for i := 0; i < 1<<20; i++ {
		code := g.call("body_read", int32(h), offBuf, int32(n), offWritten)
		if code != Success {
			return out.String(), code
		}
		w := g.u32(offWritten)
		if w == 0 {
			return out.String(), Success
		}
		if int(w) > n {
			g.t.Fatalf("body_read wrote %d > %d", w, n)
		}
		out.Write(g.in.Memory()[offBuf : offBuf+int(w)])
	}
	g.t.Fatal("body never ended")
	return "", 0
}

func (g *guest) header(h uint32, name string, bufLen int32) (string, int32) {
	np, nl := g.put(offHeaders, name)
	code := g.call("header_get", int32(h), np, nl, offBuf, bufLen, offWritten)
	if code != Success {
		return "", code
	}
	return string(g.in.Memory()[offBuf : offBuf+int(g.u32(offWritten))]), code
}

func serve(t *testing.T, h http.HandlerFunc) (*httptest.Server, string) {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, "http://" + srv.Listener.Addr().String()
}

func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Add("X-Multi", "a")
	w.Header().Add("X-Multi", "b")
	w.Header().Set("X-Method", r.Method)
	w.Header().Set("X-Got-Custom", r.Header.Get("X-Custom"))
	w.Header().Set("X-Got-Host", r.Host)
	w.Header().Set("X-Got-Token", r.Header.Get(TokenHeader))
	w.WriteHeader(201)
	fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
}

func TestRoundTrip(t *testing.T) {
	_, base := serve(t, echo)
	g, _ := newGuest(t, setup{allow: []string{base}})

	code, status, h := g.req("POST", base+"/v1.0/state/store", "X-Custom: hello\ncontent-type:application/json\n", `{"k":1}`)
	if code != Success || status != 201 || h == 0 {
		t.Fatalf("req = %d %d %d", code, status, h)
	}
	body, code := g.readBody(h, 5) // small chunks: the body is streamed, not handed over whole
	if code != Success || body != `POST /v1.0/state/store {"k":1}` {
		t.Fatalf("body %q code %d", body, code)
	}
	// After the end, body_read keeps answering 0 bytes.
	if c := g.call("body_read", int32(h), offBuf, 16, offWritten); c != Success || g.u32(offWritten) != 0 {
		t.Fatalf("read after end: %d %d", c, g.u32(offWritten))
	}
	for name, want := range map[string]string{"x-method": "POST", "X-GOT-CUSTOM": "hello", "X-Multi": "a, b", "content-type": "text/plain"} {
		if v, c := g.header(h, name, 256); c != Success || v != want {
			t.Errorf("header %s = %q (%d), want %q", name, v, c, want)
		}
	}
	if _, c := g.header(h, "x-absent", 256); c != HeaderNotFound {
		t.Errorf("absent header: %d, want %d", c, HeaderNotFound)
	}
	// buffer_too_small writes nothing.
	copy(g.in.Memory()[offBuf:], "untouched")
	if _, c := g.header(h, "content-type", 3); c != BufferTooSmall || string(g.in.Memory()[offBuf:offBuf+9]) != "untouched" {
		t.Errorf("small buffer: code %d, buffer %q", c, g.in.Memory()[offBuf:offBuf+9])
	}
	if c := g.call("headers_get_all", int32(h), offBuf, 4096, offWritten); c != Success {
		t.Fatalf("headers_get_all = %d", c)
	}
	all := string(g.in.Memory()[offBuf : offBuf+int(g.u32(offWritten))])
	for _, line := range []string{"content-type:text/plain\n", "x-multi:a\n", "x-multi:b\n", "x-method:POST\n"} {
		if !strings.Contains(all, line) {
			t.Errorf("headers_get_all %q lacks %q", all, line)
		}
	}
	if c := g.call("headers_get_all", int32(h), offBuf, 10, offWritten); c != BufferTooSmall {
		t.Errorf("headers_get_all small buffer = %d", c)
	}
	if c := g.call("close", int32(h)); c != Success {
		t.Fatalf("close = %d", c)
	}
	// Use after close, double close, unknown handles.
	for _, fn := range []func() int32{
		func() int32 { return g.call("close", int32(h)) },
		func() int32 { return g.call("body_read", int32(h), offBuf, 16, offWritten) },
		func() int32 { return g.call("headers_get_all", int32(h), offBuf, 16, offWritten) },
		func() int32 { _, c := g.header(h, "x", 16); return c },
		func() int32 { return g.call("close", 0) },
		func() int32 { return g.call("close", -1) },
	} {
		if c := fn(); c != InvalidHandle {
			t.Errorf("stale handle: %d, want %d", c, InvalidHandle)
		}
	}
}

func TestHostHeaderCannotRetarget(t *testing.T) {
	_, base := serve(t, echo)
	g, _ := newGuest(t, setup{allow: []string{base}})
	code, _, h := g.req("GET", base+"/", "Host: internal.example\n", "")
	if code != Success {
		t.Fatal(code)
	}
	if v, _ := g.header(h, "x-got-host", 256); v != strings.TrimPrefix(base, "http://") {
		t.Fatalf("server saw Host %q", v)
	}
}

func TestRequestErrors(t *testing.T) {
	_, base := serve(t, echo)
	g, _ := newGuest(t, setup{allow: []string{base}})
	port := base[strings.LastIndex(base, ":")+1:]
	for _, c := range []struct {
		name, method, url, headers string
		want                       int32
	}{
		{"bad utf-8 url", "GET", base + "/\xff", "", UTF8Error},
		{"bad utf-8 method", "G\xffT", base, "", UTF8Error},
		{"bad utf-8 headers", "GET", base, "a:\xfe\n", UTF8Error},
		{"empty method", "", base, "", InvalidMethod},
		{"method with space", "GE T", base, "", InvalidMethod},
		{"method with newline", "GET\n", base, "", InvalidMethod},
		{"header without colon", "GET", base, "novalue\n", InvalidEncoding},
		{"header name with space", "GET", base, "bad name:x\n", InvalidEncoding},
		{"header value with CR", "GET", base, "a:b\rc\n", InvalidEncoding},
		{"not a url", "GET", "not a url", "", InvalidURL},
		{"no host", "GET", "http:///path", "", InvalidURL},
		{"other scheme", "GET", "ftp://127.0.0.1:" + port + "/", "", InvalidURL},
		{"short IPv4 form", "GET", "http://127.1:" + port + "/", "", InvalidURL},
		{"decimal IPv4 form", "GET", "http://2130706433:" + port + "/", "", InvalidURL},
		{"other port", "GET", "http://127.0.0.1:1/", "", DestinationNotAllowed},
		{"other scheme same port", "GET", "https://127.0.0.1:" + port + "/", "", DestinationNotAllowed},
		{"userinfo smuggling", "GET", base + "@example.com/", "", DestinationNotAllowed},
		{"name not in list", "GET", "http://localhost:" + port + "/", "", DestinationNotAllowed},
	} {
		if code, _, _ := g.req(c.method, c.url, c.headers, ""); code != c.want {
			t.Errorf("%s: code %d (%s), want %d (%s)", c.name, code, CodeName(code), c.want, CodeName(c.want))
		}
	}
	// IPv4-mapped IPv6 names the same host and is allowed as such.
	if code, _, _ := g.req("GET", "http://[::ffff:127.0.0.1]:"+port+"/", "", ""); code != Success {
		t.Errorf("mapped IPv6: %d", code)
	}
}

func TestOutOfRangePointers(t *testing.T) {
	_, base := serve(t, echo)
	g, _ := newGuest(t, setup{allow: []string{base}})
	up, ul := g.put(offURL, base)
	mp, ml := g.put(offMethod, "GET")
	huge := int32(-16) // 0xFFFFFFF0 as unsigned: ptr+len wraps past 4 GiB
	args := []int32{up, ul, mp, ml, offHeaders, 0, offBody, 0, offStatus, offHandle}
	for i := range args {
		bad := append([]int32(nil), args...)
		if i%2 == 1 && i < 8 {
			bad[i] = memSize // length past the end
		} else {
			bad[i] = huge
		}
		if c := g.call("req", bad...); c != MemoryAccessError {
			t.Errorf("req with argument %d out of range: %d, want %d", i, c, MemoryAccessError)
		}
	}
	// status and handle exactly at the end of memory.
	bad := append([]int32(nil), args...)
	bad[8] = memSize - 1
	if c := g.call("req", bad...); c != MemoryAccessError {
		t.Errorf("status straddling the end: %d", c)
	}
	code, _, h := g.req("GET", base, "", "")
	if code != Success {
		t.Fatal(code)
	}
	for name, c := range map[string]int32{
		"body_read buf":        g.call("body_read", int32(h), memSize-4, 8, offWritten),
		"body_read written":    g.call("body_read", int32(h), offBuf, 8, memSize-2),
		"headers_get_all buf":  g.call("headers_get_all", int32(h), huge, 64, offWritten),
		"header_get name":      g.call("header_get", int32(h), huge, 64, offBuf, 64, offWritten),
		"header_get value":     g.call("header_get", int32(h), offHeaders, 4, memSize, 1, offWritten),
		"header_get written":   g.call("header_get", int32(h), offHeaders, 4, offBuf, 64, memSize),
		"headers_get_all wrtn": g.call("headers_get_all", int32(h), offBuf, 64, -1),
	} {
		if c != MemoryAccessError {
			t.Errorf("%s: %d, want %d", name, c, MemoryAccessError)
		}
	}
}

func TestNoExportedMemory(t *testing.T) {
	_, base := serve(t, echo)
	g, _ := newGuest(t, setup{allow: []string{base}, noMemory: true})
	if c := g.call("req", 0, 10, 0, 3, 0, 0, 0, 0, 0, 4); c != MemoryNotFound {
		t.Fatalf("req without memory: %d, want %d", c, MemoryNotFound)
	}
}

func TestTooManyHandles(t *testing.T) {
	_, base := serve(t, echo)
	g, _ := newGuest(t, setup{allow: []string{base}, maxHandles: 2})
	_, _, h1 := g.req("GET", base, "", "")
	_, _, h2 := g.req("GET", base, "", "")
	if h1 == 0 || h2 == 0 || h1 == h2 {
		t.Fatalf("handles %d %d", h1, h2)
	}
	if code, _, _ := g.req("GET", base, "", ""); code != TooManySessions {
		t.Fatalf("third handle: %d, want %d", code, TooManySessions)
	}
	g.call("close", int32(h1))
	if code, _, _ := g.req("GET", base, "", ""); code != Success {
		t.Fatalf("after close: %d", code)
	}
}

func TestBodyCap(t *testing.T) {
	_, base := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 20))
	})
	g, _ := newGuest(t, setup{allow: []string{base}, maxBody: 10})
	_, _, h := g.req("GET", base, "", "")
	body, code := g.readBody(h, 4)
	if code != RuntimeError || body != strings.Repeat("x", 10) {
		t.Fatalf("over the cap: body %q code %d, want 10 bytes then %d", body, code, RuntimeError)
	}
	g2, _ := newGuest(t, setup{allow: []string{base}, maxBody: 20})
	_, _, h = g2.req("GET", base, "", "")
	if body, code := g2.readBody(h, 4); code != Success || len(body) != 20 {
		t.Fatalf("at the cap: %q %d", body, code)
	}
}

func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	_, base := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-headers" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	g, _ := newGuest(t, setup{allow: []string{base}, timeout: 200 * time.Millisecond})
	start := time.Now()
	if code, _, _ := g.req("GET", base+"/slow-headers", "", ""); code != RequestError {
		t.Fatalf("slow headers: %d, want %d", code, RequestError)
	}
	_, _, h := g.req("GET", base+"/slow-body", "", "")
	if h == 0 {
		t.Fatal("no handle for slow body")
	}
	body, code := g.readBody(h, 64)
	if code != RequestError || body != "first" {
		t.Fatalf("slow body: %q %d", body, code)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeouts took %v", d)
	}
}

func TestConnectionRefused(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	g, _ := newGuest(t, setup{allow: []string{"http://" + addr}})
	if code, _, _ := g.req("GET", "http://"+addr+"/", "", ""); code != RequestError {
		t.Fatalf("refused: %d, want %d", code, RequestError)
	}
}

func TestRedirects(t *testing.T) {
	_, other := serve(t, echo) // allowed, not the sidecar
	_, forbidden := serve(t, echo)
	_, base := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-other":
			http.Redirect(w, r, other+"/landed", http.StatusFound)
		case "/to-forbidden":
			http.Redirect(w, r, forbidden+"/x", http.StatusFound)
		case "/to-self":
			http.Redirect(w, r, "/final", http.StatusFound)
		default:
			echo(w, r)
		}
	})
	sidecar, _ := allowlist.TargetFromAddr("http", strings.TrimPrefix(base, "http://"))
	g, _ := newGuest(t, setup{allow: []string{base, other}, token: "s3cret", sidecar: []allowlist.Target{sidecar}})

	code, _, h := g.req("GET", base+"/to-self", "", "")
	if code != Success {
		t.Fatal(code)
	}
	if v, _ := g.header(h, "x-got-token", 64); v != "s3cret" {
		t.Errorf("sidecar-bound request carried token %q", v)
	}
	code, _, h = g.req("GET", base+"/to-other", "", "")
	if code != Success {
		t.Fatal(code)
	}
	if body, _ := g.readBody(h, 64); body != "GET /landed " {
		t.Errorf("redirect body %q", body)
	}
	if v, _ := g.header(h, "x-got-token", 64); v != "" {
		t.Errorf("token leaked to a non-sidecar host on redirect: %q", v)
	}
	if code, _, _ := g.req("GET", base+"/to-forbidden", "", ""); code != DestinationNotAllowed {
		t.Errorf("redirect to a forbidden port: %d, want %d", code, DestinationNotAllowed)
	}
}

func TestKeepAliveAndRelease(t *testing.T) {
	var conns atomic.Int32
	started := make(chan struct{}, 1)
	gone := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			started <- struct{}{}
			<-r.Context().Done()
			gone <- struct{}{}
			return
		}
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	base := srv.URL
	list, _ := allowlist.Parse([]string{base})
	x := New(Config{Allow: list, Log: zerolog.Nop()})
	e, _ := host.NewEngine(host.Options{Extensions: []host.Extension{x}})
	defer e.Close()
	m, err := e.LoadBytes("h.wasm", []byte(fmt.Sprintf(harnessWAT, `(memory (export "memory") 2)`)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ { // five instances, one after another, reuse one pooled connection
		in, _ := m.Instantiate(context.Background(), host.RunConfig{})
		g := &guest{t: t, in: in}
		_, _, h := g.req("GET", base+"/", "", "")
		if body, code := g.readBody(h, 64); body != "ok" || code != Success {
			t.Fatalf("%q %d", body, code)
		}
		g.call("close", int32(h))
		in.Close()
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 5 sequential requests, want 1 (keep-alive)", n)
	}
	// A handle the guest never closes is released when its instance ends.
	in, _ := m.Instantiate(context.Background(), host.RunConfig{})
	g := &guest{t: t, in: in}
	if code, _, _ := g.req("GET", base+"/stream", "", ""); code != Success {
		t.Fatal(code)
	}
	<-started
	in.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the open response outlived its instance")
	}
}

func TestDialTimeCheck(t *testing.T) {
	// The URL check passes (the name is listed) but every address the name resolves to is forbidden.
	list, err := allowlist.Parse([]string{"http://metadata.test"})
	if err != nil {
		t.Fatal(err)
	}
	list.Resolver = fakeResolver{"metadata.test": {"169.254.169.254"}}
	x := New(Config{Allow: list, Log: zerolog.Nop()})
	e, _ := host.NewEngine(host.Options{Extensions: []host.Extension{x}})
	defer e.Close()
	m, _ := e.LoadBytes("h.wasm", []byte(fmt.Sprintf(harnessWAT, `(memory (export "memory") 2)`)))
	in, _ := m.Instantiate(context.Background(), host.RunConfig{})
	defer in.Close()
	g := &guest{t: t, in: in}
	if code, _, _ := g.req("GET", "http://metadata.test/latest", "", ""); code != DestinationNotAllowed {
		t.Fatalf("link-local answer: %d, want %d", code, DestinationNotAllowed)
	}
}

type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range f[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

func TestCodeNames(t *testing.T) {
	if CodeName(DestinationNotAllowed) != "destination_not_allowed" || CodeName(TooManySessions) != "too_many_sessions" || CodeName(99) != "unknown" {
		t.Fatal("code names out of step with the ABI table")
	}
	if !errors.Is(context.DeadlineExceeded, context.DeadlineExceeded) || !isTimeout(context.DeadlineExceeded) {
		t.Fatal("isTimeout")
	}
}

func TestHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(echo))
	t.Cleanup(srv.Close)
	base := srv.URL // https://127.0.0.1:port
	list, _ := allowlist.Parse([]string{base})
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	x := New(Config{Allow: list, RootCAs: pool, Log: zerolog.New(zerolog.NewTestWriter(t))})
	e, _ := host.NewEngine(host.Options{Extensions: []host.Extension{x}})
	defer e.Close()
	m, _ := e.LoadBytes("h.wasm", []byte(fmt.Sprintf(harnessWAT, `(memory (export "memory") 2)`)))
	in, _ := m.Instantiate(context.Background(), host.RunConfig{})
	defer in.Close()
	g := &guest{t: t, in: in}
	for i := 0; i < 2; i++ { // the second request reuses the TLS connection
		code, status, h := g.req("PUT", base+"/tls", "", "secure")
		if code != Success || status != 201 {
			t.Fatalf("https: %d %d", code, status)
		}
		if body, c := g.readBody(h, 3); c != Success || body != "PUT /tls secure" {
			t.Fatalf("https body %q %d", body, c)
		}
		g.call("close", int32(h))
	}
	// Same host and port, other scheme: not allowed.
	if code, _, _ := g.req("GET", strings.Replace(base, "https:", "http:", 1), "", ""); code != DestinationNotAllowed {
		t.Fatalf("http to an https-only entry: %d", code)
	}
	// A server whose certificate is not trusted fails in transport.
	x2 := New(Config{Allow: list, Log: zerolog.Nop()})
	e2, _ := host.NewEngine(host.Options{Extensions: []host.Extension{x2}})
	defer e2.Close()
	m2, _ := e2.LoadBytes("h.wasm", []byte(fmt.Sprintf(harnessWAT, `(memory (export "memory") 2)`)))
	in2, _ := m2.Instantiate(context.Background(), host.RunConfig{})
	defer in2.Close()
	if code, _, _ := (&guest{t: t, in: in2}).req("GET", base, "", ""); code != RequestError {
		t.Fatalf("untrusted certificate: %d, want %d", code, RequestError)
	}
}

func TestStaleKeepAliveIsRetried(t *testing.T) {
	srv, base := serve(t, echo)
	g, _ := newGuest(t, setup{allow: []string{base}})
	for i := 0; i < 3; i++ {
		code, _, h := g.req("POST", base+"/again", "", "payload")
		if code != Success {
			t.Fatalf("request %d: %d", i, code)
		}
		if body, c := g.readBody(h, 64); c != Success || body != "POST /again payload" {
			t.Fatalf("request %d body %q %d", i, body, c)
		}
		g.call("close", int32(h))
		srv.CloseClientConnections() // the pooled connection dies while idle
		time.Sleep(10 * time.Millisecond)
	}
}

func TestResponseFraming(t *testing.T) {
	_, base := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "chunk%d;", i)
				w.(http.Flusher).Flush()
			}
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		case "/303":
			http.Redirect(w, r, "/seen", http.StatusSeeOther)
		case "/307":
			http.Redirect(w, r, "/seen", http.StatusTemporaryRedirect)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			echo(w, r)
		}
	})
	g, _ := newGuest(t, setup{allow: []string{base}})
	for _, c := range []struct{ method, path, body, want string }{
		{"GET", "/chunked", "", "chunk0;chunk1;chunk2;"},
		{"GET", "/close", "", "bye"},
		{"GET", "/after-close", "", "GET /after-close "},
		{"POST", "/303", "form", "GET /seen "},
		{"POST", "/307", "kept", "POST /seen kept"},
		{"HEAD", "/head", "", ""},
	} {
		code, _, h := g.req(c.method, base+c.path, "", c.body)
		if code != Success {
			t.Fatalf("%s %s: %d", c.method, c.path, code)
		}
		if body, code := g.readBody(h, 4); code != Success || body != c.want {
			t.Errorf("%s %s: body %q (%d), want %q", c.method, c.path, body, code, c.want)
		}
		g.call("close", int32(h))
	}
	if code, _, _ := g.req("GET", base+"/loop", "", ""); code != RequestError {
		t.Errorf("redirect loop: %d, want %d", code, RequestError)
	}
}
