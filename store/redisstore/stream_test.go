package redisstore_test

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/storetest"
)

// streamRecorder is a redisstore.Listener that keeps what it was told.
type streamRecorder struct {
	mu     sync.Mutex
	invs   []store.Invalidation
	resets int
	ups    []bool
}

func (r *streamRecorder) Invalidated(invs []store.Invalidation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, inv := range invs {
		inv.Seq = 0
		r.invs = append(r.invs, inv)
	}
}

func (r *streamRecorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resets++
}

func (r *streamRecorder) StreamUp(up bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ups = append(r.ups, up)
}

func (r *streamRecorder) state() (invs []store.Invalidation, ups []bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.invs), slices.Clone(r.ups)
}

func (r *streamRecorder) up() bool {
	_, ups := r.state()
	return len(ups) > 0 && ups[len(ups)-1]
}

// watchedCache returns a cache over redisURL under prefix whose Watch tells
// a streamRecorder, running until t ends.
func watchedCache(t *testing.T, redisURL, prefix string) (*redisstore.Cache, *streamRecorder) {
	t.Helper()
	rdb, err := redisstore.NewRedis(redisURL, redisstore.RedisOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	rec := &streamRecorder{}
	c := redisstore.NewCache(rdb, redisstore.CacheOptions{Prefix: prefix, Timeout: time.Second, Listener: rec})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Watch(ctx, redisstore.WatchOptions{Heartbeat: 50 * time.Millisecond}); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return c, rec
}

// An invalidation reaches the writer's own Listener before Redis is
// called, and every instance's through the stream, once Redis holds the
// marker; on a single Redis and on a cluster.
func TestInvalidationStream(t *testing.T) {
	storetest.ForEachRedis(t, func(t *testing.T, redisURL string) {
		prefix := storetest.Prefix(t, redisURL)
		writer, own := watchedCache(t, redisURL, prefix)
		_, other := watchedCache(t, redisURL, prefix)
		storetest.Eventually(t, 10*time.Second, "both subscriptions", func() bool { return own.up() && other.up() })
		invs := []store.Invalidation{{Kind: "product", ID: 7, Version: 3}, {Kind: "seller", ID: 2, Version: 9}}
		if err := writer.Invalidate(context.Background(), invs); err != nil {
			t.Fatal(err)
		}
		storetest.Eventually(t, 10*time.Second, "the other instance hears both", func() bool {
			got, _ := other.state()
			return len(got) == 2
		})
		got, _ := other.state()
		if !slices.Equal(got, invs) {
			t.Errorf("the other instance heard %v, want %v", got, invs)
		}
		// The writer's own: once told directly, once more through the stream.
		storetest.Eventually(t, 10*time.Second, "the writer hears its own twice", func() bool {
			got, _ := own.state()
			return len(got) == 4
		})
		raw, err := writer.Client().Get(context.Background(), writer.Key("product", 7)).Result()
		if err != nil || raw != "t:3:" {
			t.Errorf("Redis holds %q (%v), want the marker of version 3", raw, err)
		}
	})
}

// A cut connection and a hung Redis both end the subscription: StreamUp
// (false) within a few heartbeats; once Redis answers again, StreamUp(true).
func TestInvalidationStreamLost(t *testing.T) {
	direct := storetest.RedisURL(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	for _, fault := range []string{"cut", "hang"} {
		t.Run(fault, func(t *testing.T) {
			proxy := storetest.NewProxy(t, u.Host)
			_, rec := watchedCache(t, proxy.RedisURL(t, direct), storetest.Prefix(t, direct))
			storetest.Eventually(t, 10*time.Second, "the subscription", rec.up)
			if fault == "cut" {
				proxy.Cut()
			} else {
				proxy.Hang()
			}
			storetest.Eventually(t, 10*time.Second, "the loss to be noticed", func() bool { return !rec.up() })
			proxy.Restore(t)
			storetest.Eventually(t, 10*time.Second, "the subscription again", rec.up)
		})
	}
}
