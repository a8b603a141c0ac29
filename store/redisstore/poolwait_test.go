package redisstore_test

import (
	"context"
	"errors"
	neturl "net/url"
	"sync"
	"testing"
	"time"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/storetest"
)

// gatedCache returns a cache whose client reaches Redis through a proxy
// with a pool of two connections, and that proxy.
func gatedCache(t *testing.T, timeout time.Duration) (*redisstore.Cache, *storetest.Proxy) {
	t.Helper()
	url := storetest.RedisURL(t)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	p := storetest.NewProxy(t, u.Host)
	rdb, err := redisstore.NewRedis(p.RedisURL(t, url)+"?pool_size=2", redisstore.RedisOptions{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	c := open(redisstore.NewCache(rdb, redisstore.CacheOptions{Prefix: storetest.Prefix(t, url), Timeout: timeout}))
	return c, p
}

// storm runs n cache reads at once and returns their errors.
func storm(c *redisstore.Cache, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = c.Get(context.Background(), "product", []int64{int64(i)}) })
	}
	wg.Wait()
	return errs
}

// More reads at once than the pool holds wait for a connection, and those
// whose deadline passes first fail with ErrPoolWait; Redis answered every
// read that got a connection, so the breaker stays closed. Each reply
// takes 20 ms, so two connections serve about 25 of the 100 reads within
// their 500 ms deadline, and the rest give up waiting.
func TestPoolWaitsDoNotOpenBreaker(t *testing.T) {
	c, p := gatedCache(t, 500*time.Millisecond)
	p.Delay(20 * time.Millisecond)
	var waited, other int
	for _, err := range storm(c, 100) {
		switch {
		case errors.Is(err, redisstore.ErrPoolWait):
			waited++
		case err != nil:
			other++
			t.Logf("read failed: %v", err)
		}
	}
	t.Logf("100 reads at once on 2 connections: %d gave up waiting for one, %d failed otherwise", waited, other)
	if waited == 0 {
		t.Error("no read waited past its deadline for a connection; the test proves nothing")
	}
	if s := c.BreakerState(); s != "closed" {
		t.Errorf("breaker %s after pool waits, want closed", s)
	}
	if _, err := c.Get(context.Background(), "product", []int64{1}); err != nil {
		t.Errorf("read after the storm: %v", err)
	}
}

// A Redis that refuses connections still opens the breaker with the same
// small pool.
func TestRefusedRedisOpensBreakerDespitePoolWaits(t *testing.T) {
	c, p := gatedCache(t, 100*time.Millisecond)
	p.Cut()
	for round := 0; round < 5 && c.BreakerState() != "open"; round++ {
		storm(c, 20)
	}
	if s := c.BreakerState(); s != "open" {
		t.Fatalf("breaker %s after 5 storms on a refusing Redis, want open", s)
	}
}

// A hung Redis still opens the breaker with the same small pool: the reads
// holding the connections time out on the socket, which counts, while the
// reads queued behind them give up waiting, which does not.
func TestHungRedisOpensBreakerDespitePoolWaits(t *testing.T) {
	c, p := gatedCache(t, 100*time.Millisecond)
	if _, err := c.Get(context.Background(), "product", []int64{1}); err != nil {
		t.Fatalf("read before the hang: %v", err)
	}
	p.Hang()
	for round := 0; round < 5 && c.BreakerState() != "open"; round++ {
		storm(c, 20)
	}
	if s := c.BreakerState(); s != "open" {
		t.Fatalf("breaker %s after 5 storms on a hung Redis, want open", s)
	}
	if _, err := c.Get(context.Background(), "product", []int64{1}); !errors.Is(err, redisstore.ErrCacheUnavailable) {
		t.Errorf("read with the breaker open: %v, want ErrCacheUnavailable", err)
	}
}
