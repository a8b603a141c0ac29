package loaders_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"catalog-bff/loaders"
	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

func newOutboxFixture(t *testing.T, redisURL string) (*sqlstore.DB, *redisstore.Cache) {
	t.Helper()
	db := storetest.MustOpen(t, sqlstore.Postgres)
	if err := db.Seed(context.Background(), sqlstore.SeedOptions{Products: 10, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	db.EnableOutbox()
	rdb, err := redisstore.NewRedis(redisURL, redisstore.RedisOptions{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	prefix := storetest.Prefix(t, storetest.RedisURL(t))
	return db, redisstore.NewCache(rdb, redisstore.CacheOptions{Prefix: prefix, Timeout: 200 * time.Millisecond})
}

// Invalidations that Redis refused stay queued and fence reads; a drain
// once Redis answers delivers them and opens reads again.
func TestInvalidatorDeliversQueued(t *testing.T) {
	ctx := context.Background()
	db, dead := newOutboxFixture(t, "redis://127.0.0.1:1/0")
	invs, err := db.UpdateSeller(ctx, 1, store.SellerPatch{Name: store.Some("A")})
	if err != nil {
		t.Fatal(err)
	}
	if err := loaders.NewCacheInvalidator(db, dead, loaders.CacheInvalidatorOptions{}).Invalidate(ctx, invs); err == nil {
		t.Fatal("invalidation through a dead Redis succeeded")
	}
	if fenced, _ := dead.Fenced(); !fenced {
		t.Error("reads are not fenced after a failed invalidation")
	}
	if n, _ := db.OutboxSize(ctx); n != 1 {
		t.Fatalf("outbox holds %d, want 1", n)
	}
	_, live := newOutboxFixture(t, storetest.RedisURL(t))
	if err := loaders.NewCacheInvalidator(db, live, loaders.CacheInvalidatorOptions{}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.OutboxSize(ctx); n != 0 {
		t.Errorf("outbox holds %d after a drain", n)
	}
	if fenced, _ := live.Fenced(); fenced {
		t.Error("reads still fenced after the outbox was delivered")
	}
	if _, err := live.Get(ctx, "seller", []int64{1}); errors.Is(err, redisstore.ErrCacheUnavailable) {
		t.Error("reads refused after the drain")
	}
}

// An outbox backed up past its bound abandons the key generation: every
// instance moves to an empty key space, and the outbox is emptied.
func TestInvalidatorAbandonsBackloggedCache(t *testing.T) {
	ctx := context.Background()
	db, cache := newOutboxFixture(t, storetest.RedisURL(t))
	for i := range 5 {
		if _, err := db.UpdateSeller(ctx, int64(i%3+1), store.SellerPatch{Rating: store.Some(1.0)}); err != nil {
			t.Fatal(err)
		}
	}
	iv := loaders.NewCacheInvalidator(db, cache, loaders.CacheInvalidatorOptions{MaxPending: 3, Batch: 2})
	if err := iv.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	gen, _ := db.CacheGeneration(ctx)
	if n, _ := db.OutboxSize(ctx); n != 0 || gen != 2 || cache.Generation() != 2 {
		t.Errorf("after a backlog of 5 over a bound of 3: outbox %d, generation %d (cache %d); want 0, 2, 2",
			n, gen, cache.Generation())
	}
	other := redisstore.NewCache(cache.Client(), redisstore.CacheOptions{})
	if err := loaders.NewCacheInvalidator(db, other, loaders.CacheInvalidatorOptions{}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if other.Generation() != 2 {
		t.Errorf("another instance's cache stays at generation %d", other.Generation())
	}
}
