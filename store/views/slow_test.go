package views_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// A Redis that answers 200 ms late, four times the counter's 50 ms timeout:
// the first read of hits gives up on Redis, and every read after it answers
// from SQL plus the views counted in process, within a few timeouts,
// without error and without a Redis call, flushes included (Redis answers
// their claims, late). Once Redis is fast again, a flush switches requests
// back to it, and the counts are exact. Both with the service's client,
// which cuts a read at the deadline, and with one that waits for the reply.
func TestSlowRedisFallsBack(t *testing.T) {
	for _, c := range []struct {
		name    string
		patient bool
	}{{"service client", false}, {"client that waits", true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testSlowRedis(t, c.patient)
		})
	}
}

func testSlowRedis(t *testing.T, patient bool) {
	const products, timeout, latency = 5, 50 * time.Millisecond, 200 * time.Millisecond
	f := newFixture(t, sqlstore.SQLite, products)
	base := f.sqlHits(t, ids(products)...)
	u, _ := url.Parse(f.redisURL)
	proxy := storetest.NewProxy(t, u.Host)
	in := f.instance(t, instanceOptions{redisURL: proxy.RedisURL(t, f.redisURL), timeout: timeout, patient: patient})
	// Another instance, with the default timeout that a healthy call on a
	// loaded machine does not reach, records the views that go through
	// Redis: a view whose call timed out would have an unknown outcome.
	other := f.instance(t, instanceOptions{})
	ctx := context.Background()
	var acked tally
	mono := monotonic{t: t}
	record := func(in *instance, n int) {
		t.Helper()
		for i := range n {
			id := int64(1 + i%products)
			v, err := in.Record(ctx, id)
			if err != nil {
				t.Fatalf("record: %v", err)
			}
			acked.add(id)
			if in != other { // monotonic per instance
				mono.see(id, v)
			}
		}
	}
	// hits reads every product's hits and returns how long it took and how
	// many Redis round trips it made.
	hits := func() (map[int64]int64, time.Duration, int64) {
		t.Helper()
		r0, start := in.redis.Stats(), time.Now()
		got, err := in.Hits(ctx, ids(products))
		took := time.Since(start)
		if err != nil {
			t.Fatalf("hits: %v", err)
		}
		for id, v := range got {
			mono.see(id, v)
		}
		return got, took, in.redis.Stats().Sub(r0).RoundTrips
	}

	record(other, 10)
	hits()
	proxy.Delay(latency)
	var first, slowest time.Duration
	var trips int64
	for i := range 30 {
		_, took, n := hits()
		if i == 0 {
			first = took
		} else {
			slowest, trips = max(slowest, took), trips+n
		}
		if i%10 == 9 {
			in.Flush(ctx) // fails, or succeeds late: either way requests stay on SQL
			record(in, 5) // counted in process, Redis being marked down
		}
	}
	t.Logf("30 reads with Redis %v late: the first took %v; the slowest of the others %v, with %d round trips in all",
		latency, first, slowest, trips)
	// Round trips, not times, tell a counter that falls back from one that
	// waits on Redis: on a CI machine saturated by other suites even a read
	// from SQL can take longer than Redis's added latency. The time bound is
	// only a sanity check, far above the latency.
	if first > 10*latency {
		t.Errorf("the first read with Redis %v late took %v", latency, first)
	}
	if trips != 0 {
		t.Errorf("the reads after it made %d Redis round trips (slowest %v); want none: they should read SQL", trips, slowest)
	}

	proxy.Delay(0)
	waitFor(t, "reads to go to Redis again", func() bool {
		in.Flush(ctx)
		_, _, n := hits()
		return n > 0
	})
	got, _, _ := hits()
	for _, id := range ids(products) {
		if got[id] != base[id]+acked.get(id) {
			t.Errorf("hits of %d after Redis recovered = %d, want %d", id, got[id], base[id]+acked.get(id))
		}
	}
	record(other, 10)
	for _, in := range []*instance{other, in} {
		waitFor(t, "a flush", func() bool { return in.Flush(ctx) == nil })
	}
	assertExact(t, f, in, base, &acked, products)
}
