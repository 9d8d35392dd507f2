// A client for the Dapr sidecar's HTTP API (v1.0), over wasi_experimental_http.
//
// Every method reads the whole response and closes the handle before it
// returns, so callers never leak host handles. Failures come back as a
// DaprError (or Result<_, DaprError>); nothing here aborts.
//
// Extending it: each Dapr API is one small method that builds a path, calls
// `call()` and checks the status. Per-item options (etag, metadata,
// concurrency, consistency) travel in StateItem, which state saves and
// transactions share.

import { Header, HttpError, Request, Response } from "./http";
import { JSON, isValidJson, toJson } from "./json";
import { Result } from "./result";

/** What went wrong in a Dapr call. */
export enum DaprErrorKind {
  /** The host's wasi_experimental_http call failed (see `code`, `codeName`). */
  Transport = 1,
  /** Dapr answered with an unexpected HTTP status (see `status`, `body`). */
  Status = 2,
  /** A value that should have been JSON was not. */
  InvalidJson = 3,
}

/** A failed Dapr call. */
export class DaprError extends Error {
  /** ABI error code for Transport errors, else 0. */
  code: i32 = 0;
  /** ABI error name for Transport errors (e.g. "destination_not_allowed"), else "". */
  codeName: string = "";
  /** HTTP status for Status errors, else 0. */
  status: i32 = 0;
  /** Response body for Status errors (Dapr sends {"errorCode":..,"message":..}). */
  body: string = "";

  constructor(readonly kind: DaprErrorKind, message: string) {
    super(message);
    this.name = "DaprError";
  }

  /**
   * True when Dapr refused a write because of its etag (optimistic
   * concurrency): 409 Conflict (what daprd 1.16 answers for a save or delete),
   * 412 Precondition Failed, or a failed transaction whose message says
   * "etag mismatch" (daprd answers those with 500 ERR_STATE_TRANSACTION).
   */
  get isEtagConflict(): bool {
    if (this.kind != DaprErrorKind.Status) return false;
    if (this.status == 409 || this.status == 412) return true;
    return this.status == 500 && this.body.includes("ERR_STATE_TRANSACTION") && this.body.includes("etag mismatch");
  }

  static transport(what: string, e: HttpError): DaprError {
    const d = new DaprError(DaprErrorKind.Transport, what + ": " + e.message);
    d.code = e.code;
    d.codeName = e.codeName;
    return d;
  }

  static status(what: string, status: i32, body: string): DaprError {
    let msg = what + ": unexpected HTTP status " + status.toString();
    if (body.length > 0) msg += ": " + body;
    const d = new DaprError(DaprErrorKind.Status, msg);
    d.status = status;
    d.body = body;
    return d;
  }
}

/** A fully read response: status, headers and body (the handle is closed). */
export class Reply {
  constructor(
    readonly status: i32,
    readonly headers: Header[],
    readonly body: Uint8Array,
  ) {}

  /** The body decoded as UTF-8. */
  text(): string {
    return String.UTF8.decodeUnsafe(this.body.dataStart, <usize>this.body.byteLength);
  }

  /** First header named `name` (case-insensitive), or null. */
  header(name: string): string | null {
    for (let i = 0; i < this.headers.length; i++) {
      const h = unchecked(this.headers[i]);
      if (sameHeaderName(h.name, name)) return h.value;
    }
    return null;
  }

  /** True for a 2xx status. */
  get ok(): bool {
    return this.status >= 200 && this.status < 300;
  }
}

/**
 * Header names are ASCII tokens: compare them ASCII case-insensitively
 * (String#toLowerCase would pull Unicode case tables, ~8 KiB, into every app).
 */
function sameHeaderName(a: string, b: string): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x != y) return false;
  }
  return true;
}

/** Values of a state item's `options.concurrency`. */
export namespace Concurrency {
  /**
   * The write succeeds only if the etag still matches; with no etag, only if
   * the key does not exist yet (insert-only: what daprd 1.16's in-memory
   * store does; check the store you use).
   */
  export const FirstWrite = "first-write";
  /** The write wins whatever the etag (Dapr's default). */
  export const LastWrite = "last-write";
}

/** Values of a state item's `options.consistency`. */
export namespace Consistency {
  export const Strong = "strong";
  export const Eventual = "eventual";
}

/**
 * One entry of a state save or transaction: key, JSON value, optional etag,
 * metadata and options.
 */
export class StateItem {
  /** Optional etag for optimistic concurrency (sent as "etag"). */
  etag: string | null = null;
  /** Optional per-item metadata (sent as "metadata"). */
  metadata: Map<string, string> | null = null;
  /** Optional options.concurrency: Concurrency.FirstWrite or LastWrite. */
  concurrency: string | null = null;
  /** Optional options.consistency: Consistency.Strong or Eventual. */
  consistency: string | null = null;

