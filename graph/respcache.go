package graph

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"catalog-bff/loaders"
	"catalog-bff/store"
)

// InvalidationFeed tells in-process caches which documents changed.
type InvalidationFeed interface {
	// Subscribe registers the callbacks: onInvalidate with each document that a
	// write invalidated, on this
	// instance or another, and onReset when invalidations may have been missed
	// (the stream was lost or came back, the cache generation changed):
	// everything cached must go. Callbacks run on the feed's goroutine or the
	// writer's: keep them short and non-blocking.
	Subscribe(onInvalidate func(kind store.Kind, id int64), onReset func())
	// Seq advances on every invalidation and reset. A response built while it
	// moved may hold a document that was invalidated during the build: don't
	// store it (or check its own documents against what was invalidated).
	Seq() uint64
	// Live reports whether the feed is connected. While it is not, nothing
	// may be served from or stored in an in-process cache.
	Live() bool
}

// ResponseCacheObserver is told what the response cache did with each
// request (internal/telemetry implements it).
type ResponseCacheObserver interface {
	// ResponseCacheRequest counts one request by result: "hit", "miss"
	// (executed and stored), "bypass" (not looked up) or "uncacheable"
	// (executed, not storable).
	ResponseCacheRequest(result string)
	// CachedResponse counts a response answered from the cache in the
	// GraphQL request metrics, as an executed one with no error would be.
	CachedResponse(ctx context.Context, operation string, start time.Time)
}

// The response cache's results, the values of its metric's label.
const (
	cacheHit         = "hit"
	cacheMiss        = "miss"
	cacheBypass      = "bypass"
	cacheUncacheable = "uncacheable"
)

// ResponseCacheOptions configures a ResponseCache.
type ResponseCacheOptions struct {
	// Feed drops entries whose documents changed. Required.
	Feed InvalidationFeed
	// MaxEntries bounds the entries; default 10,000.
	MaxEntries int
	// MaxBytes bounds the entries' bodies, keys and tags; default 64 MiB.
	MaxBytes int64
	// MaxStaleness bounds the life of every entry, whatever the feed says:
	// what a lost invalidation could cost. Freshness comes from the feed;
	// this is its backstop. Default 1 min.
	MaxStaleness time.Duration
	// MaxAge is the most max-age HTTP caches are given: they hear of no
	// write, so it bounds how long they may serve a page after one.
	// Default 5s.
	MaxAge time.Duration
	// HitsMaxStaleness is the oldest view count a cached response may
	// show: a hit whose counts are older reads them again, in one call to
	// Hits, and splices them into the stored body. 0 reads them on every
	// hit.
	HitsMaxStaleness time.Duration
	// Hits reads view counts (the view counter). Without it, a response
	// that shows any is never stored.
	Hits loaders.Hits
	// Observer, when set, counts the cache's results.
	Observer ResponseCacheObserver
}

// entryOverhead is what an entry weighs beyond its body, key and
// documents: the entry itself and its slots in otter and the index.
const entryOverhead = 256

// ResponseCache keeps the serialized responses of query operations, keyed
// by (document hash, operation name, canonical variables, Accept), each
// tagged with the documents it was built from. An entry is dropped when
// the feed invalidates one of its documents, all of them when the feed
// resets, and every entry after MaxStaleness. The view counts an entry shows are
// read again when they are older than HitsMaxStaleness, or than a view of
// one of its products that this instance counted. Nothing is served or
// stored while the feed is not live, nor from a response built while the
// feed's Seq moved.
//
// It is safe for concurrent use. Close stops its maintenance goroutine.
type ResponseCache struct {
	opt     ResponseCacheOptions
	entries *otter.Cache[string, *cachedResponse]
	// plans holds the plan of each operation seen whose responses split
	// into one element per product (respcache_list.go).
	plans *otter.Cache[opID, *listPlan]

	mu    sync.Mutex // guards what follows, and orders stores after drops
	index map[docKey]map[string]*cachedResponse
	seq   uint64 // advances with every drop by the feed
	views uint64 // advances with every view counted here
	// viewed holds the products of the last len(viewed) views, the
	// products of view n at n % len(viewed).
	viewed [64]int64
}

// docKey names a document a response was built from.
type docKey struct {
	kind store.Kind
	id   int64
}

// cachedResponse is one stored response.
type cachedResponse struct {
	view        atomic.Pointer[rendering] // the body as served, its ETag strong and quoted
	contentType string
	operation   string
	docs        []docKey
	hits        []hitsField // the view counts it shows; nil for none
	// live is the first rendering cut around its view counts, made on
	// the first hit that reads them again: a response that is never
	// asked for again never pays for it.
	liveOnce sync.Once
	live     *liveHits // nil when the counts could not be found
	// gen advances with each view of one of its products counted here:
	// a rendering of an older gen shows counts from before it.
	gen    atomic.Uint64
	weight uint64 // of the first rendering
	stored time.Time
	ttl    time.Duration
	// cost is the complexity of one element of a products(ids:) list,
	// for the limit of the lists assembled from it; 0 for a whole response.
	cost int
}

