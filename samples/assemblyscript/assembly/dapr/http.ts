// Outbound HTTP through the `wasi_experimental_http` host API.
//
// The raw imports below follow the ABI exactly (every parameter and the result
// is an i32; see shared/abi/wasi-experimental-http.md). On top of them sits a
// small Request/Response layer that never aborts on its own: failures come
// back as Result<_, HttpError> carrying the ABI error code and its name.

import { Result } from "./result";

// ---------------------------------------------------------------------------
// Raw ABI imports (module "wasi_experimental_http").

/**
 * Sends a request. Writes the status (u16 LE) at statusCodePtr and the
 * response handle (u32 LE) at resHandlePtr.
 */
// @ts-ignore: decorator
@external("wasi_experimental_http", "req")
export declare function req(
  urlPtr: i32, urlLen: i32,
  methodPtr: i32, methodLen: i32,
  headersPtr: i32, headersLen: i32,
  bodyPtr: i32, bodyLen: i32,
  statusCodePtr: i32, resHandlePtr: i32,
): i32;

/** Releases a response handle. */
// @ts-ignore: decorator
@external("wasi_experimental_http", "close")
export declare function close(handle: i32): i32;

/** Copies one response header's value (name matched case-insensitively). */
// @ts-ignore: decorator
@external("wasi_experimental_http", "header_get")
export declare function header_get(
  handle: i32,
  namePtr: i32, nameLen: i32,
  valuePtr: i32, valueLen: i32,
  writtenPtr: i32,
): i32;

/** Copies all response headers as `name:value\n` lines. */
// @ts-ignore: decorator
@external("wasi_experimental_http", "headers_get_all")
export declare function headers_get_all(
  handle: i32, bufPtr: i32, bufLen: i32, writtenPtr: i32,
): i32;

/** Copies the next chunk of the response body; 0 bytes written means done. */
// @ts-ignore: decorator
@external("wasi_experimental_http", "body_read")
export declare function body_read(
  handle: i32, bufPtr: i32, bufLen: i32, writtenPtr: i32,
): i32;

// ---------------------------------------------------------------------------
// Error codes.

/** The error codes the host functions return (0 = success). */
export namespace ErrorCode {
  export const SUCCESS: i32 = 0;
  export const INVALID_HANDLE: i32 = 1;
  export const MEMORY_NOT_FOUND: i32 = 2;
  export const MEMORY_ACCESS_ERROR: i32 = 3;
  export const BUFFER_TOO_SMALL: i32 = 4;
  export const HEADER_NOT_FOUND: i32 = 5;
  export const UTF8_ERROR: i32 = 6;
  export const DESTINATION_NOT_ALLOWED: i32 = 7;
  export const INVALID_METHOD: i32 = 8;
  export const INVALID_ENCODING: i32 = 9;
  export const INVALID_URL: i32 = 10;
  export const REQUEST_ERROR: i32 = 11;
  export const RUNTIME_ERROR: i32 = 12;
  export const TOO_MANY_SESSIONS: i32 = 13;
}

/** The ABI name of an error code, e.g. 7 -> "destination_not_allowed". */
export function errorCodeName(code: i32): string {
  switch (code) {
    case ErrorCode.SUCCESS: return "success";
    case ErrorCode.INVALID_HANDLE: return "invalid_handle";
    case ErrorCode.MEMORY_NOT_FOUND: return "memory_not_found";
    case ErrorCode.MEMORY_ACCESS_ERROR: return "memory_access_error";
    case ErrorCode.BUFFER_TOO_SMALL: return "buffer_too_small";
    case ErrorCode.HEADER_NOT_FOUND: return "header_not_found";
    case ErrorCode.UTF8_ERROR: return "utf8_error";
    case ErrorCode.DESTINATION_NOT_ALLOWED: return "destination_not_allowed";
    case ErrorCode.INVALID_METHOD: return "invalid_method";
    case ErrorCode.INVALID_ENCODING: return "invalid_encoding";
    case ErrorCode.INVALID_URL: return "invalid_url";
    case ErrorCode.REQUEST_ERROR: return "request_error";
    case ErrorCode.RUNTIME_ERROR: return "runtime_error";
    case ErrorCode.TOO_MANY_SESSIONS: return "too_many_sessions";
  }
  return "unknown_error";
}

/** A failed `wasi_experimental_http` call: which function, the code, its name. */
export class HttpError extends Error {
  /** The ABI error code (see ErrorCode). */
  readonly code: i32;
  /** The ABI name of the code, e.g. "destination_not_allowed". */
  readonly codeName: string;
  /** The host function that failed, e.g. "req". */
  readonly func: string;

  constructor(func: string, code: i32, detail: string = "") {
    const codeName = errorCodeName(code);
    let message = "wasi_experimental_http." + func + " failed: " +
      code.toString() + " " + codeName;
    if (detail.length > 0) message += " (" + detail + ")";
    super(message);
    this.name = "HttpError";
    this.code = code;
    this.codeName = codeName;
    this.func = func;
  }
}

