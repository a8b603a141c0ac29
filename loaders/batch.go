package loaders

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
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
//   - one cache round trip (Get) for all distinct keys;
//   - one Store call for the keys the cache did not have (a miss, or an entry
//     that does not decode), and none when the cache had them all;
//   - one cache round trip (Put) writing back what the Store call returned,
//     documents and negative entries alike, skipped when the cache read failed;
//   - a result for every key: the document, nil with no error when no row
//     has the id, or the Store's error for keys that only SQL could answer.
//
// A cache failure is never a client error: the batch reads SQL instead.
func (c *cached[T]) batch(ctx context.Context, keys []int64) []*dataloader.Result[*T] {
	ids, slots := dedupe(keys)
	vals := make([]*T, len(ids))
	misses, cacheUp, bad := c.read(ctx, ids, vals)
	var err error
	if len(misses) > 0 {
		err = c.fill(ctx, ids, misses, vals, cacheUp, bad)
	}
	var failed []bool
	if err != nil {
		failed = make([]bool, len(ids))
		for _, m := range misses {
			failed[m] = true
		}
	}
	out, results := results[*T](len(keys))
	for i, s := range slots {
		if failed != nil && failed[s] {
			results[i].Error = err
		} else {
			results[i].Data = vals[s]
		}
	}
	return out
}

// results returns n results in one allocation, and pointers to them.
func results[V any](n int) ([]*dataloader.Result[V], []dataloader.Result[V]) {
	rs := make([]dataloader.Result[V], n)
	out := make([]*dataloader.Result[V], n)
	for i := range rs {
		out[i] = &rs[i]
	}
	return out, rs
}

// read fills vals from the cache and returns the indices of ids it did not
// answer, whether the cache answered at all, and the entries that did not
// decode (nil when all did), so that the write-back replaces them.
func (c *cached[T]) read(ctx context.Context, ids []int64, vals []*T) (misses []int, cacheUp bool, bad map[int64][]byte) {
	if c.f.opt.Cache == nil {
		return all(len(ids)), false, nil
	}
	entries, err := c.f.opt.Cache.Get(ctx, c.kind, ids)
	if err != nil {
		c.f.warnCache("cache read failed; reading SQL", c.kind, err)
		return all(len(ids)), false, nil
	}
	misses = make([]int, 0, len(ids))
	keep := func(i int, raw []byte) {
		if bad == nil {
			bad = map[int64][]byte{}
		}
		bad[ids[i]] = raw
		misses = append(misses, i)
	}
	for i, e := range entries {
		switch e.State {
		case store.Absent:
		case store.Hit:
			v := new(T)
			if err := decodeDoc(e.Data, v); err != nil {
				c.f.opt.Logger.Warn("cache entry does not decode; refilling",
					"kind", c.kind, "id", ids[i], "err", err)
				keep(i, e.Raw)
				continue
			}
			vals[i] = v
		case store.Corrupt:
			c.f.opt.Logger.Warn("cache entry does not decode; refilling", "kind", c.kind, "id", ids[i])
			keep(i, e.Raw)
		default:
			misses = append(misses, i)
		}
	}
	return misses, true, bad
}

// fill fetches the misses from SQL into vals and, when the cache is up,
// writes them back.
func (c *cached[T]) fill(ctx context.Context, ids []int64, misses []int, vals []*T, cacheUp bool, bad map[int64][]byte) error {
	missIDs := make([]int64, len(misses))
	for j, m := range misses {
		missIDs[j] = ids[m]
	}
	found, err := c.fetch(ctx, missIDs)
	if err != nil {
		return err
	}
	fills := make([]store.Fill, 0, len(misses))
	for j, m := range misses {
		id := missIDs[j]
		v, ok := found[id]
		if !ok {
			fills = append(fills, store.Fill{ID: id, Absent: true, Replace: bad[id]})
			continue
		}
		vals[m] = v
		data, err := encodeDoc(v)
		if err != nil {
			continue // cannot happen for these types; the value is still served
		}
		fills = append(fills, store.Fill{ID: id, Version: c.version(v), Data: data, Replace: bad[id]})
	}
	if hook := c.f.opt.AfterFetch; hook != nil {
		hook(ctx, c.kind, missIDs)
	}
	if cacheUp {
		if err := c.f.opt.Cache.Put(ctx, c.kind, fills); err != nil {
			c.f.warnCache("cache write-back failed", c.kind, err)
		}
	}
	return nil
}

