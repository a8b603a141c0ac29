package graph_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"catalog-bff/store/sqlstore"
)

func TestCreateUpdateDeleteProduct(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d sqlstore.Dialect, redisURL string) {
		ts := newTestServer(t, d, serverOptions{redisURL: redisURL})
		// The id the next product gets, asked for first: a negative entry.
		next := fmt.Sprint(201)
		var got struct{ Product *productJSON }
		ts.mustQuery(t, `query($id: ID!) { product(id: $id) { id } }`, map[string]any{"id": next}, &got)
		if got.Product != nil {
			t.Fatalf("product %s exists before it is created", next)
		}

		var created struct{ CreateProduct productJSON }
		ts.mustAdmin(t, `mutation { createProduct(input: {name: "Lamp", price: {amount: 1999, currency: "EUR"},
			sellerId: "1", categoryId: "9", images: [{url: "https://img.example.com/l.jpg"}], tags: ["light", "home"], stock: 4})
			{ `+detail+` } }`, nil, &created)
		p := created.CreateProduct
		if p.ID != next || p.Name != "Lamp" || p.Price.Amount != 1999 || p.Stock != 4 ||
			!slices.Equal(p.Tags, []string{"light", "home"}) || len(p.Images) != 1 || p.Category == nil || p.Category.ID != "9" {
			t.Errorf("createProduct returned %+v", p)
		}
		ts.mustQuery(t, `query($id: ID!) { product(id: $id) { id name } }`, map[string]any{"id": next}, &got)
		if got.Product == nil || got.Product.Name != "Lamp" {
			t.Errorf("created product reads back as %+v: the negative entry was not invalidated", got.Product)
		}

		var updated struct{ UpdateProduct productJSON }
		ts.mustAdmin(t, `mutation($id: ID!) { updateProduct(id: $id, input: {name: "Desk lamp", categoryId: null, tags: []})
			{ `+detail+` } }`, map[string]any{"id": next}, &updated)
		u := updated.UpdateProduct
		if u.Name != "Desk lamp" || u.Category != nil || len(u.Tags) != 0 || u.Price.Amount != 1999 || len(u.Images) != 1 {
			t.Errorf("updateProduct returned %+v: want new name, no category, no tags, price and images kept", u)
		}
		ts.mustQuery(t, `query($id: ID!) { product(id: $id) { `+detail+` } }`, map[string]any{"id": next}, &got)
		if got.Product == nil || got.Product.Name != "Desk lamp" || got.Product.Category != nil {
			t.Errorf("updated product reads back as %+v", got.Product)
		}

		var deleted struct{ DeleteProduct bool }
		ts.mustAdmin(t, `mutation($id: ID!) { deleteProduct(id: $id) }`, map[string]any{"id": next}, &deleted)
		got.Product = nil
		ts.mustQuery(t, `query($id: ID!) { product(id: $id) { id } }`, map[string]any{"id": next}, &got)
		if !deleted.DeleteProduct || got.Product != nil {
			t.Errorf("deleted product reads back as %+v", got.Product)
		}
		r := ts.admin(t, `mutation($id: ID!) { deleteProduct(id: $id) }`, map[string]any{"id": next}, nil)
		if !slices.Equal(r.codes(), []string{"NOT_FOUND"}) {
			t.Errorf("second delete: codes %v, want NOT_FOUND", r.codes())
		}
	})
}

// Stock is live: setStock invalidates nothing and is seen at once.
func TestSetStock(t *testing.T) {
	ts := newTestServer(t, sqlstore.Postgres, serverOptions{})
	var opt struct {
		ID, Product int64
	}
	if err := ts.db.SQL().QueryRow(`SELECT id, product_id FROM product_options ORDER BY id LIMIT 1`).Scan(&opt.ID, &opt.Product); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprint(opt.Product)
	ts.mustQuery(t, `query($id: ID!) { product(id: $id) { stock options { id stock } } }`, map[string]any{"id": id}, nil)
	var res struct{ SetStock productJSON }
	c := ts.measure(t, func() {
		ts.mustAdmin(t, `mutation($p: ID!, $o: ID) { setStock(productId: $p, optionId: $o, stock: 7) { stock options { id name } } }`,
			map[string]any{"p": id, "o": fmt.Sprint(opt.ID)}, &res)
	})
	// The product's cache read, and no invalidation: stock is read live.
	ts.expect(t).read("product", opt.Product).check("setStock", c.redis)
	var got struct {
		Product struct {
			Stock   int
			Options []struct {
				ID    string
				Stock int
			}
		}
	}
	ts.mustAdmin(t, `mutation($p: ID!) { setStock(productId: $p, stock: 11) { id } }`, map[string]any{"p": id}, nil)
	ts.mustQuery(t, `query($id: ID!) { product(id: $id) { stock options { id stock } } }`, map[string]any{"id": id}, &got)
	if got.Product.Stock != 11 || got.Product.Options[0].Stock != 7 {
		t.Errorf("stock after setStock = %+v, want product 11 and option %d at 7", got.Product, opt.ID)
	}
}

