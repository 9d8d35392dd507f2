// An order service, served by `wasi-dapr-host serve --config wasi-dapr.yaml`
// (one fresh instance per request, WAGI; see assembly/dapr/wagi.ts).
//
//   POST /orders                {"id":"1","item":"droid","quantity":2}
//        validates, stores it under order-<id> (insert-only: 409 if the id
//        exists), publishes it to order-created, answers 201 + location
//   GET  /orders/<id>           200 the order, 404 when there is none
//   GET  /stats                 200 {"created":<n>}: the orders-created counter
//   POST /events/order-created  the order-created subscription: counts the
//        order (etag optimistic concurrency; a lost race answers RETRY so Dapr
//        redelivers), DROP for an event that is not a valid order
//
// Environment: STATE_STORE (default statestore), PUBSUB_NAME (default
// pubsub), and the sidecar's address as for every guest (DAPR_HTTP_PORT).
// Errors are JSON {"error":"..."}; sidecar failures are 502.

import { DaprClient, DaprError, Header, JSON, JsonKind, env, jsonKind, parseJson } from "./dapr";
import { EventStatus, Request, eventResult, json, jsonError, request } from "./dapr/wagi";

const TOPIC = "order-created";
const COUNTER_KEY = "orders-created";
const MAX_ID_LENGTH = 64;
const MAX_ITEM_LENGTH = 200;

function stateStore(): string {
  const v = env("STATE_STORE");
  return v !== null ? v : "statestore";
}

function pubsubName(): string {
  const v = env("PUBSUB_NAME");
  return v !== null ? v : "pubsub";
}

function orderKey(id: string): string {
  return "order-" + id;
}

// ---------------------------------------------------------------------------
// Orders.

class Order {
  constructor(readonly id: string, readonly item: string, readonly quantity: i32) {}

  /** The stored and published form: exactly these three fields. */
  toJson(): string {
    return "{\"id\":" + JSON.stringify(this.id) + ",\"item\":" + JSON.stringify(this.item) +
      ",\"quantity\":" + this.quantity.toString() + "}";
  }
}

/** An order parsed from JSON text, or the message naming what is wrong. */
class Parsed {
  constructor(readonly order: Order | null, readonly problem: string) {}
}

function invalid(problem: string): Parsed {
  return new Parsed(null, problem);
}

/** Ids become state keys and URL paths: keep them to unreserved URL characters. */
function validId(id: string): bool {
  if (id.length == 0 || id.length > MAX_ID_LENGTH) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c == 0x2d /* - */ || c == 0x2e /* . */ || c == 0x5f /* _ */ || c == 0x7e /* ~ */;
    if (!ok) return false;
  }
  return true;
}

/**
 * Validates {"id":"<string>","item":"<string>","quantity":<int >= 1>}, field
 * by field in that order; other fields are ignored (and not stored).
 */
function parseOrder(text: string): Parsed {
  const kind = jsonKind(text);
  if (kind == JsonKind.Invalid) return invalid("body: not valid JSON");
  if (kind != JsonKind.Object) return invalid("body: expected a JSON object with id, item and quantity");
  const obj = parseJson<JSON.Obj>(text).value; // kind checked: cannot fail

  const id = obj.get("id");
  if (id === null) return invalid("id: required");
  if (id.type != JSON.Types.String) return invalid("id: must be a string");
  const idValue = id.get<string>();
  if (!validId(idValue)) {
    return invalid("id: must be 1 to " + MAX_ID_LENGTH.toString() + " characters from A-Z a-z 0-9 - . _ ~");
  }

  const item = obj.get("item");
  if (item === null) return invalid("item: required");
  if (item.type != JSON.Types.String) return invalid("item: must be a string");
  const itemValue = item.get<string>();
  if (itemValue.trim().length == 0) return invalid("item: must not be empty");
  if (itemValue.length > MAX_ITEM_LENGTH) {
    return invalid("item: must be at most " + MAX_ITEM_LENGTH.toString() + " characters");
  }

  const quantity = obj.get("quantity");
  if (quantity === null) return invalid("quantity: required");
  if (quantity.type != JSON.Types.F64) return invalid("quantity: must be an integer");
  const q = quantity.get<f64>();
  if (q != Math.floor(q)) return invalid("quantity: must be an integer");
  if (q < 1) return invalid("quantity: must be at least 1");
  if (q > <f64>i32.MAX_VALUE) return invalid("quantity: must be at most " + i32.MAX_VALUE.toString());

  return new Parsed(new Order(idValue, itemValue, <i32>q), "");
}

function sidecarError(e: DaprError): void {
  process.stderr.write("orders: " + e.message + "\n");
  jsonError(502, e.message);
}

