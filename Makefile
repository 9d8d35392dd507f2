# wasi-dapr-host — run WebAssembly (WASI) guests as Dapr applications.
#   make demo     build everything, start a real daprd, run the AssemblyScript guest against it
#   make test     everything CI runs: unit, ABI and integration tests against a real daprd
#   make bench    the benchmarks behind the figures in the README
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN := bin/wasi-dapr-host
AS_DIR := samples/assemblyscript
AS_WASM := $(AS_DIR)/build/cli.wasm $(AS_DIR)/build/service.wasm $(AS_DIR)/build/probe.wasm
RS_DIR := samples/rust
RS_WASM := $(RS_DIR)/build/cli.wasm $(RS_DIR)/build/service.wasm

.PHONY: all build demo test bench samples samples-as samples-rust daprd tools clean

all: build

build: $(BIN)

$(BIN): $(shell find cmd host httpext allowlist daprclient internal serve wagi manifest -name '*.go' -not -name '*_test.go') go.mod go.sum
	@mkdir -p bin
	CGO_ENABLED=1 $(GO) build -ldflags "-X main.version=$(VERSION)" -o $@ ./cmd/wasi-dapr-host

# daprd v1.16.5: from PATH, ~/.dapr/bin or the cache; otherwise built from source once (minutes).
daprd:
	@bash scripts/get-daprd.sh >/dev/null

# Tools the build needs that a fresh machine may lack (Node.js/npm for AssemblyScript).
tools:
	@bash scripts/ensure-tools.sh

$(AS_DIR)/node_modules/.package-lock.json: $(AS_DIR)/package-lock.json | tools
	cd $(AS_DIR) && npm ci --no-audit --no-fund --loglevel=error

AS_SRC := $(shell find $(AS_DIR)/assembly -name '*.ts') $(AS_DIR)/asconfig.json $(AS_DIR)/scripts/build.mjs

$(AS_WASM) &: $(AS_SRC) $(AS_DIR)/node_modules/.package-lock.json
	cd $(AS_DIR) && npm run --silent build

samples-as: $(AS_WASM)

RS_SRC := $(shell find $(RS_DIR)/dapr $(RS_DIR)/cli $(RS_DIR)/service -name '*.rs') $(RS_DIR)/build.sh

$(RS_WASM) &: $(RS_SRC) | tools
	bash $(RS_DIR)/build.sh

samples-rust: $(RS_WASM)

samples: samples-as samples-rust

demo: build daprd samples
	@bash scripts/demo.sh

test: tools build daprd samples
	cd $(AS_DIR) && npm test --silent
	bash $(RS_DIR)/build.sh test
	$(GO) vet ./...
	$(GO) test -count=1 -race ./allowlist/
	$(GO) test -count=1 -timeout 20m ./...

bench: build daprd samples-as
	$(GO) test -run '^$$' -bench . -benchtime 5000x ./host/ ./httpext/ ./serve/
	$(GO) test -run '^$$' -bench . -benchtime 20000x ./sockext/
	$(GO) test -run '^$$' -bench PeakRSS -benchtime 3x ./cmd/wasi-dapr-host/

clean:
	rm -rf bin $(AS_DIR)/build $(RS_DIR)/build
