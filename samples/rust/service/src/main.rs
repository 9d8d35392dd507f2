//! An order service for `wasi-dapr-host serve` (one WAGI module; a fresh instance per request).
//!
//! | request                           | answer |
//! |-----------------------------------|--------|
//! | `POST /orders` `{"id","item","quantity"}` | 201 + `location: /orders/<id>` + the order; 400 naming the bad field; 409 if the id exists |
//! | `GET /orders/<id>`                | 200 + the order, or 404 |
//! | `GET /stats`                      | 200 `{"created":<n>}` (the `orders-created` counter, 0 if missing) |
//! | `POST /events/order-created`      | the `order-created` subscription: counts the order; `{"status":"SUCCESS" \| "RETRY" \| "DROP"}` |
//!
//! Orders are saved under `order-<id>` in the state store `$STATE_STORE` (default `statestore`) and
//! announced on topic `order-created` of `$PUBSUB_NAME` (default `pubsub`). Other paths answer 404,
//! other methods 405.

use dapr::wagi::{self, Request};
use dapr::{json, Client};

const TOPIC: &str = "order-created";
const COUNTER_KEY: &str = "orders-created";
/// Tries of the read-increment-write loop before the event is handed back to Dapr with RETRY.
const COUNTER_TRIES: usize = 5;
const MAX_ID_LEN: usize = 64;
const MAX_ITEM_LEN: usize = 200;

/// An answer: status, extra headers, JSON body.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Answer {
    fn json(status: u16, body: String) -> Answer {
        Answer { status, headers: Vec::new(), body }
    }

    fn error(status: u16, msg: &str) -> Answer {
        Answer::json(status, format!("{{\"error\":{}}}", json::escape(msg)))
    }

    fn event(verdict: &str) -> Answer {
        Answer::json(200, format!("{{\"status\":\"{}\"}}", verdict))
    }
}

struct Service {
    dapr: Client,
    store: String,
    pubsub: String,
}

/// A validated order.
struct Order {
    id: String,
    item: String,
    quantity: i64,
}

impl Order {
    fn to_json(&self) -> String {
        format!("{{\"id\":{},\"item\":{},\"quantity\":{}}}", json::escape(&self.id), json::escape(&self.item), self.quantity)
    }

    /// Checks a parsed body; the error names the field.
    fn from_json(v: &json::Value) -> Result<Order, String> {
        if !matches!(v, json::Value::Object(_)) {
            return Err("the body must be a JSON object {\"id\":string,\"item\":string,\"quantity\":integer}".into());
        }
        let id = match v.get("id").and_then(json::Value::as_str) {
            Some(id) if valid_id(id) => id.to_string(),
            Some(_) => {
                return Err(format!(
                    "id: must be 1 to {} characters of A-Z a-z 0-9 - _ . ~",
                    MAX_ID_LEN
                ))
            }
            None => return Err("id: required, a string".into()),
        };
        let item = match v.get("item").and_then(json::Value::as_str) {
            Some(item) if !item.trim().is_empty() && item.chars().count() <= MAX_ITEM_LEN => item.to_string(),
            Some(_) => return Err(format!("item: must be a non-blank string of at most {} characters", MAX_ITEM_LEN)),
            None => return Err("item: required, a string".into()),
        };
        let quantity = match v.get("quantity") {
            None => return Err("quantity: required, an integer of at least 1".into()),
            Some(q) => match q.as_i64() {
                Some(n) if n >= 1 => n,
                _ => return Err(format!("quantity: must be an integer of at least 1, got {}", q)),
            },
        };
        Ok(Order { id, item, quantity })
    }
}

/// Order ids become state keys and URL path segments: keep them to unreserved URL characters.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

fn order_key(id: &str) -> String {
    format!("order-{}", id)
}

impl Service {
    fn route(&self, req: &Request) -> Answer {
        let path = req.path.as_str();
        let method = req.method.as_str();
        let allow = |methods: &str| {
            let mut a = Answer::error(405, &format!("{} {}: method not allowed (allowed: {})", method, path, methods));
            a.headers.push(("allow", methods.to_string()));
            a
        };
        match path {
            "/orders" => match method {
                "POST" => self.create(req),
                _ => allow("POST"),
            },
            "/stats" => match method {
                "GET" | "HEAD" => self.stats(),
                _ => allow("GET"),
            },
            "/events/order-created" => match method {
                "POST" => self.on_order_created(req),
                _ => allow("POST"),
            },
            _ => match path.strip_prefix("/orders/") {
                Some(id) if valid_id(id) => match method {
                    "GET" | "HEAD" => self.get(id),
                    _ => allow("GET"),
                },
                _ => Answer::error(404, &format!("no such resource: {}", path)),
            },
        }
    }

