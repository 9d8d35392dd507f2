package sockext

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"syscall"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"golang.org/x/sys/unix"

	"github.com/wasi-dapr-host/wasi-dapr-host/allowlist"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
	"github.com/wasi-dapr-host/wasi-dapr-host/internal/guestmem"
	"github.com/wasi-dapr-host/wasi-dapr-host/internal/rawsock"
)

// Address families and socket types as guests give them.
const (
	afInet4    = 1
	afInet6    = 2
	typeDgram  = 1
	typeStream = 2
)

// socket is one guest socket. The OS socket exists from connect, bind or accept on; before that only
// the guest's choices are kept.
type socket struct {
	fd        int // OS fd, -1 until there is one
	family    int32
	typ       int32
	nonblock  bool
	listening bool
	pending   map[int]int // SOL_SOCKET int options set before the OS socket existed
}

// Session is one instance's sockets, all closed when the instance ends.
type Session struct {
	x     *Extension
	inst  *host.InstanceInfo
	list  *allowlist.List
	socks map[int32]*socket
	next  int32
	// resolved remembers which allowed name each address from getaddrinfo came from, so a connect to
	// it is judged as a connect to the name.
	resolved map[netip.Addr]string
}

// Close closes every socket the guest left open.
func (s *Session) Close() {
	for fd, sk := range s.socks {
		if sk.fd >= 0 {
			unix.Close(sk.fd)
		}
		delete(s.socks, fd)
	}
}

func (s *Session) get(fd int32) (*socket, int32) {
	sk, ok := s.socks[fd]
	if !ok {
		return nil, errBadf
	}
	return sk, errSuccess
}

func (s *Session) add(sk *socket) (int32, int32) {
	if len(s.socks) >= s.x.cfg.MaxSockets {
		return 0, errMfile
	}
	for {
		fd := s.next
		s.next++
		if s.next < FirstFD {
			s.next = FirstFD
		}
		if _, taken := s.socks[fd]; !taken {
			s.socks[fd] = sk
			return fd, errSuccess
		}
	}
}

func (s *Session) open(c *wasmtime.Caller, af, typ, fdOut int32) int32 {
	mem, _ := guestmem.Of(c)
	if _, ok := mem.Slice(uint32(fdOut), 4); !ok {
		return errFault
	}
	switch af {
	case afInet4, afInet6:
	case 0:
		af = afInet4
	default:
		return errAIFamily // unix sockets and others are refused
	}
	if typ != typeStream && typ != typeDgram {
		return errInval
	}
	fd, e := s.add(&socket{fd: -1, family: af, typ: typ})
	if e != errSuccess {
		return e
	}
	mem.PutU32(uint32(fdOut), uint32(fd))
	return errSuccess
}

// iovecs reads the guest's iovecs, capped at the bytes one call may move.
func (s *Session) iovecs(mem guestmem.Memory, iovs, n int32) ([][]byte, int32) {
	bufs, err := mem.Iovecs(uint32(iovs), uint32(n), s.x.cfg.MaxBytesPerCall)
	switch err {
	case nil:
		return bufs, errSuccess
	case guestmem.ErrTooMany:
		return nil, errInval
	default:
		return nil, errFault
	}
}

// memOf is the caller's memory (empty when it exports none, so every range check fails).
func memOf(c *wasmtime.Caller) guestmem.Memory {
	m, _ := guestmem.Of(c)
	return m
}

// readAddrPort reads a destination: an address (see readAddr) and a port in 1..65535.
func readAddrPort(mem guestmem.Memory, addrPtr, port int32) (netip.Addr, int32) {
	addr, e := readAddr(mem, addrPtr)
	if e != errSuccess {
		return addr, e
	}
	if port <= 0 || port > 65535 {
		return addr, errInval
	}
	return addr, errSuccess
}

// readAddr reads a {u32 buf, u32 len} address: 4 bytes IPv4 or 16 bytes IPv6, network order.
func readAddr(mem guestmem.Memory, ptr int32) (netip.Addr, int32) {
	hdr, ok := mem.Slice(uint32(ptr), 8)
	if !ok {
		return netip.Addr{}, errFault
	}
	buf, n := binary.LittleEndian.Uint32(hdr), binary.LittleEndian.Uint32(hdr[4:])
	if n != 4 && n != 16 {
		return netip.Addr{}, errInval
	}
	b, ok := mem.Slice(buf, n)
	if !ok {
		return netip.Addr{}, errFault
	}
	a, _ := netip.AddrFromSlice(b)
	return a.Unmap(), errSuccess
}

