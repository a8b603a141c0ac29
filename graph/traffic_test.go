package graph_test

import (
	"maps"
	"testing"

	"github.com/redis/go-redis/v9"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/storetest"
)

// traffic is the Redis traffic a test expects of a request, built batch by
// batch. On a single Redis a batch is one command: one script call for all
// its documents. On a cluster it is a pipeline of one script call per
// document (EVALSHA), which costs one exchange with each master
// that holds some of the documents, all in parallel. Either way a batch is
// one round trip.
type traffic struct {
	t    *testing.T
	ts   *testServer
	want redisstore.RedisStats
}

func (ts *testServer) expect(t *testing.T) *traffic {
	return &traffic{t: t, ts: ts, want: redisstore.RedisStats{Commands: map[string]int64{}}}
}

func (ts *testServer) cluster() bool {
	_, ok := ts.rdb.(*redis.ClusterClient)
	return ok
}

// read adds a cache read of the documents of kind with the distinct ids,
// which takes the fill leases of the misses: a script call (the test
// servers take leases).
func (w *traffic) read(kind store.Kind, ids ...int64) *traffic {
	return w.script(kind, ids...)
}

// script adds a batch script call over documents of kind, such as a
// write-back.
func (w *traffic) script(kind store.Kind, ids ...int64) *traffic {
	return w.scripts(map[store.Kind][]int64{kind: ids})
}

// scripts adds one script call over documents of several kinds, such as
// the write-back of a product page read cold.
func (w *traffic) scripts(docs map[store.Kind][]int64) *traffic {
	w.t.Helper()
	w.want.RoundTrips++
	if !w.ts.cluster() {
		w.want.NodeRoundTrips++
		w.want.Commands["evalsha"]++
		return w
	}
	var keys []string
	for kind, ids := range docs {
		for _, id := range ids {
			keys = append(keys, w.ts.cache.Key(kind, id))
		}
	}
	w.want.NodeRoundTrips += storetest.Masters(w.t, w.ts.rdb, keys...)
	w.want.Commands["evalsha"] += int64(len(keys))
	return w
}

// command adds one command whose keys lie in one slot, such as the view
// counter's scripts: one round trip to one node.
func (w *traffic) command(name string) *traffic {
	w.want.RoundTrips++
	w.want.NodeRoundTrips++
	w.want.Commands[name]++
	return w
}

// check reports got unless it is exactly the expected traffic.
func (w *traffic) check(what string, got redisstore.RedisStats) {
	w.t.Helper()
	w.t.Logf("%s: %d round trips, %d node round trips, %v", what, got.RoundTrips, got.NodeRoundTrips, got.Commands)
	if got.RoundTrips != w.want.RoundTrips || got.NodeRoundTrips != w.want.NodeRoundTrips ||
		!maps.Equal(got.Commands, w.want.Commands) {
		w.t.Errorf("%s: Redis traffic %d round trips, %d node round trips, %v; want %d, %d, %v", what,
			got.RoundTrips, got.NodeRoundTrips, got.Commands, w.want.RoundTrips, w.want.NodeRoundTrips, w.want.Commands)
	}
}
