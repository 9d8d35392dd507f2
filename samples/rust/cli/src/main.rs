//! The seed flow: save two state values through the Dapr sidecar, read them back and check them.
//! Run once with `wasi-dapr-host run build/cli.wasm` (store: env STATE_STORE, default `statestore`).
//!
//! stdout: one line per value read, then `seed flow: OK`.
//! On failure: `seed flow: FAILED: <reason>` on stderr and exit status 1.

use dapr::{json, Client};

const WEAPON: &str = "Death Star";
const PLANETS_JSON: &str = r#"{"name":"Tatooine","test":123}"#;

/// Runs the flow; the lines to print, or the reason it failed.
fn seed() -> Result<Vec<String>, String> {
    let store = dapr::env("STATE_STORE").unwrap_or_else(|| "statestore".to_string());
    let dapr = Client::from_env();
    let err = |e: dapr::Error| e.to_string();

    // A plain string, stored as the JSON string "Death Star".
    dapr.save_state(&store, "weapon", &json::escape(WEAPON)).map_err(err)?;
    // A JSON object, through the bulk save (one item).
    dapr.save_bulk_state(&store, &[("planets", PLANETS_JSON)]).map_err(err)?;

    let weapon = dapr.get_state(&store, "weapon").map_err(err)?.ok_or("weapon: not found after save (204)")?;
    let value = json::parse(&weapon).map_err(|e| format!("weapon: {} in {}", e, weapon))?;
    if value.as_str() != Some(WEAPON) {
        return Err(format!("weapon: expected {}, got {}", json::escape(WEAPON), weapon));
    }

    let planets = dapr.get_state(&store, "planets").map_err(err)?.ok_or("planets: not found after save (204)")?;
    // Compare the structure, not the text: key order and whitespace may differ between stores.
    match json::equal(&planets, PLANETS_JSON) {
        Ok(true) => {}
        Ok(false) => return Err(format!("planets: expected {}, got {}", PLANETS_JSON, planets)),
        Err(e) => return Err(format!("planets: {} in {}", e, planets)),
    }

    Ok(vec![format!("weapon = {}", weapon.trim()), format!("planets = {}", planets.trim())])
}

fn main() {
    match seed() {
        Ok(lines) => {
            for line in lines {
                println!("{}", line);
            }
            println!("seed flow: OK");
        }
        Err(reason) => {
            eprintln!("seed flow: FAILED: {}", reason);
            std::process::exit(1);
        }
    }
}
