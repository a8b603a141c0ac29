package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// hitsOf reads products.hits straight from SQL.
func hitsOf(t *testing.T, db *sqlstore.DB, ids ...int64) map[int64]int64 {
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
	seedEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		db := mustSeed(t, d, sqlstore.SeedOptions{Products: 20, Seed: 1})
		ctx := context.Background()
		before := hitsOf(t, db, 1, 2)
		b := sqlstore.ViewBatch{ID: "b1", Deltas: map[int64]int64{1: 3, 2: 1, 999: 5}}
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
	seedEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		db := mustSeed(t, d, sqlstore.SeedOptions{Products: 5, Seed: 1})
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
			b := sqlstore.ViewBatch{ID: fmt.Sprint("b", c.products), Deltas: deltas}
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
	seedEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		db := mustSeed(t, d, sqlstore.SeedOptions{Products: 5, Seed: 1})
		ctx, cancel := context.WithCancel(context.Background())
		before := hitsOf(t, db, 1)[1]
		_, err := db.ApplyViews(ctx, sqlstore.ViewBatch{ID: "x", Deltas: map[int64]int64{1: 4}, BeforeCommit: cancel})
		if err == nil {
			t.Fatal("apply with a context cancelled before commit succeeded")
		}
		if applied, err := db.ApplyViews(context.Background(), sqlstore.ViewBatch{ID: "x", Deltas: map[int64]int64{1: 4}}); err != nil || !applied {
			t.Fatalf("re-apply = %v, %v", applied, err)
		}
		if got := hitsOf(t, db, 1)[1]; got != before+4 {
			t.Errorf("hits = %d, want %d", got, before+4)
		}
	})
}

