package sqlstore

import (
	"context"
	"fmt"

	"catalog-bff/store"

	"github.com/jmoiron/sqlx"
)

// Writes to the rows products refer to: sellers and categories.

// UpdateSeller applies p to seller id and increments its version.
func (d *DB) UpdateSeller(ctx context.Context, id int64, p store.SellerPatch) ([]store.Invalidation, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var a assignments
	a.add(p.Name.Set, "name = ?", p.Name.Value)
	a.add(p.Rating.Set, "rating = ?", p.Rating.Value)
	return d.updateRow(ctx, store.SellerKind, id, a, nil)
}

// UpdateCategory applies p to category id and increments its version. A new
// parent must exist and must not be the category or one of its descendants.
func (d *DB) UpdateCategory(ctx context.Context, id int64, p store.CategoryPatch) ([]store.Invalidation, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var a assignments
	a.add(p.Name.Set, "name = ?", p.Name.Value)
	a.add(p.ParentID.Set, "parent_id = ?", p.ParentID.Value)
	return d.updateRow(ctx, store.CategoryKind, id, a, func(tx *sqlx.Tx) error {
		if err := d.lockRow(ctx, tx, store.CategoryKind, id); err != nil {
			return err
		}
		if p.ParentID.Set && p.ParentID.Value != nil {
			return d.checkParent(ctx, tx, id, *p.ParentID.Value)
		}
		return nil
	})
}

// updateRow applies a to row id of kind in one transaction, after check
// (when set) passes in it, and increments the row's version.
func (d *DB) updateRow(ctx context.Context, kind store.Kind, id int64, a assignments, check func(tx *sqlx.Tx) error) ([]store.Invalidation, error) {
	var invs []store.Invalidation
	err := d.inTx(ctx, func(tx *sqlx.Tx) (err error) {
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		invs, err = d.updateVersioned(ctx, tx, kind, id, a)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: update %s %d: %w", kind, id, err)
	}
	return invs, nil
}
