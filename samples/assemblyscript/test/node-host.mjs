// A stand-in host for testing the guests without the Go host: node:wasi
// (preview1) plus a JavaScript implementation of the five
// `wasi_experimental_http` functions (shared/abi/wasi-experimental-http.md),
// backed by a synchronous in-memory fake of the Dapr sidecar's HTTP API.
// runWagi/deliverEvent play the host's serve mode (shared/abi/wagi.md): a
// request as environment + stdin, the response parsed from stdout.
//
//   node test/node-host.mjs            runs build/cli.wasm, expects "seed flow: OK"
//
// The test suite (npm test) imports runGuest/runWagi/deliverEvent/FakeDapr from here.

import { WASI } from "node:wasi";
import { randomUUID } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const ErrorCode = Object.freeze({
  success: 0,
  invalid_handle: 1,
  memory_not_found: 2,
  memory_access_error: 3,
  buffer_too_small: 4,
  header_not_found: 5,
  utf8_error: 6,
  destination_not_allowed: 7,
  invalid_method: 8,
  invalid_encoding: 9,
  invalid_url: 10,
  request_error: 11,
  runtime_error: 12,
  too_many_sessions: 13,
});

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The five host functions. `handler({method, url, headers, body})` answers a
 * request synchronously with `{status, headers: [[name, value]...], body}`.
 * Options: allow(url) -> bool (default: everything), maxSessions,
 * bodyChunk (max bytes per body_read, to exercise the guest's read loop).
 */
export function httpImports(getMemory, handler, opts = {}) {
  const allow = opts.allow ?? (() => true);
  const maxSessions = opts.maxSessions ?? 16;
  const bodyChunk = opts.bodyChunk ?? Infinity;
  const sessions = new Map();
  let nextHandle = 1;
  const stats = { requests: [], opened: 0, closed: 0, maxOpen: 0, calls: {} };

  const mem = () => {
    const m = getMemory();
    if (!m) throw Object.assign(new Error("no memory"), { abi: ErrorCode.memory_not_found });
    return new Uint8Array(m.buffer);
  };
  const range = (ptr, len) => {
    const m = mem();
    ptr >>>= 0; len >>>= 0;
    if (ptr + len > m.length) throw Object.assign(new Error("out of range"), { abi: ErrorCode.memory_access_error });
    return m.subarray(ptr, ptr + len);
  };
  const str = (ptr, len) => {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(range(ptr, len));
    } catch (e) {
      if (e.abi) throw e;
      throw Object.assign(new Error("utf8"), { abi: ErrorCode.utf8_error });
    }
  };
  const writeU32 = (ptr, v) => {
    const b = range(ptr, 4);
    new DataView(b.buffer, b.byteOffset, 4).setUint32(0, v, true);
  };
  const writeU16 = (ptr, v) => {
    const b = range(ptr, 2);
    new DataView(b.buffer, b.byteOffset, 2).setUint16(0, v, true);
  };
  const abi = (name, fn) => (...args) => {
    stats.calls[name] = (stats.calls[name] ?? 0) + 1;
    try {
      return fn(...args.map((a) => a >>> 0));
    } catch (e) {
      if (e.abi !== undefined) return e.abi;
      console.error(`fake host: ${name}:`, e);
      return ErrorCode.runtime_error;
    }
  };

  const imports = {
    req: abi("req", (urlPtr, urlLen, mPtr, mLen, hPtr, hLen, bPtr, bLen, statusPtr, handlePtr) => {
      const url = str(urlPtr, urlLen);
      const method = str(mPtr, mLen);
      const headerText = str(hPtr, hLen);
      const body = Buffer.from(range(bPtr, bLen));
      if (!TOKEN.test(method)) return ErrorCode.invalid_method;
      const headers = [];
      for (const line of headerText.split("\n")) {
        if (line === "") continue;
        const i = line.indexOf(":");
        if (i <= 0) return ErrorCode.invalid_encoding;
        headers.push([line.slice(0, i), line.slice(i + 1)]);
      }
      let parsed;
      try {
        parsed = new URL(url);
      } catch {
        return ErrorCode.invalid_url;
      }
      if (!parsed.host) return ErrorCode.invalid_url;
      if (!allow(url)) return ErrorCode.destination_not_allowed;
      if (sessions.size >= maxSessions) return ErrorCode.too_many_sessions;
      // Check the out-pointers before doing the request.
      range(statusPtr, 2);
      range(handlePtr, 4);
      const request = { method, url, headers, body };
      stats.requests.push(request);
      const res = handler(request);
      if (res.error !== undefined) return res.error; // simulate a transport failure
      const handle = nextHandle++;
      sessions.set(handle, {
        status: res.status,
        headers: res.headers ?? [],
        body: Buffer.from(res.body ?? ""),
        offset: 0,
      });
      stats.opened++;
      stats.maxOpen = Math.max(stats.maxOpen, sessions.size);
      writeU16(statusPtr, res.status);
      writeU32(handlePtr, handle);
      return ErrorCode.success;
    }),
    close: abi("close", (handle) => {
      if (!sessions.delete(handle)) return ErrorCode.invalid_handle;
      stats.closed++;
      return ErrorCode.success;
    }),
    header_get: abi("header_get", (handle, namePtr, nameLen, valuePtr, valueLen, writtenPtr) => {
      const s = sessions.get(handle);
      if (!s) return ErrorCode.invalid_handle;
      const name = str(namePtr, nameLen).toLowerCase();
      const h = s.headers.find(([n]) => n.toLowerCase() === name);
      if (!h) return ErrorCode.header_not_found;
      const value = Buffer.from(h[1]);
      if (value.length > valueLen) return ErrorCode.buffer_too_small;
      range(valuePtr, valueLen).set(value);
      writeU32(writtenPtr, value.length);
      return ErrorCode.success;
    }),
    headers_get_all: abi("headers_get_all", (handle, bufPtr, bufLen, writtenPtr) => {
      const s = sessions.get(handle);
      if (!s) return ErrorCode.invalid_handle;
      const all = Buffer.from(s.headers.map(([n, v]) => `${n}:${v}\n`).join(""));
      if (all.length > bufLen) return ErrorCode.buffer_too_small;
      range(bufPtr, bufLen).set(all);
      writeU32(writtenPtr, all.length);
      return ErrorCode.success;
    }),
    body_read: abi("body_read", (handle, bufPtr, bufLen, writtenPtr) => {
      const s = sessions.get(handle);
      if (!s) return ErrorCode.invalid_handle;
      const n = Math.min(bufLen, bodyChunk, s.body.length - s.offset);
      range(bufPtr, bufLen).set(s.body.subarray(s.offset, s.offset + n));
      s.offset += n;
      writeU32(writtenPtr, n);
      return ErrorCode.success;
    }),
  };
  return { imports, stats, openHandles: () => sessions.size };
}

