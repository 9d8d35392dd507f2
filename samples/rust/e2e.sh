#!/usr/bin/env bash
# End-to-end check of the Rust samples against a real daprd and the real host, on free ports:
#   1. `wasi-dapr-host run build/cli.wasm` prints "seed flow: OK" (and fails cleanly on a missing store);
#   2. `wasi-dapr-host serve` with the order service behind daprd: create 3 orders through daprd's
#      invoke API, read one back, check the error answers, and poll /stats until the order-created
#      events have counted 3.
# Needs ./build.sh first, bin/wasi-dapr-host (make -C ../.. build) and daprd (../../scripts/get-daprd.sh).
# Every process it starts is stopped on exit; logs stay in build/e2e/.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
HOST=${WASI_DAPR_HOST:-$ROOT/bin/wasi-dapr-host}
LOGS=build/e2e
mkdir -p "$LOGS"

fail() { echo "e2e: FAILED: $*" >&2; exit 1; }
[ -x "$HOST" ] || fail "no host binary at $HOST: run 'make -C $ROOT build' (or go build -o bin/wasi-dapr-host ./cmd/wasi-dapr-host)"
[ -f build/cli.wasm ] && [ -f build/service.wasm ] || fail "modules not built: run ./build.sh"
DAPRD=${DAPRD:-$(bash "$ROOT/scripts/get-daprd.sh")}
[ -x "$DAPRD" ] || fail "no daprd"

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# A port nobody listens on (and that we have not handed out yet).
USED=" "
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    case "$USED" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      USED="$USED$p "
      echo "$p"
      return
    fi
  done
}

# wait_http URL SECONDS: until URL answers 2xx.
wait_http() {
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.2
  done
  return 1
}

# start_daprd NAME APP_ID [APP_PORT]: sets H (HTTP port) and starts daprd in the background.
start_daprd() {
  local name=$1 app=$2 app_port=${3:-} g i m
  H=$(free_port) g=$(free_port) i=$(free_port) m=$(free_port)
  local args=(--app-id "$app" --dapr-http-port "$H" --dapr-grpc-port "$g" --dapr-internal-grpc-port "$i"
    --metrics-port "$m" --resources-path "$ROOT/components" --placement-host-address "" --scheduler-host-address "")
  [ -n "$app_port" ] && args+=(--app-port "$app_port")
  "$DAPRD" "${args[@]}" >"$LOGS/daprd-$name.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$H/v1.0/healthz/outbound" 60 || fail "daprd did not start (log: $LOGS/daprd-$name.log)"
}

echo "==> 1. seed flow: wasi-dapr-host run build/cli.wasm"
start_daprd seed seed
OUT=$(DAPR_HTTP_PORT=$H "$HOST" run --cache-dir "$LOGS/cache" build/cli.wasm 2>"$LOGS/cli.stderr") || fail "cli exited $?: $(cat "$LOGS/cli.stderr")"
echo "$OUT" | sed 's/^/    /'
for want in 'weapon = "Death Star"' 'planets = {"name":"Tatooine","test":123}' 'seed flow: OK'; do
  grep -qxF "$want" <<<"$OUT" || fail "cli output lacks: $want"
