package graph_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
)

const recordViewMutation = `mutation($id: ID!) { recordView(productId: $id) { id hits } }`

// record sends recordView through the handler and returns the hits it got.
func (ts *testServer) record(t *testing.T, id int64) int64 {
	t.Helper()
	var data struct {
		RecordView struct {
			ID   string `json:"id"`
			Hits int64  `json:"hits"`
		} `json:"recordView"`
	}
	ts.mustQuery(t, recordViewMutation, map[string]any{"id": fmt.Sprint(id)}, &data)
	if data.RecordView.ID != fmt.Sprint(id) {
		t.Fatalf("recordView(%d) returned product %q", id, data.RecordView.ID)
	}
	return data.RecordView.Hits
}

// hits reads products(ids) { hits } through the handler.
func (ts *testServer) hits(t *testing.T, ids []int64) map[int64]int64 {
	t.Helper()
	var data struct {
		Products []struct {
			ID   string `json:"id"`
			Hits int64  `json:"hits"`
		} `json:"products"`
	}
	ts.mustQuery(t, `query($ids: [ID!]!) { products(ids: $ids) { id hits } }`, map[string]any{"ids": idStrings(ids)}, &data)
	out := map[int64]int64{}
	for i, p := range data.Products {
		out[ids[i]] = p.Hits
	}
	return out
}

func (ts *testServer) sqlHits(t *testing.T, ids []int64) map[int64]int64 {
	t.Helper()
	hits, _, err := ts.db.ViewBase(context.Background(), ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func idStrings(ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprint(id)
	}
	return out
}

func span(from, to int64) []int64 {
	var out []int64
	for id := from; id <= to; id++ {
		out = append(out, id)
	}
	return out
}

// recordView of a cached product costs one Redis round trip for the count
// beside the product loader's cache read, and no SQL. Reading hits for a
// batch is one round trip when warm and no SQL; cold, one SQL statement and
// one more round trip to set the display counts. The counter's keys share
// one slot, so on a cluster each of its round trips is one node's.
func TestViewCosts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d sqlstore.Dialect, redisURL string) {
		ts := newTestServer(t, d, serverOptions{wait: countWait, redisURL: redisURL})
		base := ts.sqlHits(t, span(1, 50))
		if n := ts.record(t, 5); n != base[5]+1 {
			t.Errorf("first view of 5: hits %d, want %d", n, base[5]+1)
		}
		t.Run("recordView, product cached", func(t *testing.T) {
			var n int64
			c := ts.measure(t, func() { n = ts.record(t, 5) })
			if n != base[5]+2 {
				t.Errorf("second view of 5: hits %d, want %d", n, base[5]+2)
			}
			if c.sql != 0 {
				t.Errorf("recordView: %d SQL, want 0", c.sql)
			}
			ts.expect(t).read("product", 5).command("evalsha").check("recordView", c.redis)
		})
		ids := span(1, 50)
		t.Run("hits of 50, cold", func(t *testing.T) {
			var got map[int64]int64
			c := ts.measure(t, func() { got = ts.hits(t, ids) })
			// the products, with their images and tags; then the view
			// counter's one snapshot.
			if c.sql != 2 {
				t.Errorf("cold hits: %d SQL, want 1 for the products and 1 for the counts", c.sql)
			}
			// The products' read, which takes the leases, and write-back
			// (5 is cached), the counts' read and init.
			cold := slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { return id == 5 })
			ts.expect(t).read("product", ids...).script("product", cold...).
				command("evalsha").command("evalsha").check("cold hits", c.redis)
			for _, id := range ids {
				if want := base[id] + map[int64]int64{5: 2}[id]; got[id] != want {
					t.Errorf("hits of %d = %d, want %d", id, got[id], want)
				}
			}
		})
		t.Run("hits of 50, warm", func(t *testing.T) {
			c := ts.measure(t, func() { ts.hits(t, ids) })
			if c.sql != 0 {
				t.Errorf("warm hits: %d SQL, want 0", c.sql)
			}
			ts.expect(t).read("product", ids...).command("evalsha").check("warm hits", c.redis)
		})
	})
}

// A product that does not exist fails with NOT_FOUND and leaves no counter
// state; an id that is not an int64 fails with BAD_USER_INPUT.
func TestRecordViewErrors(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{products: 5})
	for _, c := range []struct{ id, code string }{
		{"999999", "NOT_FOUND"}, {"abc", "BAD_USER_INPUT"}, {"-1", "BAD_USER_INPUT"}, {"99999999999999999999", "BAD_USER_INPUT"},
	} {
		r := ts.query(t, recordViewMutation, map[string]any{"id": c.id}, nil)
		if codes := r.codes(); !slices.Equal(codes, []string{c.code}) {
			t.Errorf("recordView(%q): codes %v, want [%s]", c.id, codes, c.code)
		}
	}
	keys, err := ts.rdb.Keys(context.Background(), ts.prefix+"{views}*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("counter keys after failed views: %v, %v; want none", keys, err)
	}
}

