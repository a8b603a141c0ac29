package redisstore_test

import (
	"context"
	"testing"
	"time"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/storetest"
)

func TestPersistedQueries(t *testing.T) {
	url := storetest.RedisURL(t)
	rdb, err := redisstore.NewRedis(url, redisstore.RedisOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	prefix := storetest.Prefix(t, url)
	pq := redisstore.NewPersistedQueries(rdb, redisstore.PersistedQueryOptions{Prefix: prefix, TTL: time.Minute})
	ctx := context.Background()
	if _, ok := pq.Get(ctx, "abc"); ok {
		t.Fatal("hit before any Add")
	}
	pq.Add(ctx, "abc", "{ product(id: 1) { id } }")
	if q, ok := pq.Get(ctx, "abc"); !ok || q != "{ product(id: 1) { id } }" {
		t.Errorf("Get after Add = %q, %v", q, ok)
	}
	if ttl := rdb.TTL(ctx, prefix+"abc").Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL %v, want at most a minute", ttl)
	}
}

// A Redis that refuses connections is a miss and a dropped Add, quickly.
func TestPersistedQueriesRedisDown(t *testing.T) {
	rdb, err := redisstore.NewRedis("redis://127.0.0.1:1/0", redisstore.RedisOptions{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	pq := redisstore.NewPersistedQueries(rdb, redisstore.PersistedQueryOptions{})
	start := time.Now()
	pq.Add(context.Background(), "abc", "{ x }")
	if _, ok := pq.Get(context.Background(), "abc"); ok {
		t.Error("hit with Redis down")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v with Redis down", d)
	}
}
