// Test-only guest: drives every DaprClient method once and prints one line per
// step, so test/guests.test.mjs can check both the requests and the results.
// Built by `npm test` to build/test/client-guest.wasm; not shipped.

import { DaprClient, DaprError, JSON, StateItem, parseJson, rawJson } from "../assembly/dapr";

function errLine(e: DaprError | null): string {
  if (e === null) return "ok";
  return "error kind=" + (<i32>e.kind).toString() + " status=" + e.status.toString() +
    " code=" + e.code.toString() + " " + e.codeName;
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

  const withEtag = StateItem.json("e", "[1,2]").withEtag("7");
  const meta = new Map<string, string>();
  meta.set("ttlInSeconds", "60");
  withEtag.metadata = meta;
  console.log("save bulk: " + errLine(dapr.saveBulkState(store, [withEtag, StateItem.of<bool>("b", true)])));

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
}

main();
