//! `dapr`: a small, std-only Dapr client for WebAssembly (WASI) guests of `wasi-dapr-host`.
//!
//! - [`raw`]: the `wasi_experimental_http` imports, as declared by the ABI;
//! - [`http`]: safe outbound requests ([`http::Request`], [`http::Response`], [`http::HttpError`]);
//! - [`client`]: Dapr's REST API — state (with etags), pub/sub, service invocation ([`Client`]);
//! - [`json`]: escape, parse and compare JSON without serde;
//! - [`wagi`]: the inbound side of `wasi-dapr-host serve` (CGI-style request in, header block out).
//!
//! ```no_run
//! let dapr = dapr::Client::from_env(); // DAPR_HTTP_ENDPOINT, else 127.0.0.1:$DAPR_HTTP_PORT (3500)
//! dapr.save_state("statestore", "weapon", &dapr::json::escape("Death Star")).unwrap();
//! assert_eq!(dapr.get_state("statestore", "weapon").unwrap().as_deref(), Some("\"Death Star\""));
//! ```

pub mod client;
pub mod http;
pub mod json;
pub mod raw;
pub mod wagi;

pub use client::{Client, Error, Reply, Result, StateEntry};
pub use http::HttpError;

/// An environment variable, None when unset or empty.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
