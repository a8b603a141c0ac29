package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/storetest"
)

// The eviction policy is read through CONFIG GET, and through INFO memory
// where CONFIG is disabled; only the allkeys- policies evict keys without
// a TTL.
func TestEvictionPolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		policy string
		evicts bool
	}{
		{"allkeys-lru", []string{"--maxmemory", "1mb", "--maxmemory-policy", "allkeys-lru"}, "allkeys-lru", true},
		{"volatile-lru", []string{"--maxmemory-policy", "volatile-lru"}, "volatile-lru", false},
		{"noeviction, CONFIG disabled", []string{"--rename-command", "CONFIG", `""`}, "noeviction", false},
		{"allkeys-lfu, CONFIG disabled", []string{"--maxmemory-policy", "allkeys-lfu", "--rename-command", "CONFIG", `""`}, "allkeys-lfu", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb, err := redisstore.NewRedis(storetest.StartRedis(t, tc.args...), redisstore.RedisOptions{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			p, err := redisstore.EvictionPolicy(context.Background(), rdb)
			if err != nil || p != tc.policy || redisstore.EvictsAnyKey(p) != tc.evicts {
				t.Errorf("policy %q (%v), evicts %v; want %q, %v", p, err, redisstore.EvictsAnyKey(p), tc.policy, tc.evicts)
			}
		})
	}
}

// A Redis full under noeviction refuses the markers' script. An
// invalidation is then delivered by deleting the entry, which Redis still
// accepts, instead of fencing every read until memory frees; a write-back
// racing it is refused too, so nothing old comes back.
func TestInvalidateWhenRedisIsFull(t *testing.T) {
	ctx := context.Background()
	rdb, cache := fullRedis(t)
	err := cache.Invalidate(ctx, []store.Invalidation{{Kind: "product", ID: 1, Version: 2}})
	if err != nil || !cache.Readable() || cache.OOMInvalidations() != 1 {
		t.Fatalf("invalidation in a full Redis: %v, readable %v, %d by deletion; want delivered, readable, 1",
			err, cache.Readable(), cache.OOMInvalidations())
	}
	if n, _ := rdb.Exists(ctx, cache.Key("product", 1)).Result(); n != 0 {
		t.Error("the invalidated entry is still in Redis")
	}
	if err := cache.Put(ctx, "product", []redisstore.Fill{{ID: 1, Version: 1, Data: []byte(`{"id":1}`)}}); err == nil {
		t.Error("a write-back of the old version was taken by a full Redis")
	}
}

// fullRedis starts a Redis of t's own under noeviction, with product 1
// cached at version 1, and fills it past its maxmemory: memory in use above
// it, as when clients' buffers grow on a full Redis, so that every write
// is refused with OOM.
func fullRedis(t *testing.T) (redis.UniversalClient, *redisstore.Cache) {
	t.Helper()
	ctx := context.Background()
	rdb, err := redisstore.NewRedis(storetest.StartRedis(t, "--maxmemory", "2mb", "--maxmemory-policy", "noeviction"),
		redisstore.RedisOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	cache := redisstore.NewCache(rdb, redisstore.CacheOptions{Prefix: "full:", Timeout: time.Second})
	_, epoch := cache.Fenced()
	cache.UnfenceIf(epoch)
	if err := cache.Put(ctx, "product", []redisstore.Fill{{ID: 1, Version: 1, Data: []byte(`{"id":1}`)}}); err != nil {
		t.Fatal(err)
	}
	storetest.FillRedis(t, rdb)
	if err := rdb.Set(ctx, "one-more", "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "OOM") {
		t.Fatalf("Redis is not full: SET answered %v", err)
	}
	return rdb, cache
}
