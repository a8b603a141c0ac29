package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/storetest"
)

// A redis+cluster URL makes a cluster client with the same fail-fast
// options as a single node's, and a bounded number of redirects.
func TestClusterURL(t *testing.T) {
	rdb, err := redisstore.NewRedis("rediss+cluster://u:secret@10.0.0.1:7001,10.0.0.2:7002/?pool_size=7",
		redisstore.RedisOptions{Timeout: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	c, ok := rdb.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("client is %T, want a cluster client", rdb)
	}
	o := c.Options()
	if !slices.Equal(o.Addrs, []string{"10.0.0.1:7001", "10.0.0.2:7002"}) || o.Username != "u" || o.Password != "secret" ||
		o.TLSConfig == nil || o.PoolSize != 7 {
		t.Errorf("options: addrs %v, user %q, TLS %v, pool %d", o.Addrs, o.Username, o.TLSConfig != nil, o.PoolSize)
	}
	if !o.ContextTimeoutEnabled || o.ReadTimeout != 40*time.Millisecond || o.MaxRetries != -1 ||
		o.DialerRetries != 1 || o.MaxRedirects != 3 || o.ReadOnly {
		t.Errorf("options not fail-fast: %+v", o)
	}
	for _, bad := range []string{"redis+cluster://a:1,b:2/3", "redis+cluster:///", "redis+cluster://a:1,b/"} {
		if _, err := redisstore.NewRedis(bad, redisstore.RedisOptions{}); err == nil {
			t.Errorf("NewRedis(%q) succeeded", bad)
		}
	}
	if u, err := redisstore.ClusterURL(" 10.0.0.1:7001, 10.0.0.2:7002 "); err != nil || u != "redis+cluster://10.0.0.1:7001,10.0.0.2:7002/" {
		t.Errorf("ClusterURL = %q, %v", u, err)
	}
	for _, bad := range []string{"", " , ", "10.0.0.1", "redis://10.0.0.1:7001"} {
		if _, err := redisstore.ClusterURL(bad); err == nil {
			t.Errorf("ClusterURL(%q) succeeded", bad)
		}
	}
}

// What the counts in the cost tests rest on: go-redis calls a cluster's own
// hooks once per pipeline, and a node client's hooks once per node that
// the pipeline reaches; a plain MGET is split into one command per slot.
func TestClusterRoundTripsPerNode(t *testing.T) {
	url := storetest.ClusterURL(t)
	rdb := newRedis(t, url)
	counter := &redisstore.RedisCounter{}
	counter.Attach(rdb)
	prefix := storetest.Prefix(t, url)
	ctx := context.Background()
	var keys []string
	for i := range 50 {
		keys = append(keys, fmt.Sprintf("%s{k:%d}", prefix, i))
	}
	masters := storetest.Masters(t, rdb, keys...)
	if masters != 3 {
		t.Fatalf("50 keys on %d masters, want all 3", masters)
	}
	before := counter.Stats()
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Get(ctx, k)
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	if s := counter.Stats().Sub(before); s.RoundTrips != 1 || s.NodeRoundTrips != masters || s.Commands["get"] != 50 {
		t.Errorf("pipeline of 50 GETs: %+v; want 1 round trip, %d node round trips", s, masters)
	}
	// go-redis 9.23 routes by the server's command tips only when asked to;
	// by default an MGET over several slots is sent whole to the first
	// key's master, which refuses it.
	if err := rdb.MGet(ctx, keys...).Err(); err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		t.Errorf("MGET over 50 slots with the default routing: %v, want CROSSSLOT", err)
	}
	// With tips, it is split into one MGET per slot, in parallel.
	c := rdb.(*redis.ClusterClient)
	c.SetCommandInfoResolver(c.NewDynamicResolver())
	before = counter.Stats()
	if err := rdb.MGet(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	if s := counter.Stats().Sub(before); s.RoundTrips != 1 || s.NodeRoundTrips != 50 {
		t.Errorf("MGET of 50 keys in 50 slots: %+v; want 1 round trip, 50 node round trips", s)
	}
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.MGet(ctx, keys...)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "cannot pipeline") {
		t.Errorf("an MGET in a cluster pipeline: %v, want go-redis's refusal", err)
	}
}

// A node that lacks a script (restarted, added, or a promoted replica that
// never had it) costs the pipelined script calls one more round trip, sent
// in full, and nothing else; then the node has it. The script is one no
// node has seen: flushing the shared cluster's scripts would disturb the
// tests running beside this one.
func TestClusterScriptsMissing(t *testing.T) {
	url := storetest.ClusterURL(t)
	rdb := newRedis(t, url)
	counter := &redisstore.RedisCounter{}
	counter.Attach(rdb)
	prefix := storetest.Prefix(t, url)
	script := redis.NewScript("-- " + storetest.Name("") + "\nredis.call('SET', KEYS[1], ARGV[1]) return ARGV[1]")
	ctx := context.Background()
	var calls []redisstore.ScriptCall
	for i := range 10 {
		calls = append(calls, redisstore.NewScriptCall([]string{fmt.Sprintf("%s{doc:%d}", prefix, i)}, i))
	}
	run := func() redisstore.RedisStats {
		before := counter.Stats()
		cmds, err := redisstore.EvalEach(ctx, rdb, script, calls)
		if err != nil {
			t.Fatal(err)
		}
		for i, cmd := range cmds {
			if v, err := cmd.Text(); err != nil || v != fmt.Sprint(i) {
				t.Errorf("call %d = %q, %v", i, v, err)
			}
		}
		return counter.Stats().Sub(before)
	}
	if s := run(); s.RoundTrips != 2 || s.Commands["evalsha"] != 10 || s.Commands["eval"] != 10 {
		t.Errorf("first run: %+v; want 10 EVALSHAs refused, then 10 EVALs: 2 round trips", s)
	}
	if s := run(); s.RoundTrips != 1 || s.Commands["evalsha"] != 10 || s.Commands["eval"] != 0 {
		t.Errorf("second run: %+v; want 10 EVALSHAs in 1 round trip", s)
	}
}