func (s *Session) connect(c *wasmtime.Caller, fd, addrPtr, port int32) int32 {
	sk, e := s.get(fd)
	if e != errSuccess {
		return e
	}
	if sk.fd >= 0 && sk.typ == typeStream {
		return errIsConn
	}
	mem, _ := guestmem.Of(c)
	addr, e := readAddrPort(mem, addrPtr, port)
	if e != errSuccess {
		return e
	}
	if sk.typ == typeDgram {
		return s.connectUDP(sk, addr, uint16(port))
	}
	t, err := allowlist.NewTarget(allowlist.SchemeTCP, addr.String(), uint16(port))
	if err != nil {
		return errInval
	}
	ctx, cancel := context.WithTimeout(s.inst.Context, s.x.cfg.ConnectTimeout)
	defer cancel()
	var conn net.Conn
	if _, ok := s.list.Match(t); ok {
		conn, err = s.list.DialContext(ctx, allowlist.SchemeTCP, "tcp", t.HostPort())
	} else if name, ok := s.resolved[addr]; ok {
		// An address our getaddrinfo gave for an allowed name (link-local and unspecified answers were
		// already dropped there): allowed if the name is allowed on this port.
		nt, _ := allowlist.NewTarget(allowlist.SchemeTCP, name, uint16(port))
		if _, ok := s.list.Match(nt); !ok {
			s.denied(nt, "not in the allow-list")
			return errNotCapable
		}
		d := net.Dialer{Timeout: s.x.cfg.ConnectTimeout}
		conn, err = d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, uint16(port)).String())
	} else {
		s.denied(t, "not in the allow-list")
		return errNotCapable
	}
	if err != nil {
		var de *allowlist.DeniedError
		if errors.As(err, &de) {
			s.denied(t, de.Reason)
			return errNotCapable
		}
		return dialErrno(err)
	}
	osfd, _, _, err := rawsock.Detach(conn)
	if err != nil {
		return errIO
	}
	sk.fd = osfd
	s.applyPending(sk)
	if sk.nonblock {
		unix.SetNonblock(osfd, true)
	}
	return errSuccess
}

func (s *Session) denied(t allowlist.Target, reason string) {
	if s.x.denials.Seen(s.inst.Module + " " + t.String()) {
		s.x.cfg.Log.Warn().Str("module", s.inst.Module).Str("destination", t.String()).Str("reason", reason).
			Str("allow_with", "--allow-host "+s.list.Suggest(t)).Msg("guest socket connect denied by the allow-list")
	}
}

func (s *Session) applyPending(sk *socket) {
	for opt, v := range sk.pending {
		unix.SetsockoptInt(sk.fd, unix.SOL_SOCKET, opt, v)
	}
	sk.pending = nil
}

func (s *Session) bind(c *wasmtime.Caller, fd, addrPtr, port int32) int32 {
	sk, e := s.get(fd)
	if e != errSuccess {
		return e
	}
	if sk.fd >= 0 {
		return errInval
	}
	if sk.typ != typeStream {
		return errNotSup
	}
	addr, e := readAddr(memOf(c), addrPtr)
	if e != errSuccess {
		return e
	}
	if port < 0 || port > 65535 {
		return errInval
	}
	ap := netip.AddrPortFrom(addr, uint16(port))
	granted := false
	for _, g := range s.x.listen {
		if g == ap {
			granted = true
		}
	}
	if !granted {
		s.x.cfg.Log.Warn().Str("module", s.inst.Module).Str("address", ap.String()).
			Str("allow_with", "--tcp-listen "+ap.String()).Msg("guest tried to listen without a grant")
		return errNotCapable
	}
	domain := unix.AF_INET
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: int(port), Addr: addr.As4()}
	if addr.Is6() {
		domain, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: int(port), Addr: addr.As16()}
	}
	osfd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return errno(err)
	}
	unix.SetsockoptInt(osfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(osfd, sa); err != nil {
		unix.Close(osfd)
		return errno(err)
	}
	sk.fd = osfd
	s.applyPending(sk)
	return errSuccess
}

