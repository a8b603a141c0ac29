package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/storetest"
)

// The batch read on a cluster, in the two forms go-redis offers: a plain
// MGET, which go-redis (with command tips enabled) splits into one MGET per
// slot, each on its own connection; and a pipeline of GETs, which it splits
// into one pipeline per master (what Cache.Get sends). Keys are documents'
// keys, one slot each. For reference, one MGET on the single node.
//
//	go test ./store -run '^$' -bench BatchRead -benchtime 2s
func BenchmarkBatchRead(b *testing.B) {
	for _, n := range []int{1, 10, 50, 100} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			b.Run("cluster-mget-per-slot", func(b *testing.B) {
				rdb, counter, keys := benchKeys(b, storetest.ClusterURL(b), n)
				c := rdb.(*redis.ClusterClient)
				c.SetCommandInfoResolver(c.NewDynamicResolver())
				c.MGet(context.Background(), keys...) // loads the command tips
				runBatchRead(b, counter, func(ctx context.Context) error { return rdb.MGet(ctx, keys...).Err() })
			})
			b.Run("cluster-pipelined-get", func(b *testing.B) {
				rdb, counter, keys := benchKeys(b, storetest.ClusterURL(b), n)
				runBatchRead(b, counter, func(ctx context.Context) error { return pipelinedGet(ctx, rdb, keys) })
			})
			b.Run("single-mget", func(b *testing.B) {
				rdb, counter, keys := benchKeys(b, storetest.RedisURL(b), n)
				runBatchRead(b, counter, func(ctx context.Context) error { return rdb.MGet(ctx, keys...).Err() })
			})
		})
	}
}

// runBatchRead measures read, sequentially and then from 16 goroutines,
// and reports the node round trips each read cost.
func runBatchRead(b *testing.B, counter *redisstore.RedisCounter, read func(context.Context) error) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		before := counter.Stats()
		for b.Loop() {
			if err := read(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(counter.Stats().Sub(before).NodeRoundTrips)/float64(b.N), "node-rtt/op")
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(8) // 16 goroutines on 2 cores
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := read(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// benchKeys writes n documents' keys of about the size of a product entry
// and returns a client with a counter attached, and the keys.
func benchKeys(b *testing.B, url string, n int) (redis.UniversalClient, *redisstore.RedisCounter, []string) {
	rdb, err := redisstore.NewRedis(url, redisstore.RedisOptions{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rdb.Close() })
	counter := &redisstore.RedisCounter{}
	counter.Attach(rdb)
	prefix := storetest.Prefix(b, url)
	doc := make([]byte, 600)
	keys := make([]string, n)
	ctx := context.Background()
	for i := range keys {
		keys[i] = fmt.Sprintf("%sg1:{product:%d}", prefix, i+1)
		if err := rdb.Set(ctx, keys[i], doc, time.Minute).Err(); err != nil {
			b.Fatal(err)
		}
	}
	return rdb, counter, keys
}

func pipelinedGet(ctx context.Context, rdb redis.UniversalClient, keys []string) error {
	cmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Get(ctx, k)
		}
		return nil
	})
	if err != nil || len(cmds) != len(keys) {
		return fmt.Errorf("pipelined get: %d replies, %w", len(cmds), err)
	}
	return nil
}
