// Command wasi-dapr-host runs WebAssembly (WASI) guests as Dapr applications: guests reach their Dapr
// sidecar over the wasi_experimental_http API, behind a deny-by-default allow-list.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/wasi-dapr-host/wasi-dapr-host/daprclient"
	"github.com/wasi-dapr-host/wasi-dapr-host/host"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// usageError is a mistake on the command line: exit status 2 and a pointer to --help.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitError carries the guest's exit status out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

const topUsage = `wasi-dapr-host runs WebAssembly (WASI) guests as Dapr applications.

Usage:
  wasi-dapr-host run [flags] MODULE.wasm [ARGS...]   run a guest once (try: wasi-dapr-host run --help)
  wasi-dapr-host serve --module M.wasm | --config F  be the Dapr app (try: wasi-dapr-host serve --help)
  wasi-dapr-host version                             print versions

Every flag can also be set from the environment as WASI_DAPR_<NAME> (e.g. WASI_DAPR_ALLOW_HOSTS).
`

func main() {
	// Traps are ordinary results here; don't let an inherited RUST_BACKTRACE make every trap pay for a
	// native stack capture.
	os.Setenv("RUST_LIB_BACKTRACE", "0")
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runCommand(args[1:], stdout, stderr)
	case "serve":
		err = serveCommand(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "wasi-dapr-host %s\nwasmtime %s\nDapr API %s (tested with daprd %s)\n",
			version, host.WasmtimeVersion, daprclient.APIVersion, daprclient.TestedRuntime)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, topUsage)
	default:
		err = usageError{fmt.Sprintf("unknown command %q; use run or version", args[0])}
	}
	var ue usageError
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "wasi-dapr-host: %s (see wasi-dapr-host %s --help)\n", ue.msg, args[0])
		return 2
	default:
		fmt.Fprintf(stderr, "wasi-dapr-host: %s\n", err)
		return 1
	}
}
