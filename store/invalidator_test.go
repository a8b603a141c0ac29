package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/storetest"
)

func newOutboxFixture(t *testing.T, redisURL string) (*store.DB, *store.Cache) {
	t.Helper()
	db := storetest.MustOpen(t, store.Postgres)
	if err := db.Seed(context.Background(), store.SeedOptions{Products: 10, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	db.EnableOutbox()
	rdb, err := store.NewRedis(redisURL, store.RedisOptions{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	prefix := storetest.Prefix(t, storetest.RedisURL(t))
	return db, store.NewCache(rdb, store.CacheOptions{Prefix: prefix, Timeout: 200 * time.Millisecond})
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
	if err := store.NewInvalidator(db, dead, store.InvalidatorOptions{}).Invalidate(ctx, invs); err == nil {
		t.Fatal("invalidation through a dead Redis succeeded")
	}
	if fenced, _ := dead.Fenced(); !fenced {
		t.Error("reads are not fenced after a failed invalidation")
	}
	if n, _ := db.OutboxSize(ctx); n != 1 {
		t.Fatalf("outbox holds %d, want 1", n)
	}
	_, live := newOutboxFixture(t, storetest.RedisURL(t))
	if err := store.NewInvalidator(db, live, store.InvalidatorOptions{}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.OutboxSize(ctx); n != 0 {
		t.Errorf("outbox holds %d after a drain", n)
	}
	if fenced, _ := live.Fenced(); fenced {
		t.Error("reads still fenced after the outbox was delivered")
	}
	if _, err := live.Get(ctx, "seller", []int64{1}); errors.Is(err, store.ErrCacheUnavailable) {
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
	iv := store.NewInvalidator(db, cache, store.InvalidatorOptions{MaxPending: 3, Batch: 2})
	if err := iv.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	gen, _ := db.CacheGeneration(ctx)
	if n, _ := db.OutboxSize(ctx); n != 0 || gen != 2 || cache.Generation() != 2 {
		t.Errorf("after a backlog of 5 over a bound of 3: outbox %d, generation %d (cache %d); want 0, 2, 2",
			n, gen, cache.Generation())
	}
	other := store.NewCache(cache.Client(), store.CacheOptions{})
	if err := store.NewInvalidator(db, other, store.InvalidatorOptions{}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if other.Generation() != 2 {
		t.Errorf("another instance's cache stays at generation %d", other.Generation())
	}
}
