// Runs the built guests (npm run build first; npm test does) under the Node
// stand-in host of node-host.mjs: node:wasi + a JS wasi_experimental_http
// + a fake Dapr sidecar.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCode, FakeDapr, cloudEvent, deliverEvent, runGuest, runWagi } from "./node-host.mjs";

const build = join(dirname(fileURLToPath(import.meta.url)), "..", "build");
const CLI = join(build, "cli.wasm");
const PROBE = join(build, "probe.wasm");
const SIDECAR = "http://127.0.0.1:3500/";
const onlySidecar = (url) => url.startsWith(SIDECAR);

async function seed({ env = { DAPR_HTTP_PORT: "3500" }, dapr = new FakeDapr(), http = {} } = {}) {
  const r = await runGuest(CLI, { env, handler: dapr.handle, http: { allow: onlySidecar, ...http } });
  return { ...r, dapr };
}

const bodyJson = (req) => JSON.parse(req.body.toString());

test("seed flow succeeds against a Dapr-like sidecar", async () => {
  const r = await seed();
  assert.equal(r.stderr, "");
  assert.equal(r.exitCode, 0);
  assert.deepEqual(r.stdout.split("\n"), [
    'weapon = "Death Star"',
    'planets = {"name":"Tatooine","test":123}',
    "seed flow: OK",
    "",
  ]);
  assert.equal(r.openHandles, 0, "every response handle is closed");
  assert.equal(r.stats.maxOpen, 1);

  const [saveWeapon, savePlanets, getWeapon, getPlanets] = r.stats.requests;
  assert.equal(r.stats.requests.length, 4);
  assert.equal(saveWeapon.method, "POST");
  assert.equal(saveWeapon.url, "http://127.0.0.1:3500/v1.0/state/statestore");
  assert.deepEqual(saveWeapon.headers, [["content-type", "application/json"]]);
  assert.deepEqual(bodyJson(saveWeapon), [{ key: "weapon", value: "Death Star" }]);
  assert.equal(savePlanets.url, "http://127.0.0.1:3500/v1.0/state/statestore");
  assert.deepEqual(bodyJson(savePlanets), [{ key: "planets", value: { name: "Tatooine", test: 123 } }]);
  assert.equal(getWeapon.method, "GET");
  assert.equal(getWeapon.url, "http://127.0.0.1:3500/v1.0/state/statestore/weapon");
  assert.equal(getWeapon.body.length, 0);
  assert.equal(getPlanets.url, "http://127.0.0.1:3500/v1.0/state/statestore/planets");
  assert.equal(r.dapr.stores.get("statestore").get("weapon"), '"Death Star"');
});

test("port defaults to 3500 without DAPR_HTTP_PORT", async () => {
  // Not an empty environment: Node's WASI answers environ_get with EINVAL when
  // there are no variables at all, and the wasi-shim aborts on that (wasmtime
  // does not). The Go host always passes DAPR_HTTP_PORT anyway.
  const r = await seed({ env: { HOME: "/" } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.ok(r.stats.requests.every((q) => q.url.startsWith(SIDECAR)));
});

test("DAPR_HTTP_PORT and STATE_STORE are honoured", async () => {
  const r = await seed({
    env: { DAPR_HTTP_PORT: "3601", STATE_STORE: "my store" },
    dapr: new FakeDapr({ stores: ["my store"] }),
    http: { allow: (url) => url.startsWith("http://127.0.0.1:3601/") },
  });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stats.requests[0].url, "http://127.0.0.1:3601/v1.0/state/my%20store");
  assert.equal(r.stats.requests[2].url, "http://127.0.0.1:3601/v1.0/state/my%20store/weapon");
});

test("DAPR_HTTP_ENDPOINT wins over DAPR_HTTP_PORT", async () => {
  const r = await seed({
    env: { DAPR_HTTP_ENDPOINT: "http://dapr.local:9000/", DAPR_HTTP_PORT: "3500" },
    http: { allow: (url) => url.startsWith("http://dapr.local:9000/v1.0/") },
  });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stats.requests[0].url, "http://dapr.local:9000/v1.0/state/statestore");
});

test("DAPR_API_TOKEN is sent as dapr-api-token", async () => {
  const r = await seed({
    env: { DAPR_API_TOKEN: "s3cret" },
    dapr: new FakeDapr({ apiToken: "s3cret" }),
  });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.deepEqual(r.stats.requests[0].headers, [["content-type", "application/json"], ["dapr-api-token", "s3cret"]]);
});

