package graph_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// The detail-page query the fault tests load the service with.
const pageQuery = `query($id: ID!) { product(id: $id) { id name price { amount currency } images { url }
	tags category { name parent { name } } seller { name } hits } }`

// sampleLatency is one request of a load run.
type sampleLatency struct {
	at  time.Time
	d   time.Duration
	err string // the first error code, "" for none
}

// runLoad sends pageQuery for random products from workers goroutines for
// d, and returns every request's latency and outcome.
func runLoad(t *testing.T, ts *testServer, workers int, d time.Duration) []sampleLatency {
	var mu sync.Mutex
	var out []sampleLatency
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for range workers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				start := time.Now()
				r := ts.query(t, pageQuery, map[string]any{"id": fmt.Sprint(1 + rand.IntN(200))}, nil)
				s := sampleLatency{at: start, d: time.Since(start)}
				if codes := r.codes(); len(codes) > 0 {
					s.err = codes[0]
				}
				mu.Lock()
				out = append(out, s)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// p99 of the samples that started in [from, to).
func p99(ss []sampleLatency, from, to time.Time) (time.Duration, int) {
	var ds []time.Duration
	for _, s := range ss {
		if !s.at.Before(from) && s.at.Before(to) {
			ds = append(ds, s.d)
		}
	}
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	return ds[len(ds)*99/100], len(ds)
}

func errorsIn(ss []sampleLatency) int {
	n := 0
	for _, s := range ss {
		if s.err != "" {
			n++
		}
	}
	return n
}

// codesIn counts the samples' error codes.
func codesIn(ss []sampleLatency) map[string]int {
	out := map[string]int{}
	for _, s := range ss {
		if s.err != "" {
			out[s.err]++
		}
	}
	return out
}

// A Redis that stops answering, or answers 200 ms late, must not add its
// timeout to every request: the breaker opens after a few timeouts and the
// pages answer from SQL, with no error, about as fast as with no Redis.
func TestRedisFaultsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	db := seededDB(t, sqlstore.Postgres, 200)
	base := newTestServer(t, sqlstore.Postgres, serverOptions{db: db, noCache: true, wait: time.Millisecond})
	// The baseline is the slower of a run before the faults and one after
	// them: on a machine shared with other work, load drifts over a test.
	baseline := func() time.Duration {
		d, _ := p99(runLoad(t, base, 4, 2*time.Second), time.Time{}, time.Now())
		return d
	}
	baseP99 := baseline()
	defer func() { t.Logf("baseline without Redis: p99 %v", baseP99) }()
	for _, fault := range []struct {
		name  string
		apply func(p *storetest.Proxy)
	}{
		{"blackhole", func(p *storetest.Proxy) { p.Hang() }},
		{"200ms latency", func(p *storetest.Proxy) { p.Delay(200 * time.Millisecond) }},
	} {
		t.Run(fault.name, func(t *testing.T) {
			u, _ := url.Parse(storetest.RedisURL(t))
			proxy := storetest.NewProxy(t, u.Host)
			ts := newTestServer(t, sqlstore.Postgres, serverOptions{db: db, redisURL: proxy.RedisURL(t, u.String()),
				redisTimeout: 50 * time.Millisecond, wait: time.Millisecond})
			runLoad(t, ts, 4, time.Second) // warm
			start := time.Now()
			fault.apply(proxy)
			ss := runLoad(t, ts, 4, 5*time.Second)
			first, n1 := p99(ss, start, start.Add(time.Second))
			after, n2 := p99(ss, start.Add(time.Second), time.Now())
			baseP99 = max(baseP99, baseline())
			t.Logf("%s for 5 s: %d requests, %d errors; p99 %v in the first second (%d requests), %v after (%d), breaker %s; baseline p99 %v",
				fault.name, len(ss), errorsIn(ss), first, n1, after, n2, ts.cache.BreakerState(), baseP99)
			if n := errorsIn(ss); n != 0 {
				t.Errorf("%d of %d requests failed: %v", n, len(ss), codesIn(ss))
			}
			// Twice the baseline, or the baseline plus what one request may
			// pay by design: it may carry the half-open breaker's probe, which
			// is abandoned at twice the Redis timeout (50 ms here), plus 10 ms
			// for the noise of a shared 2-core machine running other tests.
			if limit := max(2*baseP99, baseP99+2*50*time.Millisecond+10*time.Millisecond); after > limit {
				t.Errorf("p99 once the breaker is open = %v, want at most %v (baseline %v)", after, limit, baseP99)
			}
		})
	}
}

