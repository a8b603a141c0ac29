// Package graph is the GraphQL layer: the schema's resolvers, the generated
// executor, and the HTTP handler that serves them.
package graph

import (
	"context"
	"log/slog"

	"catalog-bff/loaders"
	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
)

// Lister lists the products of a category page by page. The products
// themselves are loaded through the product loader.
type Lister interface {
	CategoryProductIDs(ctx context.Context, categoryID int64, first int, after *store.ListingKey) ([]store.ListingKey, bool, error)
}

// Writer is the SQL side of the admin mutations. Each method validates its
// input, writes in one transaction, and returns the cache invalidations the
// write calls for.
type Writer interface {
	CreateProduct(ctx context.Context, in store.ProductInput) (id int64, cacheOK bool, err error)
	UpdateProduct(ctx context.Context, id int64, p store.ProductPatch) (cacheOK bool, err error)
	DeleteProduct(ctx context.Context, id int64) (cacheOK bool, err error)
	SetStock(ctx context.Context, productID int64, optionID *int64, stock int64) error
	UpdateSeller(ctx context.Context, id int64, p store.SellerPatch) (cacheOK bool, err error)
	UpdateCategory(ctx context.Context, id int64, p store.CategoryPatch) (cacheOK bool, err error)
}

var (
	_ Lister = (*sqlstore.DB)(nil)
	_ Writer = (*loaders.Writes)(nil)
)

// Viewer counts product views (views.Counter). Record counts one view of a
// product that exists and returns its hits, this view included; a nil error
// means the view is counted exactly once.
type Viewer interface {
	Record(ctx context.Context, productID int64) (int64, error)
}

// RateLimiter says whether a client may do one more thing now; on error it
// still answers, failing open.
type RateLimiter interface {
	Allow(ctx context.Context, client string) (bool, error)
}

var _ RateLimiter = (*redisstore.RateLimiter)(nil)

// Resolver holds the resolvers' dependencies. Per-request state, the
// loaders and the caller's token, travels in the request's context.
type Resolver struct {
	Lister Lister
	// Writer writes and invalidates what it wrote (loaders.Writes).
	Writer Writer
	Views  Viewer
	// ViewLimit, when set, rate-limits recordView per client address.
	ViewLimit RateLimiter
	Admin     *Admin
	Logger    *slog.Logger
	// ViewCounted, when set, is called with the product of each view that
	// recordView counted, once counted.
	ViewCounted func(productID int64)
}

// onViewCounted adds f to what ViewCounted calls.
func (r *Resolver) onViewCounted(f func(productID int64)) {
	if prev := r.ViewCounted; prev != nil {
		r.ViewCounted = func(id int64) { prev(id); f(id) }
		return
	}
	r.ViewCounted = f
}
