package host

import (
	"io"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasi-dapr-host/wasi-dapr-host/internal/guestmem"
)

// Captured stdio: in serve mode the request body is the guest's stdin and its stdout is the response.
// wasmtime's own WASI stdio costs ~35 µs per call whatever backs it (see shared/notes/wasmtime-go.md),
// so a second linker replaces fd_read and fd_write with functions that copy between guest memory and
// Go buffers directly. They serve fds 0-2 only: an instance on that linker has no other open files
// (RunConfig refuses preopens with captured stdio).

// WASI errnos used here.
const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
	errnoInval   = 28
)

// Stdio is an instance's captured standard streams.
type stdio struct {
	stdin          []byte
	stdout, stderr io.Writer
}

func linkCapturedStdio(l *wasmtime.Linker) error {
	if err := l.FuncWrap("wasi_snapshot_preview1", "fd_write", func(c *wasmtime.Caller, fd, iovs, iovsLen, nwritten int32) int32 {
		d, ok := c.Data().(*instanceData)
		if !ok || d.stdio == nil {
			return errnoBadf
		}
		var w io.Writer
		switch fd {
		case 1:
			w = d.stdio.stdout
		case 2:
			w = d.stdio.stderr
		default:
			return errnoBadf
		}
		mem, bufs, errno := iovecs(c, iovs, iovsLen)
		if errno != errnoSuccess {
			return errno
		}
		total := 0
		for _, b := range bufs {
			if w != nil {
				w.Write(b)
			}
			total += len(b)
		}
		if !mem.PutU32(uint32(nwritten), uint32(total)) {
			return errnoFault
		}
		return errnoSuccess
	}); err != nil {
		return err
	}
	return l.FuncWrap("wasi_snapshot_preview1", "fd_read", func(c *wasmtime.Caller, fd, iovs, iovsLen, nread int32) int32 {
		d, ok := c.Data().(*instanceData)
		if !ok || d.stdio == nil || fd != 0 {
			return errnoBadf
		}
		mem, bufs, errno := iovecs(c, iovs, iovsLen)
		if errno != errnoSuccess {
			return errno
		}
		total := 0
		for _, b := range bufs {
			n := copy(b, d.stdio.stdin)
			d.stdio.stdin = d.stdio.stdin[n:]
			total += n
		}
		if !mem.PutU32(uint32(nread), uint32(total)) {
			return errnoFault
		}
		return errnoSuccess
	})
}

// iovecs maps guestmem's errors to WASI errnos.
func iovecs(c *wasmtime.Caller, ptr, n int32) (guestmem.Memory, [][]byte, int32) {
	mem, _ := guestmem.Of(c)
	bufs, err := mem.Iovecs(uint32(ptr), uint32(n), -1)
	switch err {
	case nil:
		return mem, bufs, errnoSuccess
	case guestmem.ErrTooMany:
		return mem, nil, errnoInval
	default:
		return mem, nil, errnoFault
	}
}