func (s *Session) listen(fd, backlog int32) int32 {
	sk, e := s.get(fd)
	if e != errSuccess {
		return e
	}
	if sk.fd < 0 {
		return errNotCapable // listening needs a granted bind first
	}
	if backlog <= 0 || backlog > 1024 {
		backlog = 128
	}
	if err := unix.Listen(sk.fd, int(backlog)); err != nil {
		return errno(err)
	}
	sk.listening = true
	return errSuccess
}

func (s *Session) accept(c *wasmtime.Caller, fd, fdOut int32) int32 {
	sk, e := s.get(fd)
	if e != errSuccess {
		return e
	}
	if !sk.listening {
		return errInval
	}
	mem, _ := guestmem.Of(c)
	if _, ok := mem.Slice(uint32(fdOut), 4); !ok {
		return errFault
	}
	if len(s.socks) >= s.x.cfg.MaxSockets {
		return errMfile
	}
	nfd, _, err := unix.Accept4(sk.fd, unix.SOCK_CLOEXEC)
	for err == unix.EINTR {
		nfd, _, err = unix.Accept4(sk.fd, unix.SOCK_CLOEXEC)
	}
	if err != nil {
		return errno(err)
	}
	gfd, e := s.add(&socket{fd: nfd, family: sk.family, typ: typeStream})
	if e != errSuccess {
		unix.Close(nfd)
		return e
	}
	mem.PutU32(uint32(fdOut), uint32(gfd))
	return errSuccess
}

func (s *Session) send(c *wasmtime.Caller, fd, iovs, iovsLen, flags, sentOut int32) int32 {
	sk, e := s.get(fd)
	if e != errSuccess {
		return e
	}
	if sk.fd < 0 {
		return errNotConn
	}
	if flags != 0 {
		return errInval
	}
	mem, _ := guestmem.Of(c)
	if _, ok := mem.Slice(uint32(sentOut), 4); !ok {
		return errFault
	}
	bufs, e := s.iovecs(mem, iovs, iovsLen)
	if e != errSuccess {
		return e
	}
	n, err := unix.SendmsgBuffers(sk.fd, bufs, nil, nil, unix.MSG_NOSIGNAL)
	for err == unix.EINTR {
		n, err = unix.SendmsgBuffers(sk.fd, bufs, nil, nil, unix.MSG_NOSIGNAL)
	}
	if err != nil {
		return errno(err)
	}
	mem.PutU32(uint32(sentOut), uint32(n))
	return errSuccess
}

func (s *Session) recv(c *wasmtime.Caller, fd, iovs, iovsLen, flags, lenOut, oflagsOut int32) int32 {
	sk, e := s.get(fd)
	if e != errSuccess {
		return e
	}
	if sk.fd < 0 {
		return errNotConn
	}
	var osFlags int
	if flags&^3 != 0 {
		return errInval
	}
	if flags&1 != 0 {
		osFlags |= unix.MSG_PEEK
	}
	if flags&2 != 0 {
		osFlags |= unix.MSG_WAITALL
	}
	mem, _ := guestmem.Of(c)
	if _, ok := mem.Slice(uint32(lenOut), 4); !ok {
		return errFault
	}
	if _, ok := mem.Slice(uint32(oflagsOut), 2); !ok {
		return errFault
	}
	bufs, e := s.iovecs(mem, iovs, iovsLen)
	if e != errSuccess {
		return e
	}
	var n, rflags int
	var err error
	if sk.typ == typeDgram {
		n, rflags, _, _, err = s.recvDgram(sk, bufs, osFlags)
	} else {
		n, _, rflags, _, err = unix.RecvmsgBuffers(sk.fd, bufs, nil, osFlags)
		for err == unix.EINTR {
			n, _, rflags, _, err = unix.RecvmsgBuffers(sk.fd, bufs, nil, osFlags)
		}
	}
	if err != nil {
		return errno(err)
	}
	var oflags uint16
	if rflags&unix.MSG_TRUNC != 0 {
		oflags = 1
	}
	mem.PutU32(uint32(lenOut), uint32(n))
	mem.PutU16(uint32(oflagsOut), oflags)
	return errSuccess
}

