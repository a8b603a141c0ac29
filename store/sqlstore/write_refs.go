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
	var set []string
	var args []any
	if p.Name.Set {
		set, args = append(set, "name = ?"), append(args, p.Name.Value)
	}
	if p.Rating.Set {
		set, args = append(set, "rating = ?"), append(args, p.Rating.Value)
	}
	var invs []store.Invalidation
	err := d.inTx(ctx, func(tx *sqlx.Tx) (err error) {
		invs, err = d.updateVersioned(ctx, tx, store.SellerKind, id, set, args)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: update seller %d: %w", id, err)
	}
	return invs, nil
}

// UpdateCategory applies p to category id and increments its version. A new
// parent must exist and must not be the category or one of its descendants.
func (d *DB) UpdateCategory(ctx context.Context, id int64, p store.CategoryPatch) ([]store.Invalidation, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var set []string
	var args []any
	if p.Name.Set {
		set, args = append(set, "name = ?"), append(args, p.Name.Value)
	}
	if p.ParentID.Set {
		set, args = append(set, "parent_id = ?"), append(args, p.ParentID.Value)
	}
	var invs []store.Invalidation
	err := d.inTx(ctx, func(tx *sqlx.Tx) (err error) {
		if err := d.lockRow(ctx, tx, store.CategoryKind, id); err != nil {
			return err
		}
		if p.ParentID.Set && p.ParentID.Value != nil {
			if err := d.checkParent(ctx, tx, id, *p.ParentID.Value); err != nil {
				return err
			}
		}
		invs, err = d.updateVersioned(ctx, tx, store.CategoryKind, id, set, args)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: update category %d: %w", id, err)
	}
	return invs, nil
}
