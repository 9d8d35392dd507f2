// Runs the built guests (npm run build first; npm test does) under the Node
// stand-in host of node-host.mjs: node:wasi + a JS wasi_experimental_http
// + a fake Dapr sidecar.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCode, FakeDapr, runGuest } from "./node-host.mjs";

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
    env: { DAPR_HTTP_PORT: "3500" },
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
    "save bulk: ok",
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
    "",
  ]);
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
  ]);
  assert.equal(r.stats.requests[7].headers.length, 0, "no content-type without a body");
});
