// The captured-stdio fast path (see fastrun.go): one C call sets up and runs a fresh instance, and the
// guest's fd_read/fd_write on fds 0-2 are served here from in-memory buffers, with no Go callback.

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capi.h"

// WASI errnos.
enum { ERRNO_SUCCESS = 0, ERRNO_BADF = 8, ERRNO_FAULT = 21, ERRNO_INVAL = 28, ERRNO_NOMEM = 48 };

#define MAX_IOVECS 1024

typedef struct {
	uint8_t *buf;
	size_t len, cap, max;
} wdh_sink_t;

typedef struct {
	const uint8_t *in;
	size_t in_len, in_off;
	wdh_sink_t out, err;
} wdh_stdio_t;

// The stdio of the run in progress on this thread. A run is one C call, so the thread cannot change
// under it; Go host functions called during the run execute on the same thread.
static __thread wdh_stdio_t *wdh_cur;

static int memory_of(wasmtime_caller_t *caller, uint8_t **data, size_t *size) {
	wasmtime_extern_t ext;
	if (!wasmtime_caller_export_get(caller, "memory", 6, &ext)) return 0;
	if (ext.kind != WDH_EXTERN_MEMORY) return 0;
	wasmtime_context_t *ctx = wasmtime_caller_context(caller);
	*data = wasmtime_memory_data(ctx, &ext.of.memory);
	*size = wasmtime_memory_data_size(ctx, &ext.of.memory);
	return 1;
}

static uint32_t le32(const uint8_t *p) {
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v) {
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static int in_bounds(uint64_t ptr, uint64_t len, size_t size) { return ptr + len <= (uint64_t)size; }

// check_iovecs validates every {u32 buf, u32 len} entry before any is used.
static int32_t check_iovecs(const uint8_t *mem, size_t size, uint32_t iovs, uint32_t n) {
	if (n > MAX_IOVECS) return ERRNO_INVAL;
	if (mem == NULL || !in_bounds(iovs, 8 * (uint64_t)n, size)) return ERRNO_FAULT;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = mem + iovs + 8 * (size_t)i;
		if (!in_bounds(le32(e), le32(e + 4), size)) return ERRNO_FAULT;
	}
	return ERRNO_SUCCESS;
}

// sink_write keeps what fits under the cap and drops the rest, as a full pipe reader would not.
static int sink_write(wdh_sink_t *s, const uint8_t *p, size_t n) {
	if (s->len >= s->max) return 1;
	if (n > s->max - s->len) n = s->max - s->len;
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 256;
		while (cap < s->len + n) cap *= 2;
		if (cap > s->max) cap = s->max;
		uint8_t *b = realloc(s->buf, cap);
		if (b == NULL) return 0;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 1;
}

// begin checks a stdio call (fd_read when reading, else fd_write): the run's state, the fd and every
// iovec. On failure it leaves the errno in a[0] and returns NULL.
static wdh_stdio_t *begin(wasmtime_caller_t *caller, wasmtime_val_raw_t *a, int reading, uint8_t **mem, size_t *size) {
	int32_t fd = a[0].i32;
	wdh_stdio_t *s = wdh_cur;
	if (s == NULL || (reading ? fd != 0 : fd != 1 && fd != 2)) {
		a[0].i32 = ERRNO_BADF;
		return NULL;
	}
	*mem = NULL;
	*size = 0;
	memory_of(caller, mem, size);
	int32_t errno_ = check_iovecs(*mem, *size, (uint32_t)a[1].i32, (uint32_t)a[2].i32);
	if (errno_ != ERRNO_SUCCESS) {
		a[0].i32 = errno_;
		return NULL;
	}
	return s;
}

// end stores the byte count at the call's result pointer and the errno in a[0].
static wasm_trap_t *end(wasmtime_val_raw_t *a, uint8_t *mem, size_t size, uint64_t total) {
	uint32_t at = (uint32_t)a[3].i32;
	if (!in_bounds(at, 4, size)) {
		a[0].i32 = ERRNO_FAULT;
		return NULL;
	}
	put32(mem + at, (uint32_t)total);
	a[0].i32 = ERRNO_SUCCESS;
	return NULL;
}