func TestPruneViewBatches(t *testing.T) {
	db := mustSeed(t, sqlstore.SQLite, sqlstore.SeedOptions{Products: 5, Seed: 1})
	ctx := context.Background()
	if _, err := db.ApplyViews(ctx, sqlstore.ViewBatch{ID: "old", Deltas: map[int64]int64{1: 1}}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PruneViewBatches(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("prune of nothing old = %d, %v", n, err)
	}
	if n, err := db.PruneViewBatches(ctx, time.Now().Add(time.Second)); err != nil || n != 1 {
		t.Errorf("prune = %d, %v; want 1", n, err)
	}
}

func newRedisViews(t *testing.T) (*redisstore.RedisViews, *redisstore.RedisCounter) {
	v, counter, _ := newRedisViewsKeys(t)
	return v, counter
}

// newRedisViewsKeys also returns a function that lists the counter's keys.
func newRedisViewsKeys(t *testing.T) (*redisstore.RedisViews, *redisstore.RedisCounter, func() []string) {
	t.Helper()
	url := storetest.RedisURL(t)
	rdb, err := redisstore.NewRedis(url, redisstore.RedisOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	counter := &redisstore.RedisCounter{}
	rdb.AddHook(counter)
	prefix := storetest.Prefix(t, url)
	keys := func() []string {
		k, err := rdb.Keys(context.Background(), prefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return redisstore.NewRedisViews(rdb, redisstore.RedisViewsOptions{Prefix: prefix}), counter, keys
}

// The Redis protocol, step by step: record, read, init, read the log,
// trim, repair.
func TestRedisViewsProtocol(t *testing.T) {
	v, counter := newRedisViews(t)
	ctx := context.Background()
	n, q, err := v.Record(ctx, 7)
	if err != nil || n != -1 || q != 1 {
		t.Fatalf("first record = %d, %d, %v; want no display count yet, 1 queued", n, q, err)
	}
	r, err := v.Read(ctx, []int64{7, 8})
	if err != nil || !slices.Equal(r.Display, []int64{-1, -1}) || r.Gen != "0" {
		t.Fatalf("read = %+v, %v", r, err)
	}
	// SQL says 100 with nothing applied: the display count is 100 + the 1 view in the log.
	got, err := v.Init(ctx, r.Gen, []int64{7}, []int64{100}, store.LogPos{})
	if err != nil || !slices.Equal(got, []int64{101}) {
		t.Fatalf("init = %v, %v; want [101]", got, err)
	}
	if n, q, _ := v.Record(ctx, 7); n != 102 || q != 2 {
		t.Errorf("second record = %d, %d; want 102, 2", n, q)
	}
	mine := v.Unconfirmed()
	if len(mine) != 2 || !slices.Equal(mine[0].IDs, []int64{7}) || !mine[0].Pos.Less(mine[1].Pos) {
		t.Fatalf("remembered entries = %+v, want the two appended, in order", mine)
	}
	log, err := v.ReadLog(ctx, store.LogPos{}, 100)
	if err != nil || log.Views[7] != 2 || len(log.Entries) != 2 || log.Through != mine[1].Pos ||
		log.Last != mine[1].Pos || log.More || !log.Exists || log.Token != "" {
		t.Fatalf("read log = %+v, %v", log, err)
	}
	// Only the entries after a position; a limit says there is more.
	if after, _ := v.ReadLog(ctx, mine[0].Pos, 1); len(after.Entries) != 1 || after.Views[7] != 1 || after.More != true {
		t.Errorf("read after the first entry, limit 1 = %+v", after)
	}
	// SQL applied the first entry: a fresh init counts only the second.
	if got, err := v.Init(ctx, r.Gen, []int64{8, 7}, []int64{50, 0}, mine[0].Pos); err != nil || got[0] != 50 || got[1] != 102 {
		t.Errorf("init of 8 after the first entry = %v, %v; want 50 and 7's count kept", got, err)
	}
	if err := v.TrimLog(ctx, log.Through, "T1", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Init(ctx, r.Gen, []int64{9}, []int64{0}, store.LogPos{}); !errors.Is(err, redisstore.ErrViewsMoved) {
		t.Errorf("init with a generation from before the trim: %v, want ErrViewsMoved", err)
	}
	if after, _ := v.ReadLog(ctx, store.LogPos{}, 100); len(after.Entries) != 0 || after.Token != "T1" || after.Last != log.Last {
		t.Errorf("after the trim = %+v, want no entry, token T1, the same last id", after)
	}
	v.Confirm(log.Through, nil)
	if len(v.Unconfirmed()) != 0 {
		t.Errorf("confirmed entries still remembered: %+v", v.Unconfirmed())
	}
	// A log behind SQL: repair moves its last id to SQL's and drops every display count.
	ahead := store.LogPos{Ms: log.Last.Ms + 60_000}
	if err := v.RepairLog(ctx, store.ViewLogState{Applied: ahead, Token: "T9"}); err != nil {
		t.Fatal(err)
	}
	if after, _ := v.ReadLog(ctx, store.LogPos{}, 100); after.Last != ahead || after.Token != "T9" {
		t.Errorf("after the repair = %+v, want last %v and token T9", after, ahead)
	}
	if n, _, _ := v.Record(ctx, 7); n != -1 {
		t.Errorf("display count after the repair = %d, want none", n)
	}
	if next := v.Unconfirmed(); len(next) != 1 || !ahead.Less(next[0].Pos) {
		t.Errorf("entry appended after the repair = %+v, want after %v", next, ahead)
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
	log, err := v.ReadLog(ctx, store.LogPos{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.TrimLog(ctx, log.Entries[0], "T", 1); err != nil {
		t.Fatal(err)
	}
	r, _ := v.Read(ctx, []int64{4})
	if _, err := v.Init(ctx, r.Gen, []int64{4}, []int64{0}, log.Entries[0]); err != nil {
		t.Fatal(err)
	}
	got := keys()
	if len(got) != 6 { // n:4, log, queued, token, applied, gen
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
	rdb, err := redisstore.NewRedis(url, redisstore.RedisOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	prefix := storetest.Prefix(t, url)
	v := redisstore.NewRedisViews(rdb, redisstore.RedisViewsOptions{Prefix: prefix, DisplayTTL: time.Hour})
	ctx := context.Background()
	r, _ := v.Read(ctx, []int64{1})
	if _, err := v.Init(ctx, r.Gen, []int64{1}, []int64{0}, store.LogPos{}); err != nil {
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