const json = (status, value, extra = []) => ({
  status,
  headers: [["content-type", "application/json"], ...extra],
  body: JSON.stringify(value),
});
const daprError = (status, errorCode, message) => json(status, { errorCode, message });

/**
 * A synchronous in-memory fake of the parts of the Dapr HTTP API the guests
 * use, answering as daprd 1.16 with the in-memory state store does:
 * - POST /v1.0/state/{store} takes [{"key","value","etag"?,"options"?}] and
 *   answers 204. An item with an etag is written only if the key exists with
 *   that etag; an item without one but with options.concurrency "first-write"
 *   only if the key does not exist; otherwise 409 ERR_STATE_SAVE (nothing of
 *   the request is written).
 * - GET /v1.0/state/{store}/{key} answers 200 with the stored JSON value as
 *   is and an ETag header (a new etag per write), or 204 when there is none.
 * - POST /v1.0/state/{store}/transaction applies upserts and deletes with the
 *   same etag checks, all or nothing; a mismatch is 500 ERR_STATE_TRANSACTION
 *   ("possible etag mismatch"), an unknown operation 400.
 * - POST /v1.0/publish/{pubsub}/{topic}[?metadata.k=v] records the message in
 *   `published` and answers 204; an unknown pubsub is 404.
 * Options: stores, pubsubs (known names), apiToken (required dapr-api-token),
 * onGet(store, key, text) -> text (to tamper with reads), beforeWrite(store,
 * keys, fake) (called before a save or transaction is checked: to simulate
 * another writer, e.g. with fake.put()).
 */