// ---------------------------------------------------------------------------
// Request / Response.

// Out-parameters of the host calls: status u16 at +0, handle u32 at +4,
// written u32 at +8. The guest is single-threaded, so one static slot is enough.
const OUT: usize = memory.data(16, 8);
const OUT_STATUS: usize = OUT;
const OUT_HANDLE: usize = OUT + 4;
const OUT_WRITTEN: usize = OUT + 8;

const INITIAL_BODY_CAPACITY: i32 = 4096;
const INITIAL_HEADER_CAPACITY: i32 = 256;
const MAX_HEADER_CAPACITY: i32 = 1 << 20;

/** One HTTP header. */
export class Header {
  constructor(public name: string, public value: string) {}
}

/** An outbound HTTP request. Build it, then `send()`. */
export class Request {
  method: string;
  url: string;
  headers: Header[] = [];
  body: Uint8Array | null = null;

  constructor(method: string, url: string) {
    this.method = method;
    this.url = url;
  }

  /** Adds a header (duplicates are sent as separate lines). Chainable. */
  setHeader(name: string, value: string): Request {
    this.headers.push(new Header(name, value));
    return this;
  }

  /** Sets the body bytes. Chainable. */
  setBody(body: Uint8Array): Request {
    this.body = body;
    return this;
  }

  /** Sets the body to the UTF-8 bytes of `text`. Chainable. */
  setBodyText(text: string): Request {
    this.body = Uint8Array.wrap(String.UTF8.encode(text));
    return this;
  }

  /**
   * Sends the request and returns once status and headers are known. The
   * caller owns the Response and should `close()` it.
   */
  send(): Result<Response, HttpError> {
    // Header names must not contain ':' and no header may contain a line
    // break, or the `name:value\n` encoding would be ambiguous (or let a value
    // smuggle in extra headers). Refuse here with the ABI's own code.
    let headerText = "";
    for (let i = 0; i < this.headers.length; i++) {
      const h = unchecked(this.headers[i]);
      if (h.name.length == 0 || h.name.includes(":") || hasLineBreak(h.name) || hasLineBreak(h.value)) {
        return Result.fail<Response, HttpError>(new HttpError(
          "req", ErrorCode.INVALID_ENCODING, "header " + quote(h.name) + " rejected by the guest"));
      }
      headerText += h.name + ":" + h.value + "\n";
    }

    const url = String.UTF8.encode(this.url);
    const method = String.UTF8.encode(this.method);
    const headers = String.UTF8.encode(headerText);
    const body = this.body;
    const bodyPtr = body !== null ? body.dataStart : OUT;
    const bodyLen = body !== null ? body.byteLength : 0;

    store<u16>(OUT_STATUS, 0);
    store<u32>(OUT_HANDLE, 0);
    const rc = req(
      <i32>changetype<usize>(url), url.byteLength,
      <i32>changetype<usize>(method), method.byteLength,
      <i32>changetype<usize>(headers), headers.byteLength,
      <i32>bodyPtr, bodyLen,
      <i32>OUT_STATUS, <i32>OUT_HANDLE,
    );
    if (rc != ErrorCode.SUCCESS) {
      return Result.fail<Response, HttpError>(new HttpError("req", rc, this.method + " " + this.url));
    }
    return Result.ok<Response, HttpError>(new Response(load<u16>(OUT_STATUS), load<u32>(OUT_HANDLE)));
  }
}

/** Shorthand: builds a Request from the arguments and sends it. */
export function request(method: string, url: string, headers: Header[] = [], body: Uint8Array | null = null): Result<Response, HttpError> {
  const r = new Request(method, url);
  r.headers = headers;
  r.body = body;
  return r.send();
}

/**
 * A response handle. The body can be read once (it is cached afterwards).
 * Always `close()` it; handles still open are released when the instance ends.
 */
export class Response {
  private closed: bool = false;
  private cachedBody: Uint8Array | null = null;

  constructor(
    /** HTTP status code. */
    readonly status: u16,
    /** The host's handle for this response. */
    readonly handle: u32,
  ) {}

  /** Value of the header `name` (case-insensitive), or null if absent. */
  getHeader(name: string): Result<string | null, HttpError> {
    const nameBuf = String.UTF8.encode(name);
    let cap = INITIAL_HEADER_CAPACITY;
    while (true) {
      const buf = new ArrayBuffer(cap);
      store<u32>(OUT_WRITTEN, 0);
      const rc = header_get(
        <i32>this.handle,
        <i32>changetype<usize>(nameBuf), nameBuf.byteLength,
        <i32>changetype<usize>(buf), cap,
        <i32>OUT_WRITTEN,
      );
      if (rc == ErrorCode.HEADER_NOT_FOUND) return Result.ok<string | null, HttpError>(null);
      if (rc == ErrorCode.BUFFER_TOO_SMALL && cap < MAX_HEADER_CAPACITY) {
        cap <<= 1;
        continue;
      }
      if (rc != ErrorCode.SUCCESS) return Result.fail<string | null, HttpError>(new HttpError("header_get", rc, name));
      const n = load<u32>(OUT_WRITTEN);
      if (n > <u32>cap) return Result.fail<string | null, HttpError>(new HttpError("header_get", ErrorCode.RUNTIME_ERROR, "host reported more bytes than the buffer holds"));
      return Result.ok<string | null, HttpError>(String.UTF8.decodeUnsafe(changetype<usize>(buf), n));
    }
    return unreachable();
  }