// options is the batch function of the live Options loader.
func (f *Factory) options(ctx context.Context, keys []int64) []*dataloader.Result[[]store.Option] {
	ids, slots := dedupe(keys)
	opts, err := f.opt.Store.Options(ctx, ids)
	out := make([]*dataloader.Result[[]store.Option], len(keys))
	for i, s := range slots {
		o := opts[ids[s]]
		if o == nil {
			o = []store.Option{}
		}
		out[i] = &dataloader.Result[[]store.Option]{Data: o, Error: err}
	}
	return out
}

// stock is the batch function of the live Stock loader. A product that no
// longer exists gets a NotFound error.
func (f *Factory) stock(ctx context.Context, keys []int64) []*dataloader.Result[int64] {
	ids, slots := dedupe(keys)
	stock, err := f.opt.Store.Stock(ctx, ids)
	out := make([]*dataloader.Result[int64], len(keys))
	for i, s := range slots {
		n, ok := stock[ids[s]]
		r := &dataloader.Result[int64]{Data: n, Error: err}
		if err == nil && !ok {
			r.Error = store.Errorf(store.NotFound, "product %d no longer exists", ids[s])
		}
		out[i] = r
	}
	return out
}

// hits is the batch function of the Hits loader: one call to the view
// counter for the distinct keys. A product that does not exist has 0.
func (f *Factory) hits(ctx context.Context, keys []int64) []*dataloader.Result[int64] {
	if f.opt.Hits == nil {
		out, rs := results[int64](len(keys))
		for i := range rs {
			rs[i].Error = errors.New("loaders: no view counter configured (Options.Hits)")
		}
		return out
	}
	ids, slots := dedupe(keys)
	hits, err := f.opt.Hits.Hits(ctx, ids)
	out, rs := results[int64](len(keys))
	for i, s := range slots {
		rs[i] = dataloader.Result[int64]{Data: hits[ids[s]], Error: err}
	}
	return out
}

// dedupe returns the distinct keys in first-seen order, and for each key the
// index of its distinct key. Small batches, the usual case, are deduplicated
// without a map.
func dedupe(keys []int64) ([]int64, []int) {
	ids := make([]int64, 0, len(keys))
	slots := make([]int, len(keys))
	if len(keys) <= 16 {
		for i, k := range keys {
			s := slices.Index(ids, k)
			if s < 0 {
				s = len(ids)
				ids = append(ids, k)
			}
			slots[i] = s
		}
		return ids, slots
	}
	seen := make(map[int64]int, len(keys))
	for i, k := range keys {
		s, ok := seen[k]
		if !ok {
			s = len(ids)
			seen[k] = s
			ids = append(ids, k)
		}
		slots[i] = s
	}
	return ids, slots
}

func all(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// throttle lets one event through per interval.
type throttle struct{ last atomic.Int64 }

func (t *throttle) allow(every time.Duration) bool {
	now := time.Now().UnixNano()
	last := t.last.Load()
	return now-last >= int64(every) && t.last.CompareAndSwap(last, now)
}

// warnCache logs a cache failure at most once every ten seconds: during an
// outage every batch fails the same way.
func (f *Factory) warnCache(msg, kind string, err error) {
	if f.cacheOK.allow(10 * time.Second) {
		f.opt.Logger.Warn(msg, "kind", kind, "err", err)
	}
}
