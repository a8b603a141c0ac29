package graph_test

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"catalog-bff/graph"
	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
	"catalog-bff/store/storetest/history"
)

// detailFields is what a product page asks for, hits aside.
const detailFields = `id name description price { amount currency } images { url alt } tags ` +
	`category { id name parent { id name } } seller { id name rating }`

// With the near cache, a warm product page costs no SQL and no Redis round
// trip for its documents; hits, read live, is its only round trip.
func TestNearCacheCosts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d sqlstore.Dialect, redisURL string) {
		ts := newTestServer(t, d, serverOptions{wait: countWait, redisURL: redisURL, near: true})
		page := `query($id: ID!) { product(id: $id) { ` + detailFields + ` } }`
		vars := map[string]any{"id": "7"}
		ts.mustQuery(t, page, vars, nil)
		c := ts.measure(t, func() { ts.mustQuery(t, page, vars, nil) })
		if c.sql != 0 {
			t.Errorf("warm page: %d SQL statements, want 0", c.sql)
		}
		ts.expect(t).check("warm page from the near cache", c.redis)

		withHits := `query($id: ID!) { product(id: $id) { ` + detailFields + ` hits } }`
		ts.mustQuery(t, withHits, vars, nil)
		c = ts.measure(t, func() { ts.mustQuery(t, withHits, vars, nil) })
		if c.sql != 0 {
			t.Errorf("warm page with hits: %d SQL statements, want 0", c.sql)
		}
		ts.expect(t).command("evalsha").check("warm page with hits", c.redis)

		// A write on this instance is seen by its next read, from SQL.
		ts.mustAdmin(t, `mutation { updateProduct(id: "7", input: {name: "Renamed"}) { id } }`, nil, nil)
		var got struct{ Product struct{ Name string } }
		ts.mustQuery(t, page, vars, &got)
		if got.Product.Name != "Renamed" {
			t.Errorf("read after a write: %q, want the new name", got.Product.Name)
		}
		if s := ts.near.Stats(); s.Hits == 0 {
			t.Errorf("near cache stats %+v: no hits", s)
		}
	})
}

// The read-your-writes checker with the near cache and the response cache
// on, as the service runs by default: 8 writers and 32
// readers on one instance, then on two instances sharing Redis, writes
// through the first. The writing instance never serves a stale read. The
// other serves one only while the invalidation is on its way: the test
// measures, for every write, how long after its acknowledgement the other
// instance's near cache dropped the document, and every stale read there
// must have started within the longest such delay.
func TestReadYourWritesNearCache(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s of load")
	}
	products := make([]int64, 20)
	for i := range products {
		products[i] = int64(i + 1)
	}
	served := func(ts *testServer, rc *rcTally) int64 { return ts.near.Stats().Hits + rc.hits.Load() }
	withCaches := func(rc *rcTally) serverOptions {
		return serverOptions{wait: time.Millisecond, afterFetch: jitter(2 * time.Millisecond), near: true,
			responseCache: &graph.ResponseCacheOptions{HitsMaxStaleness: time.Second, Observer: rc}}
	}
	t.Run("one instance", func(t *testing.T) {
		t.Parallel()
		rc := &rcTally{}
		ts := newTestServer(t, sqlstore.Postgres, withCaches(rc))
		res := runReadYourWrites(t, ts, products, 8, 32, 10*time.Second)
		t.Logf("%d writes, %d reads, %d stale reads; near cache %+v; %d responses from the response cache",
			len(res.Writes), len(res.Reads), res.StaleReads(), ts.near.Stats(), rc.hits.Load())
		if res.StaleReads() != 0 {
			t.Errorf("%d stale reads, want 0", res.StaleReads())
		}
		if len(res.Writes) < 50 || len(res.Reads) < 500 || served(ts, rc) == 0 {
			t.Errorf("too little traffic to judge: %d writes, %d reads, none from the caches", len(res.Writes), len(res.Reads))
		}
	})
	t.Run("two instances", func(t *testing.T) {
		t.Parallel()
		rcA, rcB := &rcTally{}, &rcTally{}
		a := newTestServer(t, sqlstore.Postgres, withCaches(rcA))
		o := withCaches(rcB)
		o.db, o.prefix = a.db, a.opt.prefix
		b := newTestServer(t, sqlstore.Postgres, o)
		heard := newDropLog(b)
		res := history.Load{Products: products, Writers: 8, Readers: 32, For: 10 * time.Second,
			Write: func(_ int, p, v int64) error { return a.setPrice(t, p, v) },
			Read: func(r int, p int64) (int64, error) {
				if r%2 == 0 {
					return a.price(t, p)
				}
				return b.price(t, p)
			},
		}.Run()
		if res.Failures > 0 {
			t.Fatalf("%d requests failed: %v", res.Failures, res.Errors)
		}
		delays, sinceStart := heard.delays(t, res.Writes)
		worst := delays[len(delays)-1]
		t.Logf("%d writes, %d reads; the other instance dropped the document after the write's acknowledgement by "+
			"p50 %v, p99 %v, max %v; after the write's start by p50 %v, p99 %v, max %v", len(res.Writes), len(res.Reads),
			delays[len(delays)/2], delays[len(delays)*99/100], worst,
			sinceStart[len(sinceStart)/2], sinceStart[len(sinceStart)*99/100], sinceStart[len(sinceStart)-1])
		var onA, onB int
		for _, s := range res.Stale() {
			if s.Read.Client%2 == 0 {
				onA++
				continue
			}
			onB++
			if s.Lag() > worst {
				t.Errorf("a stale read on the other instance started %v after the write, past the longest delay %v", s.Lag(), worst)
			}
		}
		t.Logf("stale reads: %d on the writing instance, %d on the other", onA, onB)
		if onA != 0 {
			t.Errorf("%d stale reads on the writing instance, want 0", onA)
		}
		if worst > 2*time.Second { // a bound a loaded machine cannot reach while the stream works
			t.Errorf("an invalidation took %v to reach the other instance", worst)
		}
		t.Logf("the other instance: near cache %+v, %d responses from the response cache", b.near.Stats(), rcB.hits.Load())
		if len(res.Writes) < 50 || len(res.Reads) < 500 || served(b, rcB) == 0 {
			t.Errorf("too little traffic to judge: %d writes, %d reads, none from the other instance's caches", len(res.Writes), len(res.Reads))
		}
	})
}

