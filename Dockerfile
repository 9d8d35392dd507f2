# wasi-dapr-host with the AssemblyScript sample guests.
#
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" -t wasi-dapr-host:latest .
#   docker run --rm -p 8080:8080 wasi-dapr-host:latest            # serves the order service (needs a sidecar)
#   docker compose up                                             # with daprd and Redis: see deploy/README.md
#
# Stages: host (the cgo binary), guests (the .wasm modules), and the runtime image, which holds the
# binary, the guests and their manifest, and no compiler. Checked by deploy/deploy_test.go (go test ./deploy/).

# --- 1. the host: a cgo binary (wasmtime-go ships a static libwasmtime; gcc is all it needs) ---------
FROM golang:1.26-bookworm AS host
ENV CGO_ENABLED=1
WORKDIR /src
# Only what the build needs gets downloaded (go mod download would also fetch the test-only modules);
# the cache mounts keep modules and build results between builds.
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/wasi-dapr-host ./cmd/wasi-dapr-host

# --- 2. the guests: every samples/assemblyscript/assembly/*.ts -> build/<app>.wasm ---------------------
FROM node:20-bookworm-slim AS guests
WORKDIR /src/samples/assemblyscript
COPY samples/assemblyscript/package.json samples/assemblyscript/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --loglevel=error
COPY samples/assemblyscript/ ./
RUN npm run build

# --- 3. the runtime image: glibc (the binary links it dynamically), CA certificates, curl for the health check
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 65532 nonroot \
    && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin nonroot
COPY --from=host /out/wasi-dapr-host /usr/local/bin/wasi-dapr-host
COPY --from=guests /src/samples/assemblyscript/build/ /app/samples/assemblyscript/build/
COPY samples/assemblyscript/wasi-dapr.yaml /app/samples/assemblyscript/wasi-dapr.yaml
WORKDIR /app
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# APP_PORT as `dapr run` sets it; the compiled-module cache goes to /tmp (writable, also with a
# read-only root filesystem when /tmp is a volume).
ENV APP_PORT=8080 WASI_DAPR_CACHE_DIR=/tmp/wasi-dapr-cache
EXPOSE 8080
# /healthz is 200 once every module is compiled (HTTP app protocol).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --start-interval=1s --retries=3 \
    CMD curl --fail --silent --show-error --max-time 2 "http://127.0.0.1:${APP_PORT:-8080}/healthz" >/dev/null || exit 1
ENTRYPOINT ["wasi-dapr-host"]
CMD ["serve", "--config", "/app/samples/assemblyscript/wasi-dapr.yaml"]
