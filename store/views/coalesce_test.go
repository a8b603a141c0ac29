package views_test

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// 64 requests at once read hits, then record views, through a Redis that
// answers 50 ms late: their Redis calls merge (redisstore.Coalescer), so they
// cost far fewer round trips than requests, while each gets its product's
// exact count and every view is counted once. The bound of a quarter of the
// requests holds on a stalled machine: a call lasts at least 50 ms, and
// every request that queues meanwhile goes in the next one.
func TestConcurrentRequestsShareRoundTrips(t *testing.T) {
	const products, requests = 8, 64
	f := newFixture(t, sqlstore.SQLite, products)
	u, _ := url.Parse(f.redisURL)
	proxy := storetest.NewProxy(t, u.Host)
	in := f.instance(t, instanceOptions{redisURL: proxy.RedisURL(t, f.redisURL), timeout: 5 * time.Second})
	ctx := context.Background()
	base, err := in.Hits(ctx, ids(products)) // makes the display counts
	if err != nil {
		t.Fatal(err)
	}
	proxy.Delay(50 * time.Millisecond)
	all := func(what string, call func(id int64) (int64, error), check func(id, got int64) bool) {
		t.Helper()
		before := in.redis.Stats()
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range requests {
			wg.Go(func() {
				<-start
				id := int64(1 + i%products)
				got, err := call(id)
				if err != nil || !check(id, got) {
					t.Errorf("%s of product %d: %d, %v", what, id, got, err)
				}
			})
		}
		close(start)
		wg.Wait()
		trips := in.redis.Stats().Sub(before).RoundTrips
		t.Logf("%d concurrent %s: %d round trips", requests, what, trips)
		if trips < 1 || trips > requests/4 {
			t.Errorf("%d concurrent %s made %d round trips; want 1 to %d", requests, what, trips, requests/4)
		}
	}
	all("hits reads", func(id int64) (int64, error) {
		hits, err := in.Hits(ctx, []int64{id})
		return hits[id], err
	}, func(id, got int64) bool { return got == base[id] })
	var acked tally
	all("views", func(id int64) (int64, error) {
		n, err := in.Record(ctx, id)
		if err == nil {
			acked.add(id)
		}
		return n, err
	}, func(id, got int64) bool { return got > base[id] && got <= base[id]+requests/products })
	proxy.Delay(0)
	hits, err := in.Hits(ctx, ids(products))
	for _, id := range ids(products) {
		if err != nil || hits[id] != base[id]+requests/products {
			t.Errorf("hits of %d after the views: %d, %v; want %d", id, hits[id], err, base[id]+requests/products)
		}
	}
	if err := in.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	assertExact(t, f, in, base, &acked, products)
}
