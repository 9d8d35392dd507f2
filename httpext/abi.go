// Package httpext is the wasi_experimental_http host API: outbound HTTP for WASI guests, compatible with
// the deislabs extension (WITX v0.10) so guests built for it, WAGI or early Spin run unmodified. Every
// destination is checked against the allow-list when the request is made, on every redirect and again
// when the connection is dialed.
package httpext

import (
	"encoding/binary"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// ModuleName is the import module guests use.
const ModuleName = "wasi_experimental_http"

// Error codes returned to the guest (see shared/abi/wasi-experimental-http.md).
const (
	Success               int32 = 0
	InvalidHandle         int32 = 1
	MemoryNotFound        int32 = 2
	MemoryAccessError     int32 = 3
	BufferTooSmall        int32 = 4
	HeaderNotFound        int32 = 5
	UTF8Error             int32 = 6
	DestinationNotAllowed int32 = 7
	InvalidMethod         int32 = 8
	InvalidEncoding       int32 = 9
	InvalidURL            int32 = 10
	RequestError          int32 = 11
	RuntimeError          int32 = 12
	TooManySessions       int32 = 13
)

var codeNames = [...]string{"success", "invalid_handle", "memory_not_found", "memory_access_error",
	"buffer_too_small", "header_not_found", "utf8_error", "destination_not_allowed", "invalid_method",
	"invalid_encoding", "invalid_url", "request_error", "runtime_error", "too_many_sessions"}

// CodeName names an error code for logs.
func CodeName(code int32) string {
	if code >= 0 && int(code) < len(codeNames) {
		return codeNames[code]
	}
	return "unknown"
}

// memory is the calling instance's exported linear memory. Guest pointers and lengths are i32 on the
// wire but unsigned in meaning; every range is checked before it is touched.
type memory []byte

func memoryOf(c *wasmtime.Caller) (memory, bool) {
	ext := c.GetExport("memory")
	if ext == nil {
		return nil, false
	}
	mem := ext.Memory()
	if mem == nil {
		return nil, false
	}
	return memory(mem.UnsafeData(c)), true
}

// slice returns the guest range [ptr, ptr+n), or false when any of it lies outside memory.
func (m memory) slice(ptr, n int32) ([]byte, bool) {
	p, l := uint64(uint32(ptr)), uint64(uint32(n))
	if p+l > uint64(len(m)) {
		return nil, false
	}
	return m[p : p+l : p+l], true
}

func (m memory) putU16(ptr int32, v uint16) bool {
	b, ok := m.slice(ptr, 2)
	if ok {
		binary.LittleEndian.PutUint16(b, v)
	}
	return ok
}

func (m memory) putU32(ptr int32, v uint32) bool {
	b, ok := m.slice(ptr, 4)
	if ok {
		binary.LittleEndian.PutUint32(b, v)
	}
	return ok
}