  /** All headers in the order the host gives them. */
  getHeaders(): Result<Header[], HttpError> {
    let cap = INITIAL_HEADER_CAPACITY * 4;
    while (true) {
      const buf = new ArrayBuffer(cap);
      store<u32>(OUT_WRITTEN, 0);
      const rc = headers_get_all(<i32>this.handle, <i32>changetype<usize>(buf), cap, <i32>OUT_WRITTEN);
      if (rc == ErrorCode.BUFFER_TOO_SMALL && cap < MAX_HEADER_CAPACITY) {
        cap <<= 1;
        continue;
      }
      if (rc != ErrorCode.SUCCESS) return Result.fail<Header[], HttpError>(new HttpError("headers_get_all", rc));
      const n = load<u32>(OUT_WRITTEN);
      if (n > <u32>cap) return Result.fail<Header[], HttpError>(new HttpError("headers_get_all", ErrorCode.RUNTIME_ERROR, "host reported more bytes than the buffer holds"));
      return Result.ok<Header[], HttpError>(parseHeaderLines(String.UTF8.decodeUnsafe(changetype<usize>(buf), n)));
    }
    return unreachable();
  }

  /** Reads the whole body (body_read until it yields 0 bytes). */
  readBody(): Result<Uint8Array, HttpError> {
    const cached = this.cachedBody;
    if (cached !== null) return Result.ok<Uint8Array, HttpError>(cached);
    let cap = INITIAL_BODY_CAPACITY;
    let buf = new ArrayBuffer(cap);
    let len = 0;
    while (true) {
      if (len == cap) {
        const bigger = new ArrayBuffer(cap << 1);
        memory.copy(changetype<usize>(bigger), changetype<usize>(buf), <usize>len);
        buf = bigger;
        cap <<= 1;
      }
      store<u32>(OUT_WRITTEN, 0);
      const rc = body_read(<i32>this.handle, <i32>(changetype<usize>(buf) + <usize>len), cap - len, <i32>OUT_WRITTEN);
      if (rc != ErrorCode.SUCCESS) return Result.fail<Uint8Array, HttpError>(new HttpError("body_read", rc));
      const n = load<u32>(OUT_WRITTEN);
      if (n == 0) break;
      if (n > <u32>(cap - len)) return Result.fail<Uint8Array, HttpError>(new HttpError("body_read", ErrorCode.RUNTIME_ERROR, "host reported more bytes than the buffer holds"));
      len += <i32>n;
    }
    const body = Uint8Array.wrap(buf, 0, len);
    this.cachedBody = body;
    return Result.ok<Uint8Array, HttpError>(body);
  }

  /** Header value or null; aborts on ABI errors other than header_not_found. */
  header(name: string): string | null {
    return this.getHeader(name).value;
  }

  /** All headers; aborts on ABI errors. */
  headers(): Header[] {
    return this.getHeaders().value;
  }

  /** The whole body; aborts on ABI errors (use readBody() to handle them). */
  body(): Uint8Array {
    return this.readBody().value;
  }

  /** The whole body decoded as UTF-8; aborts on ABI errors. */
  text(): string {
    const b = this.body();
    return String.UTF8.decodeUnsafe(b.dataStart, <usize>b.byteLength);
  }

  /** Releases the handle. Safe to call more than once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(<i32>this.handle);
  }
}

/** Decodes `bytes` as UTF-8. */
export function utf8(bytes: Uint8Array): string {
  return String.UTF8.decodeUnsafe(bytes.dataStart, <usize>bytes.byteLength);
}

/** Parses `name:value\n` lines (split at the first ':'); blank lines skipped. */
export function parseHeaderLines(text: string): Header[] {
  const out = new Array<Header>();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    let line = text.substring(start, end);
    if (line.endsWith("\r")) line = line.substring(0, line.length - 1);
    start = end + 1;
    if (line.length == 0) continue;
    const colon = line.indexOf(":");
    if (colon < 0) {
      out.push(new Header(line, ""));
    } else {
      // The ABI writes `name:value`; tolerate optional whitespace after ':'.
      out.push(new Header(line.substring(0, colon), line.substring(colon + 1).trimStart()));
    }
  }
  return out;
}

function hasLineBreak(s: string): bool {
  return s.includes("\n") || s.includes("\r");
}

// Minimal quoting for error messages (keeps this file free of the JSON library).
function quote(s: string): string {
  return "\"" + s.replaceAll("\"", "\\\"") + "\"";
}
