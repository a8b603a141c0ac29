package graph

import (
	"context"

	"catalog-bff/loaders"
	"catalog-bff/store"
)

// recordView counts one view of a product and returns it, with the Hits
// loader primed with the count that includes this view. The product comes
// from the product loader (from the cache when it is warm), so that a
// product that does not exist fails with NotFound before anything is
// counted.
func (r *Resolver) recordView(ctx context.Context, id int64) (*store.Product, error) {
	l := loaders.For(ctx)
	p, err := loaders.Load[*store.Product](ctx, l, id)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, store.Errorf(store.NotFound, "product %d not found", id)
	}
	if !r.allowView(ctx) {
		return p, nil // acknowledged, not counted: hits shows the count as it is
	}
	hits, err := r.Views.Record(ctx, id)
	if err != nil {
		return nil, err
	}
	l.Hits.Clear(ctx, id).Prime(ctx, id, hits)
	if r.ViewCounted != nil {
		r.ViewCounted(id)
	}
	return p, nil
}

// allowView reports whether this client may count another view. Past its
// rate, a view is acknowledged but not counted, so a frontend never breaks
// and a bot cannot inflate a count at will.
func (r *Resolver) allowView(ctx context.Context) bool {
	if r.ViewLimit == nil {
		return true
	}
	ok, err := r.ViewLimit.Allow(ctx, clientOf(ctx))
	if err != nil {
		r.Logger.DebugContext(ctx, "view rate limit unavailable; counting the view", "err", err)
	}
	return ok
}
