package loaders

import (
	"context"

	"github.com/graph-gophers/dataloader/v7"

	"catalog-bff/store"
)

// The Load methods are how resolvers read cached documents. A document the
// near cache holds is answered at once, without waiting for a batch window:
// it is primed into the request's loader, so that every field of one
// request sees the same version of a document, and what the request
// already loaded (or a mutation reloaded) wins over the near cache. Only
// the keys it does not hold wait for a batch.

// LoadProduct returns product id, or nil when no product has that id.
func (l *Loaders) LoadProduct(ctx context.Context, id int64) (*store.Product, error) {
	return nearLoad(ctx, l, store.ProductKind, l.Product, id)
}

// LoadProducts returns the products of ids, in order, nil where no product
// has the id, with an error per id (nil for none).
func (l *Loaders) LoadProducts(ctx context.Context, ids []int64) ([]*store.Product, []error) {
	for _, id := range ids {
		primeNear(ctx, l, store.ProductKind, l.Product, id)
	}
	return l.Product.LoadMany(ctx, ids)()
}

// LoadSeller returns seller id, or nil when no seller has that id.
func (l *Loaders) LoadSeller(ctx context.Context, id int64) (*store.Seller, error) {
	return nearLoad(ctx, l, store.SellerKind, l.Seller, id)
}

// LoadCategory returns category id, or nil when no category has that id.
func (l *Loaders) LoadCategory(ctx context.Context, id int64) (*store.Category, error) {
	return nearLoad(ctx, l, store.CategoryKind, l.Category, id)
}

func nearLoad[T any](ctx context.Context, l *Loaders, kind store.Kind, dl *dataloader.Loader[int64, *T], id int64) (*T, error) {
	primeNear(ctx, l, kind, dl, id)
	return dl.Load(ctx, id)()
}

// primeNear primes dl with the near cache's copy of id, if it holds one.
// Prime leaves a key the request loaded already as it is.
func primeNear[T any](ctx context.Context, l *Loaders, kind store.Kind, dl *dataloader.Loader[int64, *T], id int64) {
	v, ok := l.near.get(kind, id)
	if !ok {
		return
	}
	d, _ := v.(*T)
	dl.Prime(ctx, id, d)
	l.obs.CacheRead(ctx, kind, CacheNear, 1)
}
