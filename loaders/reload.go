package loaders

import (
	"context"

	"catalog-bff/store"
)

// After a write, a request must not be handed what its loaders read before
// the write. Reload forgets what the request loaded of one row and loads
// it again. Through the cache is right once the write invalidated it: the
// cache then holds the new version or a marker that forces a SQL read.
// When the invalidation failed, fromSQL skips the cache, which may still
// hold the old version.

// Reload reloads document id of type D.
func Reload[D store.Document](ctx context.Context, l *Loaders, id int64, fromSQL bool) (D, error) {
	kind := kindOf[D]()
	dl := l.loader(kind)
	dl.Clear(ctx, id)
	var doc store.Document
	var err error
	if fromSQL {
		var found map[int64]store.Document
		if found, err = l.store.Documents(ctx, kind, []int64{id}); err == nil {
			doc = found[id]
			dl.Prime(ctx, id, doc)
		}
	} else {
		doc, err = dl.Load(ctx, id)()
	}
	d, _ := doc.(D)
	return d, err
}

// ReloadProduct reloads product id, with its live stock and options.
func (l *Loaders) ReloadProduct(ctx context.Context, id int64, fromSQL bool) (*store.Product, error) {
	l.Stock.Clear(ctx, id)
	l.ProductOptions.Clear(ctx, id)
	return Reload[*store.Product](ctx, l, id, fromSQL)
}
