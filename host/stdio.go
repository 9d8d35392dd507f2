package host

import (
	"encoding/binary"
	"io"

	"github.com/bytecodealliance/wasmtime-go/v39"
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
		mem := guestMemory(c)
		total := 0
		errno := forEachIovec(mem, iovs, iovsLen, func(b []byte) {
			if w != nil {
				w.Write(b)
			}
			total += len(b)
		})
		if errno != errnoSuccess {
			return errno
		}
		if !putU32(mem, nwritten, uint32(total)) {
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
		mem := guestMemory(c)
		total := 0
		errno := forEachIovec(mem, iovs, iovsLen, func(b []byte) {
			n := copy(b, d.stdio.stdin)
			d.stdio.stdin = d.stdio.stdin[n:]
			total += n
		})
		if errno != errnoSuccess {
			return errno
		}
		if !putU32(mem, nread, uint32(total)) {
			return errnoFault
		}
		return errnoSuccess
	})
}

func guestMemory(c *wasmtime.Caller) []byte {
	ext := c.GetExport("memory")
	if ext == nil || ext.Memory() == nil {
		return nil
	}
	return ext.Memory().UnsafeData(c)
}

// forEachIovec checks every iovec {u32 buf, u32 len} and its buffer before fn sees any of them.
func forEachIovec(mem []byte, iovs, n int32, fn func([]byte)) int32 {
	base, count := uint64(uint32(iovs)), uint64(uint32(n))
	if count > 1024 {
		return errnoInval
	}
	if base+8*count > uint64(len(mem)) {
		return errnoFault
	}
	bufs := make([][]byte, 0, count)
	for i := uint64(0); i < count; i++ {
		p := uint64(binary.LittleEndian.Uint32(mem[base+8*i:]))
		l := uint64(binary.LittleEndian.Uint32(mem[base+8*i+4:]))
		if p+l > uint64(len(mem)) {
			return errnoFault
		}
		bufs = append(bufs, mem[p:p+l])
	}
	for _, b := range bufs {
		fn(b)
	}
	return errnoSuccess
}

func putU32(mem []byte, ptr int32, v uint32) bool {
	p := uint64(uint32(ptr))
	if p+4 > uint64(len(mem)) {
		return false
	}
	binary.LittleEndian.PutUint32(mem[p:], v)
	return true
}
