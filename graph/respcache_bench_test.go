package graph_test

import (
	"testing"
	"time"

	"catalog-bff/graph"
	"catalog-bff/store"
)

// BenchmarkWarmDetailResponseCache is BenchmarkWarmDetail with the
// response cache on: the page is answered from the bytes its first
// request produced, and executed again once a second, when its hits may
// be no older (HITS_MAX_STALENESS, default 1s).
func BenchmarkWarmDetailResponseCache(b *testing.B) {
	ts, _ := cachedServer(b, store.SQLite, serverOptions{products: 200, wait: time.Millisecond},
		graph.ResponseCacheOptions{HitsMaxStaleness: time.Second})
	benchWarmOn(b, ts, detailQuery, map[string]any{"id": "42"})
}
