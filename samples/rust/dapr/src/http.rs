//! Safe outbound HTTP over `wasi_experimental_http`: [`Request`] builds and sends, [`Response`] reads
//! the status, headers and body and closes its handle when dropped.

use std::fmt;

use crate::raw;

/// A failed `wasi_experimental_http` call: the ABI's error codes 1–13 (0 is success).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    InvalidHandle,
    MemoryNotFound,
    MemoryAccessError,
    BufferTooSmall,
    HeaderNotFound,
    Utf8Error,
    DestinationNotAllowed,
    InvalidMethod,
    InvalidEncoding,
    InvalidUrl,
    RequestError,
    RuntimeError,
    TooManySessions,
    /// A code this library does not know (a newer host).
    Unknown(u32),
}

impl HttpError {
    /// The error for an ABI return code; None for 0 (success).
    pub fn from_code(code: u32) -> Option<HttpError> {
        use HttpError::*;
        Some(match code {
            0 => return None,
            1 => InvalidHandle,
            2 => MemoryNotFound,
            3 => MemoryAccessError,
            4 => BufferTooSmall,
            5 => HeaderNotFound,
            6 => Utf8Error,
            7 => DestinationNotAllowed,
            8 => InvalidMethod,
            9 => InvalidEncoding,
            10 => InvalidUrl,
            11 => RequestError,
            12 => RuntimeError,
            13 => TooManySessions,
            n => Unknown(n),
        })
    }

    /// The ABI code.
    pub fn code(self) -> u32 {
        use HttpError::*;
        match self {
            InvalidHandle => 1,
            MemoryNotFound => 2,
            MemoryAccessError => 3,
            BufferTooSmall => 4,
            HeaderNotFound => 5,
            Utf8Error => 6,
            DestinationNotAllowed => 7,
            InvalidMethod => 8,
            InvalidEncoding => 9,
            InvalidUrl => 10,
            RequestError => 11,
            RuntimeError => 12,
            TooManySessions => 13,
            Unknown(n) => n,
        }
    }

    /// The ABI name, e.g. `destination_not_allowed`.
    pub fn name(self) -> &'static str {
        use HttpError::*;
        match self {
            InvalidHandle => "invalid_handle",
            MemoryNotFound => "memory_not_found",
            MemoryAccessError => "memory_access_error",
            BufferTooSmall => "buffer_too_small",
            HeaderNotFound => "header_not_found",
            Utf8Error => "utf8_error",
            DestinationNotAllowed => "destination_not_allowed",
            InvalidMethod => "invalid_method",
            InvalidEncoding => "invalid_encoding",
            InvalidUrl => "invalid_url",
            RequestError => "request_error",
            RuntimeError => "runtime_error",
            TooManySessions => "too_many_sessions",
            Unknown(_) => "unknown_error",
        }
    }
}