test("values are compared parsed, not as text", async () => {
  const dapr = new FakeDapr({
    onGet: (_s, key, text) => (key === "planets" ? '{\n  "test" : 123.0,\n  "name": "Tatooine"\n}\n' : ` ${text} `),
  });
  const r = await seed({ dapr });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /seed flow: OK/);
});

test("body is read in chunks until body_read yields 0 bytes", async () => {
  const r = await seed({ http: { bodyChunk: 3 } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.ok(r.stats.calls.body_read > 10);
});

const failures = [
  {
    name: "a changed object",
    dapr: () => new FakeDapr({ onGet: (_s, k, t) => (k === "planets" ? '{"name":"Tatooine","test":124}' : t) }),
    reason: /planets: test is not 123/,
  },
  {
    name: "a string read back as an object",
    dapr: () => new FakeDapr({ onGet: (_s, k, t) => (k === "weapon" ? '{"weapon":"Death Star"}' : t) }),
    reason: /weapon: expected a JSON string, got object/,
  },
  {
    name: "invalid JSON read back",
    dapr: () => new FakeDapr({ onGet: (_s, k, t) => (k === "planets" ? '{"name":"Tatooine",' : t) }),
    reason: /planets: not valid JSON/,
  },
  {
    name: "a key missing on read (204)",
    dapr: () => new FakeDapr({ onGet: () => "" }),
    reason: /weapon: not found after save/,
  },
  {
    name: "an unknown state store (400)",
    env: { STATE_STORE: "nope" },
    reason: /save state nope: unexpected HTTP status 400: .*ERR_STATE_STORE_NOT_FOUND/,
  },
  {
    name: "a refused destination",
    http: { allow: () => false },
    reason: /wasi_experimental_http\.req failed: 7 destination_not_allowed/,
  },
  {
    name: "a transport error",
    handler: () => ({ error: ErrorCode.request_error }),
    reason: /req failed: 11 request_error/,
  },
];

for (const f of failures) {
  test(`seed flow fails cleanly on ${f.name}`, async () => {
    const dapr = f.dapr ? f.dapr() : new FakeDapr();
    const handler = f.handler ?? dapr.handle;
    const r = await runGuest(CLI, {
      env: { DAPR_HTTP_PORT: "3500", ...(f.env ?? {}) },
      handler,
      http: { allow: onlySidecar, ...(f.http ?? {}) },
    });
    assert.equal(r.exitCode, 1);
    assert.doesNotMatch(r.stdout, /seed flow: OK/);
    const lines = r.stderr.split("\n").filter(Boolean);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^seed flow: FAILED: /);
    assert.match(lines[0], f.reason);
    assert.equal(r.openHandles, 0);
  });
}

// probe.wasm: the raw HTTP layer, including header_get and buffer growth.

test("probe reads a large body and a header longer than its first buffer", async () => {
  const big = "x".repeat(10_000) + "END";
  const long = "v".repeat(1000);
  const r = await runGuest(PROBE, {
    args: ["GET", "http://example.test/big"],
    handler: () => ({ status: 203, headers: [["Content-Type", long], ["x-a", "1"]], body: big }),
  });
  assert.equal(r.exitCode, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.equal(lines[0], "status: 203");
  assert.equal(lines[1], `content-type: ${long}`);
  assert.equal(lines[2], "headers: 2");
  assert.equal(lines[3], `body-bytes: ${big.length}`);
  assert.equal(lines[4], big);
  assert.equal(r.openHandles, 0);
});

test("probe sends a body and reports a missing header", async () => {
  let seen;
  const r = await runGuest(PROBE, {
    args: ["PUT", "http://example.test/echo", "héllo"],
    handler: (req) => {
      seen = req;
      return { status: 204 };
    },
  });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(seen.method, "PUT");
  assert.equal(seen.body.toString("utf8"), "héllo");
  assert.deepEqual(seen.headers, [["content-type", "text/plain"]]);
  assert.match(r.stdout, /^status: 204\ncontent-type: \(none\)\nheaders: 0\nbody-bytes: 0\n/);
});

for (const [args, reason] of [
  [["GET", "not a url"], /req failed: 10 invalid_url/],
  [["GE T", "http://example.test/"], /req failed: 8 invalid_method/],
  [["GET"], /usage: probe METHOD URL/],
]) {
  test(`probe reports ${args.join(" ")} as a failure`, async () => {
    const r = await runGuest(PROBE, { args, handler: () => ({ status: 200 }) });
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /^probe: FAILED: /);
    assert.match(r.stderr, reason);
  });
}

// client-guest.wasm (test/client-guest.ts): every DaprClient method.

test("DaprClient methods send Dapr's requests and read its answers", async () => {
  const dapr = new FakeDapr();
  const r = await runGuest(join(build, "test", "client-guest.wasm"), {
    env: {
      DAPR_HTTP_PORT: "3500", REQUEST_METHOD: "PUT", PATH_INFO: "/p", QUERY_STRING: "a=1&b=x+y%21&c&bad=%zz",
      HTTP_X_TRACE_ID: "t1", CONTENT_TYPE: "text/plain", CONTENT_LENGTH: "10",
    },
    stdin: "hello bodyIGNORED",
    handler: dapr.handle,
    http: { allow: onlySidecar },
  });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.deepEqual(r.stdout.split("\n"), [
    "get missing: null",
    "save number: ok",
    "save quoted: ok",
    'get quoted: say "hi"', // the value ends with a newline, hence the "" line
    "",
    "save bulk: error status=409 conflict=true",
    "save raw: ok",
    "save invalid: error kind=3 status=0 code=0 ",
    "delete: ok",
    "get deleted: null",
    "publish json: ok",
    "publish text: ok",
    "publish invalid: error kind=3 status=0 code=0 ",
    'invoke: 200 application/json {"app":"orders","method":"api/v1/list","httpMethod":"POST","body":"{\\"q\\":1}"}',
    "call: 404",
    "parse kind: expected a JSON object, got array: [1]",
    "insert: ok",
    "insert again: error status=409 conflict=true",
    "get with etag: c=1 etag set",
    "save with etag: ok",
    "save stale etag: error status=409 conflict=true",
    "get with etag missing: null",
    "save options: ok",
    "transaction: ok",
    'after transaction: t1={"a":1} c=null',
    "transaction stale etag: error status=500 conflict=true",
    "all or nothing: t3=null",
    "transaction invalid: error kind=3 status=0 code=0 ",
    "publish metadata: ok",
    "publish unknown: error kind=2 status=404 code=0 ",
    'raw member: {"a":[1,"}"]} 1 null null',
    'event: id=e1 topic=t data={"a":[1,"}"]} raw=false',
    'raw event: topic=tp pubsub=ps data="hello" raw=true',
    'object event: topic=tp data={"a":1} raw=true',
    "bad event: event: the CloudEvent body is not a JSON object",
    "wagi: PUT /p a=1 b=x y! c= bad=%zz nope=null trace=t1 ct=text/plain len=10 none=null event=no body=hello body again=10",
    "",
  ]);
  assert.equal(r.wasiCalls.fd_read, 1, "CONTENT_LENGTH bytes in one read, no read for EOF");
  assert.equal(r.openHandles, 0);

  const reqs = r.stats.requests.map((q) => `${q.method} ${q.url}`);
  assert.deepEqual(reqs, [
    "GET http://127.0.0.1:3500/v1.0/state/statestore/missing",
    "POST http://127.0.0.1:3500/v1.0/state/statestore",
    "POST http://127.0.0.1:3500/v1.0/state/statestore",
    "GET http://127.0.0.1:3500/v1.0/state/statestore/a%2Fb%20c",
    "POST http://127.0.0.1:3500/v1.0/state/statestore",
    "POST http://127.0.0.1:3500/v1.0/state/statestore",
    "DELETE http://127.0.0.1:3500/v1.0/state/statestore/n",
    "GET http://127.0.0.1:3500/v1.0/state/statestore/n",
    "POST http://127.0.0.1:3500/v1.0/publish/pubsub/orders",
    "POST http://127.0.0.1:3500/v1.0/publish/pubsub/logs",
    "POST http://127.0.0.1:3500/v1.0/invoke/orders/method/api/v1/list",
    "GET http://127.0.0.1:3500/v1.0/metadata",
    "POST http://127.0.0.1:3500/v1.0/state/statestore", // insert
    "POST http://127.0.0.1:3500/v1.0/state/statestore", // insert again
    "GET http://127.0.0.1:3500/v1.0/state/statestore/c",
    "POST http://127.0.0.1:3500/v1.0/state/statestore", // with etag
    "POST http://127.0.0.1:3500/v1.0/state/statestore", // stale etag
    "GET http://127.0.0.1:3500/v1.0/state/statestore/nothing",
    "POST http://127.0.0.1:3500/v1.0/state/statestore", // options
    "GET http://127.0.0.1:3500/v1.0/state/statestore/c",
    "POST http://127.0.0.1:3500/v1.0/state/statestore/transaction",
    "GET http://127.0.0.1:3500/v1.0/state/statestore/t1",
    "GET http://127.0.0.1:3500/v1.0/state/statestore/c",
    "POST http://127.0.0.1:3500/v1.0/state/statestore/transaction",
    "GET http://127.0.0.1:3500/v1.0/state/statestore/t3",
    "POST http://127.0.0.1:3500/v1.0/publish/pubsub/orders?metadata.ttlInSeconds=60&metadata.odd%20key=a%26b%3Dc",
    "POST http://127.0.0.1:3500/v1.0/publish/nopubsub/orders",
  ]);
  const bodies = r.stats.requests.map((q) => q.body.toString());
  assert.deepEqual(JSON.parse(bodies[1]), [{ key: "n", value: 42 }]);
  assert.deepEqual(JSON.parse(bodies[2]), [{ key: "a/b c", value: 'say "hi"\n' }]);
  assert.deepEqual(JSON.parse(bodies[4]), [
    { key: "e", value: [1, 2], etag: "7", metadata: { ttlInSeconds: "60" } },
    { key: "b", value: true },
  ]);
  assert.equal(bodies[5], '[{"key":"raw","value":{"a":[1,{}]}}]');
  assert.deepEqual(r.stats.requests[9].headers, [["content-type", "text/plain"]]);
  assert.equal(bodies[9], "plain text");
  assert.deepEqual(dapr.published.map((p) => `${p.pubsub}/${p.topic} ${p.body}`), [
    'pubsub/orders {"id":1}',
    "pubsub/logs plain text",
    'pubsub/orders {"id":2}',
  ]);
  assert.equal(r.stats.requests[7].headers.length, 0, "no content-type without a body");

  // The etag and options of the new calls, as Dapr expects them.
  const etag = dapr.etags.get("statestore");
  assert.deepEqual(JSON.parse(bodies[12]), [{ key: "c", value: 1, options: { concurrency: "first-write" } }]);
  const c = JSON.parse(bodies[15])[0];
  assert.equal(typeof c.etag, "string");
  assert.deepEqual(c, { key: "c", value: 2, etag: c.etag, options: { concurrency: "first-write" } });
  assert.deepEqual(JSON.parse(bodies[18]), [{
    key: "o", value: {}, metadata: { ttlInSeconds: "5" }, options: { concurrency: "last-write", consistency: "strong" },
  }]);
  const tx = JSON.parse(bodies[20]);
  assert.deepEqual(tx, {
    operations: [
      { operation: "upsert", request: { key: "t1", value: { a: 1 }, metadata: { ttlInSeconds: "60" } } },
      { operation: "upsert", request: { key: "t2", value: "two" } },
      { operation: "delete", request: { key: "c", etag: tx.operations[2].request.etag } },
    ],
    metadata: { partitionKey: "p1" },
  });
  assert.ok(tx.operations[2].request.etag);
  assert.equal(etag.has("c"), false, "deleted by the transaction");
  assert.deepEqual(dapr.published[2].metadata, { ttlInSeconds: "60", "odd key": "a&b=c" });
  assert.equal(dapr.published[2].contentType, "application/json");
});

// service.wasm (assembly/service.ts): the order service, run per request as
// `wasi-dapr-host serve` runs it (WAGI: environment + stdin in, stdout out).

const SERVICE = join(build, "service.wasm");
const SERVICE_ENV = { DAPR_HTTP_PORT: "3500" };

function call(dapr, method, path, body = "", { env = {}, headers = {} } = {}) {
  const route = path.startsWith("/orders/") ? "/orders/..." : path;
  return runWagi(SERVICE, {
    method, path, route, body, headers, env: { ...SERVICE_ENV, ...env }, handler: dapr.handle, http: { allow: onlySidecar },
  });
}

const createOrder = (dapr, order, opts) => call(dapr, "POST", "/orders", typeof order === "string" ? order : JSON.stringify(order),
  { headers: { "Content-Type": "application/x-www-form-urlencoded" }, ...opts }); // what `curl -d` sends

function deliver(dapr, data, opts = {}) {
  return deliverEvent(SERVICE, {
    topic: "order-created", route: "/events/order-created", data, env: SERVICE_ENV,
    handler: dapr.handle, http: { allow: onlySidecar }, ...opts,
  });
}

/** The events the fake sidecar recorded, delivered in order; returns the verdicts. */
async function deliverPublished(dapr) {
  const verdicts = [];
  for (const p of dapr.published.splice(0)) verdicts.push((await deliver(dapr, p.body)).verdict);
  return verdicts;
}

test("service: POST /orders stores the order, publishes order-created and answers 201", async () => {
  const dapr = new FakeDapr();
  const order = { id: "1", item: "droid", quantity: 2 };
  const r = await createOrder(dapr, { ...order, note: "not stored" });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.deepEqual(r.response, {
    status: 201,
    headers: { "content-type": "application/json", location: "/orders/1" },
    body: JSON.stringify(order),
  });
  assert.match(r.stdout, /^status: 201\n/, "status is explicit, or the host would take location for a 302");
  assert.deepEqual(dapr.value("statestore", "order-1"), order);
  assert.equal(dapr.published.length, 1);
  const [p] = dapr.published;
  assert.deepEqual([p.pubsub, p.topic, p.contentType], ["pubsub", "order-created", "application/json"]);
  assert.deepEqual(JSON.parse(p.body), order);
  // Insert-only save: first-write without an etag.
  assert.deepEqual(bodyJson(r.stats.requests[0]), [{ key: "order-1", value: order, options: { concurrency: "first-write" } }]);
  assert.equal(r.stats.requests.length, 2);
  assert.equal(r.openHandles, 0);
  // The body in one fd_read (CONTENT_LENGTH known), the response in one fd_write.
  assert.equal(r.wasiCalls.fd_read, 1);
  assert.equal(r.wasiCalls.fd_write, 1);
});

const badOrders = [
  ["{", /^body: not valid JSON$/],
  ["", /^body: not valid JSON$/],
  ["[]", /^body: expected a JSON object/],
  [{}, /^id: required$/],
  [{ id: 5, item: "x", quantity: 1 }, /^id: must be a string$/],
  [{ id: "", item: "x", quantity: 1 }, /^id: must be 1 to 64 characters/],
  [{ id: "a/b", item: "x", quantity: 1 }, /^id: must be 1 to 64 characters/],
  [{ id: "x".repeat(65), item: "x", quantity: 1 }, /^id: must be 1 to 64/],
  [{ id: "1", quantity: 1 }, /^item: required$/],
  [{ id: "1", item: 3, quantity: 1 }, /^item: must be a string$/],
  [{ id: "1", item: "  ", quantity: 1 }, /^item: must not be empty$/],
  [{ id: "1", item: "x".repeat(201), quantity: 1 }, /^item: must be at most 200 characters$/],
  [{ id: "1", item: "x" }, /^quantity: required$/],
  [{ id: "1", item: "x", quantity: "2" }, /^quantity: must be an integer$/],
  [{ id: "1", item: "x", quantity: null }, /^quantity: must be an integer$/],
  [{ id: "1", item: "x", quantity: 1.5 }, /^quantity: must be an integer$/],
  [{ id: "1", item: "x", quantity: 0 }, /^quantity: must be at least 1$/],
  [{ id: "1", item: "x", quantity: -3 }, /^quantity: must be at least 1$/],
  [{ id: "1", item: "x", quantity: 1e12 }, /^quantity: must be at most 2147483647$/],
];

for (const [order, message] of badOrders) {
  const name = typeof order === "string" ? JSON.stringify(order) : JSON.stringify(order).slice(0, 60);
  test(`service: POST /orders ${name} is 400 ${message}`, async () => {
    const dapr = new FakeDapr();
    const r = await createOrder(dapr, order);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.response.status, 400);
    assert.equal(r.response.headers["content-type"], "application/json");
    const body = JSON.parse(r.response.body);
    assert.deepEqual(Object.keys(body), ["error"]);
    assert.match(body.error, message);
    assert.equal(r.stats.requests.length, 0, "nothing reaches the sidecar");
    assert.equal(dapr.published.length, 0);
  });
}