  constructor(
    readonly key: string,
    /** The value as JSON text (a string value is the JSON string "..."). */
    readonly valueJson: string,
  ) {}

  /** An item whose value is `value` serialized to JSON (strings become JSON strings). */
  static of<T>(key: string, value: T): StateItem {
    return new StateItem(key, toJson<T>(value));
  }

  /** An item whose value is the given JSON text, sent as is. */
  static json(key: string, json: string): StateItem {
    return new StateItem(key, json);
  }

  /** Sets the etag. Chainable. */
  withEtag(etag: string): StateItem {
    this.etag = etag;
    return this;
  }

  /** Sets options.concurrency (Concurrency.FirstWrite or LastWrite). Chainable. */
  withConcurrency(concurrency: string): StateItem {
    this.concurrency = concurrency;
    return this;
  }

  /** Sets options.consistency (Consistency.Strong or Eventual). Chainable. */
  withConsistency(consistency: string): StateItem {
    this.consistency = consistency;
    return this;
  }

  /** Adds one metadata entry (e.g. "ttlInSeconds", "60"). Chainable. */
  withMetadata(name: string, value: string): StateItem {
    let metadata = this.metadata;
    if (metadata === null) {
      metadata = new Map<string, string>();
      this.metadata = metadata;
    }
    metadata.set(name, value);
    return this;
  }

  /**
   * The item as Dapr expects it in the body of POST /v1.0/state/{store} (and
   * as the `request` of a transaction operation; a delete has no value).
   */
  toJson(withValue: bool = true): string {
    let s = "{\"key\":" + JSON.stringify(this.key);
    if (withValue) s += ",\"value\":" + this.valueJson;
    const etag = this.etag;
    if (etag !== null) s += ",\"etag\":" + JSON.stringify(etag);
    const metadata = this.metadata;
    if (metadata !== null && metadata.size > 0) s += ",\"metadata\":" + stringMapJson(metadata);
    const concurrency = this.concurrency;
    const consistency = this.consistency;
    if (concurrency !== null || consistency !== null) {
      s += ",\"options\":{";
      if (concurrency !== null) s += "\"concurrency\":" + JSON.stringify(concurrency);
      if (consistency !== null) {
        if (concurrency !== null) s += ",";
        s += "\"consistency\":" + JSON.stringify(consistency);
      }
      s += "}";
    }
    return s + "}";
  }
}

/** A value read from the store with its etag (see DaprClient.getStateWithEtag). */
export class StateEntry {
  constructor(
    readonly key: string,
    /** The value as raw JSON text, as the store returned it. */
    readonly value: string,
    /** The ETag response header, or null when the store sent none. */
    readonly etag: string | null,
  ) {}
}

/** One operation of a state transaction: an upsert or a delete. */
export class StateOperation {
  private constructor(
    /** "upsert" or "delete". */
    readonly operation: string,
    /** The request: key, value (upserts only), etag, metadata, options. */
    readonly item: StateItem,
  ) {}

  /** Saves `item` (its etag, metadata and options apply). */
  static upsert(item: StateItem): StateOperation {
    return new StateOperation("upsert", item);
  }

  /** Deletes `key`; with an etag, only if it still matches. */
  static delete(key: string, etag: string | null = null): StateOperation {
    const item = new StateItem(key, "null");
    item.etag = etag;
    return new StateOperation("delete", item);
  }

  /** {"operation":..,"request":{..}} */
  toJson(): string {
    return "{\"operation\":\"" + this.operation + "\",\"request\":" +
      this.item.toJson(this.operation == "upsert") + "}";
  }
}

/** A map of strings as a JSON object. */
function stringMapJson(map: Map<string, string>): string {
  const keys = map.keys();
  let s = "{";
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) s += ",";
    s += JSON.stringify(keys[i]) + ":" + JSON.stringify(map.get(keys[i]));
  }
  return s + "}";
}

/** Reads an environment variable through the wasi-shim; null if unset or empty. */
export function env(name: string): string | null {
  if (!process.env.has(name)) return null;
  const v = process.env.get(name);
  return v.length > 0 ? v : null;
}

/**
 * The sidecar's base URL: DAPR_HTTP_ENDPOINT if set, else
 * http://127.0.0.1:${DAPR_HTTP_PORT or 3500}. No trailing slash.
 */
export function daprBaseUrlFromEnv(): string {
  let endpoint = env("DAPR_HTTP_ENDPOINT");
  if (endpoint === null) {
    const port = env("DAPR_HTTP_PORT");
    endpoint = "http://127.0.0.1:" + (port !== null ? port : "3500");
  }
  while (endpoint.endsWith("/")) endpoint = endpoint.substring(0, endpoint.length - 1);
  return endpoint;
}