fn check(code: u32) -> Result<(), HttpError> {
    match HttpError::from_code(code) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wasi_experimental_http error {} ({})", self.code(), self.name())?;
        match self {
            HttpError::DestinationNotAllowed => f.write_str(": the host's allow-list does not permit this URL"),
            HttpError::RequestError => f.write_str(": the request failed in transport (is the sidecar running?)"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for HttpError {}

/// Largest header value or header block read through `header_get` / `headers_get_all`.
const MAX_HEADER_BYTES: usize = 1 << 20;
/// Chunk size of `body_read` calls.
const BODY_CHUNK: usize = 16 * 1024;

/// An outbound request. `Request::new("GET", url).header("accept", "application/json").send()`.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, url: &str) -> Request {
        Request { method: method.to_string(), url: url.to_string(), headers: Vec::new(), body: Vec::new() }
    }

    pub fn get(url: &str) -> Request {
        Request::new("GET", url)
    }

    pub fn post(url: &str) -> Request {
        Request::new("POST", url)
    }

    /// Adds a request header.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// The headers in the ABI encoding: one `name:value\n` line each.
    pub fn encoded_headers(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.headers {
            s.push_str(k);
            s.push(':');
            s.push_str(v);
            s.push('\n');
        }
        s
    }

    /// Sends the request; returns once the status and headers are known.
    pub fn send(&self) -> Result<Response, HttpError> {
        let headers = self.encoded_headers();
        let mut status: u16 = 0;
        let mut handle: raw::Handle = 0;
        let code = unsafe {
            raw::req(
                self.url.as_ptr(),
                self.url.len(),
                self.method.as_ptr(),
                self.method.len(),
                headers.as_ptr(),
                headers.len(),
                self.body.as_ptr(),
                self.body.len(),
                &mut status,
                &mut handle,
            )
        };
        check(code)?;
        Ok(Response { handle, status, open: true })
    }
}

/// A response whose body has not necessarily been read. Its handle is closed on drop.
#[derive(Debug)]
pub struct Response {
    handle: raw::Handle,
    status: u16,
    open: bool,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn handle(&self) -> raw::Handle {
        self.handle
    }

    /// One header's value (the name is matched case-insensitively), None if absent.
    pub fn header(&self, name: &str) -> Result<Option<String>, HttpError> {
        let res = grow_read(256, |buf, written| unsafe {
            raw::header_get(self.handle, name.as_ptr(), name.len(), buf.as_mut_ptr(), buf.len(), written)
        });
        match res {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(HttpError::HeaderNotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// All headers, in the host's order, as (name, value) pairs.
    pub fn headers(&self) -> Result<Vec<(String, String)>, HttpError> {
        let bytes = grow_read(1024, |buf, written| unsafe {
            raw::headers_get_all(self.handle, buf.as_mut_ptr(), buf.len(), written)
        })?;
        Ok(parse_header_lines(&String::from_utf8_lossy(&bytes)))
    }

    /// Reads the rest of the body (`body_read` until it yields 0 bytes).
    pub fn body(&mut self) -> Result<Vec<u8>, HttpError> {
        let mut out = Vec::new();
        let mut chunk = vec![0u8; BODY_CHUNK];
        loop {
            let mut written: usize = 0;
            check(unsafe { raw::body_read(self.handle, chunk.as_mut_ptr(), chunk.len(), &mut written) })?;
            if written == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&chunk[..written.min(chunk.len())]);
        }
    }

    /// The rest of the body as text (invalid UTF-8 replaced).
    pub fn body_string(&mut self) -> Result<String, HttpError> {
        Ok(String::from_utf8_lossy(&self.body()?).into_owned())
    }

    /// Releases the handle now (dropping the response does the same).
    pub fn close(mut self) -> Result<(), HttpError> {
        self.open = false;
        check(unsafe { raw::close(self.handle) })
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        if self.open {
            unsafe { raw::close(self.handle) };
        }
    }
}

/// Calls `f` with a buffer that grows fourfold (up to MAX_HEADER_BYTES) while the host says buffer_too_small.
fn grow_read(start: usize, mut f: impl FnMut(&mut [u8], *mut usize) -> u32) -> Result<Vec<u8>, HttpError> {
    let mut size = start;
    loop {
        let mut buf = vec![0u8; size];
        let mut written: usize = 0;
        match check(f(&mut buf, &mut written)) {
            Ok(()) => {
                buf.truncate(written.min(size));
                return Ok(buf);
            }
            Err(HttpError::BufferTooSmall) if size < MAX_HEADER_BYTES => size *= 4,
            Err(e) => return Err(e),
        }
    }
}

/// Splits `name:value\n` lines at the first ':' (values trimmed of surrounding blanks).
pub fn parse_header_lines(s: &str) -> Vec<(String, String)> {
    s.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_round_trip() {
        assert_eq!(HttpError::from_code(0), None);
        for code in 1..=14 {
            let e = HttpError::from_code(code).unwrap();
            assert_eq!(e.code(), code);
        }
        assert_eq!(HttpError::from_code(7).unwrap().name(), "destination_not_allowed");
        assert_eq!(HttpError::from_code(13).unwrap().name(), "too_many_sessions");
        assert_eq!(HttpError::from_code(99), Some(HttpError::Unknown(99)));
        assert!(HttpError::DestinationNotAllowed.to_string().starts_with("wasi_experimental_http error 7 (destination_not_allowed)"));
    }

    #[test]
    fn header_encoding() {
        let r = Request::post("http://x/").header("content-type", "application/json").header("a", "b:c");
        assert_eq!(r.encoded_headers(), "content-type:application/json\na:b:c\n");
        assert_eq!(
            parse_header_lines("Content-Type:text/plain\nEtag: 1:2\n\nbad\n"),
            vec![("Content-Type".to_string(), "text/plain".to_string()), ("Etag".to_string(), "1:2".to_string())]
        );
    }

    #[test]
    fn buffers_grow_on_buffer_too_small() {
        let mut calls = 0;
        let got = grow_read(4, |buf, written| {
            calls += 1;
            if buf.len() < 10 {
                return 4;
            }
            buf[..10].copy_from_slice(b"0123456789");
            unsafe { *written = 10 };
            0
        })
        .unwrap();
        assert_eq!(got, b"0123456789");
        assert_eq!(calls, 2); // 4 bytes, then 16
        assert_eq!(grow_read(4, |_, _| 4), Err(HttpError::BufferTooSmall));
    }

    #[test]
    fn off_wasm_requests_fail_cleanly() {
        assert_eq!(Request::get("http://127.0.0.1:3500/").send().unwrap_err(), HttpError::RuntimeError);
    }
}
