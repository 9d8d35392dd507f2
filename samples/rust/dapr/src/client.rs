//! A client for the Dapr sidecar's HTTP API (v1.0) over `wasi_experimental_http`.
//!
//! Every method reads the whole response and closes its handle before it returns. Values are JSON
//! text: a string value is the JSON string `"Death Star"` (see [`crate::json::escape`]).

use std::fmt;

use crate::http::{HttpError, Request};
use crate::json;

/// What went wrong in a Dapr call; `op` names the call (e.g. `save state statestore/weapon`).
#[derive(Debug, Clone)]
pub enum Error {
    /// The host's `wasi_experimental_http` call failed (code and name in `err`).
    Http { op: String, err: HttpError },
    /// The sidecar answered an unexpected status; `body` is its answer (`{"errorCode":..,"message":..}`).
    Status { op: String, status: u16, body: String },
    /// A value that must be JSON was not.
    Json { op: String, err: json::Error },
}

impl Error {
    /// The HTTP status of a Status error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for an optimistic-concurrency conflict (etag mismatch, or the key already exists under
    /// first-write): Dapr answers 409, some stores 412.
    pub fn is_conflict(&self) -> bool {
        matches!(self.status(), Some(409 | 412))
    }

    /// The ABI error of an Http error.
    pub fn http_error(&self) -> Option<HttpError> {
        match self {
            Error::Http { err, .. } => Some(*err),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Http { op, err } => write!(f, "{}: {}", op, err),
            Error::Status { op, status, body } if body.is_empty() => write!(f, "{}: HTTP {}", op, status),
            Error::Status { op, status, body } => write!(f, "{}: HTTP {}: {}", op, status, body.trim()),
            Error::Json { op, err } => write!(f, "{}: {}", op, err),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// A whole response: status, headers and body (the handle is already closed).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A state value with the etag the store gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEntry {
    /// The value as JSON text.
    pub value: String,
    /// The etag, if the store supports them.
    pub etag: Option<String>,
}

/// The sidecar's base URL from the environment: `DAPR_HTTP_ENDPOINT` if set, else
/// `http://127.0.0.1:$DAPR_HTTP_PORT` (3500 when unset). No trailing slash.
pub fn base_url_from_env() -> String {
    base_url(std::env::var("DAPR_HTTP_ENDPOINT").ok(), std::env::var("DAPR_HTTP_PORT").ok())
}

fn base_url(endpoint: Option<String>, port: Option<String>) -> String {
    match endpoint.filter(|e| !e.trim().is_empty()) {
        Some(e) => e.trim().trim_end_matches('/').to_string(),
        None => {
            let port = port.map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
            format!("http://127.0.0.1:{}", port.as_deref().unwrap_or("3500"))
        }
    }
}

/// Percent-encodes one URL path segment (everything but RFC 3986 unreserved characters).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{:02X}", b)),
        }
    }
    out
}

/// A Dapr client: `Client::from_env().get_state("statestore", "weapon")`.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
}

impl Default for Client {
    fn default() -> Client {
        Client::from_env()
    }
}

impl Client {
    /// The sidecar named by the environment (see [`base_url_from_env`]).
    pub fn from_env() -> Client {
        Client { base: base_url_from_env() }
    }

