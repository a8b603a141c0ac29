package graph

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"catalog-bff/store"

	"github.com/vektah/gqlparser/v2/ast"
)

// liveFeed is a feed that is always live and never invalidates.
type liveFeed struct{}

func (liveFeed) Subscribe(func(store.Kind, int64), func()) {}
func (liveFeed) Seq() uint64                               { return 0 }
func (liveFeed) Live() bool                                { return true }

// TestResponseCacheBounds stores far more entries than fit, of sizes that
// make first the entry bound, then the byte bound, the one that bites; the
// cache's own weight and entry count stay within both, and the document
// index forgets what was evicted.
func TestResponseCacheBounds(t *testing.T) {
	for _, tc := range []struct {
		name             string
		maxEntries       int
		maxBytes         int64
		minBody, maxBody int
	}{
		{"small bodies: the entry bound", 100, 1 << 20, 100, 1000},
		{"large bodies: the byte bound", 100, 256 << 10, 4000, 20000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewResponseCache(ResponseCacheOptions{Feed: liveFeed{}, MaxEntries: tc.maxEntries, MaxBytes: tc.maxBytes, MaxAge: time.Minute})
			defer c.Close()
			bodies := fillCache(c, 20*tc.maxEntries, tc.minBody, tc.maxBody)
			entries, weight := c.Size()
			t.Logf("%d entries weighing %d bytes; bounds %d entries, %d bytes", entries, weight, tc.maxEntries, tc.maxBytes)
			if entries > tc.maxEntries || weight > uint64(tc.maxBytes) || entries == 0 {
				t.Fatalf("%d entries weighing %d; bounds %d entries, %d bytes", entries, weight, tc.maxEntries, tc.maxBytes)
			}
			var held int64
			for key := range c.entries.Keys() {
				held += int64(bodies[key])
			}
			if held > tc.maxBytes {
				t.Fatalf("bodies of %d bytes held, bound %d", held, tc.maxBytes)
			}
			waitIndexed(t, c, 2*entries) // two documents an entry
		})
	}
}

// fillCache stores n entries of random body sizes, each built from two
// documents, and returns the body size of each key.
func fillCache(c *ResponseCache, n, minBody, maxBody int) map[string]int {
	sizes := make(map[string]int, n)
	for i := range n {
		key := fmt.Sprintf("key %d", i)
		size := minBody + rand.IntN(maxBody-minBody)
		e := &cachedResponse{weight: uint64(size), docs: []docKey{{"product", int64(i)}, {"seller", int64(i % 7)}},
			stored: time.Now(), ttl: time.Minute}
		e.view.Store(&rendering{body: make([]byte, size)})
		if !c.store(key, e, c.mark()) {
			panic("a live feed refused a store")
		}
		sizes[key] = size
	}
	return sizes
}

// waitIndexed waits for the index, which forgets evicted entries in the
// background, to hold at most n (document, key) pairs.
func waitIndexed(t *testing.T, c *ResponseCache, n int) {
	t.Helper()
	count := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		total := 0
		for _, keys := range c.index {
			total += len(keys)
		}
		return total
	}
	for end := time.Now().Add(10 * time.Second); count() > n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("index holds %d pairs, want at most %d", count(), n)
		}
	}
}

// TestResponseCacheStoreRace: a response whose build saw an invalidation
// or a reset is never stored; one with view counts whose build saw a view
// of its product is stored, marked to read its counts again.
func TestResponseCacheStoreRace(t *testing.T) {
	feed := &seqFeed{}
	c := NewResponseCache(ResponseCacheOptions{Feed: feed, HitsMaxStaleness: time.Second})
	defer c.Close()
	e := func(hits bool) *cachedResponse {
		e := &cachedResponse{docs: []docKey{{"product", 1}}, stored: time.Now(), ttl: time.Minute}
		if hits {
			e.hits = []hitsField{{ast.Path{ast.PathName("product"), ast.PathName("hits")}, 1}}
		}
		e.view.Store(&rendering{at: time.Now()})
		return e
	}
	for _, tc := range []struct {
		name          string
		during        func()
		hits          bool
		stored, stale bool
	}{
		{"nothing happened", func() {}, true, true, false},
		{"another document invalidated", func() { feed.inv("product", 2) }, false, false, false},
		{"feed moved before telling", func() { feed.mu.Lock(); feed.seq++; feed.mu.Unlock() }, false, false, false},
		{"reset", func() { feed.reset() }, false, false, false},
		{"a view of its product, response without hits", func() { c.ViewCounted(1) }, false, true, false},
		{"a view of another product, response with hits", func() { c.ViewCounted(2) }, true, true, false},
		{"a view of its product, response with hits", func() { c.ViewCounted(2); c.ViewCounted(1); c.ViewCounted(3) }, true, true, true},
		{"more views than remembered", func() {
			for i := range 100 {
				c.ViewCounted(int64(10 + i))
			}
		}, true, true, true},
	} {
		m := c.mark()
		tc.during()
		entry := e(tc.hits)
		if got := c.store(tc.name, entry, m); got != tc.stored {
			t.Errorf("%s: stored %v, want %v", tc.name, got, tc.stored)
		}
		if stale := entry.gen.Load() != entry.view.Load().gen; stale != tc.stale {
			t.Errorf("%s: counts to read again %v, want %v", tc.name, stale, tc.stale)
		}
	}
}

// seqFeed is a live feed whose invalidations the test triggers.
type seqFeed struct {
	mu    sync.Mutex
	seq   uint64
	inv   func(store.Kind, int64)
	reset func()
}

func (f *seqFeed) Subscribe(inv func(store.Kind, int64), reset func()) {
	f.inv, f.reset = func(k store.Kind, id int64) { f.bump(); inv(k, id) }, func() { f.bump(); reset() }
}
func (f *seqFeed) bump()       { f.mu.Lock(); f.seq++; f.mu.Unlock() }
func (f *seqFeed) Seq() uint64 { f.mu.Lock(); defer f.mu.Unlock(); return f.seq }
func (f *seqFeed) Live() bool  { return true }
