// The seed flow: save two state values through the Dapr sidecar, read them
// back and check them. Run once with `wasi-dapr-host run build/cli.wasm`.
//
// stdout: one line per value read, then "seed flow: OK".
// On failure: "seed flow: FAILED: <reason>" on stderr and exit status 1.

import { DaprClient, JSON, StateItem, env, parseJson } from "./dapr";

const WEAPON = "Death Star";
const PLANETS_JSON = "{\"name\":\"Tatooine\",\"test\":123}";

/** Runs the flow; returns null on success or the reason it failed. */
function seed(): string | null {
  const storeEnv = env("STATE_STORE");
  const store = storeEnv !== null ? storeEnv : "statestore";
  const dapr = new DaprClient();

  // A plain string: the client sends it as the JSON string "Death Star".
  let err = dapr.saveState<string>(store, "weapon", WEAPON);
  if (err !== null) return err.message;

  // A JSON object, through the bulk save (one item).
  err = dapr.saveBulkState(store, [StateItem.json("planets", PLANETS_JSON)]);
  if (err !== null) return err.message;

  // Read back the string.
  const weapon = dapr.getState(store, "weapon");
  if (!weapon.ok) return weapon.error!.message;
  const weaponJson = weapon.value;
  if (weaponJson === null) return "weapon: not found after save (204)";
  const weaponValue = parseJson<string>(weaponJson);
  if (!weaponValue.ok) return "weapon: " + weaponValue.error!.message;
  if (weaponValue.value != WEAPON) {
    return "weapon: expected " + JSON.stringify(WEAPON) + ", got " + weaponJson;
  }
  console.log("weapon = " + weaponJson.trim());

  // Read back the object and compare its fields, not its text.
  const planets = dapr.getState(store, "planets");
  if (!planets.ok) return planets.error!.message;
  const planetsJson = planets.value;
  if (planetsJson === null) return "planets: not found after save (204)";
  const planetsValue = parseJson<JSON.Obj>(planetsJson);
  if (!planetsValue.ok) return "planets: " + planetsValue.error!.message;
  const problem = checkPlanets(planetsValue.value);
  if (problem !== null) return "planets: " + problem + " in " + planetsJson;
  console.log("planets = " + planetsJson.trim());

  return null;
}

/** null if `obj` is {"name":"Tatooine","test":123} (any order, extra keys refused). */
function checkPlanets(obj: JSON.Obj): string | null {
  if (obj.size != 2) return "expected exactly the keys name and test";
  const name = obj.get("name");
  if (name === null) return "missing name";
  if (name.type != JSON.Types.String) return "name is not a string";
  if (name.get<string>() != "Tatooine") return "name is not \"Tatooine\"";
  const test = obj.get("test");
  if (test === null) return "missing test";
  if (!isNumber(test.type)) return "test is not a number";
  if (numberOf(test) != 123) return "test is not 123";
  return null;
}

function isNumber(t: u16): bool {
  return t >= JSON.Types.U8 && t <= JSON.Types.F64;
}

function numberOf(v: JSON.Value): f64 {
  switch (v.type) {
    case JSON.Types.U8: return <f64>v.get<u8>();
    case JSON.Types.U16: return <f64>v.get<u16>();
    case JSON.Types.U32: return <f64>v.get<u32>();
    case JSON.Types.U64: return <f64>v.get<u64>();
    case JSON.Types.I8: return <f64>v.get<i8>();
    case JSON.Types.I16: return <f64>v.get<i16>();
    case JSON.Types.I32: return <f64>v.get<i32>();
    case JSON.Types.I64: return <f64>v.get<i64>();
    case JSON.Types.F32: return <f64>v.get<f32>();
  }
  return v.get<f64>();
}

function main(): void {
  const reason = seed();
  if (reason !== null) {
    process.stderr.write("seed flow: FAILED: " + reason + "\n");
    process.exit(1);
    return;
  }
  console.log("seed flow: OK");
}

main();
