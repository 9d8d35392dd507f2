package allowlist

import "sync"

// DefaultDenialsMax is how many keys a zero Denials remembers.
const DefaultDenialsMax = 1024

// Denials remembers which destinations were already denied so that callers
// log each denial once. The zero value is ready to use and remembers
// DefaultDenialsMax keys; when full, the oldest key is forgotten, so a
// destination may be logged again rather than a new one going unlogged.
// It is safe for concurrent use.
type Denials struct {
	// Max is the number of keys remembered; 0 means DefaultDenialsMax. It is
	// read on first use.
	Max int

	mu    sync.Mutex
	limit int
	seen  map[string]struct{}
	ring  []string // insertion order, for eviction
	next  int      // oldest slot once ring is full
}

// Seen records key and reports whether this is the first time it was seen.
// A nil *Denials reports true every time.
func (d *Denials) Seen(key string) bool {
	if d == nil {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil {
		d.limit = d.Max
		if d.limit <= 0 {
			d.limit = DefaultDenialsMax
		}
		d.seen = make(map[string]struct{})
	}
	if _, ok := d.seen[key]; ok {
		return false
	}
	d.seen[key] = struct{}{}
	if len(d.ring) < d.limit {
		d.ring = append(d.ring, key)
		return true
	}
	delete(d.seen, d.ring[d.next])
	d.ring[d.next] = key
	d.next = (d.next + 1) % d.limit
	return true
}
