package sockext

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
)

// harness re-exports the socket functions and the WASI ones they shadow, so a test drives one instance.
const harness = `(module
  (import "wasi_snapshot_preview1" "sock_open" (func $open (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_connect" (func $connect (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_bind" (func $bind (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_listen" (func $listen (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv" (func $recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send_to" (func $send_to (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv_from" (func $recv_from (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_shutdown" (func $shutdown (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_getpeeraddr" (func $peer (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_getlocaladdr" (func $local (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_getsockopt" (func $getopt (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_setsockopt" (func $setopt (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_getaddrinfo" (func $gai (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_flags" (func $setflags (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "open") (param i32 i32 i32) (result i32) (call $open (local.get 0) (local.get 1) (local.get 2)))
  (func (export "connect") (param i32 i32 i32) (result i32) (call $connect (local.get 0) (local.get 1) (local.get 2)))
  (func (export "bind") (param i32 i32 i32) (result i32) (call $bind (local.get 0) (local.get 1) (local.get 2)))
  (func (export "listen") (param i32 i32) (result i32) (call $listen (local.get 0) (local.get 1)))
  (func (export "accept") (param i32 i32) (result i32) (call $accept (local.get 0) (local.get 1)))
  (func (export "send") (param i32 i32 i32 i32 i32) (result i32) (call $send (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
  (func (export "recv") (param i32 i32 i32 i32 i32 i32) (result i32) (call $recv (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (local.get 5)))
  (func (export "send_to") (param i32 i32 i32 i32 i32 i32 i32) (result i32) (call $send_to (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (local.get 5) (local.get 6)))
  (func (export "recv_from") (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (call $recv_from (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (local.get 5) (local.get 6) (local.get 7)))
  (func (export "shutdown") (param i32 i32) (result i32) (call $shutdown (local.get 0) (local.get 1)))
  (func (export "peer") (param i32 i32 i32 i32) (result i32) (call $peer (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "local") (param i32 i32 i32 i32) (result i32) (call $local (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "getopt") (param i32 i32 i32 i32 i32) (result i32) (call $getopt (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
  (func (export "setopt") (param i32 i32 i32 i32 i32) (result i32) (call $setopt (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
  (func (export "gai") (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (call $gai (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (local.get 5) (local.get 6) (local.get 7)))
  (func (export "close") (param i32) (result i32) (call $close (local.get 0)))
  (func (export "fdstat") (param i32 i32) (result i32) (call $fdstat (local.get 0) (local.get 1)))
  (func (export "setflags") (param i32 i32) (result i32) (call $setflags (local.get 0) (local.get 1)))
  (func (export "poll") (param i32 i32 i32 i32) (result i32) (call $poll (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  ;; echoloop(fd, n): n round trips of the 1 KiB at 0x1000 (send all, receive all into 0x1400).
  (func (export "echoloop") (param $fd i32) (param $n i32) (result i32) (local $e i32) (local $got i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (i32.store (i32.const 0x40) (i32.const 0x1000)) (i32.store (i32.const 0x44) (i32.const 1024))
      (local.set $e (call $send (local.get $fd) (i32.const 0x40) (i32.const 1) (i32.const 0) (i32.const 0x10)))
      (if (local.get $e) (then (return (local.get $e))))
      (if (i32.ne (i32.load (i32.const 0x10)) (i32.const 1024)) (then (return (i32.const -1))))
      (local.set $got (i32.const 0))
      (loop $more
        (i32.store (i32.const 0x48) (i32.add (i32.const 0x1400) (local.get $got)))
        (i32.store (i32.const 0x4c) (i32.sub (i32.const 1024) (local.get $got)))
        (local.set $e (call $recv (local.get $fd) (i32.const 0x48) (i32.const 1) (i32.const 0) (i32.const 0x14) (i32.const 0x18)))
        (if (local.get $e) (then (return (local.get $e))))
        (if (i32.eqz (i32.load (i32.const 0x14))) (then (return (i32.const -2))))
        (local.set $got (i32.add (local.get $got) (i32.load (i32.const 0x14))))
        (br_if $more (i32.lt_u (local.get $got) (i32.const 1024))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
    (i32.const 0)))`

