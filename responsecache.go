package main

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	"catalog-bff/graph"
	"catalog-bff/graph/telemetry"
	"catalog-bff/loaders"
)

var _ graph.ResponseCacheObserver = (*telemetry.Telemetry)(nil)

// responseCacheConfig is the response cache's configuration.
type responseCacheConfig struct {
	size     int   // entries; 0 turns the cache off
	maxBytes int64 // of all entries
	maxAge   time.Duration
	// hitsStaleness is the oldest view count a cached response may show;
	// 0 reads the counts again on every hit.
	hitsStaleness time.Duration
}

// parseResponseCacheConfig reads the response cache's settings.
func parseResponseCacheConfig(fs *flag.FlagSet, env func(key, def string) string, c *responseCacheConfig) error {
	var err error
	if c.size, err = strconv.Atoi(env("RESPONSE_CACHE_SIZE", "10000")); err != nil {
		return fmt.Errorf("RESPONSE_CACHE_SIZE: %w", err)
	}
	fs.IntVar(&c.size, "response-cache-size", c.size, "responses kept in memory, 0 for none (RESPONSE_CACHE_SIZE)")
	if c.maxBytes, err = strconv.ParseInt(env("RESPONSE_CACHE_MAX_BYTES", "67108864"), 10, 64); err != nil {
		return fmt.Errorf("RESPONSE_CACHE_MAX_BYTES: %w", err)
	}
	fs.Int64Var(&c.maxBytes, "response-cache-max-bytes", c.maxBytes, "bytes the kept responses may take (RESPONSE_CACHE_MAX_BYTES)")
	for _, d := range []struct {
		dst            *time.Duration
		key, flag, def string
		doc            string
	}{
		{&c.maxAge, "RESPONSE_CACHE_MAX_AGE", "response-cache-max-age", "5s", "longest a response is kept, and HTTP caches' max-age"},
		{&c.hitsStaleness, "HITS_MAX_STALENESS", "hits-max-staleness", "1s", "oldest view count a kept response may show; 0 reads them on every hit"},
	} {
		if *d.dst, err = time.ParseDuration(env(d.key, d.def)); err != nil {
			return fmt.Errorf("%s: %w", d.key, err)
		}
		fs.DurationVar(d.dst, d.flag, *d.dst, d.doc+" ("+d.key+")")
	}
	return nil
}

// check refuses settings that cannot bound the cache.
func (c responseCacheConfig) check() error {
	switch {
	case c.size < 0 || c.maxBytes <= 0:
		return fmt.Errorf("RESPONSE_CACHE_SIZE must be 0 or more and RESPONSE_CACHE_MAX_BYTES more than 0")
	case c.maxAge <= 0 || c.hitsStaleness < 0:
		return fmt.Errorf("RESPONSE_CACHE_MAX_AGE must be more than 0 and HITS_MAX_STALENESS 0 or more")
	}
	return nil
}

// newResponseCache returns the response cache, or nil (off) when its size
// is 0 or there is no invalidation feed: without one, nothing would tell
// it that a document changed.
func newResponseCache(c responseCacheConfig, feed graph.InvalidationFeed, hits loaders.Hits, tel *telemetry.Telemetry) *graph.ResponseCache {
	if c.size == 0 || feed == nil {
		return nil
	}
	return graph.NewResponseCache(graph.ResponseCacheOptions{Feed: feed, MaxEntries: c.size, MaxBytes: c.maxBytes,
		MaxAge: c.maxAge, HitsMaxStaleness: c.hitsStaleness, Hits: hits, Observer: tel})
}
