package host

// The pooling allocator keeps pre-reserved, pre-zeroed slots for instances, memories and tables, so a
// fresh instance per request costs no mmap/munmap. wasmtime-go does not expose it; the C API does, and
// its symbols are already linked through wasmtime-go's static library, so only prototypes are needed.

/*
#include <stdint.h>
#include <stddef.h>
typedef struct wasm_config_t wasm_config_t;
typedef struct wasmtime_pooling_allocation_config_t wasmtime_pooling_allocation_config_t;
extern wasmtime_pooling_allocation_config_t *wasmtime_pooling_allocation_config_new(void);
extern void wasmtime_pooling_allocation_config_delete(wasmtime_pooling_allocation_config_t *);
extern void wasmtime_pooling_allocation_config_total_core_instances_set(wasmtime_pooling_allocation_config_t *, uint32_t);
extern void wasmtime_pooling_allocation_config_total_memories_set(wasmtime_pooling_allocation_config_t *, uint32_t);
extern void wasmtime_pooling_allocation_config_total_tables_set(wasmtime_pooling_allocation_config_t *, uint32_t);
extern void wasmtime_pooling_allocation_config_total_stacks_set(wasmtime_pooling_allocation_config_t *, uint32_t);
extern void wasmtime_pooling_allocation_config_max_memory_size_set(wasmtime_pooling_allocation_config_t *, size_t);
extern void wasmtime_pooling_allocation_config_max_unused_warm_slots_set(wasmtime_pooling_allocation_config_t *, uint32_t);
extern void wasmtime_pooling_allocation_config_linear_memory_keep_resident_set(wasmtime_pooling_allocation_config_t *, size_t);
extern void wasmtime_pooling_allocation_config_table_keep_resident_set(wasmtime_pooling_allocation_config_t *, size_t);
extern void wasmtime_pooling_allocation_strategy_set(wasm_config_t *, const wasmtime_pooling_allocation_config_t *);

static void wdh_use_pooling(wasm_config_t *cfg, uint32_t instances, size_t max_memory) {
	wasmtime_pooling_allocation_config_t *p = wasmtime_pooling_allocation_config_new();
	wasmtime_pooling_allocation_config_total_core_instances_set(p, instances);
	wasmtime_pooling_allocation_config_total_memories_set(p, instances);
	wasmtime_pooling_allocation_config_total_tables_set(p, instances);
	wasmtime_pooling_allocation_config_total_stacks_set(p, instances);
	wasmtime_pooling_allocation_config_max_memory_size_set(p, max_memory);
	wasmtime_pooling_allocation_config_max_unused_warm_slots_set(p, instances);
	// Keep the first pages of a reused memory resident (zeroed by memset, not by the kernel).
	wasmtime_pooling_allocation_config_linear_memory_keep_resident_set(p, 1 << 20);
	wasmtime_pooling_allocation_config_table_keep_resident_set(p, 64 << 10);
	wasmtime_pooling_allocation_strategy_set(cfg, p);
	wasmtime_pooling_allocation_config_delete(p);
}
*/
import "C"

import (
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// configPtr returns the wasm_config_t behind a wasmtime-go Config. wasmtime-go keeps it in its only,
// unexported field; configLayoutOK checks that assumption so a future wrapper change disables pooling
// instead of corrupting memory.
func configPtr(cfg *wasmtime.Config) *C.wasm_config_t {
	if !configLayoutOK() {
		return nil
	}
	return *(**C.wasm_config_t)(unsafe.Pointer(cfg))
}

func configLayoutOK() bool { return firstFieldIsPointer(wasmtime.Config{}) }

// usePooling switches cfg to the pooling allocator with room for instances concurrent instances whose
// memories may grow to maxMemory bytes. It reports false when it could not.
func usePooling(cfg *wasmtime.Config, instances int, maxMemory int64) bool {
	p := configPtr(cfg)
	if p == nil || instances <= 0 || maxMemory <= 0 {
		return false
	}
	C.wdh_use_pooling(p, C.uint32_t(instances), C.size_t(maxMemory))
	return true
}
