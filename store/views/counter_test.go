package views_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"syscall"
	"testing"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
	"catalog-bff/store/views"
)

// assertExact checks that SQL holds base plus every acknowledged view, and
// that Redis's log holds nothing after SQL's position.
func assertExact(t *testing.T, f *fixture, in *instance, base map[int64]int64, acked *tally, products int) {
	t.Helper()
	got := f.sqlHits(t, ids(products)...)
	for _, id := range ids(products) {
		if d := got[id] - base[id]; d != acked.get(id) {
			t.Errorf("product %d: SQL has %d views more than at start, clients saw %d acknowledged", id, d, acked.get(id))
		}
	}
	if in != nil && in.rv != nil {
		state, err := f.db.ViewLog(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if r, err := in.rv.ReadLog(context.Background(), state.Applied, 100); err != nil || len(r.Entries) != 0 {
			t.Errorf("Redis still holds views after SQL's position: %+v, %v", r, err)
		}
	}
}

// Two instances record views and flush the same Redis and database at the
// same time, every 20 ms: no view is lost and none is counted twice. Each
// also re-applies the other's claimed batches as a no-op when it sees them
// before they are acknowledged.
func TestTwoInstancesFlushingExactlyOnce(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		const products = 50
		f := newFixture(t, d, products)
		base := f.sqlHits(t, ids(products)...)
		a := f.instance(t, instanceOptions{interval: 20 * time.Millisecond})
		b := f.instance(t, instanceOptions{interval: 20 * time.Millisecond})
		var acked tally
		var wg sync.WaitGroup
		for w := range 8 {
			in := []*instance{a, b}[w%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				mono := monotonic{t: t}
				for i := range 300 {
					id := int64(1 + (i*7+w)%products)
					n, err := in.Record(context.Background(), id)
					if err != nil {
						t.Errorf("record: %v", err)
						return
					}
					acked.add(id)
					mono.see(id, n)
				}
			}()
		}
		wg.Wait()
		a.stop()
		b.stop()
		assertExact(t, f, a, base, &acked, products)
		sa, sb := a.Stats(), b.Stats()
		if sa.Applied == 0 || sb.Applied == 0 {
			t.Errorf("applied batches: %d and %d, want both instances to have flushed", sa.Applied, sb.Applied)
		}
		t.Logf("%d views; instance A applied %d batches (%d replays), B %d (%d replays)",
			acked.total(), sa.Applied, sa.Replayed, sb.Applied, sb.Replayed)
	})
}

// waitFor polls cond for up to 10 s: a bound that only a broken counter,
// not a loaded machine, reaches.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	storetest.Eventually(t, 10*time.Second, what, cond)
}

