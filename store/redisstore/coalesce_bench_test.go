package redisstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/storetest"
)

// The view counter's two request-path calls, each made by 32 concurrent
// callers (16 goroutines per CPU on the 2-CPU reference machine: set -cpu
// to keep 32 elsewhere): a product page's hits read (one id) and a
// recordView. Three ways to send them:
//
//   - alone: one script call per caller (RedisViewsOptions.NoCoalesce);
//   - coalesced: the RedisViews default, one script call for everything
//     queued while the previous one ran;
//   - autopipeline: go-redis 9.23's experimental AutoPipeliner (blocking
//     face, default options), one EVALSHA per caller, the EVALSHAs of
//     concurrent callers written as one pipeline.
//
// It reports round trips per call, as the RedisCounter hook sees them, and
// the callers per script call. Not part of the test run:
//
//	go test ./store -run '^$' -bench Coalesce -benchtime 2s -cpu 2
func BenchmarkCoalesce(b *testing.B) {
	for _, op := range []string{"read", "record"} {
		for _, mode := range []string{"alone", "coalesced", "autopipeline"} {
			b.Run(op+"/"+mode, func(b *testing.B) { benchViews(b, op, mode) })
		}
	}
}

func benchViews(b *testing.B, op, mode string) {
	url := storetest.RedisURL(b)
	rdb, err := redisstore.NewRedis(url, redisstore.RedisOptions{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rdb.Close() })
	counter := &redisstore.RedisCounter{}
	rdb.AddHook(counter)
	prefix := storetest.Prefix(b, url)
	v := redisstore.NewRedisViews(rdb, redisstore.RedisViewsOptions{Prefix: prefix, Timeout: time.Second, NoCoalesce: mode == "alone"})
	ctx := context.Background()
	if err := v.LoadScripts(ctx); err != nil {
		b.Fatal(err)
	}
	for id := range 100 {
		rdb.Set(ctx, prefix+"{views}:n:"+strconv.Itoa(id), 1000, time.Hour)
	}
	call := viewCall(b, v, rdb, prefix, op, mode)
	b.SetParallelism(16)
	before := counter.Stats()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := int64(0)
		for pb.Next() {
			id = (id + 7) % 100
			if err := call(ctx, id); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	s := counter.Stats().Sub(before)
	b.ReportMetric(float64(s.RoundTrips)/float64(b.N), "trips/op")
	b.ReportMetric(float64(b.N)/float64(s.Commands["evalsha"]), "callers/script")
}

// viewCall returns the call a caller makes in mode.
func viewCall(b *testing.B, v *redisstore.RedisViews, rdb redis.UniversalClient, prefix, op, mode string) func(context.Context, int64) error {
	if mode != "autopipeline" {
		if op == "read" {
			return func(ctx context.Context, id int64) error { _, err := v.Read(ctx, []int64{id}); return err }
		}
		return func(ctx context.Context, id int64) error { _, _, err := v.Record(ctx, id); return err }
	}
	ap, err := rdb.(*redis.Client).AutoPipeline()
	if err != nil {
		b.Fatal(err)
	}
	key := func(name string) string { return prefix + "{views}:" + name }
	if op == "read" {
		return func(ctx context.Context, id int64) error {
			keys := []string{key("gen"), key("claimed"), key("n:" + strconv.FormatInt(id, 10))}
			return redisstore.ViewReadScript.Run(ctx, ap, keys).Err()
		}
	}
	return func(ctx context.Context, id int64) error {
		keys := []string{key("pending"), key("queued"), key("n:" + strconv.FormatInt(id, 10))}
		return redisstore.ViewRecordScript.Run(ctx, ap, keys, id).Err()
	}
}