// Redis answering garbage: an undecodable entry, a key of the wrong type,
// and a connection cut mid-reply are each served from SQL as a miss; the bad
// entry is replaced; and the first two, being answers from a live server,
// do not count against the breaker.
func TestRedisGarbage(t *testing.T) {
	u, _ := url.Parse(storetest.RedisURL(t))
	proxy := storetest.NewProxy(t, u.Host)
	ts := newTestServer(t, sqlstore.Postgres, serverOptions{redisURL: proxy.RedisURL(t, u.String())})
	ctx := context.Background()
	q := `query($id: ID!) { product(id: $id) { id name } }`
	want := map[int64]string{}
	for _, id := range []int64{11, 12, 13} {
		var got struct{ Product struct{ ID, Name string } }
		ts.mustQuery(t, q, map[string]any{"id": fmt.Sprint(id)}, &got)
		want[id] = got.Product.Name
	}
	direct := ts.directRedis(t)
	direct.Set(ctx, ts.cache.Key("product", 11), "d:9:{not json", time.Minute)
	direct.Del(ctx, ts.cache.Key("product", 12))
	direct.HSet(ctx, ts.cache.Key("product", 12), "a", "b")
	for i := 0; i < 10; i++ { // ten times each: more than the breaker's threshold
		for _, id := range []int64{11, 12} {
			var got struct{ Product struct{ ID, Name string } }
			ts.mustQuery(t, q, map[string]any{"id": fmt.Sprint(id)}, &got)
			if got.Product.Name != want[id] {
				t.Fatalf("product %d = %+v, want %q", id, got.Product, want[id])
			}
		}
	}
	for _, id := range []int64{11, 12} {
		if v := direct.Get(ctx, ts.cache.Key("product", id)).Val(); len(v) < 4 || v[:2] != "d:" {
			t.Errorf("entry of product %d was not replaced: %.40q", id, v)
		}
	}
	if s := ts.cache.BreakerState(); s != "closed" {
		t.Errorf("breaker %s after garbage answers, want closed", s)
	}

	// A connection cut while the reply is on its way.
	direct.Del(ctx, ts.cache.Key("product", 13))
	proxy.Delay(100 * time.Millisecond)
	go func() { time.Sleep(40 * time.Millisecond); proxy.Cut() }()
	var got struct{ Product struct{ ID, Name string } }
	ts.mustQuery(t, q, map[string]any{"id": "13"}, &got)
	if got.Product.Name != want[13] {
		t.Errorf("product 13 across a cut connection = %+v, want %q", got.Product, want[13])
	}
	proxy.Delay(0)
	proxy.Restore(t)
}