// udpAllowed checks a datagram peer: an udp:// (or *://) entry for it, or an allowed name it was
// resolved from.
func (s *Session) udpAllowed(addr netip.Addr, port uint16) bool {
	t, err := allowlist.NewTarget(allowlist.SchemeUDP, addr.String(), port)
	if err != nil {
		return false
	}
	if _, ok := s.list.Match(t); ok {
		return true
	}
	if name, ok := s.resolved[addr]; ok {
		if nt, err := allowlist.NewTarget(allowlist.SchemeUDP, name, port); err == nil {
			_, ok := s.list.Match(nt)
			return ok
		}
	}
	return false
}

// udpSocket makes the OS datagram socket on first use.
func (s *Session) udpSocket(sk *socket, v6 bool) int32 {
	if sk.fd >= 0 {
		return errSuccess
	}
	domain := unix.AF_INET
	if v6 || sk.family == afInet6 {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return errno(err)
	}
	sk.fd = fd
	s.applyPending(sk)
	if sk.nonblock {
		unix.SetNonblock(fd, true)
	}
	return errSuccess
}

func sockaddr(addr netip.Addr, port uint16, v6 bool) unix.Sockaddr {
	if addr.Is4() && !v6 {
		return &unix.SockaddrInet4{Port: int(port), Addr: addr.As4()}
	}
	return &unix.SockaddrInet6{Port: int(port), Addr: netip.AddrFrom16(addr.As16()).As16()}
}

func (s *Session) connectUDP(sk *socket, addr netip.Addr, port uint16) int32 {
	if !s.udpAllowed(addr, port) {
		t, _ := allowlist.NewTarget(allowlist.SchemeUDP, addr.String(), port)
		s.denied(t, "not in the allow-list")
		return errNotCapable
	}
	if e := s.udpSocket(sk, addr.Is6()); e != errSuccess {
		return e
	}
	if err := unix.Connect(sk.fd, sockaddr(addr, port, sk.family == afInet6)); err != nil {
		return errno(err)
	}
	return errSuccess
}

func (s *Session) sendTo(c *wasmtime.Caller, fd, iovs, iovsLen, addrPtr, port, flags, sentOut int32) int32 {
	sk, e := s.get(fd)
	if e != errSuccess {
		return e
	}
	if sk.typ != typeDgram {
		return errNotSup
	}
	if flags != 0 {
		return errInval
	}
	mem, _ := guestmem.Of(c)
	addr, e := readAddrPort(mem, addrPtr, port)
	if e != errSuccess {
		return e
	}
	if _, ok := mem.Slice(uint32(sentOut), 4); !ok {
		return errFault
	}
	if !s.udpAllowed(addr, uint16(port)) {
		t, _ := allowlist.NewTarget(allowlist.SchemeUDP, addr.String(), uint16(port))
		s.denied(t, "not in the allow-list")
		return errNotCapable
	}
	bufs, e := s.iovecs(mem, iovs, iovsLen)
	if e != errSuccess {
		return e
	}
	if e := s.udpSocket(sk, addr.Is6()); e != errSuccess {
		return e
	}
	n, err := unix.SendmsgBuffers(sk.fd, bufs, nil, sockaddr(addr, uint16(port), sk.family == afInet6), unix.MSG_NOSIGNAL)
	if err != nil {
		return errno(err)
	}
	mem.PutU32(uint32(sentOut), uint32(n))
	return errSuccess
}

// recvDgram receives the next datagram from an allowed peer, dropping any other (even on a connected
// socket: datagrams that arrived before connect are still queued).
func (s *Session) recvDgram(sk *socket, bufs [][]byte, osFlags int) (int, int, netip.Addr, int, error) {
	for {
		n, _, rflags, from, err := unix.RecvmsgBuffers(sk.fd, bufs, nil, osFlags)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, 0, netip.Addr{}, 0, err
		}
		var ip netip.Addr
		var port int
		switch a := from.(type) {
		case *unix.SockaddrInet4:
			ip, port = netip.AddrFrom4(a.Addr), a.Port
		case *unix.SockaddrInet6:
			ip, port = netip.AddrFrom16(a.Addr).Unmap(), a.Port
		}
		if ip.IsValid() && s.udpAllowed(ip, uint16(port)) {
			return n, rflags, ip, port, nil
		}
		if osFlags&unix.MSG_PEEK != 0 {
			unix.Recvfrom(sk.fd, make([]byte, 1), 0) // consume the peeked stranger
		}
	}
}

