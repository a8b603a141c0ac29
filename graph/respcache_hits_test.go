package graph_test

import (
	"context"
	"testing"
	"time"

	"catalog-bff/graph"
	"catalog-bff/store/sqlstore"
)

const hitsQuery = `query($id: ID!) { product(id: $id) { id hits } }`

func hitsOf(t *testing.T, e exchange) int {
	t.Helper()
	var v struct{ Product struct{ Hits int } }
	e.data(t, &v)
	return v.Product.Hits
}

// TestResponseCacheHits: a view counted here shows at once; one counted
// elsewhere shows within HitsMaxStaleness.
func TestResponseCacheHits(t *testing.T) {
	const staleness = time.Second
	ts, _ := cachedServer(t, sqlstore.Postgres, serverOptions{}, graph.ResponseCacheOptions{HitsMaxStaleness: staleness})
	send := func() exchange { return ts.get(t, hitsQuery, vars(42)) }
	h0 := hitsOf(t, send())
	e := send()
	if got := hitsOf(t, e); got != h0 {
		t.Fatalf("hits %d, want %d", got, h0)
	}
	if cc := e.header.Get("Cache-Control"); cc != "public, max-age=0" && cc != "public, max-age=1" {
		t.Fatalf("Cache-Control %q, want a max-age of at most 1 s", cc)
	}
	var v struct{ RecordView struct{ Hits int } }
	ts.post(t, `mutation { recordView(productId: "42") { hits } }`, nil).data(t, &v)
	if got := hitsOf(t, send()); got != h0+1 || v.RecordView.Hits != h0+1 {
		t.Fatalf("after a view here, hits %d (recordView said %d), want %d", got, v.RecordView.Hits, h0+1)
	}
	mustHit(t, ts, send)
	// A view counted by another instance: only the staleness bound
	// brings it.
	if _, err := ts.views.Record(context.Background(), 42); err != nil {
		t.Fatal(err)
	}
	time.Sleep(staleness + 50*time.Millisecond)
	// The entry stays: only its count is read again, in one round trip.
	c := ts.measure(t, func() { e = send() })
	if got := hitsOf(t, e); got != h0+2 || c.sql != 0 || c.redis.RoundTrips != 1 {
		t.Fatalf("%v after a view elsewhere, hits %d with %d SQL and %d Redis round trips, want %d with 0 and 1",
			staleness, got, c.sql, c.redis.RoundTrips, h0+2)
	}
	mustHit(t, ts, send)
}

// TestResponseCacheHitsSpliced: with HitsMaxStaleness 0 a response with
// view counts is still answered from the cache, its counts read again on
// every hit in one Redis round trip and no SQL, so that a view counted
// anywhere shows on the next request. A list that shows a product twice
// shows its count twice.
func TestResponseCacheHitsSpliced(t *testing.T) {
	tally := &rcTally{}
	ts, _ := cachedServer(t, sqlstore.Postgres, serverOptions{}, graph.ResponseCacheOptions{Observer: tally})
	const list = `query($ids: [ID!]!) { products(ids: $ids) { id name hits } again: product(id: "8") { hits } }`
	ids := map[string]any{"ids": []string{"8", "9", "8"}}
	type page struct {
		Products []struct {
			ID   string
			Hits int
		}
		Again struct{ Hits int }
	}
	read := func(e exchange) page {
		var p page
		e.data(t, &p)
		return p
	}
	first := read(mustExecute(t, ts, func() exchange { return ts.post(t, list, ids) }))
	for round := range 3 {
		// Views counted by another instance: nothing here hears of them.
		for range round + 1 {
			if _, err := ts.views.Record(context.Background(), 8); err != nil {
				t.Fatal(err)
			}
		}
		hits := tally.hits.Load()
		var e exchange
		c := ts.measure(t, func() { e = ts.post(t, list, ids) })
		if tally.hits.Load() != hits+1 || c.sql != 0 || c.redis.RoundTrips != 1 {
			t.Fatalf("round %d: cache hits %d → %d, %d SQL, %d Redis round trips; want a hit, no SQL and one round trip",
				round, hits, tally.hits.Load(), c.sql, c.redis.RoundTrips)
		}
		got, want8 := read(e), first.Products[0].Hits+(round+1)*(round+2)/2
		if got.Products[0].Hits != want8 || got.Products[2].Hits != want8 || got.Again.Hits != want8 ||
			got.Products[1].Hits != first.Products[1].Hits {
			t.Fatalf("round %d: %+v, want product 8 at %d everywhere and 9 at %d", round, got, want8, first.Products[1].Hits)
		}
	}
	// The other responses are served as stored.
	send := func() exchange { return ts.post(t, detailPage, vars(5)) }
	mustExecute(t, ts, send)
	mustHit(t, ts, send)
}
