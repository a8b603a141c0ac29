package loaders

import (
	"sync/atomic"
	"testing"
	"time"

	"catalog-bff/store"
)

func liveNear(t *testing.T, entries int, bytes int64) *Near {
	t.Helper()
	n := NewNear(NearOptions{MaxEntries: entries, MaxBytes: bytes})
	n.StreamUp(true)
	return n
}

func nearName(t *testing.T, n *Near, id int64) string {
	t.Helper()
	v, ok := n.get("product", id)
	if !ok {
		return "(miss)"
	}
	if p := v.(*store.Product); p != nil {
		return p.Name
	}
	return "(no row)"
}

// The near cache follows the Redis cache's version order: an invalidation
// leaves a marker, an older document never replaces it, and the document of
// the marker's version or a newer one does.
func TestNearVersionOrder(t *testing.T) {
	n := liveNear(t, 100, 1<<20)
	fill := func(version int64, name string) {
		n.fill("product", 1, version, &store.Product{ID: 1, Name: name, Version: version}, 100, n.Epoch())
	}
	fill(1, "v1")
	if got := nearName(t, n, 1); got != "v1" {
		t.Fatalf("after a fill: %s, want v1", got)
	}
	n.Invalidated([]store.Invalidation{{Kind: "product", ID: 1, Version: 2}})
	if got := nearName(t, n, 1); got != "(miss)" {
		t.Fatalf("after an invalidation: %s, want a miss", got)
	}
	fill(1, "v1 again") // a reader that read before the write
	if got := nearName(t, n, 1); got != "(miss)" {
		t.Fatalf("an older document replaced the marker: %s", got)
	}
	fill(2, "v2")
	if got := nearName(t, n, 1); got != "v2" {
		t.Fatalf("the marker's version did not replace it: %s", got)
	}
	n.Invalidated([]store.Invalidation{{Kind: "product", ID: 1, Version: 2}}) // a late duplicate
	if got := nearName(t, n, 1); got != "v2" {
		t.Fatalf("a marker of the version held dropped it: %s", got)
	}
	n.Invalidated([]store.Invalidation{{Kind: "product", ID: 1, Version: 4}})
	n.Invalidated([]store.Invalidation{{Kind: "product", ID: 1, Version: 3}}) // out of order
	fill(3, "v3")
	if got := nearName(t, n, 1); got != "(miss)" {
		t.Fatalf("an older marker replaced a newer one: %s", got)
	}
	n.fill("product", 2, 0, (*store.Product)(nil), 0, n.Epoch())
	if got := nearName(t, n, 2); got != "(no row)" {
		t.Fatalf("a negative entry: %s", got)
	}
}

// Nothing is served or kept while the stream is down or reads are fenced,
// everything goes when either happens, and a fill that started before a
// Reset is dropped.
func TestNearResets(t *testing.T) {
	var readable atomic.Bool
	readable.Store(true)
	n := NewNear(NearOptions{MaxEntries: 100, MaxBytes: 1 << 20, Readable: readable.Load})
	p := &store.Product{ID: 1, Name: "p", Version: 1}
	n.fill("product", 1, 1, p, 100, n.Epoch())
	if _, ok := n.get("product", 1); ok {
		t.Fatal("kept and served before the stream was up")
	}
	n.StreamUp(true)
	n.fill("product", 1, 1, p, 100, n.Epoch())
	if _, ok := n.get("product", 1); !ok {
		t.Fatal("not served with the stream up")
	}
	readable.Store(false)
	if _, ok := n.get("product", 1); ok {
		t.Fatal("served while reads are fenced")
	}
	readable.Store(true)

	before := n.Epoch()
	n.StreamUp(false)
	n.StreamUp(true)
	if _, ok := n.get("product", 1); ok {
		t.Fatal("an entry survived the stream's loss")
	}
	n.fill("product", 1, 1, p, 100, before)
	if _, ok := n.get("product", 1); ok {
		t.Fatal("a fill read before the loss was kept")
	}

	var invalidated, resets int
	n.Subscribe(func(kind store.Kind, id int64) { invalidated++ }, func() { resets++ })
	n.Invalidated([]store.Invalidation{{Kind: "seller", ID: 3, Version: 2}})
	n.Reset()
	if invalidated != 1 || resets != 1 {
		t.Errorf("subscriber told of %d invalidations and %d resets, want 1 and 1", invalidated, resets)
	}
	if s := n.Seq(); s < 4 {
		t.Errorf("seq %d after 2 stream changes, an invalidation and a reset", s)
	}
}

// A scan of 100,000 documents through a near cache of 1,000 entries or
// 1 MiB keeps within both bounds.
func TestNearBounds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries int
		bytes   int64
		docSize int
	}{
		{"entries bind", 1000, 64 << 20, 500},
		{"bytes bind", 100_000, 1 << 20, 4000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := liveNear(t, tc.entries, tc.bytes)
			for id := range int64(100_000) {
				n.fill("product", id, 1, &store.Product{ID: id}, tc.docSize, n.Epoch())
			}
			n.docs.CleanUp()
			s := n.Stats()
			t.Logf("%s: %d entries, %d bytes after 100,000 fills", tc.name, s.Entries, s.Bytes)
			if s.Entries > tc.entries || s.Bytes > uint64(tc.bytes) {
				t.Errorf("%d entries and %d bytes, bounds %d and %d", s.Entries, s.Bytes, tc.entries, tc.bytes)
			}
			if s.Entries == 0 {
				t.Error("nothing kept")
			}
		})
	}
}

// A nil near cache, as NewNear returns when it is off, holds nothing.
func TestNearOff(t *testing.T) {
	n := NewNear(NearOptions{})
	if n != nil {
		t.Fatal("NewNear with no size made a cache")
	}
	n.StreamUp(true)
	n.fill("product", 1, 1, &store.Product{}, 1, n.Epoch())
	if _, ok := n.get("product", 1); ok || n.Live() {
		t.Error("a nil near cache answered")
	}
}

// Lives are spread over the last fifth of their bound, never past it.
func TestSpreadLife(t *testing.T) {
	const d = 5 * time.Second
	lo, hi := d, time.Duration(0)
	for range 1000 {
		l := SpreadLife(d)
		lo, hi = min(lo, l), max(hi, l)
	}
	if lo < 4*time.Second || hi > d {
		t.Errorf("lives from %v to %v, want within [4s, 5s]", lo, hi)
	}
	if hi-lo < 500*time.Millisecond {
		t.Errorf("lives from %v to %v: not spread", lo, hi)
	}
	if l := SpreadLife(1); l != 0 && l != 1 {
		t.Errorf("SpreadLife(1ns) = %v", l)
	}
}
