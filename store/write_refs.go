package store

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// Writes to the rows products refer to: sellers and categories.

// UpdateSeller applies p to seller id and increments its version.
func (d *DB) UpdateSeller(ctx context.Context, id int64, p SellerPatch) ([]Invalidation, error) {
	var errs []error
	if p.Name.Set {
		errs = append(errs, validName("name", &p.Name.Value))
	}
	if p.Rating.Set {
		errs = append(errs, validRating(p.Rating.Value))
	}
	if err := cmp.Or(errs...); err != nil {
		return nil, err
	}
	set, args := []string{"version = version + 1"}, []any{}
	if p.Name.Set {
		set, args = append(set, "name = ?"), append(args, p.Name.Value)
	}
	if p.Rating.Set {
		set, args = append(set, "rating = ?"), append(args, p.Rating.Value)
	}
	var invs []Invalidation
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		var version int64
		err := d.get(ctx, tx, &version,
			`UPDATE sellers SET `+strings.Join(set, ", ")+` WHERE id = ? RETURNING version`, append(args, id)...)
		if isNoRows(err) {
			return Errorf(NotFound, "seller %d not found", id)
		} else if err != nil {
			return err
		}
		invs = []Invalidation{{Kind: SellerKind, ID: id, Version: version}}
		return d.enqueue(ctx, tx, invs)
	})
	if err != nil {
		return nil, fmt.Errorf("store: update seller %d: %w", id, err)
	}
	return invs, nil
}

// UpdateCategory applies p to category id and increments its version. A new
// parent must exist and must not be the category or one of its descendants.
func (d *DB) UpdateCategory(ctx context.Context, id int64, p CategoryPatch) ([]Invalidation, error) {
	if p.Name.Set {
		if err := validName("name", &p.Name.Value); err != nil {
			return nil, err
		}
	}
	set, args := []string{"version = version + 1"}, []any{}
	if p.Name.Set {
		set, args = append(set, "name = ?"), append(args, p.Name.Value)
	}
	if p.ParentID.Set {
		set, args = append(set, "parent_id = ?"), append(args, p.ParentID.Value)
	}
	var invs []Invalidation
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockRow(ctx, tx, CategoryKind, id); err != nil {
			return err
		}
		if p.ParentID.Set && p.ParentID.Value != nil {
			if err := d.checkParent(ctx, tx, id, *p.ParentID.Value); err != nil {
				return err
			}
		}
		var version int64
		err := d.get(ctx, tx, &version,
			`UPDATE categories SET `+strings.Join(set, ", ")+` WHERE id = ? RETURNING version`, append(args, id)...)
		if err != nil {
			return err
		}
		invs = []Invalidation{{Kind: CategoryKind, ID: id, Version: version}}
		return d.enqueue(ctx, tx, invs)
	})
	if err != nil {
		return nil, fmt.Errorf("store: update category %d: %w", id, err)
	}
	return invs, nil
}
