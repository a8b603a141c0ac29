package loaders

import (
	"context"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"catalog-bff/store"
)

// cached is the batch function of a cached document type T.
type cached[T any] struct {
	f       *Factory
	kind    string // the cache key's type segment, e.g. "product"
	fetch   func(context.Context, []int64) (map[int64]*T, error)
	version func(*T) int64
}

// batch loads keys, in key order. Its contract, for any keys:
//   - one cache round trip (Get, an MGET) for all distinct keys;
//   - for the misses (no entry, a marker, or an entry that does not decode)
//     that no other request of this process is fetching already: one round
//     trip for their fill leases, one Store call for those this reader must
//     fill, and one cache round trip (Put) writing them back, documents and
//     negative entries alike;
//   - a result for every key: the document, nil with no error when no row
//     has the id, or an error for keys that only SQL could answer.
//
// A cache failure is never a client error: the batch reads SQL instead,
// under the fallback's admission bound.
func (c *cached[T]) batch(ctx context.Context, keys []int64) []*dataloader.Result[*T] {
	ids, slots := dedupe(keys)
	vals := make([]*T, len(ids))
	errs := make([]error, len(ids))
	sizes := make([]int, len(ids))
	epoch := c.f.opt.Near.Epoch() // a Reset after this drops the fills below
	since := c.f.flights.now()    // flights started later read SQL after this cache read
	bad := map[int64][]byte{}
	misses, cacheUp := c.read(ctx, ids, vals, sizes, bad)
	if len(misses) > 0 {
		c.resolve(ctx, ids, misses, vals, errs, cacheUp, bad, since)
	}
	if cacheUp {
		c.keep(ids, vals, errs, sizes, epoch)
	}
	out := make([]*dataloader.Result[*T], len(keys))
	for i, s := range slots {
		out[i] = &dataloader.Result[*T]{Data: vals[s], Error: errs[s]}
	}
	return out
}

// read fills vals from the cache and returns the indices of ids it did not
// answer, and whether the cache answered at all. It records the encoded
// size of each document it answers in sizes, and keeps, in bad, the entries
// that did not decode, so that the write-back replaces them.
func (c *cached[T]) read(ctx context.Context, ids []int64, vals []*T, sizes []int, bad map[int64][]byte) ([]int, bool) {
	if c.f.opt.Cache == nil {
		return all(len(ids)), false
	}
	entries, err := c.f.opt.Cache.Get(ctx, c.kind, ids)
	if err != nil {
		c.f.opt.Observer.CacheRead(ctx, c.kind, CacheUnavailable, len(ids))
		c.f.warnCache(ctx, "cache read failed; reading SQL", c.kind, err)
		return all(len(ids)), false
	}
	misses := make([]int, 0, len(ids))
	seen := tally{}
	for i, e := range entries {
		v, ok := c.decode(e)
		switch {
		case ok:
			vals[i], sizes[i] = v, len(e.Data)
			c.hit(ids[i], e, seen)
		case e.State == store.Hit || e.State == store.Corrupt:
			c.f.opt.Logger.WarnContext(ctx, "cache entry does not decode; refilling", "kind", c.kind, "id", ids[i])
			bad[ids[i]] = e.Raw
			misses = append(misses, i)
			seen[CacheCorrupt]++
		default:
			misses = append(misses, i)
			seen[CacheMiss]++
		}
	}
	seen.report(ctx, c.f.opt.Observer, c.kind)
	return misses, true
}

// keep offers the near cache every document of the batch that Redis or
// SQL answered (nil: no row), read since epoch. Only a batch whose cache
// read succeeded does: a fallback read while Redis is away could miss an
// invalidation.
func (c *cached[T]) keep(ids []int64, vals []*T, errs []error, sizes []int, epoch uint64) {
	near := c.f.opt.Near
	if !near.Live() {
		return
	}
	for i, v := range vals {
		if errs[i] != nil {
			continue
		}
		var version int64
		size := sizes[i]
		if v != nil {
			version = c.version(v)
			if size == 0 {
				data, _ := encodeDoc(v)
				size = len(data)
			}
		}
		near.fill(c.kind, ids[i], version, v, size, epoch)
	}
}

// hit counts an entry that answered, and offers a document to the auditor.
func (c *cached[T]) hit(id int64, e store.Entry, seen tally) {
	if e.State == store.Absent {
		seen[CacheNegative]++
		return
	}
	seen[CacheHit]++
	if a := c.f.opt.Audit; a != nil {
		a.Sample(c.kind, id, e.Version)
	}
}

// decode returns the document of a Hit, or nil for a negative entry, and
// whether e answered at all.
func (c *cached[T]) decode(e store.Entry) (*T, bool) {
	switch e.State {
	case store.Absent:
		return nil, true
	case store.Hit:
		v := new(T)
		if decodeDoc(e.Data, v) != nil {
			return nil, false
		}
		return v, true
	}
	return nil, false
}

