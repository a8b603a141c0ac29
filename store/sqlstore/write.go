package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"catalog-bff/store"

	"github.com/jmoiron/sqlx"
)

// assignments is the SET clause of an UPDATE: its items and their
// arguments, from the Set fields of a patch.
type assignments struct {
	set  []string
	args []any
}

// add adds item (e.g. "name = ?") with its arguments when ok.
func (a *assignments) add(ok bool, item string, v ...any) {
	if ok {
		a.set, a.args = append(a.set, item), append(a.args, v...)
	}
}

// productAssignments returns the SET clause of p's row fields.
func productAssignments(p *store.ProductPatch) assignments {
	var a assignments
	a.add(p.Name.Set, "name = ?", p.Name.Value)
	a.add(p.Description.Set, "description = ?", p.Description.Value)
	a.add(p.Price.Set, "price_amount = ?, price_currency = ?", p.Price.Value.Amount, p.Price.Value.Currency)
	a.add(p.CategoryID.Set, "category_id = ?", p.CategoryID.Value)
	a.add(p.SellerID.Set, "seller_id = ?", p.SellerID.Value)
	return a
}

// inTx runs f in a transaction, and commits when f returns nil.
func (d *DB) inTx(ctx context.Context, f func(tx *sqlx.Tx) error) error {
	tx, err := d.db.BeginTxx(ctx, nil)
	if err != nil {
		return unavailable(err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return unavailable(tx.Commit())
}

// CreateProduct validates in and inserts the product with its images and
// tags, in one transaction. It returns the new id and the invalidation of
// its cache key, which may hold a negative entry from before the insert.
// A seller or category that does not exist is an Invalid error.
func (d *DB) CreateProduct(ctx context.Context, in store.ProductInput) (int64, []store.Invalidation, error) {
	if err := in.Validate(); err != nil {
		return 0, nil, err
	}
	var id int64
	var invs []store.Invalidation
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := d.checkRefs(ctx, tx, store.Some(in.SellerID), store.Some(in.CategoryID)); err != nil {
			return err
		}
		now := time.Now().UnixMicro()
		err := d.get(ctx, tx, &id, `
			INSERT INTO products (name, description, price_amount, price_currency, category_id,
			                      seller_id, stock, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			in.Name, in.Description, in.Price.Amount, in.Price.Currency, in.CategoryID,
			in.SellerID, in.Stock, now, now)
		if err != nil {
			return err
		}
		if err := d.replaceMedia(ctx, tx, id, store.Some(in.Images), store.Some(in.Tags)); err != nil {
			return err
		}
		invs = []store.Invalidation{{Kind: store.ProductKind, ID: id, Version: 1}}
		return d.enqueue(ctx, tx, invs)
	})
	if err != nil {
		return 0, nil, fmt.Errorf("store: create product: %w", err)
	}
	return id, invs, nil
}

// UpdateProduct applies p to product id in one transaction and increments
// its version. It returns the invalidation of the product's cache key. A
// product that does not exist is NotFound; a seller or category that does
// not exist is Invalid.
func (d *DB) UpdateProduct(ctx context.Context, id int64, p store.ProductPatch) ([]store.Invalidation, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var invs []store.Invalidation
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockRow(ctx, tx, store.ProductKind, id); err != nil {
			return err
		}
		if err := d.checkRefs(ctx, tx, p.SellerID, p.CategoryID); err != nil {
			return err
		}
		a := productAssignments(&p)
		a.add(true, "updated_at = ?", time.Now().UnixMicro())
		if err := d.replaceMedia(ctx, tx, id, p.Images, p.Tags); err != nil {
			return err
		}
		var err error
		invs, err = d.updateVersioned(ctx, tx, store.ProductKind, id, a)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: update product %d: %w", id, err)
	}
	return invs, nil
}

// DeleteProduct deletes a product with its images, tags and options. The
// invalidation it returns carries a version that no document of the product
// can reach, so its marker outlives every racing read. Ids are never reused.
func (d *DB) DeleteProduct(ctx context.Context, id int64) ([]store.Invalidation, error) {
	var invs []store.Invalidation
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		var version int64
		err := d.get(ctx, tx, &version, `DELETE FROM products WHERE id = ? RETURNING version`, id)
		if isNoRows(err) {
			return store.Errorf(store.NotFound, "product %d not found", id)
		} else if err != nil {
			return err
		}
		invs = []store.Invalidation{{Kind: store.ProductKind, ID: id, Version: version + 1}}
		return d.enqueue(ctx, tx, invs)
	})
	if err != nil {
		return nil, fmt.Errorf("store: delete product %d: %w", id, err)
	}
	return invs, nil
}

// SetStock sets the stock of a product, or of its option optionID. Stock is
// read live and is no part of any cached document, so SetStock invalidates
// nothing and leaves the product's version, which orders cached documents,
// as it is.
func (d *DB) SetStock(ctx context.Context, productID int64, optionID *int64, stock int64) error {
	if err := store.ValidStock(stock); err != nil {
		return err
	}
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := d.lockRow(ctx, tx, store.ProductKind, productID); err != nil {
			return err
		}
		var n int64
		if optionID == nil {
			return d.get(ctx, tx, &n, `UPDATE products SET stock = ? WHERE id = ? RETURNING id`, stock, productID)
		}
		err := d.get(ctx, tx, &n, `UPDATE product_options SET stock = ? WHERE id = ? AND product_id = ? RETURNING id`,
			stock, *optionID, productID)
		if isNoRows(err) {
			return store.Errorf(store.NotFound, "option %d of product %d not found", *optionID, productID)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: set stock of product %d: %w", productID, err)
	}
	return nil
}

// updateVersioned applies set (with its args) to row id of kind's table in
// tx, increments the row's version, and queues the invalidation of the new
// version in the outbox, in the same transaction. It returns that
// invalidation; a row that does not exist is NotFound.
func (d *DB) updateVersioned(ctx context.Context, tx *sqlx.Tx, kind store.Kind, id int64, a assignments) ([]store.Invalidation, error) {
	table, _ := kind.Table()
	set := append([]string{"version = version + 1"}, a.set...)
	var version int64
	err := d.get(ctx, tx, &version,
		`UPDATE `+table+` SET `+strings.Join(set, ", ")+` WHERE id = ? RETURNING version`, append(a.args, id)...)
	if isNoRows(err) {
		return nil, store.Errorf(store.NotFound, "%s %d not found", kind, id)
	} else if err != nil {
		return nil, err
	}
	invs := []store.Invalidation{{Kind: kind, ID: id, Version: version}}
	return invs, d.enqueue(ctx, tx, invs)
}

// lockRow locks row id of table for the rest of the transaction (SQLite's
// write transactions are exclusive already), or returns NotFound.
func (d *DB) lockRow(ctx context.Context, tx *sqlx.Tx, kind store.Kind, id int64) error {
	table, _ := kind.Table()
	lock := ""
	if d.dialect == Postgres {
		lock = " FOR UPDATE"
	}
	var n int64
	err := d.get(ctx, tx, &n, `SELECT id FROM `+table+` WHERE id = ?`+lock, id)
	if isNoRows(err) {
		return store.Errorf(store.NotFound, "%s %d not found", kind, id)
	}
	return err
}

// checkRefs checks that the seller and category an input names exist.
func (d *DB) checkRefs(ctx context.Context, tx *sqlx.Tx, seller store.Opt[int64], category store.Opt[*int64]) error {
	var n int64
	if seller.Set {
		err := d.get(ctx, tx, &n, `SELECT id FROM sellers WHERE id = ?`, seller.Value)
		if isNoRows(err) {
			return store.InvalidField("sellerId", "seller %d does not exist", seller.Value)
		} else if err != nil {
			return err
		}
	}
	if category.Set && category.Value != nil {
		err := d.get(ctx, tx, &n, `SELECT id FROM categories WHERE id = ?`, *category.Value)
		if isNoRows(err) {
			return store.InvalidField("categoryId", "category %d does not exist", *category.Value)
		}
		return err
	}
	return nil
}

// checkParent checks that parent exists and that id is not among its
// ancestors, in one statement. On PostgreSQL it first takes a lock that
// serializes moves in the tree, so two concurrent moves cannot make a cycle
// that neither saw; SQLite's write transactions are serialized already.
func (d *DB) checkParent(ctx context.Context, tx *sqlx.Tx, id, parent int64) error {
	if d.dialect == Postgres {
		if _, err := d.exec(ctx, tx, `LOCK TABLE categories IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
	}
	var chain []int64
	err := d.selectx(ctx, tx, &chain, `
		WITH RECURSIVE up(id, parent_id, depth) AS (
			SELECT id, parent_id, 0 FROM categories WHERE id = ?
			UNION ALL
			SELECT c.id, c.parent_id, up.depth + 1 FROM categories c JOIN up ON c.id = up.parent_id
			WHERE up.depth < 1000
		)
		SELECT id FROM up`, parent)
	switch {
	case err != nil:
		return err
	case len(chain) == 0:
		return store.InvalidField("parentId", "category %d does not exist", parent)
	}
	for _, a := range chain {
		if a == id {
			return store.InvalidField("parentId", "category %d cannot be its own ancestor", id)
		}
	}
	return nil
}

// replaceMedia replaces the images and tags of a product that are Set.
func (d *DB) replaceMedia(ctx context.Context, tx *sqlx.Tx, id int64, images store.Opt[[]store.Image], tags store.Opt[[]string]) error {
	if images.Set {
		if _, err := d.exec(ctx, tx, `DELETE FROM product_images WHERE product_id = ?`, id); err != nil {
			return err
		}
		args := make([]any, 0, 4*len(images.Value))
		for i, img := range images.Value {
			args = append(args, id, i, img.URL, img.Alt)
		}
		if err := d.insertValues(ctx, tx, `INSERT INTO product_images (product_id, position, url, alt) VALUES `, 4, args); err != nil {
			return err
		}
	}
	if tags.Set {
		if _, err := d.exec(ctx, tx, `DELETE FROM product_tags WHERE product_id = ?`, id); err != nil {
			return err
		}
		args := make([]any, 0, 3*len(tags.Value))
		for i, t := range tags.Value {
			args = append(args, id, i, t)
		}
		return d.insertValues(ctx, tx, `INSERT INTO product_tags (product_id, position, tag) VALUES `, 3, args)
	}
	return nil
}

// insertValues runs insert followed by one "(?, …)" group of width
// placeholders per row of args, or nothing when args is empty.
func (d *DB) insertValues(ctx context.Context, tx *sqlx.Tx, insert string, width int, args []any) error {
	if len(args) == 0 {
		return nil
	}
	group := "(" + strings.Repeat("?, ", width-1) + "?)"
	rows := make([]string, len(args)/width)
	for i := range rows {
		rows[i] = group
	}
	_, err := d.exec(ctx, tx, insert+strings.Join(rows, ", "), args...)
	return err
}