test("service: quantity 2.0 and 1e3 are integers; other fields are dropped", async () => {
  const dapr = new FakeDapr();
  let r = await createOrder(dapr, '{"id":"a","item":"x","quantity":2.0}');
  assert.equal(r.response.status, 201, r.response.body);
  assert.equal(r.response.body, '{"id":"a","item":"x","quantity":2}');
  r = await createOrder(dapr, '{"quantity":1e3,"item":"caf\\u00e9 \\"b\\"","id":"B-2.x_~"}');
  assert.equal(r.response.status, 201, r.response.body);
  assert.deepEqual(JSON.parse(r.response.body), { id: "B-2.x_~", item: 'café "b"', quantity: 1000 });
  assert.equal(r.response.headers.location, "/orders/B-2.x_~");
});

test("service: a large request body is read whole", async () => {
  const dapr = new FakeDapr();
  const body = JSON.stringify({ padding: "p".repeat(100_000), id: "big", item: "x", quantity: 1 });
  let r = await createOrder(dapr, body);
  assert.equal(r.response.status, 201, r.response.body);
  assert.equal(r.wasiCalls.fd_read, 1);
  // Without CONTENT_LENGTH the guest reads until EOF.
  r = await createOrder(dapr, body.replace('"big"', '"big2"'), { env: { CONTENT_LENGTH: "" } });
  assert.equal(r.response.status, 201, r.response.body);
  assert.ok(r.wasiCalls.fd_read > 2);
});