    /// A sidecar at `base_url`, e.g. `http://127.0.0.1:3500`.
    pub fn new(base_url: &str) -> Client {
        Client { base: base_url.trim_end_matches('/').to_string() }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Sends `method path` with an optional body (and its content type), reads the whole answer.
    pub fn call(&self, op: &str, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Result<Reply> {
        let mut req = Request::new(method, &format!("{}{}", self.base, path));
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.body = body.to_vec();
        let http = |err| Error::Http { op: op.to_string(), err };
        let mut resp = req.send().map_err(http)?;
        let headers = resp.headers().map_err(http)?;
        let body = resp.body().map_err(http)?;
        let status = resp.status();
        resp.close().map_err(http)?;
        Ok(Reply { status, headers, body })
    }

    /// `call`, and an error unless the status is one of `want`.
    fn expect(&self, op: &str, method: &str, path: &str, body: Option<&str>, want: &[u16]) -> Result<Reply> {
        let ct = body.map(|_| "application/json");
        let reply = self.call(op, method, path, ct, body.unwrap_or("").as_bytes())?;
        if want.contains(&reply.status) {
            Ok(reply)
        } else {
            Err(Error::Status { op: op.to_string(), status: reply.status, body: reply.text() })
        }
    }

    fn state_path(store: &str, key: Option<&str>) -> String {
        match key {
            Some(k) => format!("/v1.0/state/{}/{}", encode_segment(store), encode_segment(k)),
            None => format!("/v1.0/state/{}", encode_segment(store)),
        }
    }

    /// The value of `key` as JSON text; None if the key does not exist (Dapr answers 204).
    pub fn get_state(&self, store: &str, key: &str) -> Result<Option<String>> {
        Ok(self.get_state_etag(store, key)?.map(|e| e.value))
    }

    /// The value of `key` and its etag; None if the key does not exist.
    pub fn get_state_etag(&self, store: &str, key: &str) -> Result<Option<StateEntry>> {
        let op = format!("get state {}/{}", store, key);
        let reply = self.expect(&op, "GET", &Self::state_path(store, Some(key)), None, &[200, 204])?;
        if reply.status == 204 {
            return Ok(None);
        }
        Ok(Some(StateEntry { value: reply.text(), etag: reply.header("etag").map(str::to_string) }))
    }

    /// Saves one value (JSON text).
    pub fn save_state(&self, store: &str, key: &str, json_value: &str) -> Result<()> {
        self.save_bulk_state(store, &[(key, json_value)])
    }

    /// Saves several values (key, JSON text) in one request.
    pub fn save_bulk_state(&self, store: &str, items: &[(&str, &str)]) -> Result<()> {
        let op = match items {
            [(k, _)] => format!("save state {}/{}", store, k),
            _ => format!("save {} states in {}", items.len(), store),
        };
        let mut body = String::from("[");
        for (i, (key, value)) in items.iter().enumerate() {
            check_json(&op, value)?;
            if i > 0 {
                body.push(',');
            }
            body.push_str(&format!("{{\"key\":{},\"value\":{}}}", json::escape(key), value));
        }
        body.push(']');
        self.expect(&op, "POST", &Self::state_path(store, None), Some(&body), &[200, 201, 204]).map(|_| ())
    }

    /// Saves one value under first-write concurrency: with `Some(etag)` only if the stored etag is
    /// still `etag`; with `None` only if the key does not exist yet. A lost race is an error for which
    /// [`Error::is_conflict`] is true.
    pub fn save_state_etag(&self, store: &str, key: &str, json_value: &str, etag: Option<&str>) -> Result<()> {
        let op = format!("save state {}/{} (first-write)", store, key);
        check_json(&op, json_value)?;
        let etag = match etag {
            Some(e) => format!(",\"etag\":{}", json::escape(e)),
            None => String::new(),
        };
        let body = format!(
            "[{{\"key\":{},\"value\":{}{},\"options\":{{\"concurrency\":\"first-write\"}}}}]",
            json::escape(key),
            json_value,
            etag
        );
        self.expect(&op, "POST", &Self::state_path(store, None), Some(&body), &[200, 201, 204]).map(|_| ())
    }

    /// Deletes `key` (no error if it did not exist).
    pub fn delete_state(&self, store: &str, key: &str) -> Result<()> {
        let op = format!("delete state {}/{}", store, key);
        self.expect(&op, "DELETE", &Self::state_path(store, Some(key)), None, &[200, 204]).map(|_| ())
    }

    /// Publishes `data` to `topic` of the pub/sub component `pubsub`; `content_type` tells subscribers
    /// how to read it (`application/json` for a JSON document, which arrives as the CloudEvent's data).
    pub fn publish(&self, pubsub: &str, topic: &str, data: &str, content_type: &str) -> Result<()> {
        let op = format!("publish {}/{}", pubsub, topic);
        if content_type.contains("json") {
            check_json(&op, data)?;
        }
        let path = format!("/v1.0/publish/{}/{}", encode_segment(pubsub), encode_segment(topic));
        let reply = self.call(&op, "POST", &path, Some(content_type), data.as_bytes())?;
        match reply.status {
            200 | 204 => Ok(()),
            status => Err(Error::Status { op, status, body: reply.text() }),
        }
    }

    /// Invokes `method` of the app `app` (service invocation) with `http_method` and a JSON or text
    /// body; returns the app's answer whatever its status (check [`Reply::ok`]).
    pub fn invoke(&self, app: &str, method: &str, http_method: &str, body: &[u8]) -> Result<Reply> {
        let op = format!("invoke {} {}/{}", http_method, app, method);
        let path = format!("/v1.0/invoke/{}/method/{}", encode_segment(app), method.trim_start_matches('/'));
        let ct = if body.is_empty() { None } else { Some("application/json") };
        self.call(&op, http_method, &path, ct, body)
    }
}

fn check_json(op: &str, value: &str) -> Result<()> {
    json::parse(value).map(|_| ()).map_err(|err| Error::Json { op: op.to_string(), err })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(base_url(None, None), "http://127.0.0.1:3500");
        assert_eq!(base_url(None, Some("43500".into())), "http://127.0.0.1:43500");
        assert_eq!(base_url(Some("http://dapr:3500/".into()), Some("1".into())), "http://dapr:3500");
        assert_eq!(base_url(Some("".into()), Some("".into())), "http://127.0.0.1:3500");
        assert_eq!(Client::new("http://h:1/").base_url(), "http://h:1");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_segment("order-A_1.~"), "order-A_1.~");
        assert_eq!(encode_segment("a/b c?é"), "a%2Fb%20c%3F%C3%A9");
        assert_eq!(Client::state_path("statestore", Some("x/y")), "/v1.0/state/statestore/x%2Fy");
    }

    #[test]
    fn errors_read_well() {
        let e = Error::Status { op: "get state s/k".into(), status: 409, body: "{\"m\":1}\n".into() };
        assert_eq!(e.to_string(), "get state s/k: HTTP 409: {\"m\":1}");
        assert!(e.is_conflict());
        let e = Error::Http { op: "publish p/t".into(), err: HttpError::RequestError };
        assert!(!e.is_conflict());
        assert_eq!(e.http_error(), Some(HttpError::RequestError));
        assert!(e.to_string().starts_with("publish p/t: wasi_experimental_http error 11 (request_error)"));
    }

    #[test]
    fn invalid_json_is_refused_before_sending() {
        let c = Client::new("http://127.0.0.1:1");
        match c.save_state("s", "k", "Death Star") {
            Err(Error::Json { op, .. }) => assert_eq!(op, "save state s/k"),
            other => panic!("{:?}", other),
        }
        // Valid JSON reaches the (stubbed, off-wasm) transport.
        assert_eq!(c.save_state("s", "k", "\"Death Star\"").unwrap_err().http_error(), Some(HttpError::RuntimeError));
    }
}