    fn create(&self, req: &Request) -> Answer {
        let text = match req.body_str() {
            Some(t) => t,
            None => return Answer::error(400, "the body is not UTF-8 text"),
        };
        let value = match json::parse(text) {
            Ok(v) => v,
            Err(e) => return Answer::error(400, &format!("the body is not JSON: {}", e)),
        };
        let order = match Order::from_json(&value) {
            Ok(o) => o,
            Err(msg) => return Answer::error(400, &msg),
        };
        let body = order.to_json();
        // First-write with no etag: the save succeeds only if the order does not exist yet.
        match self.dapr.save_state_etag(&self.store, &order_key(&order.id), &body, None) {
            Ok(()) => {}
            Err(e) if e.is_conflict() => return Answer::error(409, &format!("order {} already exists", order.id)),
            Err(e) => return self.upstream_error(&e),
        }
        if let Err(e) = self.dapr.publish(&self.pubsub, TOPIC, &body, "application/json") {
            eprintln!("order {} saved but not announced: {}", order.id, e);
            return self.upstream_error(&e);
        }
        let mut answer = Answer::json(201, body);
        answer.headers.push(("location", format!("/orders/{}", order.id)));
        answer
    }

    fn get(&self, id: &str) -> Answer {
        match self.dapr.get_state(&self.store, &order_key(id)) {
            Ok(Some(order)) => Answer::json(200, order),
            Ok(None) => Answer::error(404, &format!("order {} not found", id)),
            Err(e) => self.upstream_error(&e),
        }
    }

    fn stats(&self) -> Answer {
        match self.dapr.get_state(&self.store, COUNTER_KEY) {
            Ok(None) => Answer::json(200, "{\"created\":0}".into()),
            Ok(Some(text)) => match counter_value(&text) {
                Some(n) => Answer::json(200, format!("{{\"created\":{}}}", n)),
                None => Answer::error(500, &format!("state {} holds {}, not a count", COUNTER_KEY, text)),
            },
            Err(e) => self.upstream_error(&e),
        }
    }

    /// The `order-created` subscription: count the order with optimistic concurrency.
    fn on_order_created(&self, req: &Request) -> Answer {
        let order_id = match event_order_id(req.body_str().unwrap_or("")) {
            Some(id) => id,
            None => {
                eprintln!("dropping an order-created event that carries no order: {}", truncate(&String::from_utf8_lossy(&req.body), 200));
                return Answer::event("DROP");
            }
        };
        for _ in 0..COUNTER_TRIES {
            let current = match self.dapr.get_state_etag(&self.store, COUNTER_KEY) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("order {}: reading the counter: {}", order_id, e);
                    return Answer::event("RETRY");
                }
            };
            let (count, etag) = match current {
                None => (0, None),
                Some(entry) => match counter_value(&entry.value) {
                    Some(n) => (n, entry.etag),
                    None => {
                        eprintln!("order {}: state {} holds {}, not a count", order_id, COUNTER_KEY, entry.value);
                        return Answer::event("RETRY");
                    }
                },
            };
            match self.dapr.save_state_etag(&self.store, COUNTER_KEY, &(count + 1).to_string(), etag.as_deref()) {
                Ok(()) => return Answer::event("SUCCESS"),
                Err(e) if e.is_conflict() => continue, // another instance counted meanwhile: read again
                Err(e) => {
                    eprintln!("order {}: saving the counter: {}", order_id, e);
                    return Answer::event("RETRY");
                }
            }
        }
        eprintln!("order {}: counter still contended after {} tries; Dapr will redeliver", order_id, COUNTER_TRIES);
        Answer::event("RETRY")
    }

    /// A failed sidecar call: 502 with the reason (also logged through stderr).
    fn upstream_error(&self, e: &dapr::Error) -> Answer {
        eprintln!("{}", e);
        Answer::error(502, &e.to_string())
    }
}

/// The order id in a CloudEvent whose data is an order (an object, or a JSON string holding one).
fn event_order_id(body: &str) -> Option<String> {
    let event = json::parse(body).ok()?;
    let data = event.get("data")?;
    let order = match data {
        json::Value::String(s) => json::parse(s).ok()?,
        other => other.clone(),
    };
    Order::from_json(&order).ok().map(|o| o.id)
}

/// A stored counter: an integer, or a JSON string holding one.
fn counter_value(text: &str) -> Option<i64> {
    let v = json::parse(text).ok()?;
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())).filter(|n| *n >= 0)
}

fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn main() {
    let answer = match Request::from_env_stdin() {
        Ok(req) => {
            let service = Service {
                dapr: Client::from_env(),
                store: dapr::env("STATE_STORE").unwrap_or_else(|| "statestore".into()),
                pubsub: dapr::env("PUBSUB_NAME").unwrap_or_else(|| "pubsub".into()),
            };
            let mut a = service.route(&req);
            if req.method == "HEAD" {
                a.body.clear();
            }
            a
        }
        Err(e) => Answer::error(400, &format!("reading the request body: {}", e)),
    };
    let headers: Vec<(&str, &str)> = answer.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if let Err(e) = wagi::respond_json(answer.status, &headers, &answer.body) {
        eprintln!("writing the response: {}", e);
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_orders() {
        let ok = json::parse(r#"{"id":"A-1","item":"lamp","quantity":2,"extra":true}"#).unwrap();
        let o = Order::from_json(&ok).unwrap();
        assert_eq!(o.to_json(), r#"{"id":"A-1","item":"lamp","quantity":2}"#);
        for (body, field) in [
            (r#"[]"#, "body"),
            (r#"{"item":"lamp","quantity":2}"#, "id:"),
            (r#"{"id":"a/b","item":"lamp","quantity":2}"#, "id:"),
            (r#"{"id":7,"item":"lamp","quantity":2}"#, "id:"),
            (r#"{"id":"a","quantity":2}"#, "item:"),
            (r#"{"id":"a","item":"  ","quantity":2}"#, "item:"),
            (r#"{"id":"a","item":"lamp"}"#, "quantity:"),
            (r#"{"id":"a","item":"lamp","quantity":0}"#, "quantity:"),
            (r#"{"id":"a","item":"lamp","quantity":1.5}"#, "quantity:"),
            (r#"{"id":"a","item":"lamp","quantity":"2"}"#, "quantity:"),
        ] {
            let err = Order::from_json(&json::parse(body).unwrap()).err().unwrap();
            assert!(err.starts_with(field) || (field == "body" && err.contains("JSON object")), "{} -> {}", body, err);
        }
    }

    #[test]
    fn reads_events() {
        let ce = r#"{"specversion":"1.0","type":"com.dapr.event.sent","datacontenttype":"application/json","data":{"id":"7","item":"lamp","quantity":1}}"#;
        assert_eq!(event_order_id(ce).as_deref(), Some("7"));
        let ce = r#"{"data":"{\"id\":\"8\",\"item\":\"x\",\"quantity\":3}"}"#;
        assert_eq!(event_order_id(ce).as_deref(), Some("8"));
        for garbage in ["", "garbage", "{}", r#"{"data":"nope"}"#, r#"{"data":{"id":"x"}}"#] {
            assert_eq!(event_order_id(garbage), None, "{}", garbage);
        }
    }

    #[test]
    fn counters() {
        assert_eq!(counter_value("3"), Some(3));
        assert_eq!(counter_value("\"4\""), Some(4));
        assert_eq!(counter_value("-1"), None);
        assert_eq!(counter_value("{}"), None);
    }

    #[test]
    fn routes_without_the_sidecar() {
        let svc = Service { dapr: Client::new("http://127.0.0.1:1"), store: "s".into(), pubsub: "p".into() };
        let req = |m: &str, p: &str, body: &str| {
            let env = vec![("REQUEST_METHOD".to_string(), m.to_string()), ("PATH_INFO".to_string(), p.to_string())];
            Request::from_parts(env, Vec::new(), body.as_bytes().to_vec())
        };
        assert_eq!(svc.route(&req("GET", "/nope", "")).status, 404);
        assert_eq!(svc.route(&req("GET", "/orders/a/b", "")).status, 404);
        let a = svc.route(&req("DELETE", "/orders", ""));
        assert_eq!((a.status, a.headers[0].1.as_str()), (405, "POST"));
        assert_eq!(svc.route(&req("PUT", "/orders/1", "")).status, 405);
        assert_eq!(svc.route(&req("GET", "/events/order-created", "")).status, 405);
        let a = svc.route(&req("POST", "/orders", r#"{"id":"1","item":"lamp","quantity":0}"#));
        assert_eq!(a.status, 400);
        assert!(a.body.contains("quantity"), "{}", a.body);
        assert_eq!(svc.route(&req("POST", "/orders", "{")).status, 400);
        assert_eq!(svc.route(&req("POST", "/events/order-created", "garbage")).body, r#"{"status":"DROP"}"#);
        // Off wasm the transport fails: a valid order reaches it and becomes a 502.
        assert_eq!(svc.route(&req("POST", "/orders", r#"{"id":"1","item":"lamp","quantity":1}"#)).status, 502);
    }
}
