package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"catalog-bff/store"
)

// documentReads is the SQL read of each cached kind (store.Kinds): one
// statement for any number of ids. A kind registered in store needs its
// read here; TestEveryKindHasARead holds the two lists equal.
var documentReads = map[store.Kind]documentRead{
	store.ProductKind:  documents((*DB).Products),
	store.SellerKind:   documents((*DB).Sellers),
	store.CategoryKind: documents((*DB).Categories),
}

type documentRead func(*DB, context.Context, []int64) (map[int64]store.Document, error)

// documents adapts a kind's typed read to Documents.
func documents[D store.Document](read func(*DB, context.Context, []int64) (map[int64]D, error)) documentRead {
	return func(d *DB, ctx context.Context, ids []int64) (map[int64]store.Document, error) {
		found, err := read(d, ctx, ids)
		if err != nil {
			return nil, err
		}
		return store.AsDocuments(found), nil
	}
}

// Documents returns the documents of kind among ids that exist, keyed by
// id, with the kind's own read. Ids with no row are absent from the map.
func (d *DB) Documents(ctx context.Context, kind store.Kind, ids []int64) (map[int64]store.Document, error) {
	read, ok := documentReads[kind]
	if !ok {
		return nil, fmt.Errorf("store: %q is not a cached kind", kind)
	}
	return read(d, ctx, ids)
}

// productRow is a products row as selected by the read path.
type productRow struct {
	ID            int64  `db:"id"`
	Name          string `db:"name"`
	Description   string `db:"description"`
	PriceAmount   int64  `db:"price_amount"`
	PriceCurrency string `db:"price_currency"`
	CategoryID    *int64 `db:"category_id"`
	SellerID      int64  `db:"seller_id"`
	Hits          int64  `db:"hits"`
	Version       int64  `db:"version"`
	CreatedAt     int64  `db:"created_at"`
	UpdatedAt     int64  `db:"updated_at"`
}

func (r *productRow) product() *store.Product {
	return &store.Product{
		ID: r.ID, Name: r.Name, Description: r.Description,
		Price:      store.Money{Amount: r.PriceAmount, Currency: r.PriceCurrency},
		CategoryID: r.CategoryID, SellerID: r.SellerID,
		Images: []store.Image{}, Tags: []string{},
		Hits: r.Hits, Version: r.Version,
		CreatedAt: micros(r.CreatedAt), UpdatedAt: micros(r.UpdatedAt),
	}
}

// Products returns the product documents of ids that exist, keyed by id, with
// their images and tags in display order. Ids with no row are absent from the
// map. It sends one statement whatever len(ids) is, images and tags
// aggregated per product as JSON (the third of the statements a cold
// product cost when each table had its own), and none when ids is empty.
func (d *DB) Products(ctx context.Context, ids []int64) (map[int64]*store.Product, error) {
	if len(ids) == 0 {
		return map[int64]*store.Product{}, nil
	}
	var rows []struct {
		productRow
		Images []byte `db:"images"`
		Tags   []byte `db:"tags"`
	}
	arg := d.idsArg(ids)
	if err := d.selectx(ctx, d.db, &rows, d.productsQuery(), arg, arg, arg); err != nil {
		return nil, fmt.Errorf("store: products by ids: %w", err)
	}
	out := make(map[int64]*store.Product, len(rows))
	for i := range rows {
		p := rows[i].product()
		var images [][2]string
		if err := json.Unmarshal(rows[i].Images, &images); err != nil {
			return nil, fmt.Errorf("store: images of product %d: %w", p.ID, err)
		}
		for _, im := range images {
			p.Images = append(p.Images, store.Image{URL: im[0], Alt: im[1]})
		}
		if err := json.Unmarshal(rows[i].Tags, &p.Tags); err != nil {
			return nil, fmt.Errorf("store: tags of product %d: %w", p.ID, err)
		}
		if p.Tags == nil {
			p.Tags = []string{}
		}
		out[p.ID] = p
	}
	return out, nil
}

// productsQuery selects products with their images, as [[url, alt], …],
// and tags, as [tag, …], each a JSON array in display order. Its one
// argument, the ids, is bound three times.
func (d *DB) productsQuery() string {
	agg := "json_agg"
	pair := "json_build_array(url, alt)"
	if d.dialect == SQLite {
		agg, pair = "json_group_array", "json_array(url, alt)"
	}
	return `SELECT p.id, p.name, p.description, p.price_amount, p.price_currency, p.category_id,
		       p.seller_id, p.hits, p.version, p.created_at, p.updated_at,
		       COALESCE(i.images, '[]') AS images, COALESCE(t.tags, '[]') AS tags
		FROM products p
		LEFT JOIN (SELECT product_id, ` + agg + `(` + pair + ` ORDER BY position) AS images
		           FROM product_images WHERE product_id ` + d.anyID + ` GROUP BY product_id) i ON i.product_id = p.id
		LEFT JOIN (SELECT product_id, ` + agg + `(tag ORDER BY position) AS tags
		           FROM product_tags WHERE product_id ` + d.anyID + ` GROUP BY product_id) t ON t.product_id = p.id
		WHERE p.id ` + d.anyID
}

// Sellers returns the sellers of ids that exist, keyed by id, in one
// statement.
func (d *DB) Sellers(ctx context.Context, ids []int64) (map[int64]*store.Seller, error) {
	return rowsByID(ctx, d, ids, func(s *store.Seller) int64 { return s.ID }, "sellers",
		`SELECT id, name, rating, version FROM sellers WHERE id `+d.anyID, d.idsArg(ids))
}

