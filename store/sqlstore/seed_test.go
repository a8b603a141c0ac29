package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// seedTestOptions is the small catalogue the seed tests use.
var seedTestOptions = sqlstore.SeedOptions{Products: 300, Seed: 42}

// seedEachDialect runs test as a parallel subtest per dialect.
func seedEachDialect(t *testing.T, test func(t *testing.T, dialect sqlstore.Dialect)) {
	for _, dialect := range storetest.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			t.Parallel()
			test(t, dialect)
		})
	}
}

// mustSeed opens a fresh database and seeds it with opt.
func mustSeed(t *testing.T, dialect sqlstore.Dialect, opt sqlstore.SeedOptions) *sqlstore.DB {
	t.Helper()
	db := storetest.MustOpen(t, dialect)
	if err := db.Seed(context.Background(), opt); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return db
}

// seedQueryInt runs a query that returns one integer.
func seedQueryInt(t *testing.T, db *sqlstore.DB, query string) int64 {
	t.Helper()
	var n sql.NullInt64
	if err := db.SQL().QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n.Int64
}

func TestSeedShape(t *testing.T) {
	seedEachDialect(t, func(t *testing.T, dialect sqlstore.Dialect) {
		db := storetest.MustOpen(t, dialect)
		ctx := context.Background()
		if empty, err := db.Empty(ctx); err != nil || !empty {
			t.Fatalf("Empty before seeding = %v, %v; want true, nil", empty, err)
		}
		before := db.Statements()
		if err := db.Seed(ctx, seedTestOptions); err != nil {
			t.Fatalf("seed: %v", err)
		}
		if n := db.Statements() - before; n >= 15 {
			t.Errorf("seeding 300 products sent %d statements; want fewer than 15 (batched)", n)
		}
		if empty, err := db.Empty(ctx); err != nil || empty {
			t.Errorf("Empty after seeding = %v, %v; want false, nil", empty, err)
		}
		for _, c := range []struct {
			query    string
			min, max int64
		}{
			{`SELECT COUNT(*) FROM products`, 300, 300},
			{`SELECT MIN(id) FROM products`, 1, 1},
			{`SELECT MAX(id) FROM products`, 300, 300},
			{`SELECT COUNT(*) FROM sellers`, 5, 5},
			{`SELECT COUNT(*) FROM categories`, 48, 48},
			{`SELECT COUNT(*) FROM categories WHERE parent_id IS NOT NULL`, 40, 40},
			{`SELECT COUNT(*) FROM categories c JOIN categories p ON p.id = c.parent_id
			  WHERE p.parent_id IS NULL`, 40, 40},
			{`SELECT COUNT(*) FROM products WHERE category_id IS NULL`, 1, 20},
			{`SELECT COUNT(*) FROM products p JOIN categories c ON c.id = p.category_id
			  WHERE c.parent_id IS NULL`, 0, 0}, // only leaf categories hold products
			{`SELECT COUNT(DISTINCT category_id) FROM products`, 30, 40},
			{`SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM product_images GROUP BY product_id) x`, 1, 5},
			{`SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM product_tags GROUP BY product_id) x`, 1, 5},
			{`SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM product_options GROUP BY product_id) x`, 1, 4},
			{`SELECT COUNT(DISTINCT product_id) FROM product_images`, 200, 299}, // some have none
			{`SELECT COUNT(DISTINCT product_id) FROM product_tags`, 200, 299},
			{`SELECT COUNT(DISTINCT product_id) FROM product_options`, 200, 299},
			{`SELECT COUNT(*) FROM product_images
			  WHERE url <> 'https://img.example.com/p/' || product_id || '/' || position || '.jpg'
			     OR alt = ''`, 0, 0},
			{`SELECT COUNT(*) FROM products WHERE price_currency NOT IN ('EUR', 'USD', 'KRW')
			     OR price_amount <= 0 OR stock < 0 OR stock > 500
			     OR hits <> 0 OR version <> 1 OR updated_at < created_at`, 0, 0},
			{`SELECT COUNT(*) FROM sellers WHERE rating < 0 OR rating > 5
			     OR ABS(rating * 10 - ROUND(rating * 10)) > 1e-9`, 0, 0},
			// Some products share a timestamp, and some are older than a
			// product with a smaller id, so listing order is not id order.
			{`SELECT COUNT(*) FROM (SELECT created_at FROM products
			  GROUP BY created_at HAVING COUNT(*) > 1) x`, 10, 300},
			{`SELECT COUNT(*) FROM products a JOIN products b ON b.id = a.id + 1
			  WHERE b.created_at < a.created_at`, 1, 50},
		} {
			if n := seedQueryInt(t, db, c.query); n < c.min || n > c.max {
				t.Errorf("%s\n= %d; want %d..%d", c.query, n, c.min, c.max)
			}
		}
	})
}

