package graph_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"catalog-bff/graph"
	"catalog-bff/store/sqlstore"
)

// BenchmarkWarmDetailResponseCache is BenchmarkWarmDetail with the
// response cache on: the page is answered from the bytes its first
// request produced, and executed again once a second, when its hits may
// be no older (HITS_MAX_STALENESS, default 1s).
func BenchmarkWarmDetailResponseCache(b *testing.B) {
	ts, _ := cachedServer(b, sqlstore.SQLite, serverOptions{products: 200, wait: time.Millisecond},
		graph.ResponseCacheOptions{HitsMaxStaleness: time.Second})
	benchWarmOn(b, ts, detailQuery, map[string]any{"id": "42"})
}

// BenchmarkWarmBatchResponseCache is BenchmarkWarmBatch with the response
// cache on, as the service runs: each request asks for another set of 20
// of the 200 products (1,000 sets, each sent again only after the other
// 999), so that its response is assembled from the elements other sets
// left, not served whole.
func BenchmarkWarmBatchResponseCache(b *testing.B) {
	ts, _ := cachedServer(b, sqlstore.SQLite, serverOptions{products: 200, wait: time.Millisecond, near: true},
		graph.ResponseCacheOptions{HitsMaxStaleness: time.Second})
	r := rand.New(rand.NewPCG(1, 1))
	sets := make([]map[string]any, 1000)
	for i := range sets {
		sets[i] = map[string]any{"ids": batchIDs(r)}
	}
	benchWarmOn(b, ts, batchQuery, sets...)
}