// stdio_call is fd_read (reading) or fd_write: it copies between the iovecs and the run's buffers.
static wasm_trap_t *stdio_call(wasmtime_caller_t *caller, wasmtime_val_raw_t *a, int reading) {
	uint8_t *mem;
	size_t size;
	wdh_stdio_t *s = begin(caller, a, reading, &mem, &size);
	if (s == NULL) return NULL;
	wdh_sink_t *sink = a[0].i32 == 1 ? &s->out : &s->err;
	uint32_t iovs = (uint32_t)a[1].i32, iovs_len = (uint32_t)a[2].i32;
	uint64_t total = 0;
	for (uint32_t i = 0; i < iovs_len; i++) {
		const uint8_t *e = mem + iovs + 8 * (size_t)i;
		uint32_t p = le32(e), l = le32(e + 4);
		if (reading) {
			size_t k = s->in_len - s->in_off;
			if (k > l) k = l;
			memcpy(mem + p, s->in + s->in_off, k);
			s->in_off += k;
			total += k;
		} else {
			if (!sink_write(sink, mem + p, l)) {
				a[0].i32 = ERRNO_NOMEM;
				return NULL;
			}
			total += l;
		}
	}
	return end(a, mem, size, total);
}

static wasm_trap_t *wdh_fd_write(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *a, size_t n) {
	(void)env;
	(void)n;
	return stdio_call(caller, a, 0);
}

static wasm_trap_t *wdh_fd_read(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *a, size_t n) {
	(void)env;
	(void)n;
	return stdio_call(caller, a, 1);
}

wasmtime_error_t *wdh_define_stdio(wasmtime_linker_t *linker) {
	static const char *names[2] = {"fd_write", "fd_read"};
	wasmtime_func_unchecked_callback_t cbs[2] = {wdh_fd_write, wdh_fd_read};
	for (int i = 0; i < 2; i++) {
		wasm_valtype_t *ps[4], *rs[1];
		for (int j = 0; j < 4; j++) ps[j] = wasm_valtype_new(WDH_WASM_I32);
		rs[0] = wasm_valtype_new(WDH_WASM_I32);
		wasm_valtype_vec_t params, results;
		wasm_valtype_vec_new(&params, 4, ps);
		wasm_valtype_vec_new(&results, 1, rs);
		wasm_functype_t *ty = wasm_functype_new(&params, &results);
		wasmtime_error_t *err = wasmtime_linker_define_func_unchecked(linker, "wasi_snapshot_preview1", 22,
			names[i], strlen(names[i]), ty, cbs[i], NULL, NULL);
		wasm_functype_delete(ty);
		if (err != NULL) return err;
	}
	return NULL;
}

// buf holds argc argv strings, then envc names, then envc values, each NUL-terminated.
int wdh_set_args_env(wasi_config_t *cfg, const char *buf, size_t argc, size_t envc) {
	const char **ptrs = malloc((argc + 2 * envc + 1) * sizeof *ptrs);
	if (ptrs == NULL) return 0;
	const char *p = buf;
	for (size_t i = 0; i < argc + 2 * envc; i++) {
		ptrs[i] = p;
		p += strlen(p) + 1;
	}
	int ok = wasi_config_set_argv(cfg, argc, ptrs) &&
		(envc == 0 || wasi_config_set_env(cfg, envc, ptrs + argc, ptrs + argc + envc));
	free(ptrs);
	return ok;
}

static void take(wdh_run_t *r, wasmtime_error_t *err, wasm_trap_t *trap) {
	if (err != NULL) {
		int status;
		if (wasmtime_error_exit_status(err, &status)) {
			r->has_exit = 1;
			r->exit_status = status;
		} else {
			wasmtime_error_message(err, &r->msg);
			r->msg_len = r->msg.size;
		}
		wasmtime_error_delete(err);
	}
	if (trap != NULL) {
		r->is_trap = 1;
		r->has_code = wasmtime_trap_code(trap, &r->trap_code);
		wasm_trap_message(trap, &r->msg);
		r->msg_len = r->msg.size;
		if (r->msg_len > 0 && r->msg.data[r->msg_len - 1] == 0) r->msg_len--;
		wasm_trap_delete(trap);
	}
}