test("service: POST /orders for an existing id is 409 and publishes nothing", async () => {
  const dapr = new FakeDapr();
  await createOrder(dapr, { id: "1", item: "droid", quantity: 2 });
  const r = await createOrder(dapr, { id: "1", item: "other", quantity: 1 });
  assert.equal(r.response.status, 409);
  assert.deepEqual(JSON.parse(r.response.body), { error: "order 1 already exists" });
  assert.deepEqual(dapr.value("statestore", "order-1"), { id: "1", item: "droid", quantity: 2 });
  assert.equal(dapr.published.length, 1);
});

test("service: a failed publish is 502 and the order is not kept", async () => {
  const dapr = new FakeDapr({ pubsubs: [] });
  const r = await createOrder(dapr, { id: "1", item: "droid", quantity: 2 });
  assert.equal(r.response.status, 502);
  assert.match(JSON.parse(r.response.body).error, /publish pubsub\/order-created: unexpected HTTP status 404.*ERR_PUBSUB_NOT_FOUND/);
  assert.equal(dapr.value("statestore", "order-1"), undefined);
  assert.match(r.stderr, /^orders: publish pubsub\/order-created/);
  assert.deepEqual(r.stats.requests.map((q) => q.method), ["POST", "POST", "DELETE"]);
});

