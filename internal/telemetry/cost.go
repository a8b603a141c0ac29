package telemetry

import (
	"context"
	"sync/atomic"
)

// Cost is what one request spent, as a development response shows it in
// extensions.cost:
//
//	"extensions": {"cost": {"sqlStatements": 3, "redisRoundTrips": 3, "cacheHits": 0, "cacheMisses": 1}}
//
// SQLStatements and RedisRoundTrips count what the request itself sent,
// its dataloader batches included (a batch runs under the context of the
// request whose load started it). CacheHits counts the distinct document
// keys its batches found in the cache, documents and negative entries
// alike; CacheMisses those they did not (no entry, a marker, a corrupt
// entry, or a cache that did not answer). A key another request of the
// process was already fetching is waited for and costs this request no SQL.
// Background work (view flushes, invalidation delivery, audits) is never a
// request's.
type Cost struct {
	SQLStatements   int64 `json:"sqlStatements"`
	RedisRoundTrips int64 `json:"redisRoundTrips"`
	CacheHits       int64 `json:"cacheHits"`
	CacheMisses     int64 `json:"cacheMisses"`
}

// meter accumulates one request's Cost. Safe for concurrent use: a
// request's batches run in goroutines of their own.
type meter struct {
	sql, redis, hits, misses atomic.Int64
}

func (m *meter) cost() Cost {
	return Cost{SQLStatements: m.sql.Load(), RedisRoundTrips: m.redis.Load(),
		CacheHits: m.hits.Load(), CacheMisses: m.misses.Load()}
}

type meterKey struct{}

// withMeter returns ctx carrying a fresh meter.
func withMeter(ctx context.Context) (context.Context, *meter) {
	m := &meter{}
	return context.WithValue(ctx, meterKey{}, m), m
}

// meterOf returns ctx's meter, or nil outside a metered request.
func meterOf(ctx context.Context) *meter {
	m, _ := ctx.Value(meterKey{}).(*meter)
	return m
}