static void set_msg(wdh_run_t *r, const char *s) {
	// A copy the caller frees like wasmtime's messages (wasm_byte_vec_delete frees with Rust's
	// allocator, so our own messages are flagged by msg.size == 0 and kept static).
	r->msg.size = 0;
	r->msg.data = (char *)s;
	r->msg_len = strlen(s);
}

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// call_export returns 0 when the call returned, 1 when it ended otherwise (taken into r), 2 when the
// instance has no such function.
static int call_export(wdh_run_t *r, wasmtime_context_t *ctx, wasmtime_instance_t *inst, const char *name,
	wasmtime_val_raw_t *vals, size_t nvals) {
	wasmtime_extern_t ext;
	if (!wasmtime_instance_export_get(ctx, inst, name, strlen(name), &ext) || ext.kind != WDH_EXTERN_FUNC) {
		set_msg(r, "no such exported function");
		return 2;
	}
	wasmtime_val_raw_t dummy;
	wasm_trap_t *trap = NULL;
	wasmtime_error_t *err = wasmtime_func_call_unchecked(ctx, &ext.of.func, nvals ? vals : &dummy, nvals, &trap);
	if (err != NULL || trap != NULL) {
		take(r, err, trap);
		return 1;
	}
	return 0;
}

void wdh_run(wdh_run_t *r, const char *strs, const uint8_t *stdin_data, wasmtime_val_raw_t *vals) {
	wasmtime_context_t *ctx = wasmtime_store_context(r->store);
	wasi_config_t *cfg = wasi_config_new();
	if (!wdh_set_args_env(cfg, strs, r->argc, r->envc)) {
		wasi_config_delete(cfg);
		r->stage = 5;
		set_msg(r, "the arguments or the environment are not valid UTF-8");
		return;
	}
	wasmtime_error_t *err = wasmtime_context_set_wasi(ctx, cfg);
	if (err != NULL) {
		r->stage = 5;
		take(r, err, NULL);
		return;
	}
	wasmtime_store_limiter(r->store, r->max_memory, -1, -1, -1, -1);
	wasmtime_context_set_epoch_deadline(ctx, r->deadline);

	wdh_stdio_t s = {.in = stdin_data, .in_len = r->stdin_len};
	s.out.max = r->out_max;
	s.err.max = r->err_max;
	wdh_stdio_t *prev = wdh_cur;
	wdh_cur = &s;

	uint64_t t0 = now_ns();
	wasmtime_instance_t inst;
	wasm_trap_t *trap = NULL;
	err = wasmtime_instance_pre_instantiate(r->pre, ctx, &inst, &trap);
	r->inst_ns = now_ns() - t0;
	if (err != NULL || trap != NULL) {
		r->stage = 1;
		take(r, err, trap);
		goto out;
	}
	if (r->call_initialize && call_export(r, ctx, &inst, "_initialize", NULL, 0) != 0) {
		r->stage = 2;
		goto out;
	}
	if (r->has_entry) {
		// The entry's name follows the argv and environment strings.
		const char *p = strs;
		for (size_t i = 0; i < r->argc + 2 * r->envc; i++) p += strlen(p) + 1;
		int rc = call_export(r, ctx, &inst, p, vals, r->nvals);
		if (rc != 0) {
			r->stage = rc == 2 ? 4 : 3;
			goto out;
		}
	}
	r->stage = 0;
out:
	wdh_cur = prev;
	r->out = s.out.buf;
	r->out_len = s.out.len;
	r->err = s.err.buf;
	r->err_len = s.err.len;
}

void wdh_run_release(wdh_run_t *r) {
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
	if (r->msg.size > 0) wasm_byte_vec_delete(&r->msg);
	r->msg.size = 0;
	r->msg.data = NULL;
}
