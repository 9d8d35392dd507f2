//! Raw bindings to the `wasi_experimental_http` host API (shared/abi/wasi-experimental-http.md).
//!
//! Every parameter is an i32 on wasm32 (pointers, lengths and handles); every function returns the
//! ABI error code, 0 for success. Prefer the safe wrappers in [`crate::http`].
//!
//! Off wasm32 (native unit tests) the functions are stubs that answer `runtime_error`, so the library
//! still compiles and links for the host target.

/// The handle of an open response.
pub type Handle = u32;

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "wasi_experimental_http")]
extern "C" {
    /// Sends a request; on success writes the status (u16 LE) and the response handle (u32 LE).
    pub fn req(
        url_ptr: *const u8,
        url_len: usize,
        method_ptr: *const u8,
        method_len: usize,
        headers_ptr: *const u8,
        headers_len: usize,
        body_ptr: *const u8,
        body_len: usize,
        status_code_ptr: *mut u16,
        res_handle_ptr: *mut Handle,
    ) -> u32;

    /// Releases a response handle.
    pub fn close(handle: Handle) -> u32;

    /// Copies one response header's value (name matched case-insensitively) and writes its length.
    pub fn header_get(
        handle: Handle,
        name_ptr: *const u8,
        name_len: usize,
        value_ptr: *mut u8,
        value_len: usize,
        written_ptr: *mut usize,
    ) -> u32;

    /// Copies all response headers as `name:value\n` lines and writes their length.
    pub fn headers_get_all(handle: Handle, buf_ptr: *mut u8, buf_len: usize, written_ptr: *mut usize) -> u32;

    /// Copies up to `buf_len` next body bytes and writes their count; 0 means the body is finished.
    pub fn body_read(handle: Handle, buf_ptr: *mut u8, buf_len: usize, written_ptr: *mut usize) -> u32;
}

#[cfg(not(target_arch = "wasm32"))]
mod stubs {
    #![allow(clippy::missing_safety_doc, clippy::too_many_arguments)]
    use super::Handle;
    const RUNTIME_ERROR: u32 = 12;

    pub unsafe fn req(
        _url_ptr: *const u8,
        _url_len: usize,
        _method_ptr: *const u8,
        _method_len: usize,
        _headers_ptr: *const u8,
        _headers_len: usize,
        _body_ptr: *const u8,
        _body_len: usize,
        _status_code_ptr: *mut u16,
        _res_handle_ptr: *mut Handle,
    ) -> u32 {
        RUNTIME_ERROR
    }
    pub unsafe fn close(_handle: Handle) -> u32 {
        1 // invalid_handle: no handle is ever handed out
    }
    pub unsafe fn header_get(_h: Handle, _np: *const u8, _nl: usize, _vp: *mut u8, _vl: usize, _w: *mut usize) -> u32 {
        1
    }
    pub unsafe fn headers_get_all(_h: Handle, _bp: *mut u8, _bl: usize, _w: *mut usize) -> u32 {
        1
    }
    pub unsafe fn body_read(_h: Handle, _bp: *mut u8, _bl: usize, _w: *mut usize) -> u32 {
        1
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use stubs::*;
