package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/storetest"
)

// hitsOf reads products.hits straight from SQL.
func hitsOf(t *testing.T, db *store.DB, ids ...int64) map[int64]int64 {
	t.Helper()
	hits, _, err := db.ViewBase(context.Background(), ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// A batch is applied once: one INSERT and one UPDATE, and a second apply of
// the same id is a no-op of one statement. A product that no longer exists
// is skipped and the batch is still recorded.
func TestApplyViewsExactlyOnce(t *testing.T) {
	seedEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := mustSeed(t, d, store.SeedOptions{Products: 20, Seed: 1})
		ctx := context.Background()
		before := hitsOf(t, db, 1, 2)
		b := store.ViewBatch{ID: "b1", Deltas: map[int64]int64{1: 3, 2: 1, 999: 5}}
		s0, u0 := db.Statements(), db.Updates()
		applied, err := db.ApplyViews(ctx, b)
		if err != nil || !applied {
			t.Fatalf("first apply = %v, %v", applied, err)
		}
		if s, u := db.Statements()-s0, db.Updates()-u0; s != 2 || u != 1 {
			t.Errorf("first apply: %d statements, %d UPDATEs; want 2 and 1", s, u)
		}
		s0 = db.Statements()
		if applied, err := db.ApplyViews(ctx, b); err != nil || applied {
			t.Fatalf("second apply = %v, %v; want a no-op", applied, err)
		}
		if s := db.Statements() - s0; s != 1 {
			t.Errorf("second apply: %d statements, want 1 (the INSERT that finds the batch)", s)
		}
		got := hitsOf(t, db, 1, 2, 999)
		if got[1] != before[1]+3 || got[2] != before[2]+1 || len(got) != 2 {
			t.Errorf("hits = %v, want %v plus 3 and 1, and no row 999", got, before)
		}
		_, applied2, err := db.ViewBase(ctx, nil, []string{"b1", "b2"})
		if err != nil || !applied2["b1"] || applied2["b2"] {
			t.Errorf("applied = %v, %v; want b1 only", applied2, err)
		}
	})
}

// Above 5,000 products the flush statement is chunked; below, one UPDATE
// whatever the number of views. (Most of these ids have no row: the UPDATE
// skips them, which is what it does for deleted products.)
func TestApplyViewsChunksOnlyAboveFiveThousandProducts(t *testing.T) {
	seedEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := mustSeed(t, d, store.SeedOptions{Products: 5, Seed: 1})
		before := hitsOf(t, db, 1, 2)
		for _, c := range []struct {
			products int64
			updates  int64
		}{{5000, 1}, {5001, 2}} {
			deltas := map[int64]int64{}
			for id := int64(1); id <= c.products; id++ {
				deltas[id] = 1 + id%3
			}
			u0 := db.Updates()
			b := store.ViewBatch{ID: fmt.Sprint("b", c.products), Deltas: deltas}
			if _, err := db.ApplyViews(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			if u := db.Updates() - u0; u != c.updates {
				t.Errorf("%d products: %d UPDATEs, want %d", c.products, u, c.updates)
			}
		}
		if got := hitsOf(t, db, 1, 2); got[1] != before[1]+4 || got[2] != before[2]+6 {
			t.Errorf("hits = %v, want %v plus 4 and 6", got, before)
		}
	})
}

// A crash between the UPDATE and COMMIT leaves nothing: the batch can be
// applied again.
func TestApplyViewsRollsBackWhole(t *testing.T) {
	seedEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := mustSeed(t, d, store.SeedOptions{Products: 5, Seed: 1})
		ctx, cancel := context.WithCancel(context.Background())
		before := hitsOf(t, db, 1)[1]
		_, err := db.ApplyViews(ctx, store.ViewBatch{ID: "x", Deltas: map[int64]int64{1: 4}, BeforeCommit: cancel})
		if err == nil {
			t.Fatal("apply with a context cancelled before commit succeeded")
		}
		if applied, err := db.ApplyViews(context.Background(), store.ViewBatch{ID: "x", Deltas: map[int64]int64{1: 4}}); err != nil || !applied {
			t.Fatalf("re-apply = %v, %v", applied, err)
		}
		if got := hitsOf(t, db, 1)[1]; got != before+4 {
			t.Errorf("hits = %d, want %d", got, before+4)
		}
	})
}

