package redisstore_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/storetest"
)

// newCache returns a cache over url under a prefix of t's own, with its
// scripts loaded, the counter of its round trips, and a function that
// returns an entry's TTL.
func newCache(t *testing.T, url string, opt redisstore.CacheOptions) (*redisstore.Cache, *redisstore.RedisCounter, func(kind store.Kind, id int64) time.Duration) {
	t.Helper()
	rdb := newRedis(t, url)
	counter := &redisstore.RedisCounter{}
	counter.Attach(rdb)
	opt.Prefix = storetest.Prefix(t, url)
	opt.Timeout = time.Second
	c := open(redisstore.NewCache(rdb, opt))
	ttl := func(kind store.Kind, id int64) time.Duration {
		return rdb.PTTL(context.Background(), c.Key(kind, id)).Val()
	}
	if err := c.LoadScripts(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, counter, ttl
}

// newRedis returns a client of url, closed when t ends.
func newRedis(t *testing.T, url string) redis.UniversalClient {
	t.Helper()
	rdb, err := redisstore.NewRedis(url, redisstore.RedisOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// A write-back and a read are one round trip each. On a single Redis that
// is one EVALSHA and one MGET; on a cluster, one pipeline each, of one
// EVALSHA or GET per document, which costs one exchange with each master
// that holds some of the keys.
func TestCacheRoundTrip(t *testing.T) {
	storetest.ForEachRedis(t, testCacheRoundTrip)
}

func testCacheRoundTrip(t *testing.T, url string) {
	c, counter, ttl := newCache(t, url, redisstore.CacheOptions{TTL: time.Hour, Jitter: 0.1, NegativeTTL: 30 * time.Second})
	ctx := context.Background()
	before := counter.Stats()
	err := c.Put(ctx, "product", []redisstore.Fill{
		{ID: 1, Version: 7, Data: []byte(`{"id":1}`)},
		{ID: 2, Absent: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "product", []int64{2, 3, 1})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].State != redisstore.Absent || got[1].State != redisstore.Miss ||
		got[2].State != redisstore.Hit || got[2].Version != 7 || string(got[2].Data) != `{"id":1}` {
		t.Errorf("entries = %+v", got)
	}
	s := counter.Stats().Sub(before)
	put := storetest.Masters(t, c.Client(), c.Key("product", 1), c.Key("product", 2))
	get := storetest.Masters(t, c.Client(), c.Key("product", 2), c.Key("product", 3), c.Key("product", 1))
	want := map[string]int64{"evalsha": 1, "mget": 1}
	if storetest.IsCluster(url) {
		want = map[string]int64{"evalsha": 2, "get": 3}
	}
	if s.RoundTrips != 2 || s.NodeRoundTrips != put+get || !maps.Equal(s.Commands, want) {
		t.Errorf("redis traffic = %+v; want 2 round trips, %d+%d node round trips, commands %v", s, put, get, want)
	}
	if d := ttl("product", 1); d < 54*time.Minute || d > 66*time.Minute {
		t.Errorf("document TTL = %v, want 1h ± 10%%", d)
	}
	if d := ttl("product", 2); d <= 0 || d > 30*time.Second {
		t.Errorf("negative TTL = %v, want ≤ 30s", d)
	}
}

// TTLs of keys filled together are spread out, so they do not expire
// together.
func TestCacheTTLJitter(t *testing.T) {
	storetest.ForEachRedis(t, testCacheTTLJitter)
}

func testCacheTTLJitter(t *testing.T, url string) {
	c, _, ttl := newCache(t, url, redisstore.CacheOptions{TTL: time.Hour, Jitter: 0.1})
	var fills []redisstore.Fill
	for i := range 50 {
		fills = append(fills, redisstore.Fill{ID: int64(i + 1), Version: 1, Data: []byte(`{}`)})
	}
	if err := c.Put(context.Background(), "seller", fills); err != nil {
		t.Fatal(err)
	}
	lo, hi := 2*time.Hour, time.Duration(0)
	for i := range 50 {
		d := ttl("seller", int64(i+1))
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 54*time.Minute || hi > 66*time.Minute || hi-lo < time.Minute {
		t.Errorf("TTLs span [%v, %v], want spread within 1h ± 10%%", lo, hi)
	}
}

func TestCacheCorruptEntries(t *testing.T) {
	storetest.ForEachRedis(t, testCacheCorruptEntries)
}

func testCacheCorruptEntries(t *testing.T, url string) {
	rdb := newRedis(t, url)
	ctx := context.Background()
	// Reach the same keys through a second cache with a known prefix.
	prefix := storetest.Prefix(t, url)
	c := open(redisstore.NewCache(rdb, redisstore.CacheOptions{Prefix: prefix, Timeout: time.Second}))
	for id, val := range map[int64]string{1: "garbage", 2: "d:x:{}", 3: "d:5", 4: "d:-1:{}"} {
		rdb.Set(ctx, c.Key("product", id), val, time.Minute)
	}
	got, err := c.Get(ctx, "product", []int64{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range got {
		if e.State != redisstore.Corrupt {
			t.Errorf("entry %d = %+v, want Corrupt", i+1, e)
		}
	}
}

// A Redis that refuses connections fails fast, with an error, not a hang.
func TestCacheUnreachable(t *testing.T) {
	rdb, err := redisstore.NewRedis("redis://127.0.0.1:1/0", redisstore.RedisOptions{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	c := open(redisstore.NewCache(rdb, redisstore.CacheOptions{Timeout: 50 * time.Millisecond}))
	start := time.Now()
	if _, err := c.Get(context.Background(), "product", []int64{1}); err == nil {
		t.Fatal("Get on a dead Redis succeeded")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Get on a dead Redis took %v", d)
	}
}

// Purge deletes every entry of the cache, on every master of a cluster.
func TestCachePurge(t *testing.T) {
	storetest.ForEachRedis(t, testCachePurge)
}

func testCachePurge(t *testing.T, url string) {
	c, _, ttl := newCache(t, url, redisstore.CacheOptions{})
	ctx := context.Background()
	var fills []redisstore.Fill
	for i := range 2500 {
		fills = append(fills, redisstore.Fill{ID: int64(i + 1), Version: 1, Data: []byte(`{}`)})
	}
	if err := c.Put(ctx, "product", fills); err != nil {
		t.Fatal(err)
	}
	n, err := c.Purge(ctx)
	if err != nil || n != 2500 {
		t.Fatalf("Purge = %d, %v; want 2500", n, err)
	}
	if d := ttl("product", 7); d != -2*time.Nanosecond {
		t.Errorf("product:7 survived the purge (pttl %v)", d)
	}
}

// Writes to the cache only go forward in version: a write-back older than
// what the key holds, marker included, leaves the key as it is.
func TestCacheVersionOrder(t *testing.T) {
	doc := func(v int64) redisstore.Fill { return redisstore.Fill{ID: 1, Version: v, Data: []byte(`{}`)} }
	absent := redisstore.Fill{ID: 1, Absent: true}
	type step struct {
		fill *redisstore.Fill // a write-back, or
		inv  int64            // an invalidation to this version
	}
	cases := []struct {
		name  string
		steps []step
		want  redisstore.EntryState
		ver   int64
	}{
		{"fill empty", []step{{fill: ptr(doc(3))}}, redisstore.Hit, 3},
		{"newer doc replaces", []step{{fill: ptr(doc(3))}, {fill: ptr(doc(4))}}, redisstore.Hit, 4},
		{"older doc stays out", []step{{fill: ptr(doc(4))}, {fill: ptr(doc(3))}}, redisstore.Hit, 4},
		{"marker replaces older doc", []step{{fill: ptr(doc(3))}, {inv: 4}}, redisstore.Invalidated, 4},
		{"stale read after marker", []step{{inv: 4}, {fill: ptr(doc(3))}}, redisstore.Invalidated, 4},
		{"first read after write fills", []step{{inv: 4}, {fill: ptr(doc(4))}}, redisstore.Hit, 4},
		{"older marker does not downgrade", []step{{inv: 5}, {inv: 4}}, redisstore.Invalidated, 5},
		{"marker does not hide the same doc", []step{{fill: ptr(doc(4))}, {inv: 4}}, redisstore.Hit, 4},
		{"negative never hides a marker", []step{{inv: 1}, {fill: &absent}}, redisstore.Invalidated, 1},
		{"doc replaces negative", []step{{fill: &absent}, {fill: ptr(doc(1))}}, redisstore.Hit, 1},
		{"negative does not replace doc", []step{{fill: ptr(doc(1))}, {fill: &absent}}, redisstore.Hit, 1},
	}
	storetest.ForEachRedis(t, func(t *testing.T, url string) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c, _, _ := newCache(t, url, redisstore.CacheOptions{})
				ctx := context.Background()
				for _, s := range tc.steps {
					var err error
					if s.fill != nil {
						err = c.Put(ctx, "product", []redisstore.Fill{*s.fill})
					} else {
						err = c.Invalidate(ctx, []store.Invalidation{{Kind: "product", ID: 1, Version: s.inv}})
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				got, err := c.Get(ctx, "product", []int64{1})
				if err != nil {
					t.Fatal(err)
				}
				if got[0].State != tc.want || got[0].Version != tc.ver {
					t.Errorf("entry = state %d v%d, want state %d v%d", got[0].State, got[0].Version, tc.want, tc.ver)
				}
			})
		}
	})
}

// A fill replaces an undecodable entry it names, whatever version that
// entry claims, but not once a write has changed the key.
func TestCacheReplaceCorrupt(t *testing.T) {
	storetest.ForEachRedis(t, testCacheReplaceCorrupt)
}

func testCacheReplaceCorrupt(t *testing.T, url string) {
	rdb := newRedis(t, url)
	prefix := storetest.Prefix(t, url)
	c := open(redisstore.NewCache(rdb, redisstore.CacheOptions{Prefix: prefix, Timeout: time.Second}))
	ctx := context.Background()
	bad := `d:99:{"id":`
	rdb.Set(ctx, c.Key("product", 1), bad, time.Minute)
	rdb.Set(ctx, c.Key("product", 2), bad, time.Minute)
	rdb.HSet(ctx, c.Key("product", 3), "f", "v") // a key of the wrong type
	if err := c.Invalidate(ctx, []store.Invalidation{{Kind: "product", ID: 2, Version: 100}}); err != nil {
		t.Fatal(err)
	}
	err := c.Put(ctx, "product", []redisstore.Fill{
		{ID: 1, Version: 1, Data: []byte(`{}`), Replace: []byte(bad)},
		{ID: 2, Version: 1, Data: []byte(`{}`), Replace: []byte(bad)},
		{ID: 3, Version: 1, Data: []byte(`{}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := c.Get(ctx, "product", []int64{1, 2, 3})
	if got[0].State != redisstore.Hit || got[0].Version != 1 {
		t.Errorf("corrupt entry not replaced: %+v", got[0])
	}
	if got[1].State != redisstore.Invalidated || got[1].Version != 100 {
		t.Errorf("a marker set after the read was overwritten: %+v", got[1])
	}
	if got[2].State != redisstore.Hit {
		t.Errorf("key of the wrong type not replaced: %+v", got[2])
	}
}

func ptr[T any](v T) *T { return &v }

// open unfences a new cache's reads, as an Invalidator's first Drain would
// over an empty outbox.
func open(c *redisstore.Cache) *redisstore.Cache {
	_, epoch := c.Fenced()
	c.UnfenceIf(epoch)
	return c
}