test("service: GET /orders/<id> is 200 with the order or 404", async () => {
  const dapr = new FakeDapr();
  await createOrder(dapr, { id: "1", item: "droid", quantity: 2 });
  let r = await call(dapr, "GET", "/orders/1");
  assert.equal(r.exitCode, 0, r.stderr);
  assert.deepEqual(r.response, { status: 200, headers: { "content-type": "application/json" }, body: '{"id":"1","item":"droid","quantity":2}' });
  assert.equal(r.stats.requests[0].url, "http://127.0.0.1:3500/v1.0/state/statestore/order-1");
  assert.equal(r.wasiCalls.fd_write, 1);
  assert.equal(r.wasiCalls.fd_read ?? 0, 0, "no body, no read");

  r = await call(dapr, "GET", "/orders/2");
  assert.equal(r.response.status, 404);
  assert.equal(r.response.body, '{"error":"order 2 not found"}');
  r = await call(dapr, "GET", '/orders/a"b/c');
  assert.equal(r.response.status, 404);
  assert.deepEqual(JSON.parse(r.response.body), { error: 'order a"b/c not found' });
  assert.equal(r.stats.requests.length, 0, "an id that cannot exist is not looked up");
  r = await call(dapr, "GET", "/orders/");
  assert.equal(r.response.status, 404);
  assert.equal(r.response.body, '{"error":"no order id in the path: use /orders/<id>"}');
});