// Categories returns the categories of ids that exist, keyed by id, in one
// statement. Parents are not followed.
func (d *DB) Categories(ctx context.Context, ids []int64) (map[int64]*store.Category, error) {
	return d.categories(ctx, ids, false)
}

// CategoriesWithParents returns the categories of ids that exist and their
// parents, keyed by id, in one statement: a product page shows its
// category's parent, so a cold page reads both levels at once.
func (d *DB) CategoriesWithParents(ctx context.Context, ids []int64) (map[int64]*store.Category, error) {
	return d.categories(ctx, ids, true)
}

func (d *DB) categories(ctx context.Context, ids []int64, parents bool) (map[int64]*store.Category, error) {
	q, arg := `SELECT id, name, parent_id AS parentid, version FROM categories WHERE id `+d.anyID, d.idsArg(ids)
	args := []any{arg}
	if parents {
		q += ` OR id IN (SELECT parent_id FROM categories WHERE id ` + d.anyID + `)`
		args = append(args, arg)
	}
	return rowsByID(ctx, d, ids, func(c *store.Category) int64 { return c.ID }, "categories", q, args...)
}

// rowsByID runs query, which selects rows of D for ids, and returns them
// keyed by id; it sends nothing when ids is empty. sqlx matches each
// column to the field of D whose lower-cased name it is (parentid:
// ParentID).
func rowsByID[D any](ctx context.Context, d *DB, ids []int64, id func(*D) int64, what, query string, args ...any) (map[int64]*D, error) {
	if len(ids) == 0 {
		return map[int64]*D{}, nil
	}
	var rows []D
	if err := d.selectx(ctx, d.db, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("store: %s by ids: %w", what, err)
	}
	out := make(map[int64]*D, len(rows))
	for i := range rows {
		out[id(&rows[i])] = &rows[i]
	}
	return out, nil
}

// ProductOptions returns the options of the given products, keyed by product id, in
// id order, in one statement. Products with no options are absent.
func (d *DB) ProductOptions(ctx context.Context, productIDs []int64) (map[int64][]store.Option, error) {
	out := make(map[int64][]store.Option, len(productIDs))
	if len(productIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		ID         int64  `db:"id"`
		ProductID  int64  `db:"product_id"`
		Name       string `db:"name"`
		PriceDelta int64  `db:"price_delta"`
		Stock      int64  `db:"stock"`
	}
	err := d.selectx(ctx, d.db, &rows, `
		SELECT id, product_id, name, price_delta, stock FROM product_options
		WHERE product_id `+d.anyID+` ORDER BY product_id, id`, d.idsArg(productIDs))
	if err != nil {
		return nil, fmt.Errorf("store: options by product ids: %w", err)
	}
	for _, r := range rows {
		out[r.ProductID] = append(out[r.ProductID], store.Option(r))
	}
	return out, nil
}

// Stock returns the units in stock of the given products, keyed by product
// id, in one statement. Products that do not exist are absent.
func (d *DB) Stock(ctx context.Context, productIDs []int64) (map[int64]int64, error) {
	out := make(map[int64]int64, len(productIDs))
	if len(productIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		ID    int64 `db:"id"`
		Stock int64 `db:"stock"`
	}
	err := d.selectx(ctx, d.db, &rows,
		`SELECT id, stock FROM products WHERE id `+d.anyID, d.idsArg(productIDs))
	if err != nil {
		return nil, fmt.Errorf("store: stock by product ids: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = r.Stock
	}
	return out, nil
}

// CategoryProductIDs lists up to first products of a category, newest first
// (created_at, then id, both descending), starting after the given key, or at
// the top when after is nil. It reports whether more products follow. Keyset
// paging keeps pages stable when products are inserted meanwhile.
func (d *DB) CategoryProductIDs(ctx context.Context, categoryID int64, first int, after *store.ListingKey) ([]store.ListingKey, bool, error) {
	var rows []struct {
		ID        int64 `db:"id"`
		CreatedAt int64 `db:"created_at"`
	}
	query, args := `
		SELECT id, created_at FROM products WHERE category_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ?`, []any{categoryID, first + 1}
	if after != nil {
		at := after.CreatedAt.UnixMicro()
		query, args = `
		SELECT id, created_at FROM products
		WHERE category_id = ? AND (created_at < ? OR (created_at = ? AND id < ?))
		ORDER BY created_at DESC, id DESC LIMIT ?`, []any{categoryID, at, at, after.ID, first + 1}
	}
	if err := d.selectx(ctx, d.db, &rows, query, args...); err != nil {
		return nil, false, fmt.Errorf("store: category products: %w", err)
	}
	more := len(rows) > first
	if more {
		rows = rows[:first]
	}
	keys := make([]store.ListingKey, len(rows))
	for i, r := range rows {
		keys[i] = store.ListingKey{CreatedAt: micros(r.CreatedAt), ID: r.ID}
	}
	return keys, more, nil
}

// micros converts a stored timestamp (microseconds since the Unix epoch) to a
// UTC time. Timestamps are stored as integers in both dialects so that they
// compare exactly, which the listing cursor relies on.
func micros(us int64) time.Time { return time.UnixMicro(us).UTC() }