// directRedis is a client that bypasses any proxy, for tests that reach
// behind the service's back.
func (ts *testServer) directRedis(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(storetest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// Redis cut and restored under load, with writes during the outage: the
// writes' invalidations wait in the outbox, reads stay fenced until it is
// delivered, and no read in the whole history is stale.
func TestRedisOutageWithWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	u, _ := url.Parse(storetest.RedisURL(t))
	proxy := storetest.NewProxy(t, u.Host)
	ts := newTestServer(t, sqlstore.Postgres, serverOptions{redisURL: proxy.RedisURL(t, u.String()),
		redisTimeout: 100 * time.Millisecond, wait: time.Millisecond, background: true})
	products := []int64{1, 2, 3, 4, 5, 6, 7, 8}
	go func() {
		time.Sleep(2 * time.Second)
		proxy.Cut()
		time.Sleep(2 * time.Second)
		proxy.Restore(t)
	}()
	res := runReadYourWrites(t, ts, products, 4, 8, 7*time.Second)
	stale := res.StaleReads()
	t.Logf("Redis cut for 2 s of 7: %d writes, %d reads, %d stale reads", len(res.Writes), len(res.Reads), stale)
	if stale != 0 {
		t.Errorf("%d stale reads, want 0", stale)
	}
	// The worker delivers the queue in the background: one CI run under
	// the race detector still had 65 queued the moment the load stopped.
	queued := func() int64 { n, _ := ts.db.OutboxSize(context.Background()); return n }
	t.Logf("%d invalidations queued when the load stopped", queued())
	storetest.Eventually(t, 30*time.Second, "the outbox to drain after Redis came back", func() bool { return queued() == 0 })
}

// The process dies between a write's commit and its invalidation. The next
// process finds the invalidation in the outbox, delivers it, and serves no
// stale read meanwhile: a new cache's reads stay fenced until its first
// delivery round.
func TestOutboxSurvivesCrash(t *testing.T) {
	ts := newTestServer(t, sqlstore.Postgres, serverOptions{})
	ctx := context.Background()
	q := `{ product(id: "7") { name } }`
	ts.mustQuery(t, q, nil, nil) // cached
	// What the dead process did: commit, queue, and no Redis call.
	dead := ts.db.Handle() // a service's handle: its writes queue their invalidations
	dead.EnableOutbox()
	if _, err := dead.UpdateProduct(ctx, 7, store.ProductPatch{Name: store.Some("After the crash")}); err != nil {
		t.Fatal(err)
	}
	if n, _ := ts.db.OutboxSize(ctx); n != 1 {
		t.Fatalf("outbox holds %d invalidations, want 1", n)
	}
	// The next process: same database and key prefix, a cache of its own.
	next := newTestServerUndrained(t, ts)
	var got struct{ Product struct{ Name string } }
	next.mustQuery(t, q, nil, &got)
	if got.Product.Name != "After the crash" {
		t.Errorf("before the outbox is delivered: name %q, want the committed one", got.Product.Name)
	}
	if err := next.invalidator.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := ts.db.OutboxSize(ctx); n != 0 {
		t.Errorf("outbox holds %d invalidations after delivery", n)
	}
	c := next.measure(t, func() { next.mustQuery(t, q, nil, &got) })
	if got.Product.Name != "After the crash" {
		t.Errorf("after delivery: name %q", got.Product.Name)
	}
	c = next.measure(t, func() { next.mustQuery(t, q, nil, &got) })
	if got.Product.Name != "After the crash" || c.sql != 0 {
		t.Errorf("cached again: name %q with %d SQL statements", got.Product.Name, c.sql)
	}
}

// newTestServerUndrained starts a second server over ts's database and
// prefix, as a restarted process would, without running its first
// delivery round.
func newTestServerUndrained(t *testing.T, ts *testServer) *testServer {
	t.Helper()
	return newTestServer(t, sqlstore.Postgres, serverOptions{db: ts.db, prefix: ts.opt.prefix, undrained: true})
}

// The auditor finds an entry planted behind the service's back, and nothing
// in a clean history.
func TestAuditorFindsPlantedStaleEntry(t *testing.T) {
	ts := newTestServer(t, sqlstore.Postgres, serverOptions{auditFraction: 1})
	ctx := context.Background()
	for _, id := range []string{"5", "6"} {
		ts.mustQuery(t, `query($id: ID!) { product(id: $id) { name } }`, map[string]any{"id": id}, nil)
	}
	// Behind the cache's back: a write that invalidates nothing.
	exec(t, ts.db, `UPDATE products SET name = 'Planted', version = version + 2 WHERE id = 5`)
	for _, id := range []string{"5", "6"} { // hits, sampled
		ts.mustQuery(t, `query($id: ID!) { product(id: $id) { name } }`, map[string]any{"id": id}, nil)
	}
	later := time.Now().Add(time.Hour)
	for range 2 { // a bound, and a second bound for the suspect
		if err := ts.audit.Check(ctx, later); err != nil {
			t.Fatal(err)
		}
		later = later.Add(time.Hour)
	}
	st := ts.audit.Stats()
	t.Logf("auditor: %d checked, %d stale", st.Checked, st.Stale)
	if st.Stale != 1 || st.Checked != 2 {
		t.Errorf("auditor: %d stale of %d checked, want 1 of 2", st.Stale, st.Checked)
	}
}

// PostgreSQL cut while Redis is warm: cached fields still answer, live
// fields and mutations fail with UNAVAILABLE, and everything recovers when
// the connection returns, with no restart.
func TestDatabaseDown(t *testing.T) {
	u, err := url.Parse(storetest.DatabaseURL(t, sqlstore.Postgres))
	if err != nil {
		t.Fatal(err)
	}
	proxy := storetest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	db, err := sqlstore.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetStatementTimeout(time.Second)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.Seed(context.Background(), sqlstore.SeedOptions{Products: 50, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, sqlstore.Postgres, serverOptions{db: db})
	cached := `{ products(ids: ["3", "4"]) { id name price { amount } seller { name } category { name } } }`
	live := `{ products(ids: ["3", "4"]) { id stock } }`
	mutation := `mutation { updateSeller(id: "1", input: {name: "X"}) { name } }`
	ts.mustQuery(t, cached, nil, nil)

	proxy.Cut()
	var got struct{ Products []*struct{ ID, Name string } }
	ts.mustQuery(t, cached, nil, &got)
	if len(got.Products) != 2 || got.Products[0] == nil || got.Products[0].Name == "" {
		t.Errorf("cached fields with the database down: %+v", got.Products)
	}
	r := ts.query(t, live, nil, nil)
	if codes := r.codes(); len(codes) != 2 || codes[0] != "UNAVAILABLE" || codes[1] != "UNAVAILABLE" {
		t.Errorf("live fields with the database down: %+v, want one UNAVAILABLE per product", r.Errors)
	}
	if codes := ts.admin(t, mutation, nil, nil).codes(); !slices.Equal(codes, []string{"UNAVAILABLE"}) {
		t.Errorf("mutation with the database down: codes %v, want UNAVAILABLE", codes)
	}

	proxy.Restore(t)
	ts.mustQuery(t, live, nil, nil)
	ts.mustAdmin(t, mutation, nil, nil)
}