// After updateSeller, the seller's products show the new name, and their
// documents are not fetched again: sellers are cached on their own, and
// product entries hold only the seller's id.
func TestSellerInvalidationFanOut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d sqlstore.Dialect, redisURL string) {
		ts := newTestServer(t, d, serverOptions{wait: countWait, redisURL: redisURL})
		ids := productsOfSeller(t, ts.db, 1)
		q := `query($ids: [ID!]!) { products(ids: $ids) { id seller { id name } } }`
		ts.mustQuery(t, q, map[string]any{"ids": ids}, nil)

		ts.mustAdmin(t, `mutation { updateSeller(id: "1", input: {name: "Renamed Seller", rating: 4.5}) { name rating } }`, nil, nil)
		var got struct {
			Products []struct {
				Seller struct{ ID, Name string }
			}
		}
		c := ts.measure(t, func() { ts.mustQuery(t, q, map[string]any{"ids": ids}, &got) })
		for _, p := range got.Products {
			if p.Seller.Name != "Renamed Seller" {
				t.Errorf("a product of seller 1 shows seller %+v", p.Seller)
			}
		}
		doc := ts.rdb.Get(context.Background(), ts.cache.Key("product", mustInt(t, ids[0]))).Val()
		if !strings.Contains(doc, `"sellerId":1`) || strings.Contains(doc, "Renamed Seller") || strings.Contains(doc, "rating") {
			t.Errorf("product entry embeds seller data: %.200s", doc)
		}
		// The mutation's own response read the seller back, which filled its
		// entry at the new version; the product documents never changed.
		if c.sql != 0 {
			t.Errorf("reading %d products after updateSeller: %d SQL statements, want 0", len(ids), c.sql)
		}
		productIDs := make([]int64, len(ids))
		for i, id := range ids {
			productIDs[i] = mustInt(t, id)
		}
		ts.expect(t).read("product", productIDs...).read("seller", 1).check("products after updateSeller", c.redis)
	})
}

func TestUpdateCategory(t *testing.T) {
	ts := newTestServer(t, sqlstore.Postgres, serverOptions{})
	var got struct {
		UpdateCategory struct {
			Name   string
			Parent *struct{ ID string }
		}
	}
	ts.mustAdmin(t, `mutation { updateCategory(id: "9", input: {name: "Moved", parentId: "2"}) { name parent { id } } }`, nil, &got)
	if got.UpdateCategory.Name != "Moved" || got.UpdateCategory.Parent == nil || got.UpdateCategory.Parent.ID != "2" {
		t.Errorf("updateCategory = %+v", got.UpdateCategory)
	}
	ts.mustAdmin(t, `mutation { updateCategory(id: "9", input: {parentId: null}) { name parent { id } } }`, nil, &got)
	if got.UpdateCategory.Parent != nil {
		t.Errorf("parentId: null left parent %+v", got.UpdateCategory.Parent)
	}
}

func productsOfSeller(t *testing.T, db *sqlstore.DB, seller int64) []string {
	t.Helper()
	ids := queryIDs(t, db, `SELECT id FROM products WHERE seller_id = ? ORDER BY id LIMIT 50`, seller)
	if len(ids) < 2 {
		t.Fatalf("seller %d has %d products", seller, len(ids))
	}
	return ids
}

// sqlSnapshot renders every catalogue row, to tell whether a request
// changed anything.
func sqlSnapshot(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"sellers", "categories", "products", "product_images", "product_tags", "product_options"} {
		rows, err := db.SQL().Query(`SELECT * FROM ` + table + ` ORDER BY 1, 2`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, table, vals)
		}
		rows.Close()
	}
	return b.String()
}

// redisSnapshot renders every key under the server's prefix.
func (ts *testServer) redisSnapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	keys, err := ts.rdb.Keys(ctx, ts.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintln(&b, k, ts.rdb.Get(ctx, k).Val())
	}
	return b.String()
}

func (ts *testServer) mustAdmin(t *testing.T, q string, vars map[string]any, data any) {
	t.Helper()
	if r := ts.admin(t, q, vars, data); len(r.Errors) > 0 {
		t.Fatalf("mutation failed: %+v", r.Errors)
	}
}

func rebind(db *sqlstore.DB, q string) string {
	if db.Dialect() != sqlstore.Postgres {
		return q
	}
	n := 0
	var b strings.Builder
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