export class FakeDapr {
  constructor(opts = {}) {
    this.stores = new Map((opts.stores ?? ["statestore"]).map((s) => [s, new Map()]));
    this.etags = new Map([...this.stores.keys()].map((s) => [s, new Map()]));
    this.pubsubs = new Set(opts.pubsubs ?? ["pubsub"]);
    this.apiToken = opts.apiToken ?? null;
    this.onGet = opts.onGet ?? ((_s, _k, text) => text);
    this.beforeWrite = opts.beforeWrite ?? (() => {});
    this.published = [];
    this.transactions = [];
    this.conflicts = 0;
    this.nextEtag = 1;
    this.handle = this.handle.bind(this);
  }

  /** Writes `text` (JSON) under `key` as another client would: a new etag. */
  put(storeName, key, text) {
    this.stores.get(storeName).set(key, text);
    this.etags.get(storeName).set(key, String(this.nextEtag++));
  }

  /** The stored JSON text under `key`, parsed; undefined when there is none. */
  value(storeName, key) {
    const text = this.stores.get(storeName)?.get(key);
    return text === undefined ? undefined : JSON.parse(text);
  }

  handle({ method, url, headers, body }) {
    const u = new URL(url);
    const parts = u.pathname.split("/").slice(1).map(decodeURIComponent);
    if (this.apiToken !== null) {
      const tok = headers.find(([n]) => n.toLowerCase() === "dapr-api-token");
      if (!tok || tok[1] !== this.apiToken) return daprError(401, "ERR_UNAUTHORIZED", "invalid api token");
    }
    if (parts[0] !== "v1.0") return daprError(404, "ERR_NOT_FOUND", "not found");
    if (parts[1] === "state") return this.state(method, parts.slice(2), body);
    if (parts[1] === "publish" && method === "POST" && parts.length === 4) {
      if (!this.pubsubs.has(parts[2])) return daprError(404, "ERR_PUBSUB_NOT_FOUND", `pubsub ${parts[2]} is not found`);
      const metadata = {};
      for (const [k, v] of u.searchParams) if (k.startsWith("metadata.")) metadata[k.slice(9)] = v;
      const ct = headers.find(([n]) => n.toLowerCase() === "content-type");
      this.published.push({
        pubsub: parts[2], topic: parts[3], headers, contentType: ct ? ct[1] : undefined, metadata, body: body.toString(),
      });
      return { status: 204 };
    }
    if (parts[1] === "invoke" && parts[3] === "method" && parts.length > 4) {
      // Echo what the app would have received.
      const reply = { app: parts[2], method: parts.slice(4).join("/"), httpMethod: method, body: body.toString() };
      return json(200, reply);
    }
    return daprError(404, "ERR_NOT_FOUND", `no route for ${method} ${u.pathname}`);
  }

  // The etag check of one write, as daprd's in-memory store words it; null if it may go ahead.
  checkEtag(storeName, store, req, isDelete) {
    const etag = typeof req.etag === "string" && req.etag !== "" ? req.etag : null;
    const id = `key=${storeName}||${req.key}`;
    if (etag !== null) {
      if (!store.has(req.key)) return isDelete ? null : `state not exist or expired for ${id}`;
      const current = this.etags.get(storeName).get(req.key);
      if (current !== etag) return `state etag not match for ${id}: current=${current}, expect=${etag}`;
      return null;
    }
    if (!isDelete && req.options?.concurrency === "first-write" && store.has(req.key)) {
      return "item already exists and no etag was passed";
    }
    return null;
  }

