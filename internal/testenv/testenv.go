// Package testenv starts the real parts integration tests need — daprd on free loopback ports, the host
// binary — and cleans up every process it starts.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RepoRoot is the folder holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	daprdOnce sync.Once
	daprdPath string
	daprdErr  error
)

// DaprdPath finds daprd (DAPRD, PATH, ~/.dapr/bin or the build cache) through scripts/get-daprd.sh, which
// builds it when it is nowhere (minutes; `make daprd` does it ahead of the tests).
func DaprdPath(t testing.TB) string {
	t.Helper()
	daprdOnce.Do(func() {
		cmd := exec.Command("bash", filepath.Join(RepoRoot(t), "scripts", "get-daprd.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			daprdErr = fmt.Errorf("scripts/get-daprd.sh: %v", err)
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		daprdPath = lines[len(lines)-1]
	})
	if daprdErr != nil {
		t.Fatalf("daprd is needed for this test and could not be found or built: %v (run `make daprd`)", daprdErr)
	}
	return daprdPath
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// DaprdOptions configure one daprd.
type DaprdOptions struct {
	AppID         string
	AppPort       int    // 0: no app channel
	AppProtocol   string // http (default) or grpc
	ResourcesPath string // default: the repository's components/
	APIToken      string
	HTTPPort      int      // 0: a free port
	Args          []string // more flags
}

// Daprd is a running sidecar.
type Daprd struct {
	HTTPPort, GRPCPort, MetricsPort int
	AppID                           string
	cmd                             *exec.Cmd
	done                            chan struct{}
	log                             *bytes.Buffer
}

// Stop sends daprd SIGTERM and waits (then SIGKILL) for it to exit.
func (d *Daprd) Stop(grace time.Duration) {
	StopProcess(d.cmd, d.done, grace)
}

// HTTPURL is the base URL of its HTTP API.
func (d *Daprd) HTTPURL() string { return "http://127.0.0.1:" + strconv.Itoa(d.HTTPPort) }

// Env is the environment `dapr run` gives the app next to this daprd.
func (d *Daprd) Env() []string {
	return []string{"DAPR_HTTP_PORT=" + strconv.Itoa(d.HTTPPort), "DAPR_GRPC_PORT=" + strconv.Itoa(d.GRPCPort), "APP_ID=" + d.AppID}
}

// Log is what daprd printed so far.
func (d *Daprd) Log() string { return d.log.String() }

// StartDaprd starts daprd standalone on free loopback ports and waits until its outbound side is ready.
// It is stopped (SIGTERM, then SIGKILL) when the test ends; its log is printed if the test failed.
func StartDaprd(t testing.TB, o DaprdOptions) *Daprd {
	t.Helper()
	// A port that was free when picked can be taken before daprd binds it: try again on fresh ports.
	for attempt := 1; ; attempt++ {
		d, early := startDaprd(t, o)
		if d != nil {
			return d
		}
		if attempt == 3 {
			t.Fatalf("daprd exited early three times; last time:\n%s", early)
		}
		t.Logf("daprd exited early (attempt %d), retrying on other ports:\n%s", attempt, early)
	}
}

func startDaprd(t testing.TB, o DaprdOptions) (*Daprd, string) {
	t.Helper()
	bin := DaprdPath(t)
	if o.AppID == "" {
		o.AppID = "test-app"
	}
	if o.ResourcesPath == "" {
		o.ResourcesPath = filepath.Join(RepoRoot(t), "components")
	}
	if o.HTTPPort == 0 {
		o.HTTPPort = FreePort(t)
	}
	d := &Daprd{HTTPPort: o.HTTPPort, GRPCPort: FreePort(t), MetricsPort: FreePort(t), AppID: o.AppID, log: &bytes.Buffer{}}
	args := []string{
		"--app-id", o.AppID,
		"--dapr-http-port", strconv.Itoa(d.HTTPPort),
		"--dapr-grpc-port", strconv.Itoa(d.GRPCPort),
		"--dapr-internal-grpc-port", strconv.Itoa(FreePort(t)),
		"--metrics-port", strconv.Itoa(d.MetricsPort),
		"--dapr-listen-addresses", "127.0.0.1",
		"--resources-path", o.ResourcesPath,
		"--log-level", "warn",
		"--placement-host-address", "",
		"--scheduler-host-address", "",
		"--dapr-graceful-shutdown-seconds", "1",
	}
	if o.AppPort != 0 {
		args = append(args, "--app-port", strconv.Itoa(o.AppPort))
		if o.AppProtocol != "" {
			args = append(args, "--app-protocol", o.AppProtocol)
		}
	}
	args = append(args, o.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DAPR_API_TOKEN="+o.APIToken)
	if o.APIToken == "" {
		cmd.Env = os.Environ()
	}
	cmd.Stdout, cmd.Stderr = &lockedWriter{b: d.log}, &lockedWriter{b: d.log}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting daprd: %v", err)
	}
	d.cmd = cmd
	done := make(chan struct{})
	d.done = done
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		StopProcess(cmd, done, 5*time.Second)
		if t.Failed() {
			t.Logf("daprd %s log:\n%s", o.AppID, d.Log())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest("GET", d.HTTPURL()+"/v1.0/healthz/outbound", nil)
		if o.APIToken != "" {
			req.Header.Set("dapr-api-token", o.APIToken)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return d, ""
			}
		}
		select {
		case <-done:
			return nil, fmt.Sprintf("%v\n%s", cmd.ProcessState, d.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("daprd not ready after 60s:\n%s", d.Log())
		}
	}
}

// StopProcess sends SIGTERM to the process group, then SIGKILL after grace.
func StopProcess(cmd *exec.Cmd, done <-chan struct{}, grace time.Duration) {
	if cmd.Process == nil {
		return
	}
	select {
	case <-done:
		return // already gone
	default:
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

type lockedWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

var (
	hostOnce sync.Once
	hostBin  string
	hostErr  error
)

// HostBinary builds cmd/wasi-dapr-host once per test process and returns its path.
func HostBinary(t testing.TB) string {
	t.Helper()
	hostOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wasi-dapr-host-bin-")
		if err != nil {
			hostErr = err
			return
		}
		hostBin = filepath.Join(dir, "wasi-dapr-host")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", hostBin, "./cmd/wasi-dapr-host")
		cmd.Dir = RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			hostErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if hostErr != nil {
		t.Fatal(hostErr)
	}
	return hostBin
}

// Result is what a finished command printed and its exit status.
type Result struct {
	Stdout, Stderr string
	Code           int
	Took           time.Duration
}

// Run runs a command to completion (bounded by timeout) with env added to a minimal environment.
func Run(t testing.TB, timeout time.Duration, env []string, name string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	err := cmd.Run()
	r := Result{Stdout: so.String(), Stderr: se.String(), Took: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not finish within %s\nstdout: %s\nstderr: %s", name, args, timeout, r.Stdout, r.Stderr)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// Process is a long-running command started for a test (the host in serve mode).
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	out  *lockedWriter
	code int
}

// Start starts a command with env added to a minimal environment; it is killed when the test ends
// and its output is printed if the test failed.
func Start(t testing.TB, env []string, name string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	p := &Process{cmd: cmd, done: make(chan struct{}), out: &lockedWriter{b: &bytes.Buffer{}}}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		StopProcess(cmd, p.done, 5*time.Second)
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), p.Output())
		}
	})
	return p
}

// Output is what the process printed so far.
func (p *Process) Output() string {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	return p.out.b.String()
}

// Signal sends sig to the process and waits up to wait for it to exit; it returns the exit code, or -1.
func (p *Process) Signal(sig syscall.Signal, wait time.Duration) int {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return p.code
	case <-time.After(wait):
		return -1
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitHTTP polls url until it answers 200, the process exits, or the timeout passes.
func WaitHTTP(t testing.TB, p *Process, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if p != nil && p.Exited() {
			t.Fatalf("process exited before %s was ready:\n%s", url, p.Output())
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("%s not ready within %s", url, timeout)
}

// WaitTCP polls a TCP address until it accepts, the process exits, or the timeout passes.
func WaitTCP(t testing.TB, p *Process, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		if p != nil && p.Exited() {
			t.Fatalf("process exited before %s was ready:\n%s", addr, p.Output())
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("%s not accepting within %s", addr, timeout)
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }
