package redisstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/storetest"
)

// A read takes the fill leases of its misses in the same round trip: the
// first reader of a missing key gets its lease, the next ones find it
// busy, and the write-back, of several kinds in one round trip, ends it.
func TestCacheReadTakesLeases(t *testing.T) {
	storetest.ForEachRedis(t, func(t *testing.T, url string) {
		c, counter, _ := newCache(t, url, redisstore.CacheOptions{})
		ctx := context.Background()
		doc := redisstore.Fill{ID: 1, Version: 3, Data: []byte(`{"id":1}`)}
		if err := c.Put(ctx, "product", []redisstore.Fill{doc, {ID: 4, Absent: true}}); err != nil {
			t.Fatal(err)
		}
		if err := c.Invalidate(ctx, []store.Invalidation{{Kind: "product", ID: 5, Version: 2}}); err != nil {
			t.Fatal(err)
		}
		read := func(what string, ids []int64, want ...redisstore.LeaseState) []redisstore.Entry {
			t.Helper()
			before := counter.Stats()
			entries, states, err := c.Read(ctx, "product", ids, 10*time.Second)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if !slices.Equal(states, want) {
				t.Errorf("%s: lease states %v, want %v", what, states, want)
			}
			if n := counter.Stats().Sub(before).RoundTrips; n != 1 {
				t.Errorf("%s: %d round trips, want 1", what, n)
			}
			return entries
		}
		// 1 a document, 2 and 3 nothing, 4 a negative entry, 5 a marker.
		e := read("first read", []int64{1, 2, 3, 4, 5},
			redisstore.Answered, redisstore.Granted, redisstore.Granted, redisstore.Answered, redisstore.Granted)
		if e[0].State != redisstore.Hit || e[0].Version != 3 || e[3].State != redisstore.Absent || e[4].State != redisstore.Invalidated {
			t.Errorf("first read: entries %+v", e)
		}
		read("second reader", []int64{2, 3, 5}, redisstore.Busy, redisstore.Busy, redisstore.Busy)

		before := counter.Stats()
		err := c.PutKinds(ctx,
			redisstore.KindFills{Kind: "product", Fills: []redisstore.Fill{{ID: 2, Version: 1, Data: []byte(`{"id":2}`)}}},
			redisstore.KindFills{Kind: "seller", Fills: []redisstore.Fill{{ID: 2, Version: 9, Data: []byte(`{"id":2}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		if n := counter.Stats().Sub(before).RoundTrips; n != 1 {
			t.Errorf("a write-back of two kinds: %d round trips, want 1", n)
		}
		read("after the fill", []int64{2, 3}, redisstore.Answered, redisstore.Busy)
		sellers, err := c.Get(ctx, "seller", []int64{2})
		if err != nil || sellers[0].State != redisstore.Hit || sellers[0].Version != 9 {
			t.Errorf("the seller written back with the product: %+v, %v", sellers, err)
		}

		// Without a lease TTL, Read is Get and takes none.
		before = counter.Stats()
		_, states, err := c.Read(ctx, "product", []int64{6, 1}, 0)
		if err != nil || !slices.Equal(states, []redisstore.LeaseState{redisstore.Granted, redisstore.Answered}) {
			t.Errorf("read without leases: %v, %v", states, err)
		}
		if s := counter.Stats().Sub(before); s.Commands["evalsha"] != 0 {
			t.Errorf("read without leases ran a script: %v", s.Commands)
		}
		read("a key read without a lease is still free", []int64{6}, redisstore.Granted)
	})
}

// A Redis that is full under noeviction refuses the leases, not the reads:
// the documents it holds are still served, and each miss is read from SQL
// as if its lease were held.
func TestCacheReadWhenRedisIsFull(t *testing.T) {
	ctx := context.Background()
	rdb, cache := fullRedis(t)
	entries, states, err := cache.Read(ctx, "product", []int64{1, 2}, time.Second)
	if err != nil {
		t.Fatalf("read from a full Redis: %v", err)
	}
	if entries[0].State != redisstore.Hit || !slices.Equal(states, []redisstore.LeaseState{redisstore.Answered, redisstore.Granted}) {
		t.Errorf("read from a full Redis: entries %+v, states %v", entries, states)
	}
	if n, _ := rdb.Exists(ctx, cache.Key("product", 2)+":lease").Result(); n != 0 {
		t.Error("a full Redis stored a lease")
	}
}