// NewResponseCache returns an empty cache subscribed to opt.Feed.
func NewResponseCache(opt ResponseCacheOptions) *ResponseCache {
	opt = opt.withDefaults()
	c := &ResponseCache{opt: opt, index: map[docKey]map[string]*cachedResponse{}}
	floor := uint64(opt.MaxBytes) / uint64(opt.MaxEntries)
	c.entries = otter.Must(&otter.Options[string, *cachedResponse]{
		MaximumWeight: uint64(opt.MaxBytes),
		// An entry weighs at least MaxBytes/MaxEntries: the bound on
		// weight then bounds the entries too.
		Weigher: func(key string, e *cachedResponse) uint32 {
			return uint32(max(e.size(key), floor))
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *cachedResponse]) time.Duration {
			return e.Value.ttl
		}),
		OnDeletion: func(ev otter.DeletionEvent[string, *cachedResponse]) { c.unindex(ev.Key, ev.Value) },
	})
	c.plans = otter.Must(&otter.Options[opID, *listPlan]{MaximumSize: maxPlans})
	opt.Feed.Subscribe(c.invalidate, c.reset)
	return c
}

// maxPlans bounds the operations whose list plans are kept: an operation
// that loses its plan is executed whole once, and has it again.
const maxPlans = 1000

func (o ResponseCacheOptions) withDefaults() ResponseCacheOptions {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10_000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.MaxStaleness <= 0 {
		o.MaxStaleness = time.Minute
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 5 * time.Second
	}
	return o
}

// size is what e weighs under key, in bytes: a rendering weighs about
// what the first one did.
func (e *cachedResponse) size(key string) uint64 {
	return e.weight + uint64(len(key)+24*len(e.docs)+entryOverhead)
}

// Close stops the cache's maintenance goroutine; the cache still works.
func (c *ResponseCache) Close() {
	c.entries.StopAllGoroutines()
	c.plans.StopAllGoroutines()
}

// Size returns the entries and their total weight, after pending
// evictions ran: a weight never above MaxBytes, entries never above
// MaxEntries.
func (c *ResponseCache) Size() (entries int, weight uint64) {
	c.entries.CleanUp()
	return c.entries.EstimatedSize(), c.entries.WeightedSize()
}

// lookup returns the live entry of key, or nil.
func (c *ResponseCache) lookup(key string) *cachedResponse {
	e, ok := c.entries.GetIfPresent(key)
	if !ok || time.Since(e.stored) >= e.ttl {
		return nil
	}
	return e
}

// mark is the state of the feed and of local views when a response
// started building.
type mark struct{ feed, seq, views uint64 }

func (c *ResponseCache) mark() mark {
	c.mu.Lock()
	defer c.mu.Unlock()
	return mark{feed: c.opt.Feed.Seq(), seq: c.seq, views: c.views}
}

// store keeps e under key unless a document may have changed since m: the
// feed moved or is down. It reports whether e was stored. When a view of
// one of its products was counted here since m, its view counts are read
// again on its first hit.
func (c *ResponseCache) store(key string, e *cachedResponse, m mark) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq != m.seq || !c.opt.Feed.Live() || c.opt.Feed.Seq() != m.feed {
		return false
	}
	if len(e.hits) > 0 && c.viewedSince(m.views, e.docs) {
		e.gen.Add(1)
	}
	c.entries.Set(key, e)
	for _, d := range e.docs {
		keys := c.index[d]
		if keys == nil {
			keys = map[string]*cachedResponse{}
			c.index[d] = keys
		}
		keys[key] = e
	}
	return true
}

// viewedSince reports whether a view of a product among docs may have
// been counted since the views numbered since: true when more views than
// viewed remembers were. Callers hold mu.
func (c *ResponseCache) viewedSince(since uint64, docs []docKey) bool {
	if c.views-since > uint64(len(c.viewed)) {
		return true
	}
	for n := since + 1; n <= c.views; n++ {
		if slices.Contains(docs, docKey{store.ProductKind, c.viewed[n%uint64(len(c.viewed))]}) {
			return true
		}
	}
	return false
}

// unindex forgets e's documents once e is gone, unless key holds a newer
// entry under the same document.
func (c *ResponseCache) unindex(key string, e *cachedResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range e.docs {
		if keys := c.index[d]; keys[key] == e {
			delete(keys, key)
			if len(keys) == 0 {
				delete(c.index, d)
			}
		}
	}
}

// invalidate drops every entry built from the document (kind, id).
func (c *ResponseCache) invalidate(kind store.Kind, id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.drop(docKey{kind, id})
}

// reset drops every entry.
func (c *ResponseCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.index = map[docKey]map[string]*cachedResponse{}
	c.entries.InvalidateAll()
}

// ViewCounted makes the entries that show the view count of product id
// read their counts again on their next hit: called when this instance
// counted a view of it, so that the client that sent the view never sees
// the count go back.
func (c *ResponseCache) ViewCounted(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.views++
	c.viewed[c.views%uint64(len(c.viewed))] = id
	for _, e := range c.index[docKey{store.ProductKind, id}] {
		if len(e.hits) > 0 {
			e.gen.Add(1)
		}
	}
}

// drop removes the entries indexed under d, each only if its key still
// holds that entry. Callers hold mu.
func (c *ResponseCache) drop(d docKey) {
	for key, e := range c.index[d] {
		delete(c.index[d], key)
		c.entries.ComputeIfPresent(key, func(old *cachedResponse) (*cachedResponse, otter.ComputeOp) {
			if old != e {
				return old, otter.CancelOp
			}
			return nil, otter.InvalidateOp
		})
	}
	if len(c.index[d]) == 0 {
		delete(c.index, d)
	}
}

// observe counts a result, when there is an observer.
func (c *ResponseCache) observe(result string) {
	if c.opt.Observer != nil {
		c.opt.Observer.ResponseCacheRequest(result)
	}
}