test("service: sidecar failures are 502", async () => {
  const dapr = new FakeDapr();
  const r = await call(dapr, "GET", "/orders/1", "", { env: { STATE_STORE: "nosuchstore" } });
  assert.equal(r.response.status, 502);
  assert.match(JSON.parse(r.response.body).error, /get state nosuchstore\/order-1: unexpected HTTP status 400/);
  const down = await runWagi(SERVICE, {
    method: "GET", path: "/stats", env: SERVICE_ENV, handler: () => ({ error: ErrorCode.request_error }),
  });
  assert.equal(down.response.status, 502);
  assert.match(JSON.parse(down.response.body).error, /request_error/);
});

test("service: GET /stats reports the orders-created counter", async () => {
  const dapr = new FakeDapr();
  let r = await call(dapr, "GET", "/stats");
  assert.deepEqual(r.response, { status: 200, headers: { "content-type": "application/json" }, body: '{"created":0}' });
  dapr.put("statestore", "orders-created", "41");
  r = await call(dapr, "GET", "/stats");
  assert.equal(r.response.body, '{"created":41}');
  dapr.put("statestore", "orders-created", '"x"');
  r = await call(dapr, "GET", "/stats");
  assert.equal(r.response.status, 500);
});

test("service: order-created events count the orders (get with etag, save with etag + first-write)", async () => {
  const dapr = new FakeDapr();
  for (const id of ["1", "2", "3"]) await createOrder(dapr, { id, item: "droid", quantity: 1 });
  const first = dapr.published[0];
  const r = await deliver(dapr, first.body);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.verdict, "SUCCESS");
  assert.deepEqual(r.response, { status: 200, headers: { "content-type": "application/json" }, body: '{"status":"SUCCESS"}' });
  assert.equal(r.stderr, "");
  // The first increment: no counter yet, so no etag (insert-only).
  assert.deepEqual(r.stats.requests.map((q) => `${q.method} ${q.url}`), [
    "GET http://127.0.0.1:3500/v1.0/state/statestore/orders-created",
    "POST http://127.0.0.1:3500/v1.0/state/statestore",
  ]);
  assert.deepEqual(bodyJson(r.stats.requests[1]), [{ key: "orders-created", value: 1, options: { concurrency: "first-write" } }]);
  assert.equal(dapr.value("statestore", "orders-created"), 1);

  const etag = dapr.etags.get("statestore").get("orders-created");
  const second = await deliver(dapr, dapr.published[1].body);
  assert.equal(second.verdict, "SUCCESS");
  assert.deepEqual(bodyJson(second.stats.requests[1]), [{ key: "orders-created", value: 2, etag, options: { concurrency: "first-write" } }]);

  await deliver(dapr, dapr.published[2].body);
  const stats = await call(dapr, "GET", "/stats");
  assert.equal(stats.response.body, '{"created":3}');
});

