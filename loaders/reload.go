package loaders

import (
	"context"

	"github.com/graph-gophers/dataloader/v7"

	"catalog-bff/store"
)

// After a write, a request must not be handed what its loaders read before
// the write. The Reload methods forget what the request loaded of one row
// and load it again. Through the cache is right once the write invalidated
// it: the cache then holds the new version or a marker that forces a SQL
// read. When the invalidation failed, fromSQL skips the cache, which may
// still hold the old version.

// ReloadProduct reloads product id, with its live stock and options.
func (l *Loaders) ReloadProduct(ctx context.Context, id int64, fromSQL bool) (*store.Product, error) {
	l.Stock.Clear(ctx, id)
	l.Options.Clear(ctx, id)
	return reload(ctx, l.Product, id, fromSQL, l.store.Products)
}

// ReloadSeller reloads seller id.
func (l *Loaders) ReloadSeller(ctx context.Context, id int64, fromSQL bool) (*store.Seller, error) {
	return reload(ctx, l.Seller, id, fromSQL, l.store.Sellers)
}

// ReloadCategory reloads category id.
func (l *Loaders) ReloadCategory(ctx context.Context, id int64, fromSQL bool) (*store.Category, error) {
	return reload(ctx, l.Category, id, fromSQL, l.store.Categories)
}

func reload[T any](ctx context.Context, l *dataloader.Loader[int64, *T], id int64, fromSQL bool,
	fetch func(context.Context, []int64) (map[int64]*T, error)) (*T, error) {
	l.Clear(ctx, id)
	if !fromSQL {
		return l.Load(ctx, id)()
	}
	found, err := fetch(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	l.Prime(ctx, id, found[id])
	return found[id], nil
}