function createOrder(req: Request, dapr: DaprClient): void {
  const parsed = parseOrder(req.text());
  const order = parsed.order;
  if (order === null) {
    jsonError(400, parsed.problem);
    return;
  }
  const store = stateStore();
  const key = orderKey(order.id);
  const body = order.toJson();

  // first-write without an etag: stored only if the key does not exist yet.
  const saved = dapr.saveStateWithEtag(store, key, body, null);
  if (saved !== null) {
    if (saved.isEtagConflict) {
      jsonError(409, "order " + order.id + " already exists");
    } else {
      sidecarError(saved);
    }
    return;
  }

  const published = dapr.publish(pubsubName(), TOPIC, body, "application/json");
  if (published !== null) {
    // Undo the save so that every stored order is one that was announced.
    const undone = dapr.deleteState(store, key);
    if (undone !== null) process.stderr.write("orders: undoing the save: " + undone.message + "\n");
    sidecarError(published);
    return;
  }

  json(201, body, [new Header("location", "/orders/" + order.id)]);
}

function getOrder(id: string, dapr: DaprClient): void {
  const notFound = id.length > 0 ? "order " + id + " not found" : "no order id in the path: use /orders/<id>";
  if (!validId(id)) {
    jsonError(404, notFound);
    return;
  }
  const got = dapr.getState(stateStore(), orderKey(id));
  if (!got.ok) {
    sidecarError(got.error!);
    return;
  }
  const text = got.value;
  if (text === null) {
    jsonError(404, notFound);
    return;
  }
  json(200, text.trim());
}

// ---------------------------------------------------------------------------
// The counter.

/**
 * The counter's value from its stored JSON text (null: none yet, 0); -1 if it
 * is not a count (digits only, as this service writes it).
 */
function counterValue(text: string | null): i64 {
  if (text === null) return 0;
  const t = text.trim();
  if (t.length == 0 || t.length > 15) return -1;
  let n: i64 = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + <i64>(c - 0x30);
  }
  return n;
}

function stats(dapr: DaprClient): void {
  const got = dapr.getState(stateStore(), COUNTER_KEY);
  if (!got.ok) {
    sidecarError(got.error!);
    return;
  }
  const n = counterValue(got.value);
  if (n < 0) {
    jsonError(500, COUNTER_KEY + " does not hold a count: " + got.value!);
    return;
  }
  json(200, "{\"created\":" + n.toString() + "}");
}

/** Logs why an event is answered `status`, then answers it. */
function eventVerdict(status: string, why: string): void {
  process.stderr.write("orders: event " + status + ": " + why + "\n");
  eventResult(status);
}

function orderCreated(req: Request, dapr: DaprClient): void {
  const ev = req.event();
  if (!ev.ok) {
    eventVerdict(EventStatus.DROP, ev.error!.message);
    return;
  }
  const event = ev.value;
  const parsed = parseOrder(event.data);
  if (parsed.order === null) {
    eventVerdict(EventStatus.DROP, "event " + event.id + " is not an order: " + parsed.problem);
    return;
  }

  // Optimistic concurrency: read the counter and its etag, write n+1 only if
  // nobody wrote in between (first-write; no etag = only if still missing).
  // A lost race is answered RETRY and Dapr delivers the event again.
  const store = stateStore();
  const got = dapr.getStateWithEtag(store, COUNTER_KEY);
  if (!got.ok) {
    eventVerdict(EventStatus.RETRY, got.error!.message);
    return;
  }
  const entry = got.value;
  const n = counterValue(entry !== null ? entry.value : null);
  if (n < 0) {
    eventVerdict(EventStatus.RETRY, COUNTER_KEY + " does not hold a count: " + entry!.value);
    return;
  }
  const saved = dapr.saveStateWithEtag(store, COUNTER_KEY, (n + 1).toString(), entry !== null ? entry.etag : null);
  if (saved !== null) {
    eventVerdict(EventStatus.RETRY, saved.isEtagConflict ? "etag conflict on " + COUNTER_KEY : saved.message);
    return;
  }
  eventResult(EventStatus.SUCCESS);
}

// ---------------------------------------------------------------------------
// Routing.

function methodNotAllowed(allow: string): void {
  jsonError(405, "method not allowed; use " + allow, [new Header("allow", allow)]);
}

function main(): void {
  const req = request();
  const path = req.path;
  const method = req.method;
  const dapr = new DaprClient();

  if (path == "/orders") {
    if (method == "POST") createOrder(req, dapr);
    else methodNotAllowed("POST");
  } else if (path.startsWith("/orders/")) {
    if (method == "GET") getOrder(path.substring(8), dapr);
    else methodNotAllowed("GET");
  } else if (path == "/stats") {
    if (method == "GET") stats(dapr);
    else methodNotAllowed("GET");
  } else if (path == "/events/" + TOPIC) {
    if (method == "POST") orderCreated(req, dapr);
    else methodNotAllowed("POST");
  } else {
    jsonError(404, "no route for " + method + " " + path);
  }
}

main();
