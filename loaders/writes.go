package loaders

import (
	"context"
	"log/slog"

	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
)

// WriteStore is the SQL side of the catalogue's writes (sqlstore.DB): each
// commits one transaction and returns the invalidations it made due.
type WriteStore interface {
	CreateProduct(ctx context.Context, in store.ProductInput) (int64, []store.Invalidation, error)
	UpdateProduct(ctx context.Context, id int64, p store.ProductPatch) ([]store.Invalidation, error)
	DeleteProduct(ctx context.Context, id int64) ([]store.Invalidation, error)
	SetStock(ctx context.Context, productID int64, optionID *int64, stock int64) error
	UpdateSeller(ctx context.Context, id int64, p store.SellerPatch) ([]store.Invalidation, error)
	UpdateCategory(ctx context.Context, id int64, p store.CategoryPatch) ([]store.Invalidation, error)
}

var (
	_ WriteStore  = (*sqlstore.DB)(nil)
	_ Invalidator = (*CacheInvalidator)(nil)
)

// Invalidator drops the cached documents a write made stale
// (CacheInvalidator): this instance's near cache first, then Redis, and
// whatever Redis does not take is redelivered from the outbox.
type Invalidator interface {
	Invalidate(ctx context.Context, invs []store.Invalidation) error
}

// Writes are the catalogue's writes as the read path must see them: each
// commits in SQL, then invalidates what it changed, and reports whether the
// cache took the invalidation (cacheOK). When it did not, the entries stay
// fenced until the outbox delivers it, and the caller should read the new
// row from SQL. A write that fails changes nothing and invalidates nothing.
type Writes struct {
	SQL WriteStore
	// Cache is told each write's invalidations; nil when there is no cache.
	Cache  Invalidator
	Logger *slog.Logger
	// Faults, when set, is told "after-write-commit" (store.Faults) between
	// a write's commit and its invalidation; crash tests kill the process
	// there.
	Faults store.Faults
}

// CreateProduct creates a product and returns its id.
func (w *Writes) CreateProduct(ctx context.Context, in store.ProductInput) (id int64, cacheOK bool, err error) {
	id, invs, err := w.SQL.CreateProduct(ctx, in)
	if err != nil {
		return 0, false, err
	}
	return id, w.invalidate(ctx, invs), nil
}

// UpdateProduct changes the fields p sets.
func (w *Writes) UpdateProduct(ctx context.Context, id int64, p store.ProductPatch) (cacheOK bool, err error) {
	return w.after(ctx)(w.SQL.UpdateProduct(ctx, id, p))
}

// DeleteProduct deletes a product with its images, tags and options.
func (w *Writes) DeleteProduct(ctx context.Context, id int64) (cacheOK bool, err error) {
	return w.after(ctx)(w.SQL.DeleteProduct(ctx, id))
}

// SetStock sets a product's or an option's stock, which is never cached:
// there is nothing to invalidate.
func (w *Writes) SetStock(ctx context.Context, productID int64, optionID *int64, stock int64) error {
	return w.SQL.SetStock(ctx, productID, optionID, stock)
}

// UpdateSeller changes the fields p sets.
func (w *Writes) UpdateSeller(ctx context.Context, id int64, p store.SellerPatch) (cacheOK bool, err error) {
	return w.after(ctx)(w.SQL.UpdateSeller(ctx, id, p))
}

// UpdateCategory changes the fields p sets.
func (w *Writes) UpdateCategory(ctx context.Context, id int64, p store.CategoryPatch) (cacheOK bool, err error) {
	return w.after(ctx)(w.SQL.UpdateCategory(ctx, id, p))
}

// after returns what finishes a write whose SQL side returned invs, err.
func (w *Writes) after(ctx context.Context) func([]store.Invalidation, error) (bool, error) {
	return func(invs []store.Invalidation, err error) (bool, error) {
		if err != nil {
			return false, err
		}
		return w.invalidate(ctx, invs), nil
	}
}

// invalidate drops the cache entries a committed write made stale, and
// reports whether the cache took the invalidation.
func (w *Writes) invalidate(ctx context.Context, invs []store.Invalidation) bool {
	store.At(ctx, w.Faults, "after-write-commit", "", nil)
	if w.Cache == nil {
		return true
	}
	if err := w.Cache.Invalidate(ctx, invs); err != nil {
		w.Logger.WarnContext(ctx, "cache invalidation failed", "invalidations", invs, "err", err)
		return false
	}
	return true
}