/** Percent-encodes one path segment. */
export function pathSegment(s: string): string {
  return encodeURIComponent(s);
}

/** Percent-encodes each '/'-separated segment of a path, keeping the slashes. */
export function pathSegments(s: string): string {
  const parts = s.split("/");
  for (let i = 0; i < parts.length; i++) parts[i] = encodeURIComponent(parts[i]);
  return parts.join("/");
}

/** A client for the Dapr sidecar's HTTP API. */
export class DaprClient {
  /** e.g. "http://127.0.0.1:3500" (no trailing slash). */
  readonly baseUrl: string;
  /** Sent as the dapr-api-token header when set (from DAPR_API_TOKEN by default). */
  apiToken: string | null;

  constructor(baseUrl: string | null = null, apiToken: string | null = env("DAPR_API_TOKEN")) {
    this.baseUrl = baseUrl !== null ? baseUrl : daprBaseUrlFromEnv();
    this.apiToken = apiToken;
  }

  // -- state ----------------------------------------------------------------

  /** Saves one value (serialized to JSON; a string is sent as a JSON string). */
  saveState<T>(store: string, key: string, value: T): DaprError | null {
    return this.saveBulkState(store, [StateItem.of<T>(key, value)]);
  }

  /** Saves one value given as JSON text. */
  saveStateJson(store: string, key: string, json: string): DaprError | null {
    return this.saveBulkState(store, [StateItem.json(key, json)]);
  }

  /** Saves several items in one POST /v1.0/state/{store}. */
  saveBulkState(store: string, items: StateItem[]): DaprError | null {
    const what = "save state " + store;
    let body = "[";
    for (let i = 0; i < items.length; i++) {
      const item = unchecked(items[i]);
      const invalid = checkValue(what, item);
      if (invalid !== null) return invalid;
      if (i > 0) body += ",";
      body += item.toJson();
    }
    body += "]";
    const r = this.call("POST", "/v1.0/state/" + pathSegment(store), body, "application/json", what);
    if (!r.ok) return r.error;
    return expectOk(what, r.value);
  }

  /**
   * Saves one value (JSON text) with optimistic concurrency: `first-write`,
   * and the etag from getStateWithEtag. It succeeds only if the value has not
   * changed since it was read; with `etag` null, only if the key does not
   * exist yet. A lost race comes back as a DaprError whose `isEtagConflict`
   * is true (daprd answers 409): read again and retry, or give up.
   */
  saveStateWithEtag(store: string, key: string, json: string, etag: string | null): DaprError | null {
    const item = StateItem.json(key, json).withConcurrency(Concurrency.FirstWrite);
    item.etag = etag;
    return this.saveBulkState(store, [item]);
  }

  /**
   * The value stored under `key` as raw JSON text, or null when there is none
   * (Dapr answers 204). Parse it with parseJson<T>() from ./json.
   */
  getState(store: string, key: string): Result<string | null, DaprError> {
    const r = this.getStateWithEtag(store, key);
    if (!r.ok) return Result.fail<string | null, DaprError>(r.error!);
    const entry = r.value;
    return Result.ok<string | null, DaprError>(entry !== null ? entry.value : null);
  }

  /**
   * The value stored under `key` and its etag (the ETag response header), or
   * null when there is none. Pass the etag to saveStateWithEtag, a StateItem
   * or a StateOperation to write only if nobody changed the value meanwhile.
   */
  getStateWithEtag(store: string, key: string): Result<StateEntry | null, DaprError> {
    const what = "get state " + store + "/" + key;
    const r = this.call("GET", "/v1.0/state/" + pathSegment(store) + "/" + pathSegment(key), null, null, what);
    if (!r.ok) return Result.fail<StateEntry | null, DaprError>(r.error!);
    const reply = r.value;
    if (reply.status == 204) return Result.ok<StateEntry | null, DaprError>(null);
    if (reply.status != 200) {
      return Result.fail<StateEntry | null, DaprError>(DaprError.status(what, reply.status, reply.text()));
    }
    const text = reply.text();
    // Some stores answer 200 with an empty body for a missing key.
    if (text.trim().length == 0) return Result.ok<StateEntry | null, DaprError>(null);
    return Result.ok<StateEntry | null, DaprError>(new StateEntry(key, text, reply.header("etag")));
  }

  /** Deletes the value stored under `key` (no error if there was none). */
  deleteState(store: string, key: string): DaprError | null {
    const what = "delete state " + store + "/" + key;
    const r = this.call("DELETE", "/v1.0/state/" + pathSegment(store) + "/" + pathSegment(key), null, null, what);
    if (!r.ok) return r.error;
    return expectOk(what, r.value);
  }

