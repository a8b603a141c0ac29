package graph_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

type productJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Price struct {
		Amount   int    `json:"amount"`
		Currency string `json:"currency"`
	} `json:"price"`
	Category *struct {
		ID     string `json:"id"`
		Parent *struct {
			ID string `json:"id"`
		} `json:"parent"`
	} `json:"category"`
	Seller struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"seller"`
	Images    []struct{ URL, Alt string } `json:"images"`
	Tags      []string                    `json:"tags"`
	Stock     int                         `json:"stock"`
	Options   []struct{ ID, Name string } `json:"options"`
	CreatedAt time.Time                   `json:"createdAt"`
}

const detail = `id name price { amount currency } category { id parent { id } } seller { id name }
	images { url alt } tags stock options { id name } createdAt`

// exec runs SQL written with ? placeholders on either dialect.
func exec(t *testing.T, db *sqlstore.DB, query string, args ...any) {
	t.Helper()
	bind := sqlx.QUESTION
	if db.Dialect() == sqlstore.Postgres {
		bind = sqlx.DOLLAR
	}
	if _, err := db.SQL().Exec(sqlx.Rebind(bind, query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func TestProductMatchesSQL(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ts := newTestServer(t, d, serverOptions{})
		want, err := ts.db.Products(context.Background(), []int64{42})
		if err != nil {
			t.Fatal(err)
		}
		for round := range 2 { // cold, then from the cache
			var got struct{ Product productJSON }
			ts.mustQuery(t, `{ product(id: "42") { `+detail+` } }`, nil, &got)
			p, w := got.Product, want[42]
			if p.ID != "42" || p.Name != w.Name || int64(p.Price.Amount) != w.Price.Amount ||
				p.Price.Currency != w.Price.Currency || len(p.Images) != len(w.Images) ||
				!slices.Equal(p.Tags, w.Tags) || p.Seller.ID != fmt.Sprint(w.SellerID) ||
				!p.CreatedAt.Equal(w.CreatedAt) {
				t.Errorf("round %d: product 42 = %+v, SQL has %+v", round, p, w)
			}
		}
	})
}

func TestProductsOrderDuplicatesAndNulls(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ts := newTestServer(t, d, serverOptions{})
		q := `query($ids: [ID!]!) { products(ids: $ids) { id } }`
		cases := []struct {
			ids  []string
			want []string // "" for null
		}{
			{[]string{"3", "1", "999999", "3", "2"}, []string{"3", "1", "", "3", "2"}},
			{[]string{}, []string{}},
			{[]string{"999998"}, []string{""}},
		}
		for _, c := range cases {
			var got struct{ Products []*struct{ ID string } }
			cost := ts.measure(t, func() { ts.mustQuery(t, q, map[string]any{"ids": c.ids}, &got) })
			ids := []string{}
			for _, p := range got.Products {
				if p == nil {
					ids = append(ids, "")
				} else {
					ids = append(ids, p.ID)
				}
			}
			if !slices.Equal(ids, c.want) {
				t.Errorf("products(%v) = %q, want %q", c.ids, ids, c.want)
			}
			if n := cost.redis.Commands["set"]; n > int64(len(slices.Compact(slices.Sorted(slices.Values(c.ids))))) {
				t.Errorf("products(%v) wrote %d entries: a duplicate was fetched twice", c.ids, n)
			}
		}
	})
}

func TestNullsForMissingRows(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{})
	var got struct{ Product, Seller, Category *struct{ ID string } }
	for range 2 { // the second time from negative cache entries
		c := ts.measure(t, func() {
			ts.mustQuery(t, `{ product(id: "777777") { id } seller(id: "777777") { id } category(id: "777777") { id } }`, nil, &got)
		})
		if got.Product != nil || got.Seller != nil || got.Category != nil {
			t.Errorf("missing rows = %+v, want nulls", got)
		}
		if c.sql > 3 {
			t.Errorf("%d SQL statements for three missing rows", c.sql)
		}
	}
	c := ts.measure(t, func() {
		ts.mustQuery(t, `{ product(id: "777777") { id } }`, nil, nil)
	})
	if c.sql != 0 {
		t.Errorf("a cached miss cost %d SQL statements, want 0 (negative entry)", c.sql)
	}
}

func TestUserErrors(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{})
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprint(i + 1)
	}
	cases := []struct {
		name, query string
		vars        map[string]any
		inMessage   string
	}{
		{"letters", `{ product(id: "abc") { id } }`, nil, `"abc"`},
		{"negative", `{ product(id: "-1") { id } }`, nil, `"-1"`},
		{"exponent", `{ seller(id: "1e3") { id } }`, nil, `"1e3"`},
		{"zero", `{ category(id: "0") { id } }`, nil, `"0"`},
		{"leading zero", `{ product(id: "007") { id } }`, nil, `"007"`},
		{"40 digits", `{ product(id: "1234567890123456789012345678901234567890") { id } }`, nil, `"1234567890123456789012345678901234567890"`},
		{"overflow", `{ product(id: "9223372036854775808") { id } }`, nil, `"9223372036854775808"`},
		{"bad id in list", `query($ids: [ID!]!) { products(ids: $ids) { id } }`, map[string]any{"ids": []string{"1", "x"}}, `"x"`},
		{"bad id variable", `query($id: ID!) { product(id: $id) { id } }`, map[string]any{"id": "1.5"}, `"1.5"`},
		{"101 ids", `query($ids: [ID!]!) { products(ids: $ids) { id } }`, map[string]any{"ids": many}, "at most 100"},
		{"first 0", `{ categoryProducts(categoryId: "9", first: 0) { edges { cursor } } }`, nil, "first"},
		{"first 101", `{ categoryProducts(categoryId: "9", first: 101) { edges { cursor } } }`, nil, "first"},
		{"bad cursor", `{ categoryProducts(categoryId: "9", after: "nope") { edges { cursor } } }`, nil, "cursor"},
		{"forged cursor", `{ categoryProducts(categoryId: "9", after: "YzE6eDp5") { edges { cursor } } }`, nil, "cursor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c0 := ts.db.Statements()
			r := ts.query(t, c.query, c.vars, nil)
			if !slices.Equal(r.codes(), []string{"BAD_USER_INPUT"}) {
				t.Fatalf("codes = %v (%+v), want [BAD_USER_INPUT]", r.codes(), r.Errors)
			}
			if !strings.Contains(r.Errors[0].Message, c.inMessage) {
				t.Errorf("message %q does not name %s", r.Errors[0].Message, c.inMessage)
			}
			if n := ts.db.Statements() - c0; n != 0 {
				t.Errorf("a rejected request ran %d SQL statements", n)
			}
		})
	}
}

// A database failure is INTERNAL, and its text stays in the log.
func TestDatabaseFailureIsInternal(t *testing.T) {
	ts := newTestServer(t, sqlstore.Postgres, serverOptions{})
	exec(t, ts.db, `ALTER TABLE products RENAME TO products_gone`)
	r := ts.query(t, `{ product(id: "3") { id } }`, nil, nil)
	if !slices.Equal(r.codes(), []string{"INTERNAL"}) {
		t.Fatalf("codes = %v, want [INTERNAL]", r.codes())
	}
	if m := r.Errors[0].Message; strings.Contains(m, "products") || strings.Contains(m, "relation") {
		t.Errorf("message leaks SQL: %q", m)
	}
}

// Pages handed out stay stable when newer products are inserted while a
// client pages through a category.
func TestCategoryPagingAcrossInserts(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ts := newTestServer(t, d, serverOptions{products: 300})
		cat := busiestCategory(t, ts.db)
		q := `query($c: ID!, $after: String) { categoryProducts(categoryId: $c, first: 3, after: $after) {
			edges { cursor node { id createdAt } } pageInfo { hasNextPage endCursor } } }`
		type page struct {
			CategoryProducts struct {
				Edges []struct {
					Cursor string
					Node   productJSON
				}
				PageInfo struct {
					HasNextPage bool
					EndCursor   *string
				}
			}
		}
		var seen []string
		var after any
		for i := 0; ; i++ {
			var p page
			ts.mustQuery(t, q, map[string]any{"c": cat, "after": after}, &p)
			for _, e := range p.CategoryProducts.Edges {
				seen = append(seen, e.Node.ID)
			}
			if i == 1 { // newer than everything listed so far
				exec(t, ts.db, `INSERT INTO products (name, price_amount, price_currency, category_id, seller_id, created_at, updated_at)
					VALUES ('Brand new', 100, 'EUR', ?, 1, ?, ?)`, cat, time.Now().UnixMicro(), time.Now().UnixMicro())
			}
			if !p.CategoryProducts.PageInfo.HasNextPage {
				break
			}
			after = *p.CategoryProducts.PageInfo.EndCursor
		}
		want := listingOrder(t, ts.db, cat)
		if !slices.Equal(seen, want[1:]) { // want[0] is the inserted product
			t.Errorf("paged ids = %v,\nwant %v (newest first, no gaps or repeats)", seen, want[1:])
		}
		var first page
		ts.mustQuery(t, q, map[string]any{"c": cat}, &first)
		if got := first.CategoryProducts.Edges[0].Node.ID; got != want[0] {
			t.Errorf("a fresh first page starts at %s, want the inserted %s", got, want[0])
		}
	})
}

func busiestCategory(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	var id int64
	err := db.SQL().QueryRow(`SELECT category_id FROM products WHERE category_id IS NOT NULL
		GROUP BY category_id ORDER BY COUNT(*) DESC, category_id LIMIT 1`).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(id)
}

func listingOrder(t *testing.T, db *sqlstore.DB, cat string) []string {
	t.Helper()
	return queryIDs(t, db, `SELECT id FROM products WHERE category_id = ? ORDER BY created_at DESC, id DESC`, cat)
}

// queryIDs runs a query of ids (with ? placeholders) and returns them as
// the strings GraphQL shows.
func queryIDs(t *testing.T, db *sqlstore.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.SQL().Query(rebind(db, q), args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, fmt.Sprint(id))
	}
	return ids
}

// An entry that does not decode is a miss: the client gets the product from
// SQL, never an error, and the entry is replaced.
func TestCorruptEntryIsRefilled(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{})
	q := `{ product(id: "8") { id name } }`
	ts.mustQuery(t, q, nil, nil)
	key := ts.cache.Key("product", 8)
	if ts.rdb.Exists(context.Background(), key).Val() != 1 {
		t.Fatalf("product 8 was not cached under %s", key)
	}
	for _, garbage := range []string{"\x00\xff not an entry", `d:3:{"id":`, `d:3:[1,2]`} {
		ts.rdb.Set(context.Background(), key, garbage, time.Minute)
		var got struct{ Product struct{ ID, Name string } }
		c := ts.measure(t, func() { ts.mustQuery(t, q, nil, &got) })
		if got.Product.ID != "8" || got.Product.Name == "" {
			t.Errorf("corrupt entry %q: product = %+v", garbage, got.Product)
		}
		if c.sql != 1 || c.redis.Commands["evalsha"] != 2 { // lease and write-back
			t.Errorf("corrupt entry %q: %d SQL, %v; want a refill from SQL", garbage, c.sql, c.redis.Commands)
		}
		if v := ts.rdb.Get(context.Background(), key).Val(); !strings.HasPrefix(v, "d:1:{") {
			t.Errorf("entry after refill = %.40q", v)
		}
	}
}

// @defer is not offered: introspection does not list it, and a query that
// uses it fails validation, naming it, rather than answering nulls with
// "hasNext": true and never the rest.
func TestDeferNotOffered(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{})
	var schema struct {
		Schema struct{ Directives []struct{ Name string } } `json:"__schema"`
	}
	ts.mustQuery(t, `{ __schema { directives { name } } }`, nil, &schema)
	var names []string
	for _, d := range schema.Schema.Directives {
		names = append(names, d.Name)
	}
	if slices.Contains(names, "defer") || !slices.Contains(names, "include") {
		t.Errorf("directives %v: want include and no defer", names)
	}
	r := ts.query(t, `{ product(id: "1") { id ... @defer { seller { name } } } }`, nil, nil)
	if !slices.Equal(r.codes(), []string{"GRAPHQL_VALIDATION_FAILED"}) || !strings.Contains(r.Errors[0].Message, "defer") {
		t.Errorf("a query with @defer: %+v", r.Errors)
	}
}
