// Package guestmem reads and writes a calling guest's linear memory for host functions. Guest pointers
// and lengths are i32 on the wire but unsigned in meaning; every range is checked before it is touched,
// so a bad pointer is an error code, never a crash.
package guestmem

import (
	"encoding/binary"
	"errors"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// Memory is the caller's exported memory "memory". It is valid until the host function returns or
// calls back into wasm.
type Memory []byte

// Of returns the caller's exported memory, or false when it exports none. When the store's data
// implements Slotted, the export is looked up once per instance: wasmtime-go's GetExport attaches a
// finalizer to every Extern it returns, which costs more than the host call itself when repeated.
func Of(c *wasmtime.Caller) (Memory, bool) {
	if s, ok := c.Data().(Slotted); ok {
		if slot := s.MemorySlot(); slot != nil {
			return slot.Of(c)
		}
	}
	return lookup(c)
}

func lookup(c *wasmtime.Caller) (Memory, bool) {
	ext := c.GetExport("memory")
	if ext == nil || ext.Memory() == nil {
		return nil, false
	}
	return Memory(ext.Memory().UnsafeData(c)), true
}

// Slot caches an instance's exported memory. Its zero value is ready; it belongs to one store holding
// one instance, whose export never changes (the data may move when memory grows, so the slice is
// fetched anew on every call).
type Slot struct {
	mem    *wasmtime.Memory
	looked bool
}

// Slotted is implemented by store data that carries a Slot.
type Slotted interface {
	MemorySlot() *Slot
}

// Of is like the package's Of, through the cache.
func (s *Slot) Of(c *wasmtime.Caller) (Memory, bool) {
	if !s.looked {
		s.looked = true
		if ext := c.GetExport("memory"); ext != nil {
			s.mem = ext.Memory()
		}
	}
	if s.mem == nil {
		return nil, false
	}
	return Memory(s.mem.UnsafeData(c)), true
}

// Slice returns [ptr, ptr+n), or false when any of it lies outside memory.
func (m Memory) Slice(ptr, n uint32) ([]byte, bool) {
	p, l := uint64(ptr), uint64(n)
	if p+l > uint64(len(m)) {
		return nil, false
	}
	return m[p : p+l : p+l], true
}

// U32 reads a little-endian u32.
func (m Memory) U32(ptr uint32) (uint32, bool) {
	b, ok := m.Slice(ptr, 4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

// PutU16 writes a little-endian u16.
func (m Memory) PutU16(ptr uint32, v uint16) bool {
	b, ok := m.Slice(ptr, 2)
	if ok {
		binary.LittleEndian.PutUint16(b, v)
	}
	return ok
}

// PutU32 writes a little-endian u32.
func (m Memory) PutU32(ptr uint32, v uint32) bool {
	b, ok := m.Slice(ptr, 4)
	if ok {
		binary.LittleEndian.PutUint32(b, v)
	}
	return ok
}

// Errors of Iovecs.
var (
	ErrFault   = errors.New("an iovec or its buffer lies outside memory")
	ErrTooMany = errors.New("more than 1024 iovecs")
)

// MaxIovecs is the most iovecs one call may pass (IOV_MAX).
const MaxIovecs = 1024

// Iovecs reads n {u32 buf, u32 len} entries at ptr and returns their buffers, all checked before any
// is used, their total capped at max bytes (max < 0: no cap). Empty buffers are left out.
func (m Memory) Iovecs(ptr, n uint32, max int) ([][]byte, error) {
	if n > MaxIovecs {
		return nil, ErrTooMany
	}
	raw, ok := m.Slice(ptr, 8*n)
	if !ok {
		return nil, ErrFault
	}
	bufs := make([][]byte, 0, n)
	total := 0
	for i := uint32(0); i < n; i++ {
		b, ok := m.Slice(binary.LittleEndian.Uint32(raw[8*i:]), binary.LittleEndian.Uint32(raw[8*i+4:]))
		if !ok {
			return nil, ErrFault
		}
		if max >= 0 && total+len(b) > max {
			b = b[:max-total]
		}
		total += len(b)
		if len(b) > 0 {
			bufs = append(bufs, b)
		}
		if max >= 0 && total == max {
			break
		}
	}
	return bufs, nil
}
