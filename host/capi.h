// The parts of wasmtime's C API (v39) this package calls directly. wasmtime-go links the library but
// does not put its headers on our include path, so the declarations are repeated here, exactly as in
// wasm.h, wasi.h and wasmtime/*.h of wasmtime-go v39.0.1. Go checks the struct layouts against
// wasmtime-go's own types before using any of them (layoutOK in fastrun.go).
#ifndef WDH_CAPI_H
#define WDH_CAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wasm_trap_t wasm_trap_t;
typedef struct wasm_valtype_t wasm_valtype_t;
typedef struct wasm_functype_t wasm_functype_t;
typedef struct wasi_config_t wasi_config_t;
typedef struct wasmtime_store wasmtime_store_t;
typedef struct wasmtime_context wasmtime_context_t;
typedef struct wasmtime_linker wasmtime_linker_t;
typedef struct wasmtime_module wasmtime_module_t;
typedef struct wasmtime_instance_pre wasmtime_instance_pre_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef struct wasmtime_caller wasmtime_caller_t;

typedef struct wasm_byte_vec_t {
	size_t size;
	char *data;
} wasm_byte_vec_t;

typedef uint8_t wasm_valkind_t;
enum { WDH_WASM_I32 = 0, WDH_WASM_I64 = 1, WDH_WASM_F32 = 2, WDH_WASM_F64 = 3 };

typedef struct wasm_valtype_vec_t {
	size_t size;
	wasm_valtype_t **data;
} wasm_valtype_vec_t;

typedef struct wasmtime_instance {
	uint64_t store_id;
	size_t __private;
} wasmtime_instance_t;

typedef struct wasmtime_func {
	uint64_t store_id;
	void *__private;
} wasmtime_func_t;

typedef struct wasmtime_table {
	struct {
		uint64_t store_id;
		uint32_t __private1;
	};
	uint32_t __private2;
} wasmtime_table_t;

typedef struct wasmtime_memory {
	struct {
		uint64_t store_id;
		uint32_t __private1;
	};
	uint32_t __private2;
} wasmtime_memory_t;

typedef struct wasmtime_global {
	uint64_t store_id;
	uint32_t __private1;
	uint32_t __private2;
	uint32_t __private3;
} wasmtime_global_t;

typedef uint8_t wasmtime_extern_kind_t;
#define WDH_EXTERN_FUNC 0
#define WDH_EXTERN_MEMORY 3

typedef union wasmtime_extern_union {
	wasmtime_func_t func;
	wasmtime_global_t global;
	wasmtime_table_t table;
	wasmtime_memory_t memory;
	struct wasmtime_sharedmemory *sharedmemory;
} wasmtime_extern_union_t;

typedef struct wasmtime_extern {
	wasmtime_extern_kind_t kind;
	wasmtime_extern_union_t of;
} wasmtime_extern_t;

typedef union wasmtime_val_raw {
	int32_t i32;
	int64_t i64;
	float f32;
	double f64;
	uint8_t v128[16];
	uint32_t anyref;
	uint32_t externref;
	void *funcref;
} wasmtime_val_raw_t;

typedef wasm_trap_t *(*wasmtime_func_unchecked_callback_t)(void *env, wasmtime_caller_t *caller,
	wasmtime_val_raw_t *args_and_results, size_t num_args_and_results);

// wasm.h
extern wasm_valtype_t *wasm_valtype_new(wasm_valkind_t);
extern void wasm_valtype_vec_new(wasm_valtype_vec_t *out, size_t, wasm_valtype_t *const[]);
extern wasm_functype_t *wasm_functype_new(wasm_valtype_vec_t *params, wasm_valtype_vec_t *results);
extern void wasm_functype_delete(wasm_functype_t *);
extern void wasm_byte_vec_delete(wasm_byte_vec_t *);
extern void wasm_trap_message(const wasm_trap_t *, wasm_byte_vec_t *out);
extern void wasm_trap_delete(wasm_trap_t *);

// wasi.h
extern wasi_config_t *wasi_config_new(void);
extern void wasi_config_delete(wasi_config_t *);
extern bool wasi_config_set_argv(wasi_config_t *config, size_t argc, const char *argv[]);
extern bool wasi_config_set_env(wasi_config_t *config, size_t envc, const char *names[], const char *values[]);