test("service: an etag conflict on the counter answers RETRY, and the redelivery counts", async () => {
  let racing = 2; // another instance writes the counter between our read and our write, twice
  const dapr = new FakeDapr({
    beforeWrite: (_store, keys, fake) => {
      if (racing > 0 && keys.includes("orders-created")) {
        racing--;
        const n = fake.value("statestore", "orders-created") ?? 0;
        fake.put("statestore", "orders-created", String(n + 1));
      }
    },
  });
  await createOrder(dapr, { id: "1", item: "droid", quantity: 1 });
  const event = dapr.published[0].body;

  // Missing counter, created meanwhile: the insert-only save conflicts.
  let r = await deliver(dapr, event);
  assert.equal(r.verdict, "RETRY");
  assert.deepEqual(r.response, { status: 200, headers: { "content-type": "application/json" }, body: '{"status":"RETRY"}' });
  assert.match(r.stderr, /^orders: event RETRY: etag conflict on orders-created\n$/);
  assert.equal(dapr.value("statestore", "orders-created"), 1, "the other writer's value stands");

  // Existing counter, changed meanwhile: the stale etag conflicts.
  r = await deliver(dapr, event);
  assert.equal(r.verdict, "RETRY");
  assert.equal(dapr.value("statestore", "orders-created"), 2);
  assert.equal(dapr.conflicts, 2);

  // Dapr redelivers; no race this time.
  r = await deliver(dapr, event);
  assert.equal(r.verdict, "SUCCESS");
  assert.equal(dapr.value("statestore", "orders-created"), 3);
});

