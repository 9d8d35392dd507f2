package guestmem

import (
	"encoding/binary"
	"testing"
)

func TestRangesAndIovecs(t *testing.T) {
	m := Memory(make([]byte, 64))
	if _, ok := m.Slice(60, 4); !ok {
		t.Error("a range ending at the last byte is inside")
	}
	for _, c := range [][2]uint32{{61, 4}, {0xFFFFFFF0, 0x20}, {64, 1}} {
		if _, ok := m.Slice(c[0], c[1]); ok {
			t.Errorf("Slice(%#x, %d) accepted", c[0], c[1])
		}
	}
	if !m.PutU32(8, 0xdeadbeef) || !m.PutU16(12, 7) || m.PutU32(62, 1) {
		t.Fatal("Put range checks")
	}
	if v, ok := m.U32(8); !ok || v != 0xdeadbeef {
		t.Fatal("U32")
	}
	// two iovecs: [32,40) and [40,48)
	binary.LittleEndian.PutUint32(m[16:], 32)
	binary.LittleEndian.PutUint32(m[20:], 8)
	binary.LittleEndian.PutUint32(m[24:], 40)
	binary.LittleEndian.PutUint32(m[28:], 8)
	if bufs, err := m.Iovecs(16, 2, -1); err != nil || len(bufs) != 2 || len(bufs[1]) != 8 {
		t.Fatalf("Iovecs: %v %v", bufs, err)
	}
	if bufs, err := m.Iovecs(16, 2, 10); err != nil || len(bufs) != 2 || len(bufs[1]) != 2 {
		t.Fatalf("capped Iovecs: %v %v", bufs, err)
	}
	binary.LittleEndian.PutUint32(m[28:], 100)
	if _, err := m.Iovecs(16, 2, -1); err != ErrFault {
		t.Fatalf("buffer outside memory: %v", err)
	}
	if _, err := m.Iovecs(16, 9, -1); err != ErrFault {
		t.Fatalf("iovec array outside memory: %v", err)
	}
	if _, err := m.Iovecs(0, 2000, -1); err != ErrTooMany {
		t.Fatalf("too many: %v", err)
	}
}
