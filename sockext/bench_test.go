package sockext

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkEcho1KiB: a 1 KiB round trip over a guest socket to a loopback echo server (another process)
// vs a native Go
// net.Conn doing the same, interleaved in rounds in the same run; reports both and the ratio.
func BenchmarkEcho1KiB(b *testing.B) {
	ap := echoProcess(b)
	g := newGuest(b, setup{allow: []string{"tcp://" + ap.String()}})
	fd := g.open()
	if e := g.connect(fd, ap); e != 0 {
		b.Fatal(e)
	}
	copy(g.mem()[data:], bytes.Repeat([]byte("0123456789abcdef"), 64))
	native, err := net.Dial("tcp", ap.String())
	if err != nil {
		b.Fatal(err)
	}
	defer native.Close()
	out, in := bytes.Repeat([]byte("x"), 1024), make([]byte, 1024)
	guest := func(n int) {
		if e := g.call("echoloop", fd, int32(n)); e != 0 {
			b.Fatalf("echoloop: %d", e)
		}
	}
	nat := func(n int) {
		for i := 0; i < n; i++ {
			if _, err := native.Write(out); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(native, in); err != nil {
				b.Fatal(err)
			}
		}
	}
	guest(100)
	nat(100)
	const round = 200
	var tg, tn time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		t0 := time.Now()
		guest(n)
		t1 := time.Now()
		nat(n)
		tg, tn = tg+t1.Sub(t0), tn+time.Since(t1)
	}
	b.StopTimer()
	b.ReportMetric(float64(tg.Nanoseconds())/float64(b.N), "guest-ns/op")
	b.ReportMetric(float64(tn.Nanoseconds())/float64(b.N), "native-ns/op")
	b.ReportMetric(float64(tg)/float64(tn), "guest/native")
}
