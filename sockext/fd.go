package sockext

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"golang.org/x/sys/unix"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
	"github.com/wasi-dapr-host/wasi-dapr-host/internal/guestmem"
)

// wasiHelper re-exports wasmtime's own WASI functions that the socket extension replaces, so ordinary
// fds go on to wasmtime: Go cannot call a WASI function on a guest's behalf (it needs a calling
// instance), but this helper, instantiated in the guest's store, can.
const wasiHelper = `(module
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_flags" (func $setflags (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "close") (param i32) (result i32) (call $close (local.get 0)))
  (func (export "fdstat") (param i32) (result i32) (call $fdstat (local.get 0) (i32.const 0)))
  (func (export "setflags") (param i32 i32) (result i32) (call $setflags (local.get 0) (local.get 1)))
  (func (export "poll") (param i32) (result i32)
    (call $poll (i32.const 0x100) (i32.const 0x10000) (local.get 0) (i32.const 0x20))))`

// Helper memory layout: fdstat result at 0, nevents at 0x20, subscriptions from 0x100, events from
// 0x10000 (2 pages in all).
const (
	helperSubs   = 0x100
	helperEvents = 0x10000
	maxPollSubs  = (helperEvents - helperSubs) / 48
)

func helperCall(c *wasmtime.Caller, fn string, args ...interface{}) (int32, guestmem.Memory, int32) {
	inst, err := host.WASIHelper(c, wasiHelper)
	if err != nil {
		return 0, nil, errIO
	}
	ext := inst.GetExport(c, "memory")
	if ext == nil || ext.Memory() == nil {
		return 0, nil, errIO
	}
	f := inst.GetFunc(c, fn)
	out, err := f.Call(c, args...)
	if err != nil {
		return 0, nil, errIO
	}
	return out.(int32), guestmem.Memory(ext.Memory().UnsafeData(c)), errSuccess
}

func (s *Session) fdClose(c *wasmtime.Caller, fd int32) int32 {
	if sk, ok := s.socks[fd]; ok {
		if sk.fd >= 0 {
			unix.Close(sk.fd)
		}
		delete(s.socks, fd)
		return errSuccess
	}
	r, _, e := helperCall(c, "close", fd)
	if e != errSuccess {
		return e
	}
	return r
}

func (s *Session) fdstatGet(c *wasmtime.Caller, fd, out int32) int32 {
	mem, _ := guestmem.Of(c)
	dst, ok := mem.Slice(uint32(out), 24)
	if !ok {
		return errFault
	}
	sk, isSock := s.socks[fd]
	if !isSock {
		r, hm, e := helperCall(c, "fdstat", fd)
		if e != errSuccess {
			return e
		}
		if r == errSuccess {
			copy(memOf(c)[uint32(out):uint32(out)+24], hm[:24])
		}
		return r
	}
	for i := range dst {
		dst[i] = 0
	}
	dst[0] = 6 // socket_stream
	if sk.typ == typeDgram {
		dst[0] = 5
	}
	if sk.nonblock {
		binary.LittleEndian.PutUint16(dst[2:], 4)
	}
	binary.LittleEndian.PutUint64(dst[8:], 0x1FFFFFFF)
	binary.LittleEndian.PutUint64(dst[16:], 0x1FFFFFFF)
	return errSuccess
}

func (s *Session) fdstatSetFlags(c *wasmtime.Caller, fd, flags int32) int32 {
	sk, isSock := s.socks[fd]
	if !isSock {
		r, _, e := helperCall(c, "setflags", fd, flags)
		if e != errSuccess {
			return e
		}
		return r
	}
	if flags&^4 != 0 {
		return errInval // only NONBLOCK means anything for a socket
	}
	sk.nonblock = flags&4 != 0
	if sk.fd >= 0 {
		if err := unix.SetNonblock(sk.fd, sk.nonblock); err != nil {
			return errno(err)
		}
	}
	return errSuccess
}

// pollOneoff waits on socket subscriptions itself (with clocks as its timeout) and hands every poll
// without a socket in it to wasmtime. In a mixed poll, ordinary fds are reported ready at once (as
// wasmtime reports regular files).
func (s *Session) pollOneoff(c *wasmtime.Caller, in, out, n, neventsOut int32) int32 {
	mem, _ := guestmem.Of(c)
	count := uint32(n)
	if count == 0 {
		return errInval
	}
	subs, ok := mem.Slice(uint32(in), 48*count)
	if !ok {
		return errFault
	}
	if _, ok := mem.Slice(uint32(out), 32*count); !ok {
		return errFault
	}
	if _, ok := mem.Slice(uint32(neventsOut), 4); !ok {
		return errFault
	}
	hasSocket := false
	for i := uint32(0); i < count; i++ {
		sub := subs[48*i:]
		if tag := sub[8]; tag == 1 || tag == 2 {
			if _, ok := s.socks[int32(binary.LittleEndian.Uint32(sub[16:]))]; ok {
				hasSocket = true
			}
		}
	}
	if !hasSocket {
		if count > maxPollSubs {
			return errInval
		}
		inst, err := host.WASIHelper(c, wasiHelper)
		if err != nil {
			return errIO
		}
		hm := guestmem.Memory(inst.GetExport(c, "memory").Memory().UnsafeData(c))
		copy(hm[helperSubs:], subs)
		out32, err := inst.GetFunc(c, "poll").Call(c, int32(count))
		if err != nil {
			return errIO
		}
		if r := out32.(int32); r != errSuccess {
			return r
		}
		hm = guestmem.Memory(inst.GetExport(c, "memory").Memory().UnsafeData(c))
		nev := binary.LittleEndian.Uint32(hm[0x20:])
		if nev > count {
			nev = count
		}
		mem, _ = guestmem.Of(c)
		copy(mem[uint32(out):], hm[helperEvents:helperEvents+32*nev])
		mem.PutU32(uint32(neventsOut), nev)
		return errSuccess
	}

	type pending struct {
		i        uint32
		pollIdx  int
		deadline time.Time
	}
	var fds []unix.PollFd
	var waits []pending
	events := make([]byte, 0, 32*count)
	now := time.Now()
	var timeout time.Duration = -1
	event := func(sub []byte, typ byte, errn uint16, nbytes uint64, hup bool) {
		ev := make([]byte, 32)
		copy(ev[0:8], sub[0:8])
		binary.LittleEndian.PutUint16(ev[8:], errn)
		ev[10] = typ
		binary.LittleEndian.PutUint64(ev[16:], nbytes)
		if hup {
			binary.LittleEndian.PutUint16(ev[24:], 1)
		}
		events = append(events, ev...)
	}
	for i := uint32(0); i < count; i++ {
		sub := subs[48*i : 48*i+48]
		switch sub[8] {
		case 0: // clock
			t := time.Duration(binary.LittleEndian.Uint64(sub[24:]))
			if binary.LittleEndian.Uint16(sub[40:])&1 != 0 { // absolute time on that clock
				t = absoluteToRelative(binary.LittleEndian.Uint32(sub[16:]), uint64(t))
			}
			if t < 0 {
				t = 0
			}
			if timeout < 0 || t < timeout {
				timeout = t
			}
			waits = append(waits, pending{i: i, pollIdx: -1, deadline: now.Add(t)})
		case 1, 2:
			fd := int32(binary.LittleEndian.Uint32(sub[16:]))
			sk, ok := s.socks[fd]
			if !ok || sk.fd < 0 {
				if !ok {
					event(sub, sub[8], 0, 0, false) // ordinary fd: ready
				} else {
					event(sub, sub[8], errNotConn, 0, false)
				}
				continue
			}
			ev := int16(unix.POLLIN)
			if sub[8] == 2 {
				ev = unix.POLLOUT
			}
			fds = append(fds, unix.PollFd{Fd: int32(sk.fd), Events: ev})
			waits = append(waits, pending{i: i, pollIdx: len(fds) - 1})
		default:
			return errInval
		}
	}
	if len(events) > 0 {
		timeout = 0
	}
	var ts *unix.Timespec
	if timeout >= 0 {
		t := unix.NsecToTimespec(timeout.Nanoseconds())
		ts = &t
	}
	for {
		_, err := unix.Ppoll(fds, ts, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return errno(err)
		}
		break
	}
	after := time.Now()
	for _, w := range waits {
		sub := subs[48*w.i : 48*w.i+48]
		if w.pollIdx < 0 {
			if !after.Before(w.deadline) {
				event(sub, 0, 0, 0, false)
			}
			continue
		}
		re := fds[w.pollIdx].Revents
		if re == 0 {
			continue
		}
		var errn uint16
		if re&(unix.POLLERR|unix.POLLNVAL) != 0 {
			errn = errIO
		}
		var nbytes uint64
		if sub[8] == 1 {
			if v, err := unix.IoctlGetInt(int(fds[w.pollIdx].Fd), unix.SIOCINQ); err == nil && v > 0 {
				nbytes = uint64(v)
			}
		}
		event(sub, sub[8], errn, nbytes, re&unix.POLLHUP != 0)
	}
	mem, _ = guestmem.Of(c)
	copy(mem[uint32(out):], events)
	mem.PutU32(uint32(neventsOut), uint32(len(events)/32))
	return errSuccess
}

