// The inbound side of `wasi-dapr-host serve`: WAGI, i.e. CGI 1.1 for WASI
// (shared/abi/wagi.md). One fresh instance per request: the request is in the
// environment (REQUEST_METHOD, PATH_INFO, QUERY_STRING, CONTENT_TYPE,
// CONTENT_LENGTH, HTTP_<NAME> per header, X_MATCHED_ROUTE, and for pub/sub
// events X_DAPR_PUBSUB and X_DAPR_TOPIC) and the body on stdin; the answer is
// a header block, a blank line and the body on stdout.
//
// Not re-exported from ./index because its Request would clash with the
// outbound Request of ./http: import it as "./dapr/wagi".
//
//   import { request, json } from "./dapr/wagi";
//   const req = request();
//   if (req.method == "GET" && req.path == "/hello") json(200, "{\"hello\":\"world\"}");
//
// Each stdio call crosses into the host, so the body is read with as few
// fd_read calls as CONTENT_LENGTH allows (one for a body the host announced)
// and the whole response goes out in one fd_write.

import { fd_read, fd_write } from "bindings/wasi_snapshot_preview1";
import { Header } from "./http";
import { JSON, JsonError, JsonKind, jsonKind, parseJson, rawMember } from "./json";
import { Result } from "./result";

// Scratch for the stdio calls: up to two iovecs {ptr, len} and the count.
const IOV: usize = memory.data(24, 8);
const IOV_COUNT: usize = IOV + 16;

/** Reads an environment variable; "" when unset. */
function getenv(name: string): string {
  return process.env.has(name) ? process.env.get(name) : "";
}

// ---------------------------------------------------------------------------
// The request.

/** The inbound request of this instance (see `request()`). */
export class Request {
  /** REQUEST_METHOD, e.g. "POST". */
  readonly method: string = getenv("REQUEST_METHOD");
  /** PATH_INFO: the decoded path, e.g. "/orders/42". */
  readonly path: string = getenv("PATH_INFO");
  /** QUERY_STRING: the raw query, without "?" ("" when none). */
  readonly query: string = getenv("QUERY_STRING");
  /** CONTENT_TYPE ("" when none). */
  readonly contentType: string = getenv("CONTENT_TYPE");
  /** X_MATCHED_ROUTE: the manifest route that matched, e.g. "/orders/...". */
  readonly route: string = getenv("X_MATCHED_ROUTE");
  /** X_DAPR_PUBSUB: the pub/sub component of a delivered event, else "". */
  readonly pubsub: string = getenv("X_DAPR_PUBSUB");
  /** X_DAPR_TOPIC: the topic of a delivered event, else "". */
  readonly topic: string = getenv("X_DAPR_TOPIC");

  private cachedBody: Uint8Array | null = null;

  /** True when this request is a pub/sub event delivery (X_DAPR_TOPIC is set). */
  get isEvent(): bool {
    return this.topic.length > 0;
  }

  /**
   * A request header (case-insensitive name), from HTTP_<NAME>; null when
   * absent. Content-Type and Content-Length fall back to their CGI variables.
   * The host does not pass Authorization or dapr-api-token.
   */
  header(name: string): string | null {
    const key = "HTTP_" + envName(name);
    if (process.env.has(key)) return process.env.get(key);
    if (key == "HTTP_CONTENT_TYPE" && this.contentType.length > 0) return this.contentType;
    if (key == "HTTP_CONTENT_LENGTH" && process.env.has("CONTENT_LENGTH")) return process.env.get("CONTENT_LENGTH");
    return null;
  }

  /** The first value of query parameter `name`, decoded; null when absent. */
  queryParam(name: string): string | null {
    const parts = this.query.split("&");
    for (let i = 0; i < parts.length; i++) {
      const part = unchecked(parts[i]);
      const eq = part.indexOf("=");
      const k = eq < 0 ? part : part.substring(0, eq);
      if (decodeQueryPart(k) == name) return eq < 0 ? "" : decodeQueryPart(part.substring(eq + 1));
    }
    return null;
  }

  /** The body: all of stdin, read on first use. */
  get body(): Uint8Array {
    let body = this.cachedBody;
    if (body === null) {
      body = readStdin();
      this.cachedBody = body;
    }
    return body;
  }

  /** The body decoded as UTF-8. */
  text(): string {
    const b = this.body;
    return String.UTF8.decodeUnsafe(b.dataStart, <usize>b.byteLength);
  }

  /**
   * The delivered pub/sub event. A CloudEvent body (what Dapr sends unless
   * the message or the subscription is rawPayload) is parsed; any other body
   * is taken as the raw payload (see CloudEvent.parse).
   */
  event(): Result<CloudEvent, JsonError> {
    return CloudEvent.parse(this.text(), this.contentType, this.pubsub, this.topic);
  }
}

