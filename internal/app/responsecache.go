package app

import (
	"fmt"
	"time"

	"catalog-bff/graph"
	"catalog-bff/internal/telemetry"
	"catalog-bff/loaders"
)

var _ graph.ResponseCacheObserver = (*telemetry.Telemetry)(nil)

// responseCacheConfig is the response cache's configuration.
type responseCacheConfig struct {
	size     int           // entries; 0 turns the cache off
	maxBytes int64         // of all entries
	maxAge   time.Duration // given to HTTP caches
	// maxStaleness bounds an entry's life in process, invalidated or not.
	maxStaleness time.Duration
	// hitsStaleness is the oldest view count a cached response may show;
	// 0 reads the counts again on every hit.
	hitsStaleness time.Duration
}

// check refuses settings that cannot bound the cache.
func (c responseCacheConfig) check() error {
	switch {
	case c.size < 0 || c.maxBytes <= 0:
		return fmt.Errorf("RESPONSE_CACHE_SIZE must be 0 or more and RESPONSE_CACHE_MAX_BYTES more than 0")
	case c.maxAge <= 0 || c.maxStaleness <= 0 || c.hitsStaleness < 0:
		return fmt.Errorf("RESPONSE_CACHE_MAX_AGE and RESPONSE_CACHE_MAX_STALENESS must be more than 0 and HITS_MAX_STALENESS 0 or more")
	}
	return nil
}

// newResponseCache returns the response cache, or nil (off) when its size
// is 0 or there is no invalidation feed: without one, nothing would tell
// it that a document changed.
// adjust, when set, is a test's (Seams.ResponseCache); it may give a feed.
func newResponseCache(c responseCacheConfig, feed graph.InvalidationFeed, hits loaders.Hits, tel *telemetry.Telemetry, adjust func(*graph.ResponseCacheOptions)) *graph.ResponseCache {
	opt := graph.ResponseCacheOptions{Feed: feed, MaxEntries: c.size, MaxBytes: c.maxBytes,
		MaxAge: c.maxAge, MaxStaleness: c.maxStaleness, HitsMaxStaleness: c.hitsStaleness, Hits: hits, Observer: tel}
	if adjust != nil {
		adjust(&opt)
	}
	if c.size == 0 || opt.Feed == nil {
		return nil
	}
	return graph.NewResponseCache(opt)
}