// rcTally counts the response cache's hits.
type rcTally struct{ hits atomic.Int64 }

func (r *rcTally) ResponseCacheRequest(result string) {
	if result == "hit" {
		r.hits.Add(1)
	}
}

func (r *rcTally) CachedResponse(context.Context, string, time.Time) {}

// dropLog records when an instance's near cache heard of each product's
// invalidations.
type dropLog struct {
	mu    sync.Mutex
	heard map[int64][]time.Time
}

func newDropLog(ts *testServer) *dropLog {
	l := &dropLog{heard: map[int64][]time.Time{}}
	ts.near.Subscribe(func(kind store.Kind, id int64) {
		if kind == "product" {
			l.mu.Lock()
			l.heard[id] = append(l.heard[id], time.Now())
			l.mu.Unlock()
		}
	}, func() {})
	return l
}

// delays pairs each write with the invalidation heard for it (a product's
// writes are ordered, and so are their invalidations) and returns, sorted,
// how long after each write's acknowledgement it was heard (0 when before),
// and how long after the write's start.
func (l *dropLog) delays(t *testing.T, writes []history.Event) (afterAck, afterStart []time.Duration) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	byProduct := map[int64][]history.Event{}
	for _, w := range writes {
		byProduct[w.Product] = append(byProduct[w.Product], w)
	}
	var out, fromStart []time.Duration
	for p, ws := range byProduct {
		slices.SortFunc(ws, func(a, b history.Event) int { return a.End.Compare(b.End) })
		if len(l.heard[p]) != len(ws) {
			t.Fatalf("product %d: %d writes, %d invalidations heard by the other instance", p, len(ws), len(l.heard[p]))
		}
		for i, w := range ws {
			out = append(out, max(0, l.heard[p][i].Sub(w.End)))
			fromStart = append(fromStart, l.heard[p][i].Sub(w.Start))
		}
	}
	if len(out) == 0 {
		t.Fatal("no writes")
	}
	slices.Sort(out)
	slices.Sort(fromStart)
	return out, fromStart
}

// One instance loses Redis (its connection cut: its invalidation stream
// with it) while another writes. The first stops serving from its near
// cache at once: no read returns what the write replaced, though the
// invalidation was published while it could not hear. Once Redis answers
// again its stream resumes, the near cache refills, and a later write
// reaches it through the stream.
func TestNearCacheAcrossStreamLoss(t *testing.T) {
	u, _ := url.Parse(storetest.RedisURL(t))
	proxy := storetest.NewProxy(t, u.Host)
	writer := newTestServer(t, sqlstore.Postgres, serverOptions{near: true, background: true})
	reader := newTestServer(t, sqlstore.Postgres, serverOptions{near: true, background: true, db: writer.db,
		prefix: writer.opt.prefix, redisURL: proxy.RedisURL(t, u.String()), redisTimeout: 200 * time.Millisecond})
	price := func() int64 {
		t.Helper()
		p, err := reader.price(t, 3)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	price()
	hits := reader.near.Stats().Hits
	price()
	if reader.near.Stats().Hits == hits {
		t.Fatal("the warm read did not come from the near cache")
	}

	proxy.Cut()
	storetest.Eventually(t, 10*time.Second, "the reader to notice its stream is gone", func() bool { return !reader.near.Live() })
	if err := writer.setPrice(t, 3, 4242); err != nil {
		t.Fatal(err)
	}
	if got := price(); got != 4242 {
		t.Errorf("while the reader's stream was down: price %d, want the written 4242", got)
	}

	proxy.Restore(t)
	storetest.Eventually(t, 30*time.Second, "the reader's near cache to serve again", reader.near.Live)
	storetest.Eventually(t, 30*time.Second, "the near cache to refill", func() bool {
		before := reader.near.Stats().Hits
		return price() == 4242 && reader.near.Stats().Hits > before
	})
	if err := writer.setPrice(t, 3, 4343); err != nil {
		t.Fatal(err)
	}
	storetest.Eventually(t, 2*time.Second, "the next write to reach the reader through the stream", func() bool { return price() == 4343 })
}