func TestPruneViewBatches(t *testing.T) {
	db := mustSeed(t, store.SQLite, store.SeedOptions{Products: 5, Seed: 1})
	ctx := context.Background()
	if _, err := db.ApplyViews(ctx, store.ViewBatch{ID: "old", Deltas: map[int64]int64{1: 1}}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PruneViewBatches(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("prune of nothing old = %d, %v", n, err)
	}
	if n, err := db.PruneViewBatches(ctx, time.Now().Add(time.Second)); err != nil || n != 1 {
		t.Errorf("prune = %d, %v; want 1", n, err)
	}
}

func newRedisViews(t *testing.T) (*store.RedisViews, *store.RedisCounter) {
	v, counter, _ := newRedisViewsKeys(t)
	return v, counter
}

// newRedisViewsKeys also returns a function that lists the counter's keys.
func newRedisViewsKeys(t *testing.T) (*store.RedisViews, *store.RedisCounter, func() []string) {
	t.Helper()
	url := storetest.RedisURL(t)
	rdb, err := store.NewRedis(url, store.RedisOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	counter := &store.RedisCounter{}
	rdb.AddHook(counter)
	prefix := storetest.Prefix(t, url)
	keys := func() []string {
		k, err := rdb.Keys(context.Background(), prefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return store.NewRedisViews(rdb, store.RedisViewsOptions{Prefix: prefix}), counter, keys
}

// The Redis protocol, step by step: record, read, init, claim, ack.
func TestRedisViewsProtocol(t *testing.T) {
	v, counter := newRedisViews(t)
	ctx := context.Background()
	n, q, err := v.Record(ctx, 7)
	if err != nil || n != -1 || q != 1 {
		t.Fatalf("first record = %d, %d, %v; want no display count yet, 1 queued", n, q, err)
	}
	r, err := v.Read(ctx, []int64{7, 8})
	if err != nil || !slices.Equal(r.Display, []int64{-1, -1}) || r.Gen != "0" || len(r.Claimed) != 0 {
		t.Fatalf("read = %+v, %v", r, err)
	}
	// SQL says 100: the display count is 100 + the 1 pending view.
	got, err := v.Init(ctx, r.Gen, []int64{7}, []int64{100}, nil)
	if err != nil || !slices.Equal(got, []int64{101}) {
		t.Fatalf("init = %v, %v; want [101]", got, err)
	}
	if n, q, _ := v.Record(ctx, 7); n != 102 || q != 2 {
		t.Errorf("second record = %d, %d; want 102, 2", n, q)
	}
	claim, err := v.Claim(ctx, "B1")
	if err != nil || claim.Views[7] != 2 || !slices.Equal(claim.Claimed, []string{"B1"}) {
		t.Fatalf("claim = %+v, %v", claim, err)
	}
	// While B1 is claimed and not applied, a fresh init must count it.
	r, _ = v.Read(ctx, []int64{8})
	if _, err := v.Init(ctx, "0", []int64{8}, []int64{0}, nil); !errors.Is(err, store.ErrViewsMoved) {
		t.Errorf("init with a generation from before the claim: %v, want ErrViewsMoved", err)
	}
	if r.Gen != "1" || !slices.Equal(r.Claimed, []string{"B1"}) {
		t.Errorf("read after claim = %+v", r)
	}
	if views, err := v.Batch(ctx, "B1"); err != nil || views[7] != 2 {
		t.Errorf("batch = %v, %v", views, err)
	}
	if err := v.Ack(ctx, "B1"); err != nil {
		t.Fatal(err)
	}
	if err := v.Ack(ctx, "B1"); err != nil {
		t.Errorf("second ack: %v", err)
	}
	if claim, err := v.Claim(ctx, "B2"); err != nil || len(claim.Views) != 0 || len(claim.Claimed) != 0 {
		t.Errorf("claim of nothing = %+v, %v", claim, err)
	}
	if views, _ := v.Batch(ctx, "B1"); len(views) != 0 {
		t.Errorf("acknowledged batch still has %v", views)
	}
	if err := v.Invalidate(ctx, []int64{7}); err != nil {
		t.Fatal(err)
	}
	if r, _ := v.Read(ctx, []int64{7}); r.Display[0] != -1 || r.Gen != "3" {
		t.Errorf("after invalidate: %+v, want no count and generation 3 (claim, ack, invalidate)", r)
	}
	before := counter.Stats()
	if _, err := v.Read(ctx, []int64{1, 2, 3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	if s := counter.Stats().Sub(before); s.RoundTrips != 1 {
		t.Errorf("read of 5: %d round trips, want 1", s.RoundTrips)
	}
}

// All keys of the view counter share one Redis Cluster slot.
func TestRedisViewsKeysShareASlot(t *testing.T) {
	v, _, keys := newRedisViewsKeys(t)
	ctx := context.Background()
	for id := int64(1); id <= 3; id++ {
		if _, _, err := v.Record(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Claim(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.Record(ctx, 4); err != nil {
		t.Fatal(err)
	}
	r, _ := v.Read(ctx, []int64{4})
	if _, err := v.Init(ctx, r.Gen, []int64{4}, []int64{0}, r.Claimed); err != nil {
		t.Fatal(err)
	}
	got := keys()
	if len(got) != 6 { // n:4, pending, queued, batch:b, claimed, gen
		t.Errorf("keys = %v, want 6", got)
	}
	for _, k := range got {
		if tag := hashTag(k); tag != "views" {
			t.Errorf("key %s has hash tag %q, want \"views\"", k, tag)
		}
	}
}

// hashTag returns the part of a key that Redis Cluster hashes: the text
// between the first '{' and the next '}', when not empty.
func hashTag(key string) string {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return key
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return key
	}
	return key[i+1 : i+1+j]
}

// A display count expires about DisplayTTL after it was set, views or not.
func TestRedisViewsDisplayTTL(t *testing.T) {
	url := storetest.RedisURL(t)
	rdb, err := store.NewRedis(url, store.RedisOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	prefix := storetest.Prefix(t, url)
	v := store.NewRedisViews(rdb, store.RedisViewsOptions{Prefix: prefix, DisplayTTL: time.Hour})
	ctx := context.Background()
	r, _ := v.Read(ctx, []int64{1})
	if _, err := v.Init(ctx, r.Gen, []int64{1}, []int64{0}, nil); err != nil {
		t.Fatal(err)
	}
	ttl := func() time.Duration { return rdb.TTL(ctx, prefix+"{views}:n:1").Val() }
	before := ttl()
	if before < 54*time.Minute || before > 66*time.Minute {
		t.Errorf("TTL = %v, want 1h ± 10%%", before)
	}
	if _, _, err := v.Record(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if after := ttl(); after > before {
		t.Errorf("a view extended the TTL from %v to %v", before, after)
	}
}
