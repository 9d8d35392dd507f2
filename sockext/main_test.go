package sockext

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestMain doubles as a loopback echo server in its own process (WDH_ECHO_SERVER=1), so benchmarks
// measure a guest talking to another process, as it does to daprd, not to a goroutine of its own host.
func TestMain(m *testing.M) {
	if os.Getenv("WDH_ECHO_SERVER") == "1" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			os.Exit(1)
		}
		fmt.Println(l.Addr().String())
		for {
			c, err := l.Accept()
			if err != nil {
				os.Exit(0)
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}
	os.Exit(m.Run())
}

// echoProcess starts the echo server process and returns its address; it is killed at cleanup.
func echoProcess(t testing.TB) netip.AddrPort {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WDH_ECHO_SERVER=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return netip.MustParseAddrPort(strings.TrimSpace(line))
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
