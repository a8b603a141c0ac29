package redisstore_test

import (
	"context"
	"testing"
	"time"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/storetest"
)

func TestRateLimiter(t *testing.T) {
	url := storetest.RedisURL(t)
	rdb, _ := redisstore.NewRedis(url, redisstore.RedisOptions{Timeout: time.Second})
	defer rdb.Close()
	l := redisstore.NewRateLimiter(rdb, redisstore.RateLimitOptions{Prefix: storetest.Prefix(t, url), Rate: 20, Burst: 2, Timeout: time.Second})
	ctx := context.Background()
	var got []bool
	for range 3 {
		ok, err := l.Allow(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ok)
	}
	if !got[0] || !got[1] || got[2] {
		t.Errorf("burst of 2: %v, want true true false", got)
	}
	time.Sleep(120 * time.Millisecond) // 20 per second: at least two tokens back
	if ok, _ := l.Allow(ctx, "a"); !ok {
		t.Error("no token back after the refill time")
	}
	if ok, _ := l.Allow(ctx, "b"); !ok {
		t.Error("another client shares the first one's bucket")
	}
}

// A limiter whose Redis is down lets views through: it fails open.
func TestRateLimiterFailsOpen(t *testing.T) {
	rdb, _ := redisstore.NewRedis("redis://127.0.0.1:1/0", redisstore.RedisOptions{Timeout: 50 * time.Millisecond})
	defer rdb.Close()
	ok, err := redisstore.NewRateLimiter(rdb, redisstore.RateLimitOptions{Rate: 1, Burst: 1}).Allow(context.Background(), "a")
	if !ok || err == nil {
		t.Errorf("Allow with Redis down = %v, %v; want true and an error", ok, err)
	}
}
