//! The inbound side of `wasi-dapr-host serve`: WAGI / CGI 1.1 (shared/abi/wagi.md).
//!
//! A request arrives as environment variables, argv and stdin ([`Request::from_env_stdin`]); the
//! answer is a header block, a blank line and the body on stdout ([`respond`]). Always send `status`:
//! to the host a `location` header alone means 302.

use std::io::{self, Read, Write};

/// One inbound request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `REQUEST_METHOD`, e.g. `POST`.
    pub method: String,
    /// `PATH_INFO`, e.g. `/orders/42` (decoded).
    pub path: String,
    /// `QUERY_STRING`, raw.
    pub query: String,
    /// `CONTENT_TYPE`.
    pub content_type: String,
    /// `X_MATCHED_ROUTE`: the manifest route that matched, e.g. `/orders/...`.
    pub route: String,
    /// Request headers from the `HTTP_*` variables: lower-case names, `_` turned back into `-`.
    pub headers: Vec<(String, String)>,
    /// argv[1..]: the query string's parameters (`k=v`, decoded).
    pub args: Vec<String>,
    /// The body (stdin).
    pub body: Vec<u8>,
}

impl Request {
    /// The request of this instance: the process environment, argv and the whole of stdin.
    pub fn from_env_stdin() -> io::Result<Request> {
        let mut body = Vec::new();
        io::stdin().lock().read_to_end(&mut body)?;
        Ok(Request::from_parts(std::env::vars(), std::env::args().skip(1), body))
    }

    /// A request from explicit parts (for tests and other front ends).
    pub fn from_parts(env: impl IntoIterator<Item = (String, String)>, args: impl IntoIterator<Item = String>, body: Vec<u8>) -> Request {
        let mut r = Request { args: args.into_iter().collect(), body, ..Request::default() };
        for (k, v) in env {
            match k.as_str() {
                "REQUEST_METHOD" => r.method = v,
                "PATH_INFO" => r.path = v,
                "QUERY_STRING" => r.query = v,
                "CONTENT_TYPE" => r.content_type = v,
                "X_MATCHED_ROUTE" => r.route = v,
                _ => {
                    if let Some(name) = k.strip_prefix("HTTP_") {
                        r.headers.push((name.to_ascii_lowercase().replace('_', "-"), v));
                    }
                }
            }
        }
        if r.path.is_empty() {
            r.path.push('/');
        }
        r
    }

    /// A request header (case-insensitive; `-` and `_` are the same, as in CGI).
    pub fn header(&self, name: &str) -> Option<&str> {
        let want = name.to_ascii_lowercase().replace('_', "-");
        self.headers.iter().find(|(k, _)| *k == want).map(|(_, v)| v.as_str())
    }

    /// The body as text, None if it is not UTF-8.
    pub fn body_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }
}

/// The complete WAGI answer: `status`, `content-type`, the extra headers, a blank line, the body.
/// CR and LF in header names or values are replaced by spaces, so a value cannot inject a header.
pub fn format_response(status: u16, content_type: &str, extra_headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let clean = |s: &str| s.replace(['\r', '\n'], " ");
    let mut head = format!("status: {}\ncontent-type: {}\n", status, clean(content_type));
    for (k, v) in extra_headers {
        head.push_str(&format!("{}: {}\n", clean(k).trim(), clean(v).trim()));
    }
    head.push('\n');
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Writes the whole answer to stdout in one write, bypassing std's line-buffered `Stdout` (which
/// would split it at the last newline). Nothing should be printed to stdout before or after.
pub fn respond(status: u16, content_type: &str, extra_headers: &[(&str, &str)], body: &[u8]) -> io::Result<()> {
    write_stdout(&format_response(status, content_type, extra_headers, body))
}

/// `respond` with `application/json`.
pub fn respond_json(status: u16, extra_headers: &[(&str, &str)], json: &str) -> io::Result<()> {
    respond(status, "application/json", extra_headers, json.as_bytes())
}

#[cfg(any(target_os = "wasi", unix))]
fn write_stdout(buf: &[u8]) -> io::Result<()> {
    #[cfg(target_os = "wasi")]
    use std::os::wasi::io::FromRawFd;
    #[cfg(unix)]
    use std::os::unix::io::FromRawFd;
    io::stdout().flush()?;
    // fd 1 as a File: one fd_write for the whole buffer. ManuallyDrop: never close stdout.
    let mut out = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    out.write_all(buf)
}

#[cfg(not(any(target_os = "wasi", unix)))]
fn write_stdout(buf: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(buf)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn request_from_cgi_variables() {
        let r = Request::from_parts(
            env(&[
                ("REQUEST_METHOD", "POST"),
                ("PATH_INFO", "/orders/7"),
                ("QUERY_STRING", "a=1&b=2"),
                ("CONTENT_TYPE", "application/json"),
                ("X_MATCHED_ROUTE", "/orders/..."),
                ("HTTP_CONTENT_TYPE", "application/json"),
                ("HTTP_TRACEPARENT", "00-abc"),
                ("HTTP_X_REQUEST_ID", "r1"),
                ("DAPR_HTTP_PORT", "3500"),
            ]),
            vec!["a=1".to_string(), "b=2".to_string()],
            b"{}".to_vec(),
        );
        assert_eq!((r.method.as_str(), r.path.as_str(), r.query.as_str()), ("POST", "/orders/7", "a=1&b=2"));
        assert_eq!(r.route, "/orders/...");
        assert_eq!(r.header("X-Request-Id"), Some("r1"));
        assert_eq!(r.header("x_request_id"), Some("r1"));
        assert_eq!(r.header("traceparent"), Some("00-abc"));
        assert_eq!(r.header("dapr-http-port"), None);
        assert_eq!(r.args, vec!["a=1", "b=2"]);
        assert_eq!(r.body_str(), Some("{}"));
        assert_eq!(Request::from_parts(Vec::new(), Vec::new(), Vec::new()).path, "/");
    }

    #[test]
    fn response_format() {
        let out = format_response(201, "application/json", &[("location", "/orders/7")], b"{\"id\":\"7\"}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "status: 201\ncontent-type: application/json\nlocation: /orders/7\n\n{\"id\":\"7\"}"
        );
        let out = format_response(200, "text/plain", &[("x-a", "1\r\nstatus: 302")], b"");
        assert_eq!(String::from_utf8(out).unwrap(), "status: 200\ncontent-type: text/plain\nx-a: 1  status: 302\n\n");
    }
}