for (const [name, body, why] of [
  ["a body that is not JSON", "garbage", /the CloudEvent body is not a JSON object/],
  ["a CloudEvent that is an array", "[]", /the CloudEvent body is not a JSON object/],
  ["data that is not an order", cloudEvent({ topic: "order-created", data: '{"id":1}' }), /is not an order: id: must be a string/],
  ["data that is a string", cloudEvent({ topic: "order-created", data: "droid", contentType: "text/plain" }), /is not an order: body: expected a JSON object/],
  ["no data", '{"specversion":"1.0","id":"x","topic":"order-created"}', /is not an order: body: expected a JSON object/],
]) {
  test(`service: an order-created event with ${name} is dropped`, async () => {
    const dapr = new FakeDapr();
    const r = await deliver(dapr, undefined, { body });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.verdict, "DROP");
    assert.equal(r.response.body, '{"status":"DROP"}');
    assert.match(r.stderr, /^orders: event DROP: /);
    assert.match(r.stderr, why);
    assert.equal(r.stats.requests.length, 0);
  });
}

test("service: an order published with rawPayload (no CloudEvent around it) is counted", async () => {
  // daprd passes such a message on as is; the host still labels it application/cloudevents+json.
  const dapr = new FakeDapr();
  const r = await deliver(dapr, undefined, { body: '{"id":"raw","item":"droid","quantity":1}' });
  assert.equal(r.verdict, "SUCCESS", r.stderr);
  assert.equal(dapr.value("statestore", "orders-created"), 1);
});

test("service: sidecar errors while counting answer RETRY", async () => {
  const dapr = new FakeDapr();
  const r = await deliver(dapr, '{"id":"1","item":"droid","quantity":1}', { env: { ...SERVICE_ENV, STATE_STORE: "nosuchstore" } });
  assert.equal(r.verdict, "RETRY");
  assert.match(r.stderr, /ERR_STATE_STORE_NOT_FOUND/);
});

test("service: unknown routes are 404, wrong methods 405", async () => {
  const dapr = new FakeDapr();
  for (const [method, path, status, allow] of [
    ["GET", "/nope", 404],
    ["GET", "/", 404],
    ["GET", "/orders", 405, "POST"],
    ["PUT", "/orders", 405, "POST"],
    ["DELETE", "/orders/1", 405, "GET"],
    ["POST", "/orders/1", 405, "GET"],
    ["POST", "/stats", 405, "GET"],
    ["GET", "/events/order-created", 405, "POST"],
  ]) {
    const r = await call(dapr, method, path);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.response.status, status, `${method} ${path}`);
    assert.equal(r.response.headers.allow, allow, `${method} ${path}`);
    assert.ok(JSON.parse(r.response.body).error);
    assert.equal(r.stats.requests.length, 0);
  }
});

test("service: STATE_STORE and PUBSUB_NAME are honoured", async () => {
  const dapr = new FakeDapr({ stores: ["orders-db"], pubsubs: ["bus"] });
  const env = { STATE_STORE: "orders-db", PUBSUB_NAME: "bus" };
  const r = await createOrder(dapr, { id: "7", item: "x", quantity: 3 }, { env });
  assert.equal(r.response.status, 201, r.response.body);
  assert.deepEqual(dapr.value("orders-db", "order-7"), { id: "7", item: "x", quantity: 3 });
  assert.equal(dapr.published[0].pubsub, "bus");
  const ev = await deliver(dapr, dapr.published[0].body, { pubsub: "bus", env: { ...SERVICE_ENV, ...env } });
  assert.equal(ev.verdict, "SUCCESS");
  assert.equal(dapr.value("orders-db", "orders-created"), 1);
});

test("service: the whole flow — create, deliver, read, count", async () => {
  const dapr = new FakeDapr();
  for (let i = 1; i <= 5; i++) {
    const r = await createOrder(dapr, { id: `o${i}`, item: `item ${i}`, quantity: i });
    assert.equal(r.response.status, 201);
  }
  assert.deepEqual(await deliverPublished(dapr), Array(5).fill("SUCCESS"));
  const r = await call(dapr, "GET", "/orders/o4");
  assert.deepEqual(JSON.parse(r.response.body), { id: "o4", item: "item 4", quantity: 4 });
  assert.equal((await call(dapr, "GET", "/stats")).response.body, '{"created":5}');
});
