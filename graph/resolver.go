// Package graph is the GraphQL layer: the schema's resolvers, the generated
// executor, and the HTTP handler that serves them.
package graph

import (
	"context"

	"catalog-bff/store"
)

// Lister lists the products of a category page by page. The products
// themselves are loaded through the product loader.
type Lister interface {
	CategoryProductIDs(ctx context.Context, categoryID int64, first int, after *store.ListingKey) ([]store.ListingKey, bool, error)
}

var _ Lister = (*store.DB)(nil)

// Viewer counts product views (views.Counter). Record counts one view of a
// product that exists and returns its hits, this view included; a nil error
// means the view is counted exactly once.
type Viewer interface {
	Record(ctx context.Context, productID int64) (int64, error)
}

// Resolver holds the resolvers' dependencies. Per-request state, the
// loaders, travels in the request's context (loaders.For).
type Resolver struct {
	Lister Lister
	Views  Viewer
}
