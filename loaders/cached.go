package loaders

import (
	"context"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
)

// cached is the batch function of a cached kind. Its documents are of the
// kind's type; a nil Document is "no row has the id".
type cached struct {
	f    *Factory
	kind store.Kind
	// next, when set, is given the documents a batch read from SQL, reads
	// with them the next query level the request will ask for, and returns
	// that level's write-back (Loaders.prefetch).
	next func(ctx context.Context, docs map[int64]store.Document, b *pass) []redisstore.KindFills
}

// pass is what one run of a batch function learns on the way.
type pass struct {
	epoch   uint64 // the near cache's, at the start: a Reset after it drops the fills
	since   uint64 // the flight clock: flights started later read SQL after the cache read
	cacheUp bool   // the cache read succeeded
	bad     map[int64][]byte
	busy    map[int64]bool // misses whose fill lease another reader holds
	leased  map[int64]bool // misses whose fill lease this reader holds
}

// batch loads keys, in key order. Its contract, for any keys:
//   - one cache round trip (Read) for all distinct keys, which also takes
//     the fill leases of the misses (no entry, a marker, or an entry that
//     does not decode);
//   - for the misses that no other request of this process is fetching
//     already: one Store call for those whose lease this reader got (and
//     those another reader did not fill within the lease TTL), and one
//     cache round trip (PutKinds) writing them back, documents and
//     negative entries alike, with the next level's documents when next
//     read them;
//   - a result for every key: the document, nil with no error when no row
//     has the id, or an error for keys that only SQL could answer.
//
// A cache failure is never a client error: the batch reads SQL instead,
// under the fallback's admission bound.
func (c *cached) batch(ctx context.Context, keys []int64) []*dataloader.Result[store.Document] {
	ids, slots := dedupe(keys)
	vals := make([]store.Document, len(ids))
	errs := make([]error, len(ids))
	sizes := make([]int, len(ids))
	b := &pass{epoch: c.f.opt.Near.Epoch(), since: c.f.flights.now(), bad: map[int64][]byte{}}
	misses := c.read(ctx, ids, vals, sizes, b)
	if len(misses) > 0 {
		c.resolve(ctx, ids, misses, vals, errs, b)
	}
	if b.cacheUp {
		c.keep(ids, vals, errs, sizes, b.epoch)
	}
	out := make([]*dataloader.Result[store.Document], len(keys))
	for i, s := range slots {
		out[i] = &dataloader.Result[store.Document]{Data: vals[s], Error: errs[s]}
	}
	return out
}

// read fills vals from the cache and returns the indices of ids it did not
// answer; b says whether the cache answered at all. It records the encoded
// size of each document it answers in sizes, keeps in b.bad the entries
// that did not decode, so that the write-back replaces them, and in b.busy
// the misses whose lease another reader holds.
func (c *cached) read(ctx context.Context, ids []int64, vals []store.Document, sizes []int, b *pass) []int {
	if c.f.opt.Cache == nil {
		return all(len(ids))
	}
	entries, leases, err := c.f.opt.Cache.Read(ctx, c.kind, ids, c.f.opt.LeaseTTL)
	if err != nil {
		c.f.stats.readsFailed.Add(1)
		c.f.opt.Observer.CacheRead(ctx, c.kind, CacheUnavailable, len(ids))
		c.f.warnCache(ctx, "cache read failed; reading SQL", c.kind, err)
		return all(len(ids))
	}
	b.cacheUp = true
	misses := make([]int, 0, len(ids))
	seen := tally{}
	for i, e := range entries {
		v, ok := c.decode(e)
		switch {
		case ok:
			vals[i], sizes[i] = v, len(e.Data)
			c.hit(ids[i], e, seen)
			continue
		case e.State == redisstore.Hit || e.State == redisstore.Corrupt:
			c.f.opt.Logger.WarnContext(ctx, "cache entry does not decode; refilling", "kind", c.kind, "id", ids[i])
			b.bad[ids[i]] = e.Raw
			seen[CacheCorrupt]++
		default:
			seen[CacheMiss]++
		}
		misses = append(misses, i)
		switch {
		case c.f.opt.LeaseTTL <= 0:
		case leases[i] == redisstore.Busy:
			b.busy = setAdd(b.busy, ids[i])
		case leases[i] == redisstore.Granted:
			b.leased = setAdd(b.leased, ids[i])
		}
	}
	seen.report(ctx, c.f.opt.Observer, c.kind)
	return misses
}