// Write-behind in statements: 10,000 views of 1,000 products within one
// flush window reach SQL as one UPDATE (with the INSERT that records the
// batch, two statements). 100 views of one product are one UPDATE too,
// where the x-th-view approach (write SQL on every x-th view) makes 16.
// The bulk of the views goes through the counter directly, for speed; 200
// go through the GraphQL handler.
func TestViewsBecomeOneUpdate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d sqlstore.Dialect, redisURL string) {
		ts := newTestServer(t, d, serverOptions{products: 1000, wait: time.Millisecond, redisURL: redisURL})
		ctx := context.Background()
		base := ts.sqlHits(t, span(1, 1000))
		// The pages were read before: the counts are in Redis.
		if _, err := ts.views.Hits(ctx, span(1, 1000)); err != nil {
			t.Fatal(err)
		}
		// 10 views of each product: 2 each of products 1..100 through the
		// handler, the rest through the counter by 8 concurrent clients.
		for id := int64(1); id <= 100; id++ {
			ts.record(t, id)
			ts.record(t, id)
		}
		var bulk []int64
		for id := int64(1); id <= 1000; id++ {
			n := 10
			if id <= 100 {
				n = 8
			}
			for range n {
				bulk = append(bulk, id)
			}
		}
		if len(bulk) != 9800 {
			t.Fatalf("bulk of %d views, want 9,800", len(bulk))
		}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(bulk); i += 8 {
					if _, err := ts.views.Record(ctx, bulk[i]); err != nil {
						t.Errorf("record: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		s0, u0, r0 := ts.db.Statements(), ts.db.Updates(), ts.redis.Stats()
		if err := ts.views.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		s, u, r := ts.db.Statements()-s0, ts.db.Updates()-u0, ts.redis.Stats().Sub(r0)
		if s != 3 || u != 2 || r.RoundTrips != 2 || r.NodeRoundTrips != 2 {
			t.Errorf("flush of 10,000 views of 1,000 products: %d statements, %d UPDATEs, %d round trips %v; "+
				"want 3 (SELECT of the log's position, its UPDATE, UPDATE of hits), 2, and 2 (read, trim)",
				s, u, r.RoundTrips, r.Commands)
		}
		got := ts.sqlHits(t, span(1, 1000))
		for id := int64(1); id <= 1000; id++ {
			if got[id] != base[id]+10 {
				t.Fatalf("SQL hits of %d = %d, want %d", id, got[id], base[id]+10)
			}
		}
		for range 100 {
			ts.record(t, 7)
		}
		s0, u0 = ts.db.Statements(), ts.db.Updates()
		if err := ts.views.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// The position is known from the last flush: no SELECT.
		if s, u := ts.db.Statements()-s0, ts.db.Updates()-u0; s != 2 || u != 2 {
			t.Errorf("flush of 100 views of one product: %d statements, %d UPDATEs; want 2 and 2 (position, hits)", s, u)
		}
		if got := ts.sqlHits(t, []int64{7})[7]; got != base[7]+110 {
			t.Errorf("SQL hits of 7 = %d, want %d", got, base[7]+110)
		}
	})
}

// A client that records views and reads hits in a loop, while another
// client records views of the same products and the flusher runs every
// 20 ms, never sees a count go down; at the end SQL holds every view.
func TestHitsNeverGoDown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d sqlstore.Dialect, redisURL string) {
		ts := newTestServer(t, d, serverOptions{products: 20, flushInterval: 20 * time.Millisecond, wait: time.Millisecond,
			redisURL: redisURL})
		ctx := context.Background()
		ids := []int64{3, 4}
		base := ts.sqlHits(t, ids)
		done := make(chan struct{})
		var other int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ; ; other++ {
				select {
				case <-done:
					return
				default:
				}
				if _, err := ts.views.Record(ctx, ids[other%2]); err != nil {
					t.Errorf("record: %v", err)
					return
				}
			}
		}()
		last := map[int64]int64{}
		see := func(id, n int64) {
			if n < last[id] {
				t.Errorf("hits of %d went down from %d to %d", id, last[id], n)
			}
			last[id] = n
		}
		for i := range 100 {
			id := ids[i%2]
			see(id, ts.record(t, id))
			for id, n := range ts.hits(t, ids) {
				see(id, n)
			}
		}
		close(done)
		wg.Wait()
		if err := ts.views.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got := ts.sqlHits(t, ids)
		if total := got[3] + got[4] - base[3] - base[4]; total != 100+other {
			t.Errorf("SQL holds %d new views, want %d", total, 100+other)
		}
		if ts.views.Stats().Applied < 2 {
			t.Errorf("the flusher applied %d batches during the run, want several", ts.views.Stats().Applied)
		}
	})
}