// Views of a product deleted before the flush are dropped: the batch is
// applied (its UPDATE matches no row for that product) and acknowledged,
// and later flushes have nothing to do.
func TestDeletedProductViewsDropped(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		f := newFixture(t, d, 5)
		base := f.sqlHits(t, 1, 2)
		in := f.instance(t, instanceOptions{})
		ctx := context.Background()
		for _, id := range []int64{1, 1, 1, 2, 2} {
			if _, err := in.Record(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.db.SQL().Exec(`DELETE FROM products WHERE id = 2`); err != nil {
			t.Fatal(err)
		}
		if err := in.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got := f.sqlHits(t, 1, 2)
		if got[1] != base[1]+3 || len(got) != 1 {
			t.Errorf("SQL hits = %v, want product 1 at %d and no product 2", got, base[1]+3)
		}
		s0, r0 := in.db.Statements(), in.redis.Stats()
		for range 3 {
			if err := in.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if s, r := in.db.Statements()-s0, in.redis.Stats().Sub(r0); s != 0 || r.RoundTrips != 3 {
			t.Errorf("3 more flushes: %d SQL statements and %d round trips, want 0 and 3 (one claim each)", s, r.RoundTrips)
		}
		if s := in.Stats(); s.Applied != 1 {
			t.Errorf("stats = %+v, want 1 batch applied", s)
		}
		assertExact(t, f, in, map[int64]int64{1: base[1]}, &tally{n: map[int64]int64{1: 3}}, 1)
	})
}

// REDIS_URL=off: views count in process and flush straight to SQL.
func TestWithoutRedis(t *testing.T) {
	f := newFixture(t, sqlstore.SQLite, 3)
	base := f.sqlHits(t, 1, 2)
	in := f.instance(t, instanceOptions{noRedis: true})
	ctx := context.Background()
	for i := range 10 {
		n, err := in.Record(ctx, int64(1+i%2))
		if want := base[int64(1+i%2)] + int64(1+i/2); err != nil || n != want {
			t.Fatalf("view %d: %d, %v; want %d", i, n, err, want)
		}
	}
	if err := in.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := f.sqlHits(t, 1, 2)
	if got[1] != base[1]+5 || got[2] != base[2]+5 {
		t.Errorf("SQL hits = %v, want %v plus 5 each", got, base)
	}
	hits, _ := in.Hits(ctx, []int64{1, 2})
	if hits[1] != got[1] || hits[2] != got[2] {
		t.Errorf("hits after the flush = %v, want %v", hits, got)
	}
}

// More than FlushMax views waiting start a flush before the interval.
func TestFlushMaxFlushesEarly(t *testing.T) {
	f := newFixture(t, sqlstore.SQLite, 3)
	in := f.instance(t, instanceOptions{interval: time.Hour, flushMax: 20})
	waitFor(t, "the flush at start", func() bool { return in.Stats().Flushes == 1 })
	for range 21 {
		if _, err := in.Record(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "an early flush", func() bool { return in.Stats().Applied == 1 })
}

// A client that records views and reads hits in a loop while flushes run
// every 5 ms, and while display counts disappear (as on expiry, or when
// Redis loses them) and are made again from SQL, never sees a count go down,
// and the counts end exact.
func TestHitsMonotonicUnderFlushesAndCountLoss(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		const products = 4
		f := newFixture(t, d, products)
		base := f.sqlHits(t, ids(products)...)
		flusher := f.instance(t, instanceOptions{interval: 5 * time.Millisecond})
		ctx := context.Background()
		rdb, _ := f.redis(t, "", 0)
		stop := make(chan struct{})
		var loss sync.WaitGroup
		loss.Add(1)
		go func() { // drop display counts now and then
			defer loss.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(3 * time.Millisecond):
				}
				rdb.Del(ctx, fmt.Sprintf("%s{views}:n:%d", f.prefix, 1+rand.IntN(products)))
			}
		}()
		var acked tally
		var wg sync.WaitGroup
		workers := make([]*instance, 4)
		for w := range workers {
			in := f.instance(t, instanceOptions{}) // its own process: remembers nothing of the others
			workers[w] = in
			wg.Add(1)
			go func() {
				defer wg.Done()
				mono := monotonic{t: t}
				for i := range 150 {
					id := int64(1 + (i+w)%products)
					n, err := in.Record(ctx, id)
					if err != nil {
						t.Errorf("record: %v", err)
						return
					}
					acked.add(id)
					mono.see(id, n)
					hits, err := in.Hits(ctx, ids(products))
					if err != nil {
						t.Errorf("hits: %v", err)
						return
					}
					for id, v := range hits {
						mono.see(id, v)
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		loss.Wait()
		// Each worker's last flush, as its process makes at shutdown: a
		// worker whose Redis call timed out on a loaded machine counted
		// its views in process since, and only its own flush writes them.
		for _, in := range workers {
			waitFor(t, "a worker's last flush", func() bool { return in.Flush(ctx) == nil })
		}
		flusher.stop()
		assertExact(t, f, flusher, base, &acked, products)
		hits, err := f.instance(t, instanceOptions{}).Hits(ctx, ids(products))
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids(products) {
			if hits[id] != base[id]+acked.get(id) {
				t.Errorf("final hits of %d = %d, want %d", id, hits[id], base[id]+acked.get(id))
			}
		}
	})
}

// failingRedis fails Record with a given error, like a Redis that died with
// the view's command sent (EOF) or before it could be sent (refused dial).
type failingRedis struct {
	views.Redis
	err error
}

func (r failingRedis) Record(context.Context, int64) (int64, int64, error) { return 0, 0, r.err }

// A view whose command may have reached Redis before the failure has an
// unknown outcome: it is not counted in process too (that could count it
// twice), and the client gets UNAVAILABLE. A view that cannot have reached
// Redis (the dial was refused) is counted in process.
func TestRecordUnknownOutcome(t *testing.T) {
	f := newFixture(t, sqlstore.SQLite, 3)
	ctx := context.Background()
	lost := f.instance(t, instanceOptions{wrap: func(r views.Redis) views.Redis {
		return failingRedis{Redis: r, err: fmt.Errorf("store: views record: %w", io.EOF)}
	}})
	_, err := lost.Record(ctx, 1)
	if !errors.Is(err, views.ErrUnknown) || store.ErrorCode(err) != store.Unavailable {
		t.Errorf("record with its reply lost: %v (code %s), want ErrUnknown, UNAVAILABLE", err, store.ErrorCode(err))
	}
	if n := lost.Stats().LocalViews; n != 0 {
		t.Errorf("a view of unknown outcome was also counted in process")
	}
	refused := f.instance(t, instanceOptions{wrap: func(r views.Redis) views.Redis {
		return failingRedis{Redis: r, err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	}})
	base := f.sqlHits(t, 1)[1]
	if n, err := refused.Record(ctx, 1); err != nil || n != base+1 {
		t.Errorf("record with Redis refusing = %d, %v; want %d counted in process", n, err, base+1)
	}
	if n := refused.Stats().LocalViews; n != 1 {
		t.Errorf("views counted in process = %d, want 1", n)
	}
}

// A Redis that hangs (accepts, never answers) blocks a view for one
// timeout at most: that view's outcome is unknown (UNAVAILABLE), and the
// views after it count in process at once, until the flusher reaches Redis
// again. The views the clients saw acknowledged all reach SQL, once.
func TestRedisHangDoesNotBlockViews(t *testing.T) {
	f := newFixture(t, sqlstore.SQLite, 3)
	base := f.sqlHits(t, 1)[1]
	u, _ := url.Parse(f.redisURL)
	proxy := storetest.NewProxy(t, u.Host)
	// Long enough that a loaded CI machine never times out a healthy call.
	const timeout = 250 * time.Millisecond
	in := f.instance(t, instanceOptions{redisURL: proxy.RedisURL(t, f.redisURL), timeout: timeout,
		interval: 20 * time.Millisecond})
	ctx := context.Background()
	var acked int64
	record := func() (time.Duration, error) {
		start := time.Now()
		_, err := in.Record(ctx, 1)
		if err == nil {
			acked++
		}
		return time.Since(start), err
	}
	for range 5 {
		if _, err := record(); err != nil {
			t.Fatal(err)
		}
	}
	proxy.Hang()
	// (Unless the flusher timed out first, which makes this view count in
	// process at once.)
	took, err := record()
	if (err != nil && !errors.Is(err, views.ErrUnknown)) || took > 4*timeout {
		t.Errorf("first view into the hang: %v after %v; want ErrUnknown within about %v", err, took, timeout)
	}
	var slowest time.Duration
	for range 20 {
		took, err := record()
		if err != nil {
			t.Fatalf("view during the hang: %v", err)
		}
		slowest = max(slowest, took)
	}
	if slowest > timeout {
		t.Errorf("slowest view during the hang took %v; want it counted in process without waiting on Redis", slowest)
	}
	proxy.Restore(t)
	waitFor(t, "views to go to Redis again", func() bool {
		before := in.Stats().LocalViews
		_, _ = record() // an error here is a view counted in process, which the condition reads
		return in.Stats().LocalViews == before
	})
	in.stop()
	if got := f.sqlHits(t, 1)[1]; got != base+acked {
		t.Errorf("SQL hits = %d, want %d (%d acknowledged)", got, base+acked, acked)
	}
}
