package loaders

import (
	"context"

	"catalog-bff/store"
)

// CacheResult is what a cache read found for one key.
type CacheResult string

// The results of a cache read.
const (
	CacheNear        CacheResult = "near"        // a document or negative entry from the near cache
	CacheHit         CacheResult = "hit"         // a document
	CacheNegative    CacheResult = "negative"    // a negative entry: no row has the id
	CacheMiss        CacheResult = "miss"        // no entry, or a write's invalidation marker
	CacheCorrupt     CacheResult = "corrupt"     // an entry that does not decode; it is refilled
	CacheUnavailable CacheResult = "unavailable" // the read failed, or the breaker or fence refused it
)

// Observer is told what the loaders do, for metrics, traces and the cost of
// each request. It must be safe for concurrent use.
type Observer interface {
	// StartBatch is called as a batch function starts, with the loader's
	// name ("product", "seller", "category", "options", "stock", "hits")
	// and its key count. The batch runs under the returned context, and the
	// returned function is called when it ends.
	StartBatch(ctx context.Context, loader string, keys int) (context.Context, func())
	// CacheRead is told, once per cache read of a batch and result, how
	// many distinct keys of kind had that result. Reads made while waiting
	// for another reader's fill are not reported.
	CacheRead(ctx context.Context, kind store.Kind, result CacheResult, keys int)
}

// nopObserver is the Observer of a Factory given none.
type nopObserver struct{}

func (nopObserver) StartBatch(ctx context.Context, _ string, _ int) (context.Context, func()) {
	return ctx, func() {}
}

func (nopObserver) CacheRead(context.Context, store.Kind, CacheResult, int) {}

var _ Observer = nopObserver{}

// tally counts the results of one cache read.
type tally map[CacheResult]int

// report tells obs of every result counted.
func (t tally) report(ctx context.Context, obs Observer, kind store.Kind) {
	for _, r := range []CacheResult{CacheHit, CacheNegative, CacheMiss, CacheCorrupt} {
		if n := t[r]; n > 0 {
			obs.CacheRead(ctx, kind, r, n)
		}
	}
}
