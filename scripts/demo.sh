#!/usr/bin/env bash
# make demo: start a real daprd with the in-memory state store and pub/sub, run a seed guest against it
# through wasi-dapr-host (the AssemblyScript one, or DEMO_GUEST=samples/rust/build/cli.wasm), stop
# daprd. Exits with the guest's status.
set -euo pipefail
cd "$(dirname "$0")/.."
daprd="$(bash scripts/get-daprd.sh)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || shuf -i 20000-60000 -n 1; }
http_port="${DAPR_HTTP_PORT:-$(free_port)}"
grpc_port="$(free_port)"
log="$(mktemp -t daprd-demo.XXXXXX.log)"

echo "==> starting daprd $("$daprd" --version) (app-id seed, HTTP API on 127.0.0.1:$http_port; log: $log)"
"$daprd" --app-id seed --dapr-http-port "$http_port" --dapr-grpc-port "$grpc_port" \
  --dapr-internal-grpc-port "$(free_port)" --metrics-port "$(free_port)" --dapr-listen-addresses 127.0.0.1 \
  --resources-path components --placement-host-address "" --scheduler-host-address "" \
  --log-level warn >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT

guest="${DEMO_GUEST:-samples/assemblyscript/build/cli.wasm}"
echo "==> wasi-dapr-host run $guest   (the guest may reach only its sidecar)"
start=$(date +%s%N)
set +e
DAPR_HTTP_PORT="$http_port" DAPR_GRPC_PORT="$grpc_port" \
  ./bin/wasi-dapr-host run --wait-for-sidecar=30s "$guest"
status=$?
set -e
echo "==> guest exited $status after $(( ($(date +%s%N) - start) / 1000000 )) ms (including waiting for daprd)"
curl -s "http://127.0.0.1:$http_port/v1.0/state/statestore/planets" >/dev/null 2>&1 && \
  echo "==> daprd holds planets = $(curl -s "http://127.0.0.1:$http_port/v1.0/state/statestore/planets")"
exit $status
