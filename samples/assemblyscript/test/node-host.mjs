// A stand-in host for testing the guests without the Go host: node:wasi
// (preview1) plus a JavaScript implementation of the five
// `wasi_experimental_http` functions (shared/abi/wasi-experimental-http.md),
// backed by a synchronous in-memory fake of the Dapr sidecar's HTTP API.
//
//   node test/node-host.mjs            runs build/cli.wasm, expects "seed flow: OK"
//
// The test suite (npm test) imports runGuest/FakeDapr from here.

import { WASI } from "node:wasi";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
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
 * use. State behaves like Dapr's: POST /v1.0/state/{store} takes
 * [{"key":..,"value":..}] and answers 204; GET /v1.0/state/{store}/{key}
 * answers 200 with the stored JSON value as is, or 204 when there is none.
 * Options: stores (names of known state stores), apiToken (required
 * dapr-api-token), onGet(store, key, text) -> text (to tamper with reads).
 */
export class FakeDapr {
  constructor(opts = {}) {
    this.stores = new Map((opts.stores ?? ["statestore"]).map((s) => [s, new Map()]));
    this.apiToken = opts.apiToken ?? null;
    this.onGet = opts.onGet ?? ((_s, _k, text) => text);
    this.published = [];
    this.handle = this.handle.bind(this);
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
      this.published.push({ pubsub: parts[2], topic: parts[3], headers, body: body.toString() });
      return { status: 204 };
    }
    if (parts[1] === "invoke" && parts[3] === "method" && parts.length > 4) {
      // Echo what the app would have received.
      const reply = { app: parts[2], method: parts.slice(4).join("/"), httpMethod: method, body: body.toString() };
      return json(200, reply);
    }
    return daprError(404, "ERR_NOT_FOUND", `no route for ${method} ${u.pathname}`);
  }

  state(method, [storeName, key, ...rest], body) {
    const store = this.stores.get(storeName);
    if (!store) {
      return daprError(400, "ERR_STATE_STORE_NOT_FOUND", `state store ${storeName} is not found`);
    }
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
      for (const item of items) store.set(item.key, JSON.stringify(item.value ?? null));
      return { status: 204 };
    }
    if (method === "GET") {
      if (!store.has(key)) return { status: 204 };
      const text = this.onGet(storeName, key, store.get(key));
      return { status: 200, headers: [["content-type", "application/json"], ["etag", "1"]], body: text };
    }
    if (method === "DELETE") {
      store.delete(key);
      return { status: 204 };
    }
    return daprError(405, "ERR_METHOD_NOT_ALLOWED", method);
  }
}

/**
 * Runs a WASI guest to completion with the fake HTTP imports.
 * Returns { exitCode, stdout, stderr, stats, openHandles }.
 */
export async function runGuest(wasmPath, { args = [], env = {}, handler, http = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "guest-"));
  const outPath = join(dir, "stdout");
  const errPath = join(dir, "stderr");
  const stdout = openSync(outPath, "w");
  const stderr = openSync(errPath, "w");
  try {
    const wasi = new WASI({
      version: "preview1",
      args: [wasmPath.split("/").pop(), ...args],
      env,
      stdout,
      stderr,
      returnOnExit: true,
    });
    let instance;
    const h = httpImports(() => instance?.exports.memory, handler, http);
    const module = await WebAssembly.compile(readFileSync(wasmPath));
    instance = await WebAssembly.instantiate(module, {
      wasi_snapshot_preview1: wasi.wasiImport,
      wasi_experimental_http: h.imports,
    });
    const exitCode = wasi.start(instance) ?? 0;
    return {
      exitCode,
      stdout: readFileSync(outPath, "utf8"),
      stderr: readFileSync(errPath, "utf8"),
      stats: h.stats,
      openHandles: h.openHandles(),
    };
  } finally {
    closeSync(stdout);
    closeSync(stderr);
    rmSync(dir, { recursive: true, force: true });
  }
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
