package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasi-dapr-host/wasi-dapr-host/internal/testenv"
)

// The contract `dapr run` relies on: daprd started with the flags the CLI passes, the host started with
// only the environment the CLI sets — and no flag of its own beyond the module. With an API token, so
// the host must also carry it to the sidecar for its guests.
func TestDaprRunContract(t *testing.T) {
	root := testenv.RepoRoot(t)
	service := sampleWasm(t, "samples/assemblyscript/build/service.wasm")
	cli := sampleWasm(t, "samples/assemblyscript/build/cli.wasm")
	appPort, httpPort := testenv.FreePort(t), testenv.FreePort(t)
	const token = "dapr-run-token"
	d := testenv.StartDaprd(t, testenv.DaprdOptions{AppID: "orders", AppPort: appPort, AppProtocol: "http", HTTPPort: httpPort,
		APIToken: token, ResourcesPath: filepath.Join(root, "components"),
		Args: []string{"--app-channel-address", "127.0.0.1", "--app-max-concurrency", "-1"}})
	// What `dapr run --app-id orders --app-port P -- …` puts in the app's environment.
	env := []string{
		"APP_ID=orders", "APP_PORT=" + strconv.Itoa(appPort), "APP_PROTOCOL=http", "APP_CHANNEL_ADDRESS=127.0.0.1",
		"DAPR_HTTP_PORT=" + strconv.Itoa(d.HTTPPort), "DAPR_GRPC_PORT=" + strconv.Itoa(d.GRPCPort),
		"DAPR_METRICS_PORT=" + strconv.Itoa(d.MetricsPort), "DAPR_API_TOKEN=" + token,
	}
	bin := testenv.HostBinary(t)

	// run: the seed flow reaches its sidecar with no flag at all.
	r := testenv.Run(t, 60*time.Second, env, bin, "run", cli)
	if r.Code != 0 || !strings.Contains(r.Stdout, "seed flow: OK") {
		t.Fatalf("run: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}

	// serve: only the module (and its subscription) on the command line.
	p := testenv.Start(t, env, bin, "serve", "--module", service, "--subscribe", "pubsub/order-created=/events/order-created")
	testenv.WaitHTTP(t, p, fmt.Sprintf("http://127.0.0.1:%d/healthz", appPort), 30*time.Second)
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, d.HTTPURL()+"/v1.0/invoke/orders/method/"+path, strings.NewReader(body))
		req.Header.Set("dapr-api-token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, "daprd to reach the app", 30*time.Second, func() bool { code, _ := call("GET", "stats", ""); return code == 200 })
	waitFor(t, "daprd to load the subscription", 30*time.Second, func() bool {
		req, _ := http.NewRequest("GET", d.HTTPURL()+"/v1.0/metadata", nil)
		req.Header.Set("dapr-api-token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "order-created")
	})
	if code, body := call("POST", "orders", `{"id":"dr1","item":"droid","quantity":1}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	waitFor(t, "the order-created event to be counted", 15*time.Second, func() bool {
		_, body := call("GET", "stats", "")
		return strings.Contains(body, `"created":1`)
	})
}
