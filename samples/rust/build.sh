#!/usr/bin/env bash
# Builds the Rust samples with a plain rustc (no cargo, no crates.io): Debian's /usr/bin/rustc with
# libstd-rust-dev-wasm32, never rustup's rustc (which usually lacks the wasm target).
#
#   ./build.sh          build/lib/libdapr.rlib, build/cli.wasm, build/service.wasm (each ≤ 400 KiB)
#   ./build.sh test     native unit tests: the json module alone, the dapr library, the service logic
#   ./build.sh clean    remove build/
#
# Environment: WASM_RUSTC (default /usr/bin/rustc), WASM_TARGET (default: wasm32-wasi, or
# wasm32-wasip1 for a rustc that has only that), MAX_WASM_KIB (default 400).
set -euo pipefail
cd "$(dirname "$0")"

RUSTC=${WASM_RUSTC:-/usr/bin/rustc}
MAX_KIB=${MAX_WASM_KIB:-400}
OUT=build

die() { echo "build.sh: $*" >&2; exit 1; }

if [ ! -x "$RUSTC" ]; then
  die "no rustc at $RUSTC; install Debian's: apt-get install rustc libstd-rust-dev-wasm32
(or set WASM_RUSTC to a rustc that has the wasm32-wasi target; with rustup use cargo, see README.md)"
fi
SYSROOT=$("$RUSTC" --print sysroot)

has_target() { [ -d "$SYSROOT/lib/rustlib/$1/lib" ]; }

pick_target() {
  if [ -n "${WASM_TARGET:-}" ]; then
    has_target "$WASM_TARGET" || die "$RUSTC ($SYSROOT) has no std for $WASM_TARGET"
    echo "$WASM_TARGET"
  elif has_target wasm32-wasi; then
    echo wasm32-wasi
  elif has_target wasm32-wasip1; then
    echo wasm32-wasip1
  else
    if [ "$SYSROOT" = /usr ]; then
      die "$RUSTC has no std for wasm32-wasi; install it: apt-get install libstd-rust-dev-wasm32"
    fi
    die "$RUSTC ($SYSROOT) has no std for wasm32-wasi: use Debian's rustc (apt-get install rustc libstd-rust-dev-wasm32),
or with rustup: rustup target add wasm32-wasip1 && cargo build --release --target wasm32-wasip1"
  fi
}

build() {
  local target
  target=$(pick_target)
  echo "==> $("$RUSTC" --version) ($RUSTC), target $target"
  mkdir -p "$OUT/lib"
  local common=(--edition 2021 --target "$target" -C opt-level=s -C strip=debuginfo)
  "$RUSTC" "${common[@]}" --crate-type rlib --crate-name dapr dapr/src/lib.rs -o "$OUT/lib/libdapr.rlib"
  local bin
  for bin in cli service; do
    "$RUSTC" "${common[@]}" -C lto --crate-type bin --crate-name "$bin" "$bin/src/main.rs" \
      --extern dapr="$OUT/lib/libdapr.rlib" -L "$OUT/lib" -o "$OUT/$bin.wasm"
  done
  local too_big=0 f size
  for f in "$OUT/cli.wasm" "$OUT/service.wasm"; do
    size=$(stat -c %s "$f")
    printf '    %-18s %7d bytes (%d KiB)\n' "$f" "$size" $(((size + 1023) / 1024))
    if [ "$size" -gt $((MAX_KIB * 1024)) ]; then
      echo "build.sh: $f is larger than $MAX_KIB KiB" >&2
      too_big=1
    fi
  done
  [ "$too_big" = 0 ] || exit 1
}

# Native unit tests (the host's own target: x86_64 here). The json module has no dependencies and is
# tested on its own; the library's raw imports are stubs off wasm32, so it links natively too.
run_tests() {
  echo "==> native unit tests with $("$RUSTC" --version)"
  local t="$OUT/test"
  mkdir -p "$t"
  "$RUSTC" --edition 2021 --test dapr/src/json.rs -o "$t/json-tests"
  "$t/json-tests" -q
  "$RUSTC" --edition 2021 --test --crate-name dapr dapr/src/lib.rs -o "$t/dapr-tests"
  "$t/dapr-tests" -q
  "$RUSTC" --edition 2021 --crate-type rlib --crate-name dapr dapr/src/lib.rs -o "$t/libdapr.rlib"
  "$RUSTC" --edition 2021 --test --crate-name service service/src/main.rs --extern dapr="$t/libdapr.rlib" -o "$t/service-tests"
  "$t/service-tests" -q
}

case "${1:-build}" in
  build) build ;;
  test) run_tests ;;
  clean) rm -rf "$OUT" ;;
  *) die "usage: $0 [build|test|clean]" ;;
esac
