package views_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// Redis goes down in the middle of a run and comes back: views recorded
// during the outage are counted in process, shown in hits, flushed straight
// to SQL, and the total is exact. The counts a client sees never go down.
func TestRedisOutageExact(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		const products = 5
		f := newFixture(t, d, products)
		base := f.sqlHits(t, ids(products)...)
		u, _ := url.Parse(f.redisURL)
		proxy := storetest.NewProxy(t, u.Host)
		in := f.instance(t, instanceOptions{redisURL: proxy.RedisURL(t, f.redisURL), interval: 20 * time.Millisecond})
		ctx := context.Background()
		var acked tally
		mono := monotonic{t: t}
		record := func(n int) {
			t.Helper()
			for i := range n {
				id := int64(1 + i%products)
				v, err := in.Record(ctx, id)
				if err != nil {
					t.Fatalf("record: %v", err)
				}
				acked.add(id)
				mono.see(id, v)
				hits, err := in.Hits(ctx, ids(products))
				if err != nil {
					t.Fatalf("hits: %v", err)
				}
				for id, v := range hits {
					mono.see(id, v)
				}
			}
		}
		exactHits := func(phase string) {
			t.Helper()
			hits, err := in.Hits(ctx, ids(products))
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids(products) {
				if hits[id] != base[id]+acked.get(id) {
					t.Errorf("%s: hits of %d = %d, want %d", phase, id, hits[id], base[id]+acked.get(id))
				}
			}
		}
		record(50)
		exactHits("Redis up")
		proxy.Cut()
		// A Redis that died a moment ago: its connections are closed. (A
		// view sent in the instant a connection dies has an unknown
		// outcome, which the client is told: TestRecordUnknownOutcome.)
		time.Sleep(20 * time.Millisecond)
		record(50)
		exactHits("Redis down")
		if n := in.Stats().LocalViews; n != acked.total()-50 {
			t.Errorf("views counted in process during the outage: %d, want %d", n, acked.total()-50)
		}
		waitFor(t, "the outage's views to reach SQL", func() bool { return in.Stats().LocalBatches > 0 })
		proxy.Restore(t)
		waitFor(t, "views to go to Redis again", func() bool {
			before := in.Stats().LocalViews
			record(1)
			return in.Stats().LocalViews == before
		})
		record(50)
		in.stop()
		assertExact(t, f, in, base, &acked, products)
		// A fresh instance, which remembers nothing, reads the same counts
		// from Redis: the display counts that lacked the outage's views
		// were dropped and made again from SQL.
		fresh := f.instance(t, instanceOptions{})
		hits, err := fresh.Hits(ctx, ids(products))
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids(products) {
			if hits[id] != base[id]+acked.get(id) {
				t.Errorf("after the outage, a fresh read of %d = %d, want %d", id, hits[id], base[id]+acked.get(id))
			}
		}
	})
}