// absoluteToRelative turns an absolute time on a WASI clock (0 realtime, 1 monotonic) into a wait.
func absoluteToRelative(clock uint32, ns uint64) time.Duration {
	var ts unix.Timespec
	id := unix.CLOCK_MONOTONIC
	if clock == 0 {
		id = unix.CLOCK_REALTIME
	}
	if err := unix.ClockGettime(int32(id), &ts); err != nil {
		return 0
	}
	return time.Duration(int64(ns) - ts.Nano())
}

// getaddrinfo resolves a name the allow-list names (scheme tcp), or returns an IP literal as is, and
// fills the guest's pre-linked addrinfo entries.
func (s *Session) getaddrinfo(c *wasmtime.Caller, node, nodeLen, service, serviceLen, hints, res, maxLen, resLenOut int32) int32 {
	mem, _ := guestmem.Of(c)
	nodeB, ok1 := mem.Slice(uint32(node), uint32(nodeLen))
	servB, ok2 := mem.Slice(uint32(service), uint32(serviceLen))
	_, ok3 := mem.Slice(uint32(resLenOut), 4)
	first, ok4 := mem.U32(uint32(res))
	if !(ok1 && ok2 && ok3 && ok4) {
		return errFault
	}
	if !utf8.Valid(nodeB) || !utf8.Valid(servB) || len(nodeB) == 0 {
		return errAINoName
	}
	name := string(nodeB)
	var port uint16
	switch sv := string(servB); sv {
	case "":
	case "http":
		port = 80
	case "https":
		port = 443
	default:
		p, err := strconv.ParseUint(sv, 10, 16)
		if err != nil {
			return errAIService
		}
		port = uint16(p)
	}
	family, socktype, protocol := byte(0), byte(typeStream), byte(1)
	if hints != 0 {
		h, ok := mem.Slice(uint32(hints), 28)
		if !ok {
			return errFault
		}
		family = h[2]
		if h[3] != 0 {
			socktype = h[3]
		}
		if h[4] != 0 {
			protocol = h[4]
		}
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(name); err == nil {
		addrs = []netip.Addr{ip.Unmap()}
	} else {
		scheme := allowlist.SchemeTCP
		if socktype == typeDgram {
			scheme = allowlist.SchemeUDP
		}
		if !s.list.NamesHost(scheme, name) {
			t, _ := allowlist.NewTarget(scheme, name, max(port, 1))
			s.denied(t, "the name is not in the allow-list")
			return errAINoName
		}
		ctx, cancel := context.WithTimeout(s.inst.Context, s.x.cfg.ConnectTimeout)
		defer cancel()
		var r allowlist.Resolver = net.DefaultResolver
		if s.list.Resolver != nil {
			r = s.list.Resolver
		}
		found, err := r.LookupNetIP(ctx, "ip", name)
		if err != nil {
			return errAINoName
		}
		for _, a := range found {
			a = a.Unmap()
			if a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast() || a.IsLinkLocalMulticast() {
				continue // never reached through a name (as for HTTP)
			}
			if s.resolved == nil {
				s.resolved = map[netip.Addr]string{}
			}
			s.resolved[a] = name
			addrs = append(addrs, a)
		}
	}
	var filled uint32
	cur := first
	for _, a := range addrs {
		if filled >= uint32(maxLen) || cur == 0 {
			break
		}
		if (family == afInet4 && !a.Is4()) || (family == afInet6 && !a.Is6()) {
			continue
		}
		ai, ok := mem.Slice(cur, 28)
		if !ok {
			return errFault
		}
		saPtr := binary.LittleEndian.Uint32(ai[12:])
		sa, ok := mem.Slice(saPtr, 12)
		if !ok {
			return errFault
		}
		dataPtr := binary.LittleEndian.Uint32(sa[8:])
		dataLen := uint32(14)
		fam := byte(afInet4)
		if a.Is6() {
			dataLen, fam = 26, afInet6
		}
		data, ok := mem.Slice(dataPtr, dataLen)
		if !ok {
			return errFault
		}
		for i := range data {
			data[i] = 0
		}
		binary.BigEndian.PutUint16(data, port)
		if a.Is4() {
			ip := a.As4()
			copy(data[2:], ip[:])
		} else {
			ip := a.As16()
			copy(data[6:], ip[:])
		}
		sa[0] = fam
		binary.LittleEndian.PutUint32(sa[4:], dataLen)
		binary.LittleEndian.PutUint16(ai[0:], 0)
		ai[2], ai[3], ai[4] = fam, socktype, protocol
		binary.LittleEndian.PutUint32(ai[8:], dataLen)
		binary.LittleEndian.PutUint32(ai[20:], 0) // no canonical name
		filled++
		cur = binary.LittleEndian.Uint32(ai[24:])
	}
	if filled == 0 {
		return errAINoName
	}
	mem.PutU32(uint32(resLenOut), filled)
	return errSuccess
}