// wasmtime/*.h
extern wasmtime_context_t *wasmtime_store_context(wasmtime_store_t *store);
extern void wasmtime_store_limiter(wasmtime_store_t *store, int64_t memory_size, int64_t table_elements,
	int64_t instances, int64_t tables, int64_t memories);
extern void wasmtime_context_set_epoch_deadline(wasmtime_context_t *context, uint64_t ticks_beyond_current);
extern wasmtime_error_t *wasmtime_context_set_wasi(wasmtime_context_t *context, wasi_config_t *wasi);
extern wasmtime_error_t *wasmtime_linker_instantiate_pre(const wasmtime_linker_t *linker,
	const wasmtime_module_t *module, wasmtime_instance_pre_t **instance_pre);
extern wasmtime_error_t *wasmtime_instance_pre_instantiate(const wasmtime_instance_pre_t *instance_pre,
	wasmtime_context_t *store, wasmtime_instance_t *instance, wasm_trap_t **trap_ptr);
extern void wasmtime_instance_pre_delete(wasmtime_instance_pre_t *instance_pre);
extern bool wasmtime_instance_export_get(wasmtime_context_t *store, const wasmtime_instance_t *instance,
	const char *name, size_t name_len, wasmtime_extern_t *item);
extern wasmtime_error_t *wasmtime_func_call_unchecked(wasmtime_context_t *store, const wasmtime_func_t *func,
	wasmtime_val_raw_t *args_and_results, size_t args_and_results_len, wasm_trap_t **trap);
extern bool wasmtime_caller_export_get(wasmtime_caller_t *caller, const char *name, size_t name_len,
	wasmtime_extern_t *item);
extern wasmtime_context_t *wasmtime_caller_context(wasmtime_caller_t *caller);
extern uint8_t *wasmtime_memory_data(const wasmtime_context_t *store, const wasmtime_memory_t *memory);
extern size_t wasmtime_memory_data_size(const wasmtime_context_t *store, const wasmtime_memory_t *memory);
extern wasmtime_error_t *wasmtime_linker_define_func_unchecked(wasmtime_linker_t *linker, const char *module,
	size_t module_len, const char *name, size_t name_len, const wasm_functype_t *ty,
	wasmtime_func_unchecked_callback_t cb, void *data, void (*finalizer)(void *));
extern void wasmtime_error_message(const wasmtime_error_t *error, wasm_byte_vec_t *message);
extern bool wasmtime_error_exit_status(const wasmtime_error_t *, int *status);
extern void wasmtime_error_delete(wasmtime_error_t *error);
extern bool wasmtime_trap_code(const wasm_trap_t *, uint8_t *code);


// fastrun.c
typedef struct wdh_run {
	// In: the store (made by wasmtime-go, so its Go host functions find their data), the pre-linked
	// module, limits, the string counts in the strings buffer (argv, env names, env values, then the
	// entry export's name when has_entry), and the captured stdio caps.
	wasmtime_store_t *store;
	const wasmtime_instance_pre_t *pre;
	size_t argc, envc;
	int64_t max_memory;
	uint64_t deadline;
	int call_initialize, has_entry;
	size_t nvals;
	size_t stdin_len, out_max, err_max;
	// Out. stage: 0 ran to the end; 1 instantiation failed or its start section ended the guest;
	// 2 _initialize did; 3 the entry did; 4 no such exported function; 5 host setup failed.
	int stage;
	int has_exit, exit_status;
	int is_trap, has_code;
	uint8_t trap_code;
	wasm_byte_vec_t msg;
	size_t msg_len; // msg.size less a trailing NUL
	uint64_t inst_ns; // time spent making the instance
	uint8_t *out, *err;
	size_t out_len, err_len;
} wdh_run_t;

void wdh_run(wdh_run_t *r, const char *strs, const uint8_t *stdin_data, wasmtime_val_raw_t *vals);
void wdh_run_release(wdh_run_t *r);
wasmtime_error_t *wdh_define_stdio(wasmtime_linker_t *linker);
int wdh_set_args_env(wasi_config_t *cfg, const char *buf, size_t argc, size_t envc);

#endif