/** A header name as the host names its variable: ASCII upper case, '-' as '_'. */
function envName(name: string): string {
  const out = new Array<i32>(name.length);
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    else if (c == 0x2d) c = 0x5f;
    unchecked(out[i] = c);
  }
  return String.fromCharCodes(out);
}

let current: Request | null = null;

/** The request this instance was started for (read once, then cached). */
export function request(): Request {
  let r = current;
  if (r === null) {
    r = new Request();
    current = r;
  }
  return r;
}

// "+" is a space in a query; decodeURIComponent does the rest. A malformed
// escape yields the text as given rather than aborting.
function decodeQueryPart(s: string): string {
  s = s.replaceAll("+", " ");
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) == 0x25 /* % */) {
      if (i + 2 >= s.length || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return s;
    }
  }
  return decodeURIComponent(s);
}

function isHex(c: i32): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * Reads stdin to the end. With CONTENT_LENGTH (the host always sets it) the
 * buffer is sized for it and reading stops once that many bytes arrived: one
 * fd_read for the whole body, none for an empty one. A read error ends the
 * body where it is.
 */
function readStdin(): Uint8Array {
  const want = process.env.has("CONTENT_LENGTH") ? parseLength(process.env.get("CONTENT_LENGTH")) : -1;
  if (want == 0) return new Uint8Array(0);
  let cap = want > 0 ? want : 4096;
  let buf = new ArrayBuffer(cap);
  let len = 0;
  while (want < 0 || len < want) {
    if (len == cap) {
      const bigger = new ArrayBuffer(cap << 1);
      memory.copy(changetype<usize>(bigger), changetype<usize>(buf), <usize>len);
      buf = bigger;
      cap <<= 1;
    }
    store<u32>(IOV, <u32>(changetype<usize>(buf) + <usize>len));
    store<u32>(IOV, <u32>(cap - len), 4);
    store<u32>(IOV_COUNT, 0);
    if (fd_read(0, IOV, 1, IOV_COUNT) != 0) break;
    const n = load<u32>(IOV_COUNT);
    if (n == 0) break;
    len += <i32>n;
  }
  return Uint8Array.wrap(buf, 0, len);
}

