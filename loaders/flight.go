package loaders

import (
	"context"
	"sync"
	"sync/atomic"

	"catalog-bff/store"
)

// flights lets the requests of one process that miss the same key share one
// fetch: the first becomes the flight's owner, the others wait for its
// result.
//
// A request only joins a flight that started after its own cache read.
// Such a flight reads SQL after that cache read, so it cannot hand back a
// row older than a write the request could already see invalidated; an
// older flight might have read SQL before that write committed.
type flights struct {
	clock atomic.Uint64
	mu    sync.Mutex
	m     map[flightKey]*flight
}

type flightKey struct {
	kind store.Kind
	id   int64
}

type flight struct {
	start uint64
	done  chan struct{}
	val   store.Document // nil for no row
	err   error
}

// now returns the current flight clock.
func (fs *flights) now() uint64 { return fs.clock.Load() }

// join returns a flight for each id, and the ids whose flights the caller
// owns and must finish: those with no flight, or only one that started
// before since, and those whose fill lease the caller holds (leased). The
// lease holder always fetches: a flight it joined could be waiting for
// that very lease. Its new flight replaces the older one for later
// joiners; the older one's owner finds the fill once it is written back.
func (fs *flights) join(kind store.Kind, ids []int64, since uint64, leased map[int64]bool) (map[int64]*flight, []int64) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.m == nil {
		fs.m = map[flightKey]*flight{}
	}
	out := make(map[int64]*flight, len(ids))
	var own []int64
	for _, id := range ids {
		k := flightKey{kind, id}
		if fl, ok := fs.m[k]; ok && fl.start > since && !leased[id] {
			out[id] = fl
			continue
		}
		fl := &flight{start: fs.clock.Add(1), done: make(chan struct{})}
		fs.m[k], out[id] = fl, fl
		own = append(own, id)
	}
	return out, own
}

// finishFlights completes the flights of own with the values in got, or err for
// the ids got lacks, and forgets them.
func finishFlights(fs *flights, kind store.Kind, own []int64, all map[int64]*flight, got map[int64]store.Document, err error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, id := range own {
		fl := all[id]
		if v, ok := got[id]; ok {
			fl.val = v
		} else {
			fl.err = err
		}
		if fs.m[flightKey{kind, id}] == fl {
			delete(fs.m, flightKey{kind, id})
		}
		close(fl.done)
	}
}

// wait returns the flight's result, or ctx's error.
func (fl *flight) wait(ctx context.Context) (store.Document, error) {
	select {
	case <-fl.done:
		return fl.val, fl.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// admit bounds the SQL reads that stand in for a cache that is down, so
// that a Redis outage during a spike does not become a database outage too.
// It returns at once when the cache is up or there is none (SQL is then the
// normal path), else waits up to FallbackWait for a slot and answers
// Unavailable past it.
func (f *Factory) admit(ctx context.Context, cacheUp bool) (func(), error) {
	if cacheUp || f.opt.Cache == nil || f.fallback == nil {
		return func() {}, nil
	}
	wctx, cancel := context.WithTimeout(ctx, f.opt.FallbackWait)
	defer cancel()
	if err := f.fallback.Acquire(wctx, 1); err != nil {
		f.stats.refused.Add(1)
		return nil, store.Errorf(store.Unavailable, "the cache is down and the database is at its limit; try again")
	}
	n := f.stats.inflight.Add(1)
	for peak := f.stats.peak.Load(); n > peak && !f.stats.peak.CompareAndSwap(peak, n); peak = f.stats.peak.Load() {
	}
	f.stats.admitted.Add(1)
	return func() { f.stats.inflight.Add(-1); f.fallback.Release(1) }, nil
}

// Stats counts what the loaders did beyond plain hits and misses.
type Stats struct {
	FallbackAdmitted int64 // SQL reads admitted while the cache was down
	FallbackRefused  int64 // requests refused UNAVAILABLE at the bound
	FallbackPeak     int64 // the most such reads at once
	LeaseWaits       int64 // keys waited for because another reader held the fill lease
	Prefetched       int64 // sellers and categories read with the products that named them
	CacheReadsFailed int64 // batches whose cache read failed, so that they read SQL
}

type stats struct {
	admitted, refused, inflight, peak, leaseWaits, prefetched, readsFailed atomic.Int64
}

// Stats returns the counts so far.
func (f *Factory) Stats() Stats {
	return Stats{FallbackAdmitted: f.stats.admitted.Load(), FallbackRefused: f.stats.refused.Load(),
		FallbackPeak: f.stats.peak.Load(), LeaseWaits: f.stats.leaseWaits.Load(),
		Prefetched: f.stats.prefetched.Load(), CacheReadsFailed: f.stats.readsFailed.Load()}
}
