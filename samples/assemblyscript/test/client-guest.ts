// Test-only guest: drives every DaprClient method once and prints one line per
// step, so test/guests.test.mjs can check both the requests and the results.
// Built by `npm test` to build/test/client-guest.wasm; not shipped.

import {
  Consistency, Concurrency, DaprClient, DaprError, JSON, StateItem, StateOperation, parseJson, rawJson, rawMember,
} from "../assembly/dapr";
import { CloudEvent, request } from "../assembly/dapr/wagi";

function errLine(e: DaprError | null): string {
  if (e === null) return "ok";
  return "error kind=" + (<i32>e.kind).toString() + " status=" + e.status.toString() +
    " code=" + e.code.toString() + " " + e.codeName;
}

function conflictLine(e: DaprError | null): string {
  if (e === null) return "ok";
  return "error status=" + e.status.toString() + " conflict=" + (e.isEtagConflict ? "true" : "false");
}

function q(name: string): string {
  const v = request().queryParam(name);
  return v !== null ? v : "null";
}

function h(name: string): string {
  const v = request().header(name);
  return v !== null ? v : "null";
}

function main(): void {
  const dapr = new DaprClient();
  const store = "statestore";

  const missing = dapr.getState(store, "missing");
  console.log("get missing: " + (missing.ok ? (missing.value === null ? "null" : missing.value!) : missing.error!.message));

  console.log("save number: " + errLine(dapr.saveState<i32>(store, "n", 42)));
  console.log("save quoted: " + errLine(dapr.saveState<string>(store, "a/b c", "say \"hi\"\n")));
  const quoted = dapr.getState(store, "a/b c");
  console.log("get quoted: " + (quoted.ok && quoted.value !== null ? parseJson<string>(quoted.value!).value : "?"));

  // An etag on a key that does not exist: Dapr refuses the whole request (409).
  const withEtag = StateItem.json("e", "[1,2]").withEtag("7");
  const meta = new Map<string, string>();
  meta.set("ttlInSeconds", "60");
  withEtag.metadata = meta;
  console.log("save bulk: " + conflictLine(dapr.saveBulkState(store, [withEtag, StateItem.of<bool>("b", true)])));

  console.log("save raw: " + errLine(dapr.saveState<JSON.Raw>(store, "raw", rawJson("{\"a\":[1,{}]}"))));
  console.log("save invalid: " + errLine(dapr.saveStateJson(store, "bad", "{nope")));

  console.log("delete: " + errLine(dapr.deleteState(store, "n")));
  const gone = dapr.getState(store, "n");
  console.log("get deleted: " + (gone.ok && gone.value === null ? "null" : "?"));

  console.log("publish json: " + errLine(dapr.publish("pubsub", "orders", "{\"id\":1}")));
  console.log("publish text: " + errLine(dapr.publish("pubsub", "logs", "plain text", "text/plain")));
  console.log("publish invalid: " + errLine(dapr.publish("pubsub", "orders", "not json")));

  const inv = dapr.invoke("orders", "api/v1/list", "POST", "{\"q\":1}");
  if (inv.ok) {
    const reply = inv.value;
    const ct = reply.header("Content-Type");
    console.log("invoke: " + reply.status.toString() + " " + (ct !== null ? ct : "-") + " " + reply.text());
  } else {
    console.log("invoke: " + inv.error!.message);
  }

  const other = dapr.call("GET", "/v1.0/metadata", null, null);
  console.log("call: " + (other.ok ? other.value.status.toString() : other.error!.message));

  const obj = parseJson<JSON.Obj>("[1]");
  console.log("parse kind: " + (obj.ok ? "ok" : obj.error!.message));

  // -- etags ------------------------------------------------------------------
  console.log("insert: " + conflictLine(dapr.saveStateWithEtag(store, "c", "1", null)));
  console.log("insert again: " + conflictLine(dapr.saveStateWithEtag(store, "c", "2", null)));
  const c = dapr.getStateWithEtag(store, "c");
  const entry = c.value!;
  const etag = entry.etag!;
  console.log("get with etag: " + entry.key + "=" + entry.value + " etag " + (etag.length > 0 ? "set" : "empty"));
  console.log("save with etag: " + conflictLine(dapr.saveStateWithEtag(store, "c", "2", etag)));
  console.log("save stale etag: " + conflictLine(dapr.saveStateWithEtag(store, "c", "3", etag)));
  const missing2 = dapr.getStateWithEtag(store, "nothing");
  console.log("get with etag missing: " + (missing2.ok && missing2.value === null ? "null" : "?"));
  const opts = StateItem.json("o", "{}").withConcurrency(Concurrency.LastWrite).withConsistency(Consistency.Strong)
    .withMetadata("ttlInSeconds", "5");
  console.log("save options: " + errLine(dapr.saveBulkState(store, [opts])));

  // -- transactions -------------------------------------------------------------
  const fresh = dapr.getStateWithEtag(store, "c").value!.etag!;
  const txMeta = new Map<string, string>();
  txMeta.set("partitionKey", "p1");
  console.log("transaction: " + conflictLine(dapr.executeStateTransaction(store, [
    StateOperation.upsert(StateItem.json("t1", "{\"a\":1}").withMetadata("ttlInSeconds", "60")),
    StateOperation.upsert(StateItem.of<string>("t2", "two")),
    StateOperation.delete("c", fresh),
  ], txMeta)));
  const t1 = dapr.getState(store, "t1");
  const c2 = dapr.getState(store, "c");
  console.log("after transaction: t1=" + t1.value! + " c=" + (c2.value === null ? "null" : c2.value!));
  console.log("transaction stale etag: " + conflictLine(dapr.executeStateTransaction(store, [
    StateOperation.upsert(StateItem.json("t3", "3")),
    StateOperation.delete("t1", "999"),
  ])));
  const t3 = dapr.getState(store, "t3");
  console.log("all or nothing: t3=" + (t3.value === null ? "null" : t3.value!));
  console.log("transaction invalid: " + errLine(dapr.executeStateTransaction(store, [
    StateOperation.upsert(StateItem.json("t4", "{nope")),
  ])));

  // -- publish with metadata ----------------------------------------------------
  const pubMeta = new Map<string, string>();
  pubMeta.set("ttlInSeconds", "60");
  pubMeta.set("odd key", "a&b=c");
  console.log("publish metadata: " + errLine(dapr.publish("pubsub", "orders", "{\"id\":2}", "application/json", pubMeta)));
  console.log("publish unknown: " + errLine(dapr.publish("nopubsub", "orders", "{}")));

  // -- JSON and events ------------------------------------------------------------
  const evText = "{\"specversion\":\"1.0\",\"id\":\"e1\",\"topic\":\"t\",\"data\" : {\"a\":[1,\"}\"]} ,\"x\":1}";
  console.log("raw member: " + rawMember(evText, "data")! + " " + rawMember(evText, "x")! + " " +
    (rawMember(evText, "nope") === null ? "null" : "?") + " " + (rawMember("[1]", "a") === null ? "null" : "?"));
  const ev = CloudEvent.parse(evText).value;
  console.log("event: id=" + ev.id + " topic=" + ev.topic + " data=" + ev.data + " raw=" + (ev.raw ? "true" : "false"));
  const rawEv = CloudEvent.parse("hello", "text/plain", "ps", "tp").value;
  console.log("raw event: topic=" + rawEv.topic + " pubsub=" + rawEv.pubsub + " data=" + rawEv.data + " raw=" + (rawEv.raw ? "true" : "false"));
  const plain = CloudEvent.parse("{\"a\":1}", "application/cloudevents+json", "ps", "tp").value;
  console.log("object event: topic=" + plain.topic + " data=" + plain.data + " raw=" + (plain.raw ? "true" : "false"));
  const badEv = CloudEvent.parse("[1]");
  console.log("bad event: " + (badEv.ok ? "ok" : badEv.error!.message));

  // -- the WAGI request (the test sets the environment and stdin) ---------------
  const req = request();
  console.log("wagi: " + req.method + " " + req.path + " a=" + q("a") + " b=" + q("b") + " c=" + q("c") +
    " bad=" + q("bad") + " nope=" + q("nope") + " trace=" + h("X-Trace-Id") + " ct=" + h("content-type") +
    " len=" + h("Content-Length") + " none=" + h("x-none") + " event=" + (req.isEvent ? "yes" : "no") +
    " body=" + req.text() + " again=" + req.body.byteLength.toString());
}

main();
