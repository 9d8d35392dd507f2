#!/usr/bin/env bash
# Installs what the build needs beyond Go when it is missing: gcc (cgo), Node.js and npm (AssemblyScript),
# Debian's rustc with the wasm32-wasi standard library (Rust guests).
set -euo pipefail
need=()
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v gcc >/dev/null || need+=(gcc)
# Rust guests: Debian's rustc and its wasm32-wasi standard library (rustup's rustc lacks the target).
[ -x /usr/bin/rustc ] || need+=(rustc)
[ -d /usr/lib/rustlib/wasm32-wasi/lib ] || need+=(libstd-rust-dev-wasm32)
# The scale-out test: Redis state store and pub/sub shared by two replicas.
command -v redis-server >/dev/null || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure-tools: installing ${need[*]} from Debian's packages" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