  state(method, [storeName, key, ...rest], body) {
    const store = this.stores.get(storeName);
    if (!store) {
      return daprError(400, "ERR_STATE_STORE_NOT_FOUND", `state store ${storeName} is not found`);
    }
    if (key === "transaction" && rest.length === 0 && method === "POST") return this.transaction(storeName, store, body);
    if (rest.length > 0) return daprError(404, "ERR_NOT_FOUND", "not found");
    if (key === undefined) {
      if (method !== "POST") return daprError(405, "ERR_METHOD_NOT_ALLOWED", method);
      let items;
      try {
        items = JSON.parse(body.toString());
      } catch (e) {
        return daprError(400, "ERR_MALFORMED_REQUEST", `failed deserializing HTTP body: ${e.message}`);
      }
      if (!Array.isArray(items)) {
        return daprError(400, "ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: expected an array");
      }
      for (const item of items) {
        if (typeof item?.key !== "string" || item.key === "") {
          return daprError(400, "ERR_MALFORMED_REQUEST", "state key is required");
        }
      }
      this.beforeWrite(storeName, items.map((i) => i.key), this);
      for (const item of items) {
        const problem = this.checkEtag(storeName, store, item, false);
        if (problem !== null) {
          this.conflicts++;
          return daprError(409, "ERR_STATE_SAVE",
            `failed saving state in state store ${storeName}: possible etag mismatch. error from state store: ${problem}`);
        }
      }
      for (const item of items) this.put(storeName, item.key, JSON.stringify(item.value ?? null));
      return { status: 204 };
    }
    if (method === "GET") {
      if (!store.has(key)) return { status: 204 };
      const text = this.onGet(storeName, key, store.get(key));
      const etag = this.etags.get(storeName).get(key);
      return { status: 200, headers: [["content-type", "application/json"], ["etag", etag]], body: text };
    }
    if (method === "DELETE") {
      store.delete(key);
      this.etags.get(storeName).delete(key);
      return { status: 204 };
    }
    return daprError(405, "ERR_METHOD_NOT_ALLOWED", method);
  }

  transaction(storeName, store, body) {
    let tx;
    try {
      tx = JSON.parse(body.toString());
    } catch (e) {
      return daprError(400, "ERR_MALFORMED_REQUEST", `failed deserializing HTTP body: ${e.message}`);
    }
    const ops = tx?.operations;
    if (!Array.isArray(ops)) return daprError(400, "ERR_MALFORMED_REQUEST", "operations is required");
    for (const op of ops) {
      if (op?.operation !== "upsert" && op?.operation !== "delete") {
        return daprError(400, "ERR_NOT_SUPPORTED_STATE_OPERATION", `operation type ${op?.operation} not supported`);
      }
      if (typeof op.request?.key !== "string" || op.request.key === "") {
        return daprError(400, "ERR_MALFORMED_REQUEST", "state key is required");
      }
    }
    this.transactions.push(tx);
    this.beforeWrite(storeName, ops.map((o) => o.request.key), this);
    for (const op of ops) {
      const problem = this.checkEtag(storeName, store, op.request, op.operation === "delete");
      if (problem !== null) {
        this.conflicts++;
        return daprError(500, "ERR_STATE_TRANSACTION",
          `error while executing state transaction: possible etag mismatch. error from state store: ${problem}`);
      }
    }
    for (const { operation, request } of ops) {
      if (operation === "upsert") {
        this.put(storeName, request.key, JSON.stringify(request.value ?? null));
      } else {
        store.delete(request.key);
        this.etags.get(storeName).delete(request.key);
      }
    }
    return { status: 204 };
  }
}

/**
 * Runs a WASI guest to completion with the fake HTTP imports. `stdin` (a
 * string or Buffer) becomes fd 0. Returns { exitCode, stdout, stderr, stats,
 * openHandles, wasiCalls } (wasiCalls counts each wasi_snapshot_preview1 call
 * by name).
 */
