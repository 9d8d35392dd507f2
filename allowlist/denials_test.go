package allowlist

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

func TestDenialsSeenOnce(t *testing.T) {
	var d Denials
	if !d.Seen("http://a:80") {
		t.Fatal("first Seen = false")
	}
	if d.Seen("http://a:80") {
		t.Fatal("second Seen = true")
	}
	if !d.Seen("http://a:81") {
		t.Fatal("other key first Seen = false")
	}
	var nilD *Denials
	if !nilD.Seen("x") || !nilD.Seen("x") {
		t.Fatal("nil Denials must always report true")
	}
}

func TestDenialsBounded(t *testing.T) {
	d := Denials{Max: 3}
	for _, k := range []string{"a", "b", "c"} {
		if !d.Seen(k) {
			t.Fatalf("first Seen(%q) = false", k)
		}
	}
	if !d.Seen("d") { // evicts "a"
		t.Fatal("Seen(d) = false")
	}
	if len(d.seen) != 3 || len(d.ring) != 3 {
		t.Fatalf("not bounded: %d keys, ring %d", len(d.seen), len(d.ring))
	}
	if d.Seen("b") || d.Seen("c") || d.Seen("d") {
		t.Fatal("recent keys forgotten")
	}
	if !d.Seen("a") { // oldest was forgotten, so it is logged again
		t.Fatal("evicted key not reported again")
	}

	var big Denials
	for i := 0; i < 3*DefaultDenialsMax; i++ {
		big.Seen(strconv.Itoa(i))
	}
	if len(big.seen) != DefaultDenialsMax {
		t.Fatalf("zero Denials holds %d keys, want %d", len(big.seen), DefaultDenialsMax)
	}
}

func TestDenialsConcurrent(t *testing.T) {
	var d Denials
	var firsts atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if d.Seen("key" + strconv.Itoa(i)) {
					firsts.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := firsts.Load(); got != 100 {
		t.Fatalf("%d first sightings across goroutines, want 100", got)
	}
}
