// Package rawsock takes a dialed net.Conn over as a plain socket file descriptor, so that host functions
// (which run on a thread locked by the cgo callback) can do blocking system calls on it instead of
// parking on Go's network poller; waking a parked goroutine locked to a thread costs a thread hand-off
// each time, which doubled request latency when measured.
package rawsock

import (
	"errors"
	"net"
	"syscall"
)

// Detach duplicates c's socket, puts the duplicate in blocking mode, closes c (which unregisters it
// from the poller) and returns the duplicate with c's addresses. The caller owns the fd.
func Detach(c net.Conn) (fd int, local, remote net.Addr, err error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		c.Close()
		return -1, nil, nil, errors.New("connection does not expose its socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		c.Close()
		return -1, nil, nil, err
	}
	fd = -1
	var derr error
	if err := raw.Control(func(s uintptr) { fd, derr = syscall.Dup(int(s)) }); err != nil || derr != nil {
		c.Close()
		return -1, nil, nil, errors.Join(err, derr)
	}
	local, remote = c.LocalAddr(), c.RemoteAddr()
	c.Close()
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return -1, nil, nil, err
	}
	return fd, local, remote, nil
}