// keep offers the near cache every document of the batch that Redis or
// SQL answered (nil: no row), read since epoch. Only a batch whose cache
// read succeeded does: a fallback read while Redis is away could miss an
// invalidation.
func (c *cached) keep(ids []int64, vals []store.Document, errs []error, sizes []int, epoch uint64) {
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
			version = v.Ref().Version
			if size == 0 {
				data, _ := encodeDoc(v)
				size = len(data)
			}
		}
		near.fill(c.kind, ids[i], version, v, size, epoch)
	}
}

// hit counts an entry that answered, and offers a document to the auditor.
func (c *cached) hit(id int64, e redisstore.Entry, seen tally) {
	if e.State == redisstore.Absent {
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
func (c *cached) decode(e redisstore.Entry) (store.Document, bool) {
	switch e.State {
	case redisstore.Absent:
		return nil, true
	case redisstore.Hit:
		v := c.kind.New()
		if decodeDoc(e.Data, v) != nil {
			return nil, false
		}
		return v, true
	}
	return nil, false
}

// resolve answers the misses, sharing the fetch of each id with any request
// of this process that is fetching it already, and fills vals and errs.
func (c *cached) resolve(ctx context.Context, ids []int64, misses []int, vals []store.Document, errs []error, b *pass) {
	missIDs := make([]int64, len(misses))
	for j, m := range misses {
		missIDs[j] = ids[m]
	}
	flights, own := c.f.flights.join(c.kind, missIDs, b.since, b.leased)
	if len(own) > 0 {
		got, err := c.load(ctx, own, b)
		finishFlights(&c.f.flights, c.kind, own, flights, got, err)
	}
	for j, m := range misses {
		v, err := flights[missIDs[j]].wait(ctx)
		vals[m], errs[m] = v, err
	}
}

func setAdd(m map[int64]bool, id int64) map[int64]bool {
	if m == nil {
		m = map[int64]bool{}
	}
	m[id] = true
	return m
}

// load answers ids that this reader owns: from the cache when another
// reader filled them while this one waited on their leases, else from SQL.
// The keys of got are the ids answered (a nil value: no row); err applies
// to the others.
func (c *cached) load(ctx context.Context, ids []int64, b *pass) (map[int64]store.Document, error) {
	got := make(map[int64]store.Document, len(ids))
	fetch := ids
	if len(b.busy) > 0 {
		fetch = c.awaitBusy(ctx, ids, b.busy, got)
	}
	if len(fetch) == 0 {
		return got, nil
	}
	release, err := c.f.admit(ctx, b.cacheUp)
	if err != nil {
		return got, err
	}
	found, err := c.f.opt.Store.Documents(ctx, c.kind, fetch)
	var more []redisstore.KindFills
	if err == nil && c.next != nil {
		more = c.next(ctx, found, b)
	}
	release()
	if err != nil {
		return got, err
	}
	fills := make([]redisstore.Fill, 0, len(fetch))
	for _, id := range fetch {
		v := found[id]
		got[id] = v
		fills = append(fills, c.fillOf(id, v, b.bad[id]))
	}
	store.At(ctx, c.f.opt.Faults, "after-fetch", c.kind, fetch)
	if b.cacheUp {
		groups := append([]redisstore.KindFills{{Kind: c.kind, Fills: fills}}, more...)
		if err := c.f.opt.Cache.PutKinds(ctx, groups...); err != nil {
			c.f.warnCache(ctx, "cache write-back failed", c.kind, err)
		}
	}
	return got, nil
}

// fillOf is the write-back of one fetched id: its document, or a negative
// entry when v is nil.
func (c *cached) fillOf(id int64, v store.Document, replace []byte) redisstore.Fill {
	if v == nil {
		return redisstore.Fill{ID: id, Absent: true, Replace: replace}
	}
	data, err := encodeDoc(v)
	if err != nil { // cannot happen for these types; write a negative-free no-op
		return redisstore.Fill{ID: id, Version: -1, Data: []byte("{}")}
	}
	return redisstore.Fill{ID: id, Version: v.Ref().Version, Data: data, Replace: replace}
}

// awaitBusy waits for the ids whose lease another reader holds, puts in got
// those it filled, and returns the ids this reader must fetch: the others,
// and those still unfilled after the lease TTL.
func (c *cached) awaitBusy(ctx context.Context, ids []int64, busy map[int64]bool, got map[int64]store.Document) []int64 {
	var fetch, wait []int64
	for _, id := range ids {
		if busy[id] {
			wait = append(wait, id)
		} else {
			fetch = append(fetch, id)
		}
	}
	if len(wait) == 0 {
		return fetch
	}
	c.f.stats.leaseWaits.Add(int64(len(wait)))
	return append(fetch, c.await(ctx, wait, got)...)
}

// await polls the cache for busy ids until they are filled or the lease TTL
// has passed, and returns those still unfilled.
func (c *cached) await(ctx context.Context, busy []int64, got map[int64]store.Document) []int64 {
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
