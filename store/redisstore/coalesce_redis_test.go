package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/storetest"
)

// These tests hold the first Redis call of a burst of callers at a gate
// (a go-redis hook) until every other caller has queued, so that the count
// of round trips they assert is exact on any machine: one for the first
// caller, one for all the others.

const callers = 64

// gateHook blocks the first command or pipeline sent after arm until open
// is closed, after closing entered.
type gateHook struct {
	armed         atomic.Bool
	entered, open chan struct{}
}

func newGate(rdb redis.UniversalClient) *gateHook {
	g := &gateHook{entered: make(chan struct{}), open: make(chan struct{})}
	rdb.AddHook(g)
	return g
}

func (g *gateHook) arm() { g.armed.Store(true) }

func (g *gateHook) wait(cmds []redis.Cmder) {
	if !redisstore.Handshake(cmds) && g.armed.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.open
	}
}

func (g *gateHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *gateHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		g.wait([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (g *gateHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		g.wait(cmds)
		return next(ctx, cmds)
	}
}

// burst runs call(0) until its Redis call reaches the gate, then call(i)
// for every other i, waits until queued() reports them all queued, opens
// the gate, and waits for every call to return. It returns the round trips
// the burst cost.
func burst(t *testing.T, g *gateHook, counter *redisstore.RedisCounter, queued func() int, call func(i int)) int64 {
	t.Helper()
	before := counter.Stats()
	g.arm()
	var wg sync.WaitGroup
	wg.Go(func() { call(0) })
	<-g.entered
	for i := 1; i < callers; i++ {
		wg.Go(func() { call(i) })
	}
	waitFor(t, "the callers to queue", func() bool { return queued() == callers-1 })
	close(g.open)
	wg.Wait()
	trips := counter.Stats().Sub(before).RoundTrips
	if trips < 1 || trips > callers/4 {
		t.Errorf("%d callers made %d round trips; want 1 to %d", callers, trips, callers/4)
	}
	return trips
}

// counted returns a client of the test Redis (through url when given), its
// round-trip counter and its gate.
func counted(t *testing.T, url string) (redis.UniversalClient, *redisstore.RedisCounter, *gateHook) {
	t.Helper()
	rdb, err := redisstore.NewRedis(url, redisstore.RedisOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	counter := &redisstore.RedisCounter{}
	rdb.AddHook(counter)
	return rdb, counter, newGate(rdb)
}

// countedViews returns the view counter's Redis side with its scripts
// loaded, over a counted client of the test Redis, and its key prefix.
func countedViews(t *testing.T) (redis.UniversalClient, *redisstore.RedisCounter, *gateHook, *redisstore.RedisViews, string) {
	t.Helper()
	url := storetest.RedisURL(t)
	rdb, counter, g := counted(t, url)
	prefix := storetest.Prefix(t, url)
	v := redisstore.NewRedisViews(rdb, redisstore.RedisViewsOptions{Prefix: prefix, Timeout: 2 * time.Second})
	if err := v.LoadScripts(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rdb, counter, g, v, prefix
}

// 64 concurrent reads of display counts cost two round trips (one EVALSHA
// each), and each reader gets the counts of its own ids, in its order.
func TestViewReadsCoalesce(t *testing.T) {
	rdb, counter, g, v, prefix := countedViews(t)
	ctx := context.Background()
	for id := int64(1); id <= callers+1; id++ { // display count of id: 10 id
		rdb.Set(ctx, prefix+"{views}:n:"+strconv.FormatInt(id, 10), 10*id, time.Minute)
	}
	got := make([]redisstore.ViewRead, callers)
	errs := make([]error, callers)
	trips := burst(t, g, counter, func() int { r, _ := redisstore.ViewQueues(v); return r }, func(i int) {
		id := int64(i + 1)
		got[i], errs[i] = v.Read(ctx, []int64{id + 1, 1000 + id, id}) // 1000+id has no count
	})
	for i := range got {
		id := int64(i + 1)
		if want := []int64{10 * (id + 1), -1, 10 * id}; errs[i] != nil || !slices.Equal(got[i].Display, want) {
			t.Errorf("reader %d got %v, %v; want %v", i, got[i].Display, errs[i], want)
		}
	}
	t.Logf("%d reads, %d round trips", callers, trips)
}

// 64 concurrent views of 8 products cost two round trips, and each is
// counted exactly once: in pending, in the queue, and in the display count
// of the products that have one, each view seeing its own count.
func TestViewRecordsCoalesce(t *testing.T) {
	rdb, counter, g, v, prefix := countedViews(t)
	ctx := context.Background()
	for id := 1; id <= 4; id++ { // products 1-4 have a display count of 100; 5-8 none
		rdb.Set(ctx, prefix+"{views}:n:"+strconv.Itoa(id), 100, time.Minute)
	}
	display, queued := make([]int64, callers), make([]int64, callers)
	errs := make([]error, callers)
	burst(t, g, counter, func() int { _, r := redisstore.ViewQueues(v); return r }, func(i int) {
		display[i], queued[i], errs[i] = v.Record(ctx, int64(1+i%8))
	})
	seen := map[int64][]int64{}
	for i := range display {
		if errs[i] != nil {
			t.Fatalf("view %d: %v", i, errs[i])
		}
		seen[int64(1+i%8)] = append(seen[int64(1+i%8)], display[i])
	}
	for id, counts := range seen {
		slices.Sort(counts)
		want := []int64{101, 102, 103, 104, 105, 106, 107, 108}
		if id > 4 {
			want = []int64{-1, -1, -1, -1, -1, -1, -1, -1}
		}
		if !slices.Equal(counts, want) {
			t.Errorf("product %d: the views saw display counts %v, want %v", id, counts, want)
		}
	}
	slices.Sort(queued)
	for i, q := range queued {
		if q != int64(i+1) {
			t.Fatalf("queue lengths seen %v, want 1..%d", queued, callers)
		}
	}
	log, err := v.ReadLog(ctx, store.LogPos{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for id := int64(1); id <= 8; id++ {
		if log.Views[id] != 8 {
			t.Errorf("views of %d in the log: %d, want 8", id, log.Views[id])
		}
	}
	if n := len(log.Entries); n >= callers {
		t.Errorf("%d log entries for %d views, want fewer (one a coalesced call)", n, callers)
	}
}

// 64 concurrent Allow calls of 8 clients cost two round trips, and each
// client gets exactly its burst of 4.
func TestRateLimitsCoalesce(t *testing.T) {
	url := storetest.RedisURL(t)
	rdb, counter, g := counted(t, url)
	l := redisstore.NewRateLimiter(rdb, redisstore.RateLimitOptions{Prefix: storetest.Prefix(t, url),
		Rate: 0.001, Burst: 4, Timeout: 2 * time.Second})
	ctx := context.Background()
	if err := rdb.ScriptLoad(ctx, redisstore.TokenBucketSource).Err(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	allowed := map[string]int{}
	burst(t, g, counter, func() int { return redisstore.RateLimitQueue(l) }, func(i int) {
		client := fmt.Sprint("c", i%8)
		ok, err := l.Allow(ctx, client)
		if err != nil {
			t.Errorf("allow %s: %v", client, err)
		}
		if ok {
			mu.Lock()
			allowed[client]++
			mu.Unlock()
		}
	})
	for i := range 8 {
		if n := allowed[fmt.Sprint("c", i)]; n != 4 {
			t.Errorf("client c%d was allowed %d times, want its burst of 4", i, n)
		}
	}
}

// 64 concurrent persisted-query reads cost two round trips, and each gets
// its own query or its miss.
func TestPersistedQueryReadsCoalesce(t *testing.T) {
	url := storetest.RedisURL(t)
	rdb, counter, g := counted(t, url)
	pq := redisstore.NewPersistedQueries(rdb, redisstore.PersistedQueryOptions{Prefix: storetest.Prefix(t, url),
		Timeout: 2 * time.Second})
	ctx := context.Background()
	for i := 0; i < callers; i += 2 { // even hashes stored, odd ones missing
		pq.Add(ctx, fmt.Sprint("h", i), fmt.Sprint("{ q", i, " }"))
	}
	got, hit := make([]string, callers), make([]bool, callers)
	burst(t, g, counter, func() int { return redisstore.APQQueue(pq) }, func(i int) {
		got[i], hit[i] = pq.Get(ctx, fmt.Sprint("h", i))
	})
	for i := range got {
		if want := fmt.Sprint("{ q", i, " }"); i%2 == 0 && (!hit[i] || got[i] != want) || i%2 == 1 && hit[i] {
			t.Errorf("get h%d = %q, %v", i, got[i], hit[i])
		}
	}
}

// When Redis is gone, every caller of a merged call gets the call's error,
// and the call fails once.
func TestViewReadErrorReachesEveryCaller(t *testing.T) {
	url := storetest.RedisURL(t)
	proxy := storetest.NewProxy(t, hostOf(t, url))
	rdb, counter, g := counted(t, proxy.RedisURL(t, url))
	v := redisstore.NewRedisViews(rdb, redisstore.RedisViewsOptions{Prefix: storetest.Prefix(t, url), Timeout: 2 * time.Second})
	proxy.Cut()
	errs := make([]error, callers)
	burst(t, g, counter, func() int { r, _ := redisstore.ViewQueues(v); return r }, func(i int) {
		_, errs[i] = v.Read(context.Background(), []int64{int64(i)})
	})
	for i, err := range errs {
		var op *net.OpError
		if !errors.As(err, &op) {
			t.Errorf("reader %d got %v, want the connection's error", i, err)
		}
	}
	if reads, _ := v.ViewCoalesceStats(); reads.Failed != reads.Calls || reads.Calls != 2 {
		t.Errorf("read stats %+v; want 2 calls, each failed once", reads)
	}
}

// A Redis that never answers, with a client that waits for replies past
// the context's deadline (go-redis's defaults): a reader with a short
// deadline returns at it, and the call it was queued behind holds no
// reader longer than the views' Timeout, even readers without a deadline.
func TestViewReadStuckRedis(t *testing.T) {
	url := storetest.RedisURL(t)
	proxy := storetest.NewProxy(t, hostOf(t, url))
	opt, err := redis.ParseURL(proxy.RedisURL(t, url))
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	rdb := redis.NewClient(opt) // 5 s read timeout, deadlines not enforced on reads
	t.Cleanup(func() { rdb.Close() })
	const timeout = 100 * time.Millisecond
	v := redisstore.NewRedisViews(rdb, redisstore.RedisViewsOptions{Prefix: storetest.Prefix(t, url), Timeout: timeout})
	rdb.Ping(context.Background()) // one connection made before the hang
	proxy.Hang()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	took := make([]time.Duration, 8)
	for i := range errs {
		wg.Go(func() {
			ctx := context.Background()
			if i%2 == 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 20*time.Millisecond)
				defer cancel()
			}
			_, errs[i] = v.Read(ctx, []int64{1})
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("reader %d got %v, want a deadline error", i, err)
		}
		// Far under the client's 5 s read timeout, which waiting on the
		// stuck call would reach; a loaded machine stays far under it too.
		if took[i] > 2*time.Second {
			t.Errorf("reader %d returned after %v with Redis stuck and a %v timeout", i, took[i], timeout)
		}
	}
	t.Logf("readers returned after %v", took)
}

// hostOf returns the host:port of a Redis URL.
func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
