#!/usr/bin/env bash
# Finds daprd, or builds the official Dapr runtime from source through the Go module proxy and caches it.
# Prints the path of a usable daprd binary on stdout as its last line; progress goes to stderr.
#
#   DAPRD=/path/to/daprd        use this binary, no search
#   DAPR_VERSION=1.16.5         the version to build when none is found
#   WASI_DAPR_CACHE=~/.cache/wasi-dapr-host   where built binaries are kept
set -euo pipefail

want="${DAPR_VERSION:-1.16.5}"
cache="${WASI_DAPR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasi-dapr-host}"
cached="$cache/daprd-v$want/daprd"

say() { printf 'get-daprd: %s\n' "$*" >&2; }

if [ -n "${DAPRD:-}" ]; then
  [ -x "$DAPRD" ] || { say "DAPRD=$DAPRD is not an executable file"; exit 1; }
  echo "$DAPRD"; exit 0
fi
for c in "$(command -v daprd 2>/dev/null || true)" "$HOME/.dapr/bin/daprd" "$cached"; do
  if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; exit 0; fi
done

command -v go >/dev/null || { say "go is not installed; install Go or put daprd on PATH"; exit 1; }

say "no daprd found on PATH, in ~/.dapr/bin or in $cache"
say "building daprd v$want from source (github.com/dapr/dapr/cmd/daprd, -tags stablecomponents)."
say "The first build downloads ~1 GB of modules and compiles ~3000 packages: expect 5-15 minutes on 2 cores."
say "It is cached in $cached; later runs take no time."

work="$(mktemp -d "${TMPDIR:-/tmp}/daprd-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"

modfile="$(GOFLAGS= go mod download -json "github.com/dapr/dapr@v$want" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
[ -f "$modfile" ] || { say "could not download github.com/dapr/dapr@v$want from the Go module proxy"; exit 1; }

# go install pkg@version refuses modules with replace directives, so a helper module requires dapr and
# repeats dapr's own replace lines (single-line and block forms).
{
  echo "module daprd-build"
  echo
  sed -n 's/^go \([0-9.]*\)$/go \1/p' "$modfile"
  echo
  echo "require github.com/dapr/dapr v$want"
  echo
  awk '
    /^replace \($/ { inblock=1; print; next }
    inblock && /^\)$/ { inblock=0; print; next }
    inblock { print; next }
    /^replace / { print }
  ' "$modfile"
} > go.mod
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/dapr/dapr/cmd/daprd"
GO

export GOFLAGS="-mod=mod"
say "resolving modules (go: downloading … lines follow)"
go mod download -x github.com/dapr/dapr 2>&1 | grep -v '^#' | sed -u 's/^/  /' >&2 || true
mkdir -p "$(dirname "$cached")"
say "compiling (one line per package)"
# One progress line every 50 packages (go build -v names each package as it compiles).
set +e
CGO_ENABLED=0 go build -v -tags stablecomponents -trimpath \
  -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$want" \
  -o "$cached.tmp" github.com/dapr/dapr/cmd/daprd 2>&1 | awk '
    /error|cannot|undefined/ { print "  " $0; fflush(); next }
    { n++; if (n % 50 == 0) { printf "  [%d packages compiled] %s\n", n, $0; fflush() } }' >&2
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ] || [ ! -x "$cached.tmp" ]; then say "daprd build failed (see above)"; exit 1; fi
mv -f "$cached.tmp" "$cached"
say "built $cached ($("$cached" --version 2>/dev/null || echo "v$want"))"
echo "$cached"