  /**
   * Runs upserts and deletes as one transaction
   * (POST /v1.0/state/{store}/transaction). Each operation's etag is checked;
   * if one does not match nothing is written and the error's
   * `isEtagConflict` is true. `metadata` applies to the whole transaction
   * (e.g. "partitionKey"). The store must support transactions.
   */
  executeStateTransaction(store: string, operations: StateOperation[],
    metadata: Map<string, string> | null = null): DaprError | null {
    const what = "state transaction " + store;
    let body = "{\"operations\":[";
    for (let i = 0; i < operations.length; i++) {
      const op = unchecked(operations[i]);
      if (op.operation == "upsert") {
        const invalid = checkValue(what, op.item);
        if (invalid !== null) return invalid;
      }
      if (i > 0) body += ",";
      body += op.toJson();
    }
    body += "]";
    if (metadata !== null && metadata.size > 0) body += ",\"metadata\":" + stringMapJson(metadata);
    body += "}";
    const r = this.call("POST", "/v1.0/state/" + pathSegment(store) + "/transaction", body, "application/json", what);
    if (!r.ok) return r.error;
    return expectOk(what, r.value);
  }

  // -- pub/sub --------------------------------------------------------------

  /**
   * Publishes `data` to `topic` (POST /v1.0/publish/{pubsub}/{topic}).
   * `contentType` is the data's type (Dapr wraps it in a CloudEvent);
   * `metadata` entries are sent as `?metadata.<name>=<value>` query
   * parameters (e.g. "ttlInSeconds", "rawPayload").
   */
  publish(pubsub: string, topic: string, data: string, contentType: string = "application/json",
    metadata: Map<string, string> | null = null): DaprError | null {
    const what = "publish " + pubsub + "/" + topic;
    if (contentType == "application/json" && !isValidJson(data)) {
      return new DaprError(DaprErrorKind.InvalidJson, what + ": data is not valid JSON");
    }
    let path = "/v1.0/publish/" + pathSegment(pubsub) + "/" + pathSegment(topic);
    if (metadata !== null && metadata.size > 0) {
      const names = metadata.keys();
      for (let i = 0; i < names.length; i++) {
        const name = unchecked(names[i]);
        path += (i == 0 ? "?metadata." : "&metadata.") + encodeURIComponent(name) + "=" +
          encodeURIComponent(metadata.get(name));
      }
    }
    const r = this.call("POST", path, data, contentType, what);
    if (!r.ok) return r.error;
    return expectOk(what, r.value);
  }

  // -- service invocation ---------------------------------------------------

  /**
   * Calls `method` on app `appId` (/v1.0/invoke/{appId}/method/{method}).
   * Returns the app's reply whatever its status: check `reply.status`.
   */
  invoke(appId: string, method: string, httpMethod: string = "GET", body: string | null = null,
    contentType: string = "application/json"): Result<Reply, DaprError> {
    const what = "invoke " + appId + "/" + method;
    const path = "/v1.0/invoke/" + pathSegment(appId) + "/method/" + pathSegments(method);
    return this.call(httpMethod, path, body, body !== null ? contentType : null, what);
  }

  // -- any other API ----------------------------------------------------------

  /**
   * Sends `method path` to the sidecar and reads the whole reply. The building
   * block of every method above; use it for APIs not wrapped yet.
   */
  call(method: string, path: string, body: string | null, contentType: string | null,
    what: string = ""): Result<Reply, DaprError> {
    if (what.length == 0) what = method + " " + path;
    const req = new Request(method, this.baseUrl + path);
    if (contentType !== null) req.setHeader("content-type", contentType);
    const token = this.apiToken;
    if (token !== null) req.setHeader("dapr-api-token", token);
    if (body !== null) req.setBodyText(body);
    const sent = req.send();
    if (!sent.ok) return Result.fail<Reply, DaprError>(DaprError.transport(what, sent.error!));
    return readReply(what, sent.value);
  }
}

function readReply(what: string, res: Response): Result<Reply, DaprError> {
  const headers = res.getHeaders();
  if (!headers.ok) {
    res.close();
    return Result.fail<Reply, DaprError>(DaprError.transport(what, headers.error!));
  }
  const body = res.readBody();
  res.close();
  if (!body.ok) return Result.fail<Reply, DaprError>(DaprError.transport(what, body.error!));
  return Result.ok<Reply, DaprError>(new Reply(res.status, headers.value, body.value));
}

/** An InvalidJson error if the item's value is not valid JSON, else null. */
function checkValue(what: string, item: StateItem): DaprError | null {
  if (isValidJson(item.valueJson)) return null;
  return new DaprError(DaprErrorKind.InvalidJson,
    what + ": value of key " + JSON.stringify(item.key) + " is not valid JSON");
}

function expectOk(what: string, reply: Reply): DaprError | null {
  if (reply.ok) return null;
  return DaprError.status(what, reply.status, reply.text());
}