// seedProductRows returns the products, one string per row, in id order.
func seedProductRows(t *testing.T, db *sqlstore.DB) []string {
	t.Helper()
	rows, err := db.SQL().Query(`
		SELECT id, name, price_amount, price_currency, created_at FROM products ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, amount, created int64
		var name, currency string
		if err := rows.Scan(&id, &name, &amount, &currency, &created); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(id, name, amount, currency, created))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSeedIsDeterministic(t *testing.T) {
	seedEachDialect(t, func(t *testing.T, dialect sqlstore.Dialect) {
		a := seedProductRows(t, mustSeed(t, dialect, seedTestOptions))
		b := seedProductRows(t, mustSeed(t, dialect, seedTestOptions))
		if len(a) != 300 || strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Errorf("two seeds with the same options differ:\n%v\n%v", a[:3], b[:3])
		}
		other := seedTestOptions
		other.Seed++
		if c := seedProductRows(t, mustSeed(t, dialect, other)); strings.Join(a, "\n") == strings.Join(c, "\n") {
			t.Errorf("seeds %d and %d gave the same products", seedTestOptions.Seed, other.Seed)
		}
	})
}

func TestSeedTwice(t *testing.T) {
	seedEachDialect(t, func(t *testing.T, dialect sqlstore.Dialect) {
		ctx := context.Background()
		db := mustSeed(t, dialect, seedTestOptions)
		want := seedProductRows(t, db)
		again := seedTestOptions
		again.Products = 10
		err := db.Seed(ctx, again)
		if !errors.Is(err, sqlstore.ErrNotEmpty) || !strings.HasPrefix(err.Error(), "store: seed: ") {
			t.Fatalf("seeding a seeded catalogue: err = %v; want store: seed: %v", err, sqlstore.ErrNotEmpty)
		}
		if got := seedProductRows(t, db); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("a refused seed changed the products")
		}
		again.Reset = true
		if err := db.Seed(ctx, again); err != nil {
			t.Fatalf("seed with Reset: %v", err)
		}
		if n := seedQueryInt(t, db, `SELECT COUNT(*) FROM products`); n != 10 {
			t.Errorf("after Reset with 10 products: %d products", n)
		}
		again.Products = 300
		if err := db.Seed(ctx, again); err != nil {
			t.Fatalf("seed with Reset: %v", err)
		}
		if got := seedProductRows(t, db); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("reseeding with Reset gave other products than the first seed")
		}
		if n := seedQueryInt(t, db, `SELECT COUNT(*) FROM product_images WHERE product_id > 300`); n != 0 {
			t.Errorf("Reset left %d images of old products", n)
		}
	})
}

// TestSeedLeavesIDsFree checks that rows inserted after a seed, without an
// id, get one above the seeded ones (PostgreSQL's identity sequences are
// moved past them).
func TestSeedLeavesIDsFree(t *testing.T) {
	seedEachDialect(t, func(t *testing.T, dialect sqlstore.Dialect) {
		db := mustSeed(t, dialect, seedTestOptions)
		for _, c := range []struct{ table, insert string }{
			{"sellers", `INSERT INTO sellers (name, rating) VALUES ('x', 1) RETURNING id`},
			{"categories", `INSERT INTO categories (name) VALUES ('x') RETURNING id`},
			{"products", `INSERT INTO products (name, price_amount, price_currency, seller_id,
			  created_at, updated_at) VALUES ('x', 1, 'EUR', 1, 0, 0) RETURNING id`},
			{"product_options", `INSERT INTO product_options (product_id, name)
			  VALUES (1, 'x') RETURNING id`},
		} {
			seeded := seedQueryInt(t, db, `SELECT MAX(id) FROM `+c.table)
			if id := seedQueryInt(t, db, c.insert); id <= seeded {
				t.Errorf("new %s id = %d; want > %d, the largest seeded one", c.table, id, seeded)
			}
		}
	})
}

func TestSeedReadBack(t *testing.T) {
	seedEachDialect(t, func(t *testing.T, dialect sqlstore.Dialect) {
		db := mustSeed(t, dialect, seedTestOptions)
		ids := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
		products, err := db.Products(context.Background(), ids)
		if err != nil {
			t.Fatal(err)
		}
		images := 0
		for _, id := range ids {
			p := products[id]
			if p == nil || p.Name == "" || !strings.HasSuffix(p.Description, ".") {
				t.Fatalf("product %d = %+v", id, p)
			}
			for i, img := range p.Images {
				if want := fmt.Sprintf("https://img.example.com/p/%d/%d.jpg", id, i+1); img.URL != want {
					t.Errorf("product %d image %d = %q; want %q", id, i, img.URL, want)
				}
			}
			images += len(p.Images)
		}
		if images == 0 {
			t.Errorf("ten products have no images")
		}
	})
}

func TestSeedRejectsNegativeProducts(t *testing.T) {
	db := storetest.MustOpen(t, sqlstore.SQLite)
	if err := db.Seed(context.Background(), sqlstore.SeedOptions{Products: -1}); err == nil {
		t.Fatal("seed of -1 products succeeded")
	}
	if empty, err := db.Empty(context.Background()); err != nil || !empty {
		t.Errorf("Empty = %v, %v after a refused seed; want true, nil", empty, err)
	}
}

// A catalogue keeps its identity until it is reset, and concurrent first
// calls agree on one.
func TestCatalogueIdentity(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		db := storetest.MustOpen(t, d)
		ctx := context.Background()
		ids := make(chan string, 4)
		for range cap(ids) {
			go func() {
				id, err := db.Catalogue(ctx)
				if err != nil {
					t.Error(err)
				}
				ids <- id
			}()
		}
		first := <-ids
		for range cap(ids) - 1 {
			if id := <-ids; id != first || len(first) != 16 {
				t.Fatalf("identities %q and %q, want one of 16 hex digits", first, id)
			}
		}
		if err := db.Seed(ctx, sqlstore.SeedOptions{Products: 5, Seed: 1}); err != nil {
			t.Fatal(err)
		}
		if id, _ := db.Catalogue(ctx); id != first {
			t.Fatalf("seeding an empty catalogue changed its identity: %q, then %q", first, id)
		}
		if err := db.Seed(ctx, sqlstore.SeedOptions{Products: 5, Seed: 1, Reset: true}); err != nil {
			t.Fatal(err)
		}
		if id, _ := db.Catalogue(ctx); id == first || id == "" {
			t.Fatalf("after a reset the identity is %q, want a new one (was %q)", id, first)
		}
	})
}
