package graph_test

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"catalog-bff/store"
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

// A Redis that stops answering, or answers 200 ms late, must not add its
// timeout to every request: the breaker opens after a few timeouts and the
// pages answer from SQL, with no error, about as fast as with no Redis.
func TestRedisFaultsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	db := seededDB(t, store.Postgres, 200)
	base := newTestServer(t, store.Postgres, serverOptions{db: db, noCache: true, wait: time.Millisecond})
	baseline := runLoad(t, base, 4, 2*time.Second)
	baseP99, baseN := p99(baseline, time.Time{}, time.Now())
	t.Logf("baseline without Redis: %d requests, p99 %v", baseN, baseP99)

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
			ts := newTestServer(t, store.Postgres, serverOptions{db: db, redisURL: proxy.RedisURL(t, u.String()),
				redisTimeout: 50 * time.Millisecond, wait: time.Millisecond})
			runLoad(t, ts, 4, time.Second) // warm
			start := time.Now()
			fault.apply(proxy)
			ss := runLoad(t, ts, 4, 5*time.Second)
			first, n1 := p99(ss, start, start.Add(time.Second))
			after, n2 := p99(ss, start.Add(time.Second), time.Now())
			t.Logf("%s for 5 s: %d requests, %d errors; p99 %v in the first second (%d requests), %v after (%d), breaker %s; baseline p99 %v",
				fault.name, len(ss), errorsIn(ss), first, n1, after, n2, ts.cache.BreakerState(), baseP99)
			if n := errorsIn(ss); n != 0 {
				t.Errorf("%d of %d requests failed", n, len(ss))
			}
			// Twice the baseline, with a floor for the noise of a shared
			// 2-core machine running other tests at once.
			if limit := max(2*baseP99, baseP99+10*time.Millisecond); after > limit {
				t.Errorf("p99 once the breaker is open = %v, want at most %v (baseline %v)", after, limit, baseP99)
			}
		})
	}
}