// resolve answers the misses, sharing the fetch of each id with any request
// of this process that is fetching it already, and fills vals and errs.
func (c *cached[T]) resolve(ctx context.Context, ids []int64, misses []int, vals []*T, errs []error,
	cacheUp bool, bad map[int64][]byte, since uint64) {
	missIDs := make([]int64, len(misses))
	for j, m := range misses {
		missIDs[j] = ids[m]
	}
	flights, own := c.f.flights.join(c.kind, missIDs, since)
	if len(own) > 0 {
		got, err := c.load(ctx, own, cacheUp, bad)
		finishFlights(&c.f.flights, c.kind, own, flights, got, err)
	}
	for j, m := range misses {
		v, err := flights[missIDs[j]].wait(ctx)
		vals[m], errs[m] = asDoc[T](v), err
	}
}

func asDoc[T any](v any) *T {
	d, _ := v.(*T)
	return d
}

// load answers ids that this reader owns: from the cache when another
// instance filled them meanwhile, else from SQL. The keys of got are the
// ids answered (a nil value: no row); err applies to the others.
func (c *cached[T]) load(ctx context.Context, ids []int64, cacheUp bool, bad map[int64][]byte) (map[int64]*T, error) {
	got := make(map[int64]*T, len(ids))
	fetch := ids
	if cacheUp && c.f.opt.LeaseTTL > 0 {
		fetch = c.lease(ctx, ids, got)
	}
	if len(fetch) == 0 {
		return got, nil
	}
	release, err := c.f.admit(ctx, cacheUp)
	if err != nil {
		return got, err
	}
	found, err := c.fetch(ctx, fetch)
	release()
	if err != nil {
		return got, err
	}
	fills := make([]store.Fill, 0, len(fetch))
	for _, id := range fetch {
		v := found[id]
		got[id] = v
		fills = append(fills, c.fillOf(id, v, bad[id]))
	}
	if hook := c.f.opt.AfterFetch; hook != nil {
		hook(ctx, c.kind, fetch)
	}
	if cacheUp {
		if err := c.f.opt.Cache.Put(ctx, c.kind, fills); err != nil {
			c.f.warnCache(ctx, "cache write-back failed", c.kind, err)
		}
	}
	return got, nil
}

// fillOf is the write-back of one fetched id: its document, or a negative
// entry when v is nil.
func (c *cached[T]) fillOf(id int64, v *T, replace []byte) store.Fill {
	if v == nil {
		return store.Fill{ID: id, Absent: true, Replace: replace}
	}
	data, err := encodeDoc(v)
	if err != nil { // cannot happen for these types; write a negative-free no-op
		return store.Fill{ID: id, Version: -1, Data: []byte("{}")}
	}
	return store.Fill{ID: id, Version: c.version(v), Data: data, Replace: replace}
}

// lease takes the fill leases of ids in one round trip. It puts in got the
// ids that another instance filled meanwhile, waits up to the lease TTL for
// those whose lease another reader holds, and returns the ids this reader
// must fetch: those it was granted, and those still unfilled after the wait.
func (c *cached[T]) lease(ctx context.Context, ids []int64, got map[int64]*T) []int64 {
	res, err := c.f.opt.Cache.Lease(ctx, c.kind, ids, c.f.opt.LeaseTTL)
	if err != nil {
		return ids
	}
	var fetch, busy []int64
	for i, r := range res {
		switch v, ok := c.decode(r.Entry); {
		case r.State == store.Filled && ok:
			got[ids[i]] = v
		case r.State == store.Busy:
			busy = append(busy, ids[i])
		default:
			fetch = append(fetch, ids[i])
		}
	}
	if len(busy) > 0 {
		c.f.stats.leaseWaits.Add(int64(len(busy)))
		fetch = append(fetch, c.await(ctx, busy, got)...)
	}
	return fetch
}

// await polls the cache for busy ids until they are filled or the lease TTL
// has passed, and returns those still unfilled.
func (c *cached[T]) await(ctx context.Context, busy []int64, got map[int64]*T) []int64 {
	deadline := time.Now().Add(c.f.opt.LeaseTTL)
	poll := max(c.f.opt.LeaseTTL/20, time.Millisecond)
	for len(busy) > 0 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return busy
		case <-time.After(poll):
		}
		entries, err := c.f.opt.Cache.Get(ctx, c.kind, busy)
		if err != nil {
			return busy
		}
		rest := busy[:0:0]
		for i, e := range entries {
			if v, ok := c.decode(e); ok {
				got[busy[i]] = v
			} else {
				rest = append(rest, busy[i])
			}
		}
		busy = rest
	}
	return busy
}