// recvFrom receives one datagram from an allowed peer; datagrams from anyone else are dropped, so a
// guest hears only from what its allow-list names. The address buffer (128 bytes) gets
// {u16 family LE (1 inet4, 2 inet6), address bytes}.
func (s *Session) recvFrom(c *wasmtime.Caller, fd, iovs, iovsLen, addrPtr, flags, portOut, lenOut, oflagsOut int32) int32 {
	sk, e := s.get(fd)
	if e != errSuccess {
		return e
	}
	if sk.typ != typeDgram {
		return errNotSup
	}
	if sk.fd < 0 {
		return errNotConn // nothing sent yet, so nothing can come back
	}
	if flags&^3 != 0 {
		return errInval
	}
	var osFlags int
	if flags&1 != 0 {
		osFlags |= unix.MSG_PEEK
	}
	mem, _ := guestmem.Of(c)
	addrBuf, ok1 := mem.Slice(uint32(addrPtr), 128)
	_, ok2 := mem.Slice(uint32(portOut), 4)
	_, ok3 := mem.Slice(uint32(lenOut), 4)
	_, ok4 := mem.Slice(uint32(oflagsOut), 2)
	if !(ok1 && ok2 && ok3 && ok4) {
		return errFault
	}
	bufs, e := s.iovecs(mem, iovs, iovsLen)
	if e != errSuccess {
		return e
	}
	n, rflags, ip, port, err := s.recvDgram(sk, bufs, osFlags)
	if err != nil {
		return errno(err)
	}
	for i := range addrBuf {
		addrBuf[i] = 0
	}
	fam := uint16(afInet4)
	if ip.Is6() {
		fam = afInet6
	}
	binary.LittleEndian.PutUint16(addrBuf, fam)
	copy(addrBuf[2:], ip.AsSlice())
	var oflags uint16
	if rflags&unix.MSG_TRUNC != 0 {
		oflags = 1
	}
	mem.PutU32(uint32(portOut), uint32(port))
	mem.PutU32(uint32(lenOut), uint32(n))
	mem.PutU16(uint32(oflagsOut), oflags)
	return errSuccess
}

func (s *Session) shutdown(fd, how int32) int32 {
	sk, e := s.get(fd)
	if e != errSuccess {
		return e
	}
	if sk.fd < 0 {
		return errNotConn
	}
	var h int
	switch how {
	case 1:
		h = unix.SHUT_RD
	case 2:
		h = unix.SHUT_WR
	case 3:
		h = unix.SHUT_RDWR
	default:
		return errInval
	}
	if err := unix.Shutdown(sk.fd, h); err != nil {
		return errno(err)
	}
	return errSuccess
}

func (s *Session) getAddr(c *wasmtime.Caller, fd, addrPtr, typeOut, portOut int32, peer bool) int32 {
	sk, e := s.get(fd)
	if e != errSuccess {
		return e
	}
	if sk.fd < 0 {
		return errNotConn
	}
	var sa unix.Sockaddr
	var err error
	if peer {
		sa, err = unix.Getpeername(sk.fd)
	} else {
		sa, err = unix.Getsockname(sk.fd)
	}
	if err != nil {
		return errno(err)
	}
	var ip []byte
	var port int
	var kind uint32
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		ip, port, kind = a.Addr[:], a.Port, 4
	case *unix.SockaddrInet6:
		ip, port, kind = a.Addr[:], a.Port, 6
	default:
		return errInval
	}
	mem, _ := guestmem.Of(c)
	hdr, ok := mem.Slice(uint32(addrPtr), 8)
	if !ok {
		return errFault
	}
	buf, n := binary.LittleEndian.Uint32(hdr), binary.LittleEndian.Uint32(hdr[4:])
	if int(n) < len(ip) {
		return errInval
	}
	dst, ok := mem.Slice(buf, uint32(len(ip)))
	if !ok {
		return errFault
	}
	if _, ok := mem.Slice(uint32(typeOut), 4); !ok {
		return errFault
	}
	if _, ok := mem.Slice(uint32(portOut), 4); !ok {
		return errFault
	}
	copy(dst, ip)
	mem.PutU32(uint32(typeOut), kind)
	mem.PutU32(uint32(portOut), uint32(port))
	return errSuccess
}