/** A CONTENT_LENGTH value (1 to 9 digits), else -1 (unknown: read to the end). */
function parseLength(s: string): i32 {
  if (s.length == 0 || s.length > 9) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

// ---------------------------------------------------------------------------
// The response.

let responded = false;

/**
 * Answers with `status`, a content-type (omitted when "") and extra
 * `headers`, then `body`. Always writes `status:` (a `location` header alone
 * would mean 302 to the host). Header lines with a line break, or a name with
 * ':' or a space, are dropped with a note on stderr. Only the first response
 * of an instance counts; later calls are ignored with a note on stderr.
 */
export function respondBytes(status: i32, contentType: string, body: Uint8Array, headers: Header[] | null = null): void {
  if (responded) {
    process.stderr.write("wagi: a response was already written; ignoring status " + status.toString() + "\n");
    return;
  }
  responded = true;
  let head = "status: " + status.toString() + "\n";
  if (contentType.length > 0 && validHeader("content-type", contentType)) head += "content-type: " + contentType + "\n";
  if (headers !== null) {
    for (let i = 0; i < headers.length; i++) {
      const h = unchecked(headers[i]);
      if (validHeader(h.name, h.value)) head += h.name + ": " + h.value + "\n";
    }
  }
  head += "\n";
  const headBytes = String.UTF8.encode(head);
  writeAll(changetype<usize>(headBytes), <usize>headBytes.byteLength, body.dataStart, <usize>body.byteLength);
}

/** Answers with a text body (UTF-8). See respondBytes. */
export function respond(status: i32, contentType: string, body: string, headers: Header[] | null = null): void {
  respondBytes(status, contentType, Uint8Array.wrap(String.UTF8.encode(body)), headers);
}

/** Answers with `body`, JSON text, as application/json. */
export function json(status: i32, body: string, headers: Header[] | null = null): void {
  respond(status, "application/json", body, headers);
}

/** Answers `{"error": message}` with `status`. */
export function jsonError(status: i32, message: string, headers: Header[] | null = null): void {
  json(status, "{\"error\":" + JSON.stringify(message) + "}", headers);
}

function validHeader(name: string, value: string): bool {
  if (name.length > 0 && !name.includes(":") && !name.includes(" ") && !hasLineBreak(name) && !hasLineBreak(value)) {
    return true;
  }
  process.stderr.write("wagi: dropped an invalid response header " + JSON.stringify(name) + "\n");
  return false;
}

function hasLineBreak(s: string): bool {
  return s.includes("\n") || s.includes("\r");
}

/** Writes two buffers to stdout with one fd_write (more only on a short write). */
function writeAll(p1: usize, n1: usize, p2: usize, n2: usize): void {
  while (n1 + n2 > 0) {
    let iovs = 0;
    if (n1 > 0) {
      store<u32>(IOV, <u32>p1);
      store<u32>(IOV, <u32>n1, 4);
      iovs = 1;
    }
    if (n2 > 0) {
      store<u32>(IOV + 8 * iovs, <u32>p2);
      store<u32>(IOV + 8 * iovs, <u32>n2, 4);
      iovs++;
    }
    store<u32>(IOV_COUNT, 0);
    if (fd_write(1, IOV, iovs, IOV_COUNT) != 0) return;
    let n = <usize>load<u32>(IOV_COUNT);
    if (n == 0) return;
    const a = min(n, n1);
    p1 += a;
    n1 -= a;
    n -= a;
    p2 += n;
    n2 -= n;
  }
}

// ---------------------------------------------------------------------------
// Pub/sub events.

/** What a subscriber tells Dapr about a delivered event. */
export namespace EventStatus {
  /** Processed; Dapr will not deliver it again. */
  export const SUCCESS = "SUCCESS";
  /** Not processed; Dapr delivers it again later. */
  export const RETRY = "RETRY";
  /** Not processed and never will be; Dapr drops it (or dead-letters it). */
  export const DROP = "DROP";
}

/**
 * Answers a delivered event: 200 with {"status":"SUCCESS"|"RETRY"|"DROP"}.
 * The host passes the status on to Dapr (a 2xx without such a body is
 * SUCCESS, 404 is DROP, any other status is RETRY).
 */
export function eventResult(status: string): void {
  json(200, "{\"status\":" + JSON.stringify(status) + "}");
}

/** A delivered pub/sub event (a CloudEvent 1.0 as Dapr sends it). */
export class CloudEvent {
  /** "id" ("" when absent). */
  id: string = "";
  /** "source": the publishing app's id for Dapr events. */
  source: string = "";
  /** "type", e.g. "com.dapr.event.sent". */
  type: string = "";
  /** "topic", else X_DAPR_TOPIC. */
  topic: string = "";
  /** "pubsubname", else X_DAPR_PUBSUB. */
  pubsub: string = "";
  /** "datacontenttype", e.g. "application/json". */
  dataContentType: string = "";
  /**
   * "data" as raw JSON text, as it appears in the event: an object for JSON
   * data, a JSON string for text; "null" when there is none. For a raw
   * payload, the body itself when it is JSON, else the body as a JSON string.
   */
  data: string = "null";
  /** "data_base64" (binary data), else null. */
  dataBase64: string | null = null;
  /** True when the body was not a CloudEvent (a raw payload). */
  raw: bool = false;

  /**
   * Parses an event body. A JSON object with "specversion" is a CloudEvent;
   * another JSON object, or any body whose `contentType` (the request's) is
   * not `application/cloudevents+json`, is taken as a raw payload. Fails for
   * a non-object body labelled as a CloudEvent.
   */
  static parse(text: string, contentType: string = "application/cloudevents+json",
    pubsub: string = "", topic: string = ""): Result<CloudEvent, JsonError> {
    const ev = new CloudEvent();
    ev.pubsub = pubsub;
    ev.topic = topic;
    const isCloudEvent = contentType.startsWith("application/cloudevents+json");
    const kind = jsonKind(text);
    if (kind != JsonKind.Object) {
      if (isCloudEvent) {
        return Result.fail<CloudEvent, JsonError>(new JsonError("event: the CloudEvent body is not a JSON object"));
      }
      ev.raw = true;
      ev.dataContentType = contentType;
      ev.data = kind != JsonKind.Invalid ? text : JSON.stringify(text);
      return Result.ok<CloudEvent, JsonError>(ev);
    }
    const obj = parseJson<JSON.Obj>(text).value; // kind checked above: cannot fail
    // A JSON object without "specversion" is not a CloudEvent, whatever the
    // content type says: a message published with metadata.rawPayload=true
    // reaches a subscription without rawPayload that way (daprd passes it on
    // as is and the host labels it application/cloudevents+json).
    if (!obj.has("specversion")) {
      ev.raw = true;
      ev.dataContentType = contentType;
      ev.data = text;
      return Result.ok<CloudEvent, JsonError>(ev);
    }
    ev.id = stringField(obj, "id", ev.id);
    ev.source = stringField(obj, "source", ev.source);
    ev.type = stringField(obj, "type", ev.type);
    ev.topic = stringField(obj, "topic", ev.topic);
    ev.pubsub = stringField(obj, "pubsubname", ev.pubsub);
    ev.dataContentType = stringField(obj, "datacontenttype", ev.dataContentType);
    const data = rawMember(text, "data");
    if (data !== null) ev.data = data;
    const b64 = obj.get("data_base64");
    if (b64 !== null && b64.type == JSON.Types.String) ev.dataBase64 = b64.get<string>();
    return Result.ok<CloudEvent, JsonError>(ev);
  }
}

function stringField(obj: JSON.Obj, name: string, fallback: string): string {
  const v = obj.get(name);
  if (v === null || v.type != JSON.Types.String) return fallback;
  return v.get<string>();
}