done
[ "$(curl -s "http://127.0.0.1:$H/v1.0/state/statestore/weapon")" = '"Death Star"' ] || fail "weapon is not in the store"
set +e
DAPR_HTTP_PORT=$H "$HOST" run --cache-dir "$LOGS/cache" --env STATE_STORE=nosuchstore build/cli.wasm >/dev/null 2>"$LOGS/cli-missing.stderr"
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "seed flow: FAILED: save state nosuchstore/weapon: HTTP 400" "$LOGS/cli-missing.stderr" ||
  fail "a missing store should fail with exit 1: exit $rc, $(cat "$LOGS/cli-missing.stderr")"
echo "    missing store: exit 1, $(grep -o 'seed flow: FAILED: [^{]*' "$LOGS/cli-missing.stderr")"
cleanup
PIDS=()

echo "==> 2. order service: wasi-dapr-host serve --config wasi-dapr.yaml behind daprd"
APP=$(free_port)
start_port=$(free_port) # reserve the sidecar's HTTP port before the host starts: it needs it
# The shipped manifest, with the module's path made absolute; the host passes DAPR_HTTP_PORT on.
sed "s|path: build/service.wasm|path: $PWD/build/service.wasm|" wasi-dapr.yaml >"$LOGS/wasi-dapr.yaml"
APP_PORT=$APP DAPR_HTTP_PORT=$start_port "$HOST" serve --config "$LOGS/wasi-dapr.yaml" --listen-address 127.0.0.1 \
  --cache-dir "$LOGS/cache" --log-format json >"$LOGS/host-serve.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$APP/healthz" 60 || fail "the host did not become ready (log: $LOGS/host-serve.log)"
# daprd on the reserved port (start_daprd picks its own; do it by hand here).
g=$(free_port) i=$(free_port) m=$(free_port) H=$start_port
"$DAPRD" --app-id orders --app-port "$APP" --dapr-http-port "$H" --dapr-grpc-port "$g" --dapr-internal-grpc-port "$i" \
  --metrics-port "$m" --resources-path "$ROOT/components" --placement-host-address "" --scheduler-host-address "" \
  >"$LOGS/daprd-orders.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$H/v1.0/healthz" 60 || fail "daprd did not start (log: $LOGS/daprd-orders.log)"
for ((n = 0; n < 100; n++)); do
  curl -s "http://127.0.0.1:$H/v1.0/metadata" | grep -q '"order-created"' && break
  sleep 0.2
done
INV="http://127.0.0.1:$H/v1.0/invoke/orders/method"

# call METHOD PATH [BODY]: sets CODE, BODY and HEADERS.
call() {
  local args=(-s -X "$1" -D "$LOGS/headers" -o "$LOGS/body" -w '%{http_code}' "$INV$2")
  [ $# -ge 3 ] && args+=(-H 'content-type: application/json' --data-binary "$3")
  CODE=$(curl "${args[@]}")
  BODY=$(cat "$LOGS/body")
  HEADERS=$(tr -d '\r' <"$LOGS/headers")
}
expect() { # expect CODE BODY-SUBSTRING what
  [ "$CODE" = "$1" ] && [[ "$BODY" == *"$2"* ]] || fail "$3: want $1 with $2, got $CODE $BODY"
  printf '    %-44s %s %s\n' "$3" "$CODE" "$BODY"
}

for n in 1 2 3; do
  call POST /orders "{\"id\":\"e2e-$n\",\"item\":\"lamp\",\"quantity\":$n}"
  expect 201 "\"id\":\"e2e-$n\"" "POST /orders (e2e-$n)"
  grep -qix "location: /orders/e2e-$n" <<<"$HEADERS" || fail "no location header: $HEADERS"
done
call GET /orders/e2e-2
expect 200 '{"id":"e2e-2","item":"lamp","quantity":2}' "GET /orders/e2e-2"
call GET /orders/nosuch
expect 404 '"error"' "GET /orders/nosuch"
call POST /orders '{"id":"e2e-4","item":"lamp","quantity":0}'
expect 400 'quantity' "POST /orders (quantity 0)"
call POST /orders '{"item":"lamp","quantity":1}'
expect 400 'id:' "POST /orders (no id)"
call POST /orders '{"id":"e2e-1","item":"lamp","quantity":1}'
expect 409 'already exists' "POST /orders (e2e-1 again)"
call DELETE /orders/e2e-1
expect 405 'not allowed' "DELETE /orders/e2e-1"
# A garbage event is dropped and does not count.
curl -fs -X POST "http://127.0.0.1:$H/v1.0/publish/pubsub/order-created" -H 'content-type: text/plain' -d garbage ||
  fail "publish garbage"

# Events are delivered asynchronously: poll.
for ((n = 0; n < 100; n++)); do
  call GET /stats
  [ "$BODY" = '{"created":3}' ] && break
  sleep 0.2
done
expect 200 '{"created":3}' "GET /stats (after the events)"
for ((n = 0; n < 50; n++)); do
  grep -q '"verdict":"DROP"' "$LOGS/host-serve.log" && break
  sleep 0.2
done
grep -q '"verdict":"DROP"' "$LOGS/host-serve.log" || fail "the garbage event was not dropped"
sleep 0.5
call GET /stats
expect 200 '{"created":3}' "GET /stats (garbage event dropped)"
echo "==> e2e: OK"
