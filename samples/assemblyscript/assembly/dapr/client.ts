// A client for the Dapr sidecar's HTTP API (v1.0), over wasi_experimental_http.
//
// Every method reads the whole response and closes the handle before it
// returns, so callers never leak host handles. Failures come back as a
// DaprError (or Result<_, DaprError>); nothing here aborts.
//
// Extending it: each Dapr API is one small method that builds a path, calls
// `call()` and checks the status. Per-item options (etag, metadata) already
// travel in StateItem; transactions would be one more method posting to
// /v1.0/state/{store}/transaction.

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
    const want = name.toLowerCase();
    for (let i = 0; i < this.headers.length; i++) {
      const h = unchecked(this.headers[i]);
      if (h.name.toLowerCase() == want) return h.value;
    }
    return null;
  }

  /** True for a 2xx status. */
  get ok(): bool {
    return this.status >= 200 && this.status < 300;
  }
}

/** One entry of a state save: key, JSON value, optional etag and metadata. */
export class StateItem {
  /** Optional etag for optimistic concurrency (sent as "etag"). */
  etag: string | null = null;
  /** Optional per-item metadata (sent as "metadata"). */
  metadata: Map<string, string> | null = null;

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

  /** The item as Dapr expects it in the body of POST /v1.0/state/{store}. */
  toJson(): string {
    let s = "{\"key\":" + JSON.stringify(this.key) + ",\"value\":" + this.valueJson;
    const etag = this.etag;
    if (etag !== null) s += ",\"etag\":" + JSON.stringify(etag);
    const metadata = this.metadata;
    if (metadata !== null && metadata.size > 0) {
      const keys = metadata.keys();
      s += ",\"metadata\":{";
      for (let i = 0; i < keys.length; i++) {
        if (i > 0) s += ",";
        s += JSON.stringify(keys[i]) + ":" + JSON.stringify(metadata.get(keys[i]));
      }
      s += "}";
    }
    return s + "}";
  }
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
      if (!isValidJson(item.valueJson)) {
        return new DaprError(DaprErrorKind.InvalidJson,
          what + ": value of key " + JSON.stringify(item.key) + " is not valid JSON");
      }
      if (i > 0) body += ",";
      body += item.toJson();
    }
    body += "]";
    const r = this.call("POST", "/v1.0/state/" + pathSegment(store), body, "application/json", what);
    if (!r.ok) return r.error;
    return expectOk(what, r.value);
  }

  /**
   * The value stored under `key` as raw JSON text, or null when there is none
   * (Dapr answers 204). Parse it with parseJson<T>() from ./json.
   */
  getState(store: string, key: string): Result<string | null, DaprError> {
    const what = "get state " + store + "/" + key;
    const r = this.call("GET", "/v1.0/state/" + pathSegment(store) + "/" + pathSegment(key), null, null, what);
    if (!r.ok) return Result.fail<string | null, DaprError>(r.error!);
    const reply = r.value;
    if (reply.status == 204) return Result.ok<string | null, DaprError>(null);
    if (reply.status != 200) {
      return Result.fail<string | null, DaprError>(DaprError.status(what, reply.status, reply.text()));
    }
    const text = reply.text();
    // Some stores answer 200 with an empty body for a missing key.
    if (text.trim().length == 0) return Result.ok<string | null, DaprError>(null);
    return Result.ok<string | null, DaprError>(text);
  }

  /** Deletes the value stored under `key` (no error if there was none). */
  deleteState(store: string, key: string): DaprError | null {
    const what = "delete state " + store + "/" + key;
    const r = this.call("DELETE", "/v1.0/state/" + pathSegment(store) + "/" + pathSegment(key), null, null, what);
    if (!r.ok) return r.error;
    return expectOk(what, r.value);
  }

  // -- pub/sub --------------------------------------------------------------

  /** Publishes `data` to `topic` (POST /v1.0/publish/{pubsub}/{topic}). */
  publish(pubsub: string, topic: string, data: string, contentType: string = "application/json"): DaprError | null {
    const what = "publish " + pubsub + "/" + topic;
    if (contentType == "application/json" && !isValidJson(data)) {
      return new DaprError(DaprErrorKind.InvalidJson, what + ": data is not valid JSON");
    }
    const r = this.call("POST", "/v1.0/publish/" + pathSegment(pubsub) + "/" + pathSegment(topic), data, contentType, what);
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

function expectOk(what: string, reply: Reply): DaprError | null {
  if (reply.ok) return null;
  return DaprError.status(what, reply.status, reply.text());
}