export async function runGuest(wasmPath, { args = [], env = {}, handler, http = {}, stdin = null } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "guest-"));
  const outPath = join(dir, "stdout");
  const errPath = join(dir, "stderr");
  const inPath = join(dir, "stdin");
  writeFileSync(inPath, stdin ?? "");
  const stdinFd = openSync(inPath, "r");
  const stdout = openSync(outPath, "w");
  const stderr = openSync(errPath, "w");
  try {
    const wasi = new WASI({
      version: "preview1",
      args: [wasmPath.split("/").pop(), ...args],
      env,
      stdin: stdinFd,
      stdout,
      stderr,
      returnOnExit: true,
    });
    const wasiCalls = {};
    const wasiImport = Object.fromEntries(Object.entries(wasi.wasiImport).map(([name, fn]) => [name, (...a) => {
      wasiCalls[name] = (wasiCalls[name] ?? 0) + 1;
      return fn(...a);
    }]));
    let instance;
    const h = httpImports(() => instance?.exports.memory, handler ?? (() => ({ status: 500 })), http);
    const module = await WebAssembly.compile(readFileSync(wasmPath));
    instance = await WebAssembly.instantiate(module, {
      wasi_snapshot_preview1: wasiImport,
      wasi_experimental_http: h.imports,
    });
    const exitCode = wasi.start(instance) ?? 0;
    return {
      exitCode,
      stdout: readFileSync(outPath, "utf8"),
      stderr: readFileSync(errPath, "utf8"),
      stats: h.stats,
      openHandles: h.openHandles(),
      wasiCalls,
    };
  } finally {
    closeSync(stdinFd);
    closeSync(stdout);
    closeSync(stderr);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Parses a WAGI guest's stdout as the host does (wagi.ParseResponse): header
 * lines, a blank line, the body; one of status, content-type or location is
 * required, and location alone means 302. Returns { status, headers (lower-case
 * name -> value), body } or { error }.
 */
export function parseWagiResponse(out) {
  const crlf = out.indexOf("\r\n\r\n");
  const lf = out.indexOf("\n\n");
  let head, body;
  if (crlf >= 0 && (lf < 0 || crlf < lf)) [head, body] = [out.slice(0, crlf), out.slice(crlf + 4)];
  else if (lf >= 0) [head, body] = [out.slice(0, lf), out.slice(lf + 2)];
  else return { error: "no header block" };
  const r = { status: 200, headers: {}, body };
  let seen = false;
  for (const line of head.replaceAll("\r\n", "\n").split("\n")) {
    if (line === "") continue;
    const i = line.indexOf(":");
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    if (i < 0 || name === "" || /[ \t]/.test(name)) return { error: `malformed header line ${JSON.stringify(line)}` };
    if (name === "status") {
      r.status = Number.parseInt(value, 10);
      if (!(r.status >= 100 && r.status <= 999)) return { error: `invalid status ${JSON.stringify(value)}` };
      seen = true;
    } else {
      if (name === "location" && (!seen || r.status === 200)) r.status = 302;
      if (name === "location" || name === "content-type") seen = true;
      r.headers[name] = r.headers[name] === undefined ? value : `${r.headers[name]}, ${value}`;
    }
  }
  if (!seen) return { error: "none of content-type, status or location" };
  return r;
}

/**
 * Runs one WAGI request the way `wasi-dapr-host serve` does (wagi.Request.Env,
 * Args, stdin): method, path, query, headers ({name: value}), body, the
 * matched route, `env` (the module's variables and X_DAPR_*). Returns
 * runGuest's result plus `response` (parseWagiResponse of stdout; null when
 * the guest failed: exit status not 0).
 */
export async function runWagi(wasmPath, {
  method = "GET", path = "/", query = "", headers = {}, body = "", route = path, env = {}, handler, http = {},
} = {}) {
  const bodyBuf = Buffer.from(body);
  const contentType = Object.entries(headers).find(([n]) => n.toLowerCase() === "content-type")?.[1] ?? "";
  const vars = {
    REQUEST_METHOD: method,
    PATH_INFO: path,
    X_RAW_PATH_INFO: path,
    QUERY_STRING: query,
    CONTENT_TYPE: contentType,
    CONTENT_LENGTH: String(bodyBuf.length),
    SERVER_NAME: "127.0.0.1",
    SERVER_PORT: "8080",
    SERVER_PROTOCOL: "HTTP/1.1",
    SERVER_SOFTWARE: "wasi-dapr-host",
    GATEWAY_INTERFACE: "CGI/1.1",
    SCRIPT_NAME: "",
    REMOTE_ADDR: "127.0.0.1",
    REMOTE_HOST: "127.0.0.1",
    X_MATCHED_ROUTE: route,
    X_FULL_URL: `http://127.0.0.1:8080${path}${query ? `?${query}` : ""}`,
  };
  for (const [name, value] of Object.entries(headers)) {
    if (/^(authorization|dapr-api-token)$/i.test(name)) continue; // as CGI: no credentials
    vars[`HTTP_${name.toUpperCase().replaceAll("-", "_")}`] = value;
  }
  const args = query === "" ? [] : query.split("&").filter(Boolean).map((p) => {
    try { return decodeURIComponent(p.replaceAll("+", " ")); } catch { return p; }
  });
  const r = await runGuest(wasmPath, { args, env: { ...vars, ...env }, handler, http, stdin: bodyBuf });
  const response = r.exitCode === 0 ? parseWagiResponse(r.stdout) : null;
  return { ...r, response };
}

/** The CloudEvent daprd delivers for a message published with `data` (JSON text) and `contentType`. */
export function cloudEvent({ pubsub = "pubsub", topic, data, contentType = "application/json", source = "orders", id = randomUUID() }) {
  const ev = {
    data: contentType.includes("json") ? JSON.parse(data) : data,
    datacontenttype: contentType,
    id,
    pubsubname: pubsub,
    source,
    specversion: "1.0",
    time: new Date().toISOString(),
    topic,
    traceid: "00-00000000000000000000000000000000-0000000000000000-00",
    traceparent: "00-00000000000000000000000000000000-0000000000000000-00",
    tracestate: "",
    type: "com.dapr.event.sent",
  };
  return JSON.stringify(ev);
}

/**
 * Delivers a pub/sub event to a subscription route as the host does: POST with
 * content-type application/cloudevents+json, X_DAPR_PUBSUB and X_DAPR_TOPIC,
 * and maps the guest's answer to Dapr's verdict like serve.eventVerdict (2xx:
 * SUCCESS unless the JSON body says RETRY or DROP; 404: DROP; anything else,
 * including a failed guest: RETRY). `body` is the raw request body (default:
 * the CloudEvent of `data`). Returns runWagi's result plus `verdict`.
 */
export async function deliverEvent(wasmPath, { pubsub = "pubsub", topic, route, data, body, env = {}, handler, http = {} }) {
  const r = await runWagi(wasmPath, {
    method: "POST",
    path: route,
    route,
    headers: { "Content-Type": "application/cloudevents+json" },
    body: body ?? cloudEvent({ pubsub, topic, data }),
    env: { ...env, X_DAPR_PUBSUB: pubsub, X_DAPR_TOPIC: topic },
    handler,
    http,
  });
  let verdict = "RETRY";
  const res = r.response;
  if (res && !res.error) {
    if (res.status === 404) verdict = "DROP";
    else if (Math.floor(res.status / 100) === 2) {
      verdict = "SUCCESS";
      try {
        const v = String(JSON.parse(res.body).status ?? "").toUpperCase();
        if (v === "RETRY" || v === "DROP") verdict = v;
      } catch {
        // not JSON: SUCCESS
      }
    }
  }
  return { ...r, verdict };
}

// Run directly: the seed flow against the fake sidecar.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const wasm = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "build", "cli.wasm");
  const dapr = new FakeDapr();
  const sidecar = "http://127.0.0.1:3500/";
  const r = await runGuest(wasm, {
    env: { DAPR_HTTP_PORT: "3500" },
    handler: dapr.handle,
    http: { allow: (url) => url.startsWith(sidecar) },
  });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  const ok = r.exitCode === 0 && r.stdout.split("\n").includes("seed flow: OK") && r.openHandles === 0;
  console.log(`node-host: exit ${r.exitCode}, ${r.stats.requests.length} requests, ${r.openHandles} handles left open: ${ok ? "PASS" : "FAIL"}`);
  process.exit(ok ? 0 : 1);
}
