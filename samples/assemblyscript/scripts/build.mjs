// Builds every app (each assembly/*.ts file; the library lives in
// assembly/dapr/) to build/<app>.wasm with the release target of asconfig.json.
// Usage: node scripts/build.mjs [--target debug] [app | path/to/entry.ts ...]
// An app name builds assembly/<app>.ts to build/<app>.wasm; a path such as
// test/client-guest.ts builds to build/test/client-guest.wasm.
import asc from "assemblyscript/asc";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Each app must stay within this size when optimized (release target).
const SIZE_BUDGET = 100 * 1024;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);

const args = process.argv.slice(2);
let target = "release";
const ti = args.indexOf("--target");
if (ti >= 0) {
  target = args[ti + 1];
  args.splice(ti, 2);
}
const apps = args.length > 0
  ? args
  : readdirSync("assembly").filter((f) => f.endsWith(".ts")).map((f) => basename(f, ".ts"));

let failed = false;
for (const app of apps) {
  const entry = app.endsWith(".ts") ? app : `assembly/${app}.ts`;
  const out = app.endsWith(".ts")
    ? join("build", dirname(app), basename(app, ".ts") + ".wasm")
    : `build/${app}.wasm`;
  mkdirSync(dirname(out), { recursive: true });
  const { error, stderr } = await asc.main([
    entry,
    "--config", "asconfig.json",
    "--target", target,
    "--outFile", out,
  ]);
  const log = stderr.toString().split("\n")
    // binaryen's note when --converge stops early; harmless.
    .filter((l) => l.trim() !== "" && !l.includes("Last converge was suboptimal"))
    .join("\n");
  if (log) console.error(log);
  if (error) {
    console.error(`${app}: ${error.message}`);
    failed = true;
    continue;
  }
  const size = statSync(out).size;
  console.log(`${out}  ${size} bytes (${(size / 1024).toFixed(1)} KiB)`);
  if (target === "release" && size > SIZE_BUDGET) {
    console.error(`${app}: ${size} bytes is over the ${SIZE_BUDGET / 1024} KiB budget`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