// sockopts maps WasmEdge's option names (0..14) to Linux SOL_SOCKET ones; -1 is refused.
var sockopts = [...]int{unix.SO_REUSEADDR, unix.SO_TYPE, unix.SO_ERROR, unix.SO_DONTROUTE, unix.SO_BROADCAST,
	unix.SO_SNDBUF, unix.SO_RCVBUF, unix.SO_KEEPALIVE, unix.SO_OOBINLINE, -1 /* LINGER */, unix.SO_RCVLOWAT,
	-1 /* RCVTIMEO */, -1 /* SNDTIMEO */, unix.SO_ACCEPTCONN, -1 /* BINDTODEVICE: would pick an interface */}

func (s *Session) getsockopt(c *wasmtime.Caller, fd, level, name, value, lenInOut int32) int32 {
	sk, e := s.get(fd)
	if e != errSuccess {
		return e
	}
	if level != 0 || name < 0 || int(name) >= len(sockopts) || sockopts[name] < 0 {
		return errNoProtoOpt
	}
	mem, _ := guestmem.Of(c)
	l, ok := mem.U32(uint32(lenInOut))
	if !ok {
		return errFault
	}
	if l < 4 {
		return errInval
	}
	dst, ok := mem.Slice(uint32(value), 4)
	if !ok {
		return errFault
	}
	var v int
	switch {
	case sockopts[name] == unix.SO_TYPE:
		v = int(sk.typ)
	case sk.fd < 0:
		v = sk.pending[sockopts[name]]
	default:
		var err error
		if v, err = unix.GetsockoptInt(sk.fd, unix.SOL_SOCKET, sockopts[name]); err != nil {
			return errno(err)
		}
		if sockopts[name] == unix.SO_ERROR && v != 0 {
			v = int(errno(syscall.Errno(v)))
		}
	}
	binary.LittleEndian.PutUint32(dst, uint32(int32(v)))
	mem.PutU32(uint32(lenInOut), 4)
	return errSuccess
}

func (s *Session) setsockopt(c *wasmtime.Caller, fd, level, name, value, length int32) int32 {
	sk, e := s.get(fd)
	if e != errSuccess {
		return e
	}
	if level != 0 || name < 0 || int(name) >= len(sockopts) || sockopts[name] < 0 {
		return errNoProtoOpt
	}
	switch sockopts[name] {
	case unix.SO_TYPE, unix.SO_ERROR, unix.SO_ACCEPTCONN:
		return errInval // read-only
	}
	if length < 4 {
		return errInval
	}
	b, ok := memOf(c).Slice(uint32(value), 4)
	if !ok {
		return errFault
	}
	v := int(int32(binary.LittleEndian.Uint32(b)))
	if sk.fd < 0 {
		if sk.pending == nil {
			sk.pending = map[int]int{}
		}
		sk.pending[sockopts[name]] = v
		return errSuccess
	}
	if err := unix.SetsockoptInt(sk.fd, unix.SOL_SOCKET, sockopts[name], v); err != nil {
		return errno(err)
	}
	return errSuccess
}

// errno maps an OS error to a WASI errno.
func errno(err error) int32 {
	var en syscall.Errno
	if !errors.As(err, &en) {
		return errIO
	}
	switch en {
	case unix.EAGAIN:
		return errAgain
	case unix.EBADF:
		return errBadf
	case unix.ECONNREFUSED:
		return errConnRefused
	case unix.ECONNRESET:
		return errConnReset
	case unix.EPIPE:
		return errPipe
	case unix.ENOTCONN:
		return errNotConn
	case unix.ETIMEDOUT:
		return errTimedOut
	case unix.EADDRINUSE:
		return errAddrInUse
	case unix.EADDRNOTAVAIL:
		return errAddrNotAvail
	case unix.EHOSTUNREACH:
		return errHostUnreach
	case unix.ENETUNREACH:
		return errNetUnreach
	case unix.EINVAL:
		return errInval
	case unix.EINPROGRESS:
		return errInProgress
	case unix.EISCONN:
		return errIsConn
	case unix.EINTR:
		return errIntr
	}
	return errIO
}

func dialErrno(err error) int32 {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errTimedOut
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errTimedOut
	}
	return errno(err)
}