// Memory layout of the harness: 0x10 out u32, 0x14 out u32, 0x18 out u32, 0x20 address {buf,len},
// 0x30 address bytes, 0x40 iovec, 0x100 strings, 0x1000 data buffer (4 KiB), 0x3000 poll area.
const (
	outA, outB, outC = 0x10, 0x14, 0x18
	addrStruct       = 0x20
	addrBytes        = 0x30
	iovec            = 0x40
	strs             = 0x100
	data             = 0x1000
	pollIn           = 0x3000
	pollOut          = 0x3400
	memSize          = 2 << 16
)

type guest struct {
	t  testing.TB
	in *host.Instance
}

type setup struct {
	allow      []string
	listen     []string
	maxSockets int
	resolver   allowlist.Resolver
	preopen    string
}

func newEngine(t testing.TB, s setup) *host.Module {
	t.Helper()
	list, err := allowlist.Parse(s.allow)
	if err != nil {
		t.Fatal(err)
	}
	list.Resolver = s.resolver
	x, err := New(Config{Allow: list, Listen: s.listen, MaxSockets: s.maxSockets, ConnectTimeout: 2 * time.Second, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	e, err := host.NewEngine(host.Options{Extensions: []host.Extension{x}, PoolSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	m, err := e.LoadBytes("sock.wasm", []byte(harness))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newGuest(t testing.TB, s setup) *guest {
	m := newEngine(t, s)
	rc := host.RunConfig{}
	if s.preopen != "" {
		rc.Preopens = []host.Preopen{{HostPath: s.preopen, GuestPath: "/data"}}
	}
	in, err := m.Instantiate(context.Background(), rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Close)
	return &guest{t: t, in: in}
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

func (g *guest) mem() []byte             { return g.in.Memory() }
func (g *guest) u32(off int) uint32      { return binary.LittleEndian.Uint32(g.mem()[off:]) }
func (g *guest) put32(off int, v uint32) { binary.LittleEndian.PutUint32(g.mem()[off:], v) }

// setAddr writes an address struct for ip.
func (g *guest) setAddr(ip netip.Addr) {
	b := ip.AsSlice()
	copy(g.mem()[addrBytes:], b)
	g.put32(addrStruct, addrBytes)
	g.put32(addrStruct+4, uint32(len(b)))
}

func (g *guest) open() int32 {
	if e := g.call("open", afInet4, typeStream, outA); e != 0 {
		g.t.Fatalf("sock_open: %d", e)
	}
	return int32(g.u32(outA))
}

func (g *guest) connect(fd int32, ap netip.AddrPort) int32 {
	g.setAddr(ap.Addr())
	return g.call("connect", fd, addrStruct, int32(ap.Port()))
}

func (g *guest) send(fd int32, s string) (int32, uint32) {
	copy(g.mem()[data:], s)
	g.put32(iovec, data)
	g.put32(iovec+4, uint32(len(s)))
	e := g.call("send", fd, iovec, 1, 0, outB)
	return e, g.u32(outB)
}

func (g *guest) recv(fd int32, n int, flags int32) (int32, string) {
	g.put32(iovec, data)
	g.put32(iovec+4, uint32(n))
	e := g.call("recv", fd, iovec, 1, flags, outB, outC)
	if e != 0 {
		return e, ""
	}
	return e, string(g.mem()[data : data+int(g.u32(outB))])
}

// echoServer echoes every connection; it counts accepted connections, and those still open.
func echoServer(t testing.TB) (netip.AddrPort, *int32) {
	ap, accepted, _ := echoServerOpen(t)
	return ap, accepted
}

func echoServerOpen(t testing.TB) (netip.AddrPort, *int32, *atomic.Int32) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var accepted int32
	open := &atomic.Int32{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted++
			open.Add(1)
			go func() { io.Copy(c, c); c.Close(); open.Add(-1) }()
		}
	}()
	return netip.MustParseAddrPort(l.Addr().String()), &accepted, open
}

func TestConnectSendRecv(t *testing.T) {
	ap, _ := echoServer(t)
	g := newGuest(t, setup{allow: []string{"tcp://" + ap.String()}})
	fd := g.open()
	if fd < FirstFD {
		t.Fatalf("socket fd %#x collides with WASI's small fds", fd)
	}
	if e := g.connect(fd, ap); e != 0 {
		t.Fatalf("connect: %d", e)
	}
	if e := g.connect(fd, ap); e != errIsConn {
		t.Fatalf("second connect: %d", e)
	}
	if e, n := g.send(fd, "hello socket"); e != 0 || n != 12 {
		t.Fatalf("send: %d %d", e, n)
	}
	time.Sleep(20 * time.Millisecond)
	if e, s := g.recv(fd, 5, 1 /* PEEK */); e != 0 || s != "hello" {
		t.Fatalf("peek: %d %q", e, s)
	}
	if e, s := g.recv(fd, 12, 2 /* WAITALL: exactly what was sent */); e != 0 || s != "hello socket" {
		t.Fatalf("recv: %d %q", e, s)
	}
	// peer and local addresses
	g.put32(addrStruct, addrBytes)
	g.put32(addrStruct+4, 16)
	if e := g.call("peer", fd, addrStruct, outB, outC); e != 0 || g.u32(outB) != 4 || g.u32(outC) != uint32(ap.Port()) ||
		!bytes.Equal(g.mem()[addrBytes:addrBytes+4], []byte{127, 0, 0, 1}) {
		t.Fatalf("getpeeraddr: %d type %d port %d", e, g.u32(outB), g.u32(outC))
	}
	if e := g.call("local", fd, addrStruct, outB, outC); e != 0 || g.u32(outC) == 0 {
		t.Fatalf("getlocaladdr: %d port %d", e, g.u32(outC))
	}
	// socket options: keepalive set and read back; an unknown level is refused
	g.put32(outB, 1)
	if e := g.call("setopt", fd, 0, 7, outB, 4); e != 0 {
		t.Fatalf("setsockopt keepalive: %d", e)
	}
	g.put32(outC, 4)
	if e := g.call("getopt", fd, 0, 7, outB, outC); e != 0 || g.u32(outB) == 0 {
		t.Fatalf("getsockopt keepalive: %d %d", e, g.u32(outB))
	}
	if e := g.call("getopt", fd, 6, 7, outB, outC); e != errNoProtoOpt {
		t.Fatalf("getsockopt on another level: %d", e)
	}
	if e := g.call("setopt", fd, 0, 14, outB, 4); e != errNoProtoOpt {
		t.Fatalf("BINDTODEVICE must be refused: %d", e)
	}
	if e := g.call("shutdown", fd, 2); e != 0 {
		t.Fatalf("shutdown: %d", e)
	}
	if e := g.call("shutdown", fd, 9); e != errInval {
		t.Fatalf("shutdown with a bad how: %d", e)
	}
	if e := g.call("close", fd); e != 0 {
		t.Fatalf("fd_close on a socket: %d", e)
	}
	if e, _ := g.send(fd, "x"); e != errBadf {
		t.Fatalf("send after close: %d", e)
	}
}

func TestDeniedAndBadInput(t *testing.T) {
	ap, accepted := echoServer(t)
	other := netip.AddrPortFrom(ap.Addr(), ap.Port()+1)
	g := newGuest(t, setup{allow: []string{"tcp://" + other.String(), "http://" + ap.String()}, maxSockets: 3})
	fd := g.open()
	// http:// for the same address does not allow tcp; nor does another port.
	if e := g.connect(fd, ap); e != errNotCapable {
		t.Fatalf("connect elsewhere: %d, want NOTCAPABLE", e)
	}
	if *accepted != 0 {
		t.Fatal("a denied connect reached the server")
	}
	// bad arguments
	if e := g.call("open", 3, typeStream, outA); e != errAIFamily {
		t.Fatalf("unix sockets: %d", e)
	}
	if e := g.call("open", afInet4, 7, outA); e != errInval {
		t.Fatalf("bad type: %d", e)
	}
	if e := g.call("open", afInet4, typeStream, memSize-2); e != errFault {
		t.Fatalf("fd_out out of range: %d", e)
	}
	g.put32(addrStruct, addrBytes)
	g.put32(addrStruct+4, 5)
	if e := g.call("connect", fd, addrStruct, 80); e != errInval {
		t.Fatalf("5-byte address: %d", e)
	}
	if e := g.call("connect", fd, memSize-4, 80); e != errFault {
		t.Fatalf("address struct out of range: %d", e)
	}
	if e := g.call("connect", 12345, addrStruct, 80); e != errBadf {
		t.Fatalf("unknown fd: %d", e)
	}
	if e, _ := g.recv(fd, 10, 0); e != errNotConn {
		t.Fatalf("recv before connect: %d", e)
	}
	g.put32(iovec, memSize-2)
	g.put32(iovec+4, 10)
	if e := g.call("send", fd, iovec, 1, 0, outB); e != errNotConn {
		t.Fatalf("send before connect: %d", e)
	}
	// too many sockets
	g.open()
	g.open()
	if e := g.call("open", afInet4, typeStream, outA); e != errMfile {
		t.Fatalf("fourth socket: %d, want MFILE", e)
	}
	// listening without a grant
	g.setAddr(netip.MustParseAddr("127.0.0.1"))
	if e := g.call("bind", fd, addrStruct, 18099); e != errNotCapable {
		t.Fatalf("bind without a grant: %d", e)
	}
	if e := g.call("listen", fd, 5); e != errNotCapable {
		t.Fatalf("listen without a grant: %d", e)
	}
	// UDP needs an udp:// entry: tcp:// for the same address is not enough
	g.call("close", fd)
	if e := g.call("open", afInet4, typeDgram, outA); e != 0 {
		t.Fatal(e)
	}
	g.setAddr(other.Addr())
	g.put32(iovec, data)
	g.put32(iovec+4, 4)
	if e := g.call("send_to", int32(g.u32(outA)), iovec, 1, addrStruct, int32(other.Port()), 0, outB); e != errNotCapable {
		t.Fatalf("send_to a tcp-only destination: %d", e)
	}
}

func TestUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() { // echo
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	ap := netip.MustParseAddrPort(pc.LocalAddr().String())
	g := newGuest(t, setup{allow: []string{"udp://" + ap.String()}})
	if e := g.call("open", afInet4, typeDgram, outA); e != 0 {
		t.Fatal(e)
	}
	fd := int32(g.u32(outA))
	if e := g.call("recv_from", fd, iovec, 1, 0x2000, 0, outB, outC, 0x1c); e != errNotConn {
		t.Fatalf("recv_from before anything was sent: %d", e)
	}
	g.setAddr(ap.Addr())
	copy(g.mem()[data:], "datagram")
	g.put32(iovec, data)
	g.put32(iovec+4, 8)
	if e := g.call("send_to", fd, iovec, 1, addrStruct, int32(ap.Port()), 0, outB); e != 0 || g.u32(outB) != 8 {
		t.Fatalf("send_to: %d sent %d", e, g.u32(outB))
	}
	// A stranger writes to the guest's socket first: it must never be seen.
	g.put32(addrStruct+4, 16)
	g.put32(addrStruct, addrBytes)
	copy(g.mem()[addrBytes:], make([]byte, 16))
	stranger, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer stranger.Close()
	// the guest's local port
	local := netip.AddrPort{}
	for i := 0; i < 2 && !local.IsValid(); i++ {
		if e := g.call("local", fd, addrStruct, outB, outC); e == 0 {
			local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(g.mem()[addrBytes:addrBytes+4])), uint16(g.u32(outC)))
		}
	}
	stranger.WriteTo([]byte("spoofed!"), net.UDPAddrFromAddrPort(local))
	time.Sleep(20 * time.Millisecond)
	g.put32(iovec, data+0x100)
	g.put32(iovec+4, 64)
	if e := g.call("recv_from", fd, iovec, 1, 0x2000, 0, outB, outC, 0x1c); e != 0 {
		t.Fatalf("recv_from: %d", e)
	}
	got := string(g.mem()[data+0x100 : data+0x100+int(g.u32(outC))])
	if got != "datagram" || g.u32(outB) != uint32(ap.Port()) || binary.LittleEndian.Uint16(g.mem()[0x2000:]) != afInet4 ||
		!bytes.Equal(g.mem()[0x2002:0x2006], []byte{127, 0, 0, 1}) {
		t.Fatalf("recv_from got %q from port %d family %d", got, g.u32(outB), binary.LittleEndian.Uint16(g.mem()[0x2000:]))
	}
	// connect, then plain send/recv on the datagram socket
	if e := g.connect(fd, ap); e != 0 {
		t.Fatalf("connect a datagram socket: %d", e)
	}
	if e, n := g.send(fd, "again"); e != 0 || n != 5 {
		t.Fatalf("send: %d %d", e, n)
	}
	if e, s := g.recv(fd, 64, 0); e != 0 || s != "again" {
		t.Fatalf("recv: %d %q", e, s)
	}
}

func TestListenWithGrant(t *testing.T) {
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	g := newGuest(t, setup{listen: []string{addr}})
	fd := g.open()
	g.setAddr(netip.MustParseAddr("127.0.0.1"))
	if e := g.call("bind", fd, addrStruct, int32(port+1)); e != errNotCapable {
		t.Fatalf("bind on another port: %d", e)
	}
	if e := g.call("bind", fd, addrStruct, int32(port)); e != 0 {
		t.Fatalf("bind: %d", e)
	}
	if e := g.call("listen", fd, 8); e != 0 {
		t.Fatalf("listen: %d", e)
	}
	go func() {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Write([]byte("inbound"))
			time.Sleep(100 * time.Millisecond)
			c.Close()
		}
	}()
	if e := g.call("accept", fd, outA); e != 0 {
		t.Fatalf("accept: %d", e)
	}
	cfd := int32(g.u32(outA))
	if e, s := g.recv(cfd, 7, 2); e != 0 || s != "inbound" {
		t.Fatalf("recv on accepted: %d %q", e, s)
	}
}

func freePort(t testing.TB) int {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range f[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

// getaddrinfo fills guest-linked entries: two addrinfo at 0x2000/0x2020, sockaddrs at 0x2100/0x2110,
// data at 0x2200/0x2240.
func (g *guest) gai(node, service string, max int32) (int32, []netip.AddrPort) {
	copy(g.mem()[strs:], node)
	copy(g.mem()[strs+0x80:], service)
	for i := 0; i < 2; i++ {
		ai := 0x2000 + 0x20*i
		for j := 0; j < 28; j++ {
			g.mem()[ai+j] = 0
		}
		g.put32(ai+12, uint32(0x2100+0x10*i))
		g.put32(0x2100+0x10*i+8, uint32(0x2200+0x40*i))
		if i == 0 {
			g.put32(ai+24, 0x2020)
		}
	}
	g.put32(outA, 0x2000)
	e := g.call("gai", strs, int32(len(node)), strs+0x80, int32(len(service)), 0, outA, max, outB)
	if e != 0 {
		return e, nil
	}
	var out []netip.AddrPort
	for i := 0; i < int(g.u32(outB)); i++ {
		d := g.mem()[0x2200+0x40*i:]
		port := binary.BigEndian.Uint16(d)
		if g.mem()[0x2100+0x10*i] == afInet4 {
			ip, _ := netip.AddrFromSlice(d[2:6])
			out = append(out, netip.AddrPortFrom(ip, port))
		} else {
			ip, _ := netip.AddrFromSlice(d[6:22])
			out = append(out, netip.AddrPortFrom(ip, port))
		}
	}
	return e, out
}

func TestGetaddrinfo(t *testing.T) {
	ap, _ := echoServer(t)
	port := strconv.Itoa(int(ap.Port()))
	res := fakeResolver{"db.test": {"127.0.0.1", "::1"}, "meta.test": {"169.254.169.254"}, "free.test": {"127.0.0.1"}}
	g := newGuest(t, setup{allow: []string{"tcp://db.test:" + port, "tcp://meta.test:80"}, resolver: res})
	e, addrs := g.gai("db.test", port, 2)
	if e != 0 || len(addrs) != 2 || addrs[0] != ap || addrs[1].Addr() != netip.MustParseAddr("::1") {
		t.Fatalf("getaddrinfo db.test: %d %v", e, addrs)
	}
	if e, _ := g.gai("free.test", port, 2); e != errAINoName {
		t.Fatalf("a name no entry names: %d, want AINONAME", e)
	}
	if e, _ := g.gai("meta.test", "80", 2); e != errAINoName {
		t.Fatalf("a name that resolves only to link-local: %d", e)
	}
	if e, _ := g.gai("db.test", "not-a-port", 2); e != errAIService {
		t.Fatalf("bad service: %d", e)
	}
	if e, addrs := g.gai("db.test", port, 1); e != 0 || len(addrs) != 1 {
		t.Fatalf("max_len 1: %d %v", e, addrs)
	}
	// The resolved address may be connected to, as the name.
	fd := g.open()
	if e := g.connect(fd, ap); e != 0 {
		t.Fatalf("connect to a resolved address: %d", e)
	}
	// but only on the port the name is allowed for
	fd2 := g.open()
	if e := g.connect(fd2, netip.AddrPortFrom(ap.Addr(), 1)); e != errNotCapable {
		t.Fatalf("resolved address on another port: %d", e)
	}
}

func TestNonBlockingAndPoll(t *testing.T) {
	ap, _ := echoServer(t)
	g := newGuest(t, setup{allow: []string{"tcp://" + ap.String()}})
	fd := g.open()
	if e := g.connect(fd, ap); e != 0 {
		t.Fatal(e)
	}
	if e := g.call("setflags", fd, 4); e != 0 {
		t.Fatalf("set NONBLOCK: %d", e)
	}
	if e := g.call("fdstat", fd, 0x2800); e != 0 || g.mem()[0x2800] != 6 || binary.LittleEndian.Uint16(g.mem()[0x2802:]) != 4 {
		t.Fatalf("fdstat of a socket: %d type %d flags %d", e, g.mem()[0x2800], binary.LittleEndian.Uint16(g.mem()[0x2802:]))
	}
	if e, _ := g.recv(fd, 10, 0); e != errAgain {
		t.Fatalf("recv with nothing to read: %d, want AGAIN", e)
	}
	// poll: read on the socket, plus a 2 s clock; the echo makes the socket readable first.
	sub := func(i int, userdata uint64, tag byte, fdOrClock uint32, timeout uint64) {
		b := g.mem()[pollIn+48*i : pollIn+48*i+48]
		for j := range b {
			b[j] = 0
		}
		binary.LittleEndian.PutUint64(b, userdata)
		b[8] = tag
		binary.LittleEndian.PutUint32(b[16:], fdOrClock)
		binary.LittleEndian.PutUint64(b[24:], timeout)
	}
	sub(0, 11, 1, uint32(fd), 0)
	sub(1, 22, 0, 1, uint64(2*time.Second))
	g.send(fd, "ping")
	start := time.Now()
	if e := g.call("poll", pollIn, pollOut, 2, outA); e != 0 {
		t.Fatalf("poll: %d", e)
	}
	if n := g.u32(outA); n != 1 || binary.LittleEndian.Uint64(g.mem()[pollOut:]) != 11 || g.mem()[pollOut+10] != 1 {
		t.Fatalf("poll events %d, first userdata %d type %d", n, binary.LittleEndian.Uint64(g.mem()[pollOut:]), g.mem()[pollOut+10])
	}
	if time.Since(start) > time.Second {
		t.Fatalf("poll waited for the clock: %v", time.Since(start))
	}
	if e, s := g.recv(fd, 10, 0); e != 0 || s != "ping" {
		t.Fatalf("recv after poll: %d %q", e, s)
	}
	// nothing to read: the clock fires
	sub(0, 11, 1, uint32(fd), 0)
	sub(1, 22, 0, 1, uint64(50*time.Millisecond))
	if e := g.call("poll", pollIn, pollOut, 2, outA); e != 0 || g.u32(outA) != 1 || binary.LittleEndian.Uint64(g.mem()[pollOut:]) != 22 {
		t.Fatalf("clock poll: %d n=%d", e, g.u32(outA))
	}
	// a poll with no socket in it goes to wasmtime (a clock alone)
	sub(0, 33, 0, 1, uint64(10*time.Millisecond))
	if e := g.call("poll", pollIn, pollOut, 1, outA); e != 0 || g.u32(outA) != 1 || binary.LittleEndian.Uint64(g.mem()[pollOut:]) != 33 {
		t.Fatalf("delegated clock poll: %d n=%d", e, g.u32(outA))
	}
}

// fd_close, fd_fdstat_get and fd_fdstat_set_flags still work for ordinary fds.
func TestOrdinaryFdsStillWork(t *testing.T) {
	g := newGuest(t, setup{preopen: t.TempDir()})
	if e := g.call("fdstat", 3, 0x2800); e != 0 || g.mem()[0x2800] != 3 /* directory */ {
		t.Fatalf("fdstat of the preopen: %d type %d", e, g.mem()[0x2800])
	}
	if e := g.call("fdstat", 1, 0x2800); e != 0 {
		t.Fatalf("fdstat of stdout: %d", e)
	}
	if e := g.call("close", 3); e != 0 {
		t.Fatalf("fd_close of the preopen: %d", e)
	}
	if e := g.call("close", 3); e != errBadf {
		t.Fatalf("second fd_close: %d, want BADF", e)
	}
	if e := g.call("close", 77); e != errBadf {
		t.Fatalf("fd_close of an unknown fd: %d", e)
	}
}

// Sockets die with their instance, whatever the guest did.
func TestLeakedSocketsAreClosed(t *testing.T) {
	ap, _, stillOpen := echoServerOpen(t)
	m := newEngine(t, setup{allow: []string{"tcp://" + ap.String()}})
	cycle := func(i int) {
		in, err := m.Instantiate(context.Background(), host.RunConfig{})
		if err != nil {
			t.Fatal(err)
		}
		g := &guest{t: t, in: in}
		fd := g.open()
		if i%10 == 0 { // every tenth one really connects
			if e := g.connect(fd, ap); e != 0 {
				t.Fatalf("connect %d: %d", i, e)
			}
		}
		g.open()
		in.Close()
	}
	// Warm up first: the runtime's poller, wasmtime's memory images and the echo server's listener
	// make their own fds once.
	for i := 0; i < 20; i++ {
		cycle(i)
	}
	time.Sleep(100 * time.Millisecond)
	before := openFDs(t)
	n := 10000
	if testing.Short() {
		n = 500
	}
	for i := 0; i < n; i++ {
		cycle(i)
	}
	// Every connection the guests made was closed: the server saw each one end.
	for i := 0; i < 250 && stillOpen.Load() != 0; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if n := stillOpen.Load(); n != 0 {
		t.Fatalf("%d guest connections still open after their instances ended", n)
	}
	// And the process holds no more fds than before (the server's ends close once they see EOF).
	after := openFDs(t)
	for i := 0; i < 100 && after > before+8; i++ {
		time.Sleep(20 * time.Millisecond)
		after = openFDs(t)
	}
	if after > before+8 {
		t.Fatalf("%d fds open before, %d after %d leaking instances", before, after, n)
	}
}

func openFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

var _ = fmt.Sprint
var _ = strings.Repeat
