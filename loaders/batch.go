package loaders

import (
	"context"
	"errors"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"catalog-bff/store"
)

// productOptions is the batch function of the live ProductOptions loader.
func (f *Factory) productOptions(ctx context.Context, keys []int64) []*dataloader.Result[[]store.Option] {
	ids, slots := dedupe(keys)
	opts, err := f.opt.Store.ProductOptions(ctx, ids)
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
	out := make([]*dataloader.Result[int64], len(keys))
	if f.opt.Hits == nil {
		err := errors.New("loaders: no view counter configured (Options.Hits)")
		for i := range out {
			out[i] = &dataloader.Result[int64]{Error: err}
		}
		return out
	}
	ids, slots := dedupe(keys)
	hits, err := f.opt.Hits.Hits(ctx, ids)
	for i, s := range slots {
		out[i] = &dataloader.Result[int64]{Data: hits[ids[s]], Error: err}
	}
	return out
}

// dedupe returns the distinct keys in first-seen order, and for each key the
// index of its distinct key.
func dedupe(keys []int64) ([]int64, []int) {
	ids := make([]int64, 0, len(keys))
	slots := make([]int, len(keys))
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

// warnCache logs a cache failure at most once every ten seconds: during an
// outage every batch fails the same way.
func (f *Factory) warnCache(ctx context.Context, msg string, kind store.Kind, err error) {
	if f.cacheWarn.Allow(10 * time.Second) {
		f.opt.Logger.WarnContext(ctx, msg, "kind", kind, "err", err)
	}
}
