package graph_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"catalog-bff/graph"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// detailPage is a product page without its live fields.
const detailPage = `query Page($id: ID!) { product(id: $id) { id name price { amount currency } ` +
	`category { id name parent { id name } } seller { id name rating } } }`

// page is detailPage's data.
type page struct {
	Product struct {
		ID       string
		Name     string
		Category struct {
			ID     string
			Name   string
			Parent *struct{ ID, Name string }
		}
		Seller struct{ ID, Name string }
	}
}

func vars(id any) map[string]any { return map[string]any{"id": fmt.Sprint(id)} }

// mustHit checks that e was answered from the cache: e's request cost no
// SQL statement and no Redis round trip.
func mustHit(t *testing.T, ts *testServer, send func() exchange) exchange {
	t.Helper()
	var e exchange
	c := ts.measure(t, func() { e = send() })
	if c.sql != 0 || c.redis.RoundTrips != 0 {
		t.Fatalf("want an answer from the response cache, got %d SQL statements and %d Redis round trips: %s",
			c.sql, c.redis.RoundTrips, e.body)
	}
	return e
}

// mustExecute checks that e's request ran: it read Redis or SQL.
func mustExecute(t *testing.T, ts *testServer, send func() exchange) exchange {
	t.Helper()
	var e exchange
	c := ts.measure(t, func() { e = send() })
	if c.sql == 0 && c.redis.RoundTrips == 0 {
		t.Fatalf("want an executed request, got one with no SQL and no Redis: %s", e.body)
	}
	return e
}

func TestResponseCacheRepeatedQuery(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ts, _ := cachedServer(t, d, serverOptions{}, graph.ResponseCacheOptions{})
		send := func() exchange { return ts.post(t, detailPage, vars(42)) }
		first := mustExecute(t, ts, send)
		second := mustHit(t, ts, send)
		if !bytes.Equal(first.body, second.body) || first.header.Get("Content-Type") != second.header.Get("Content-Type") {
			t.Fatalf("cached response differs:\n%s %s\n%s %s", first.header.Get("Content-Type"), first.body,
				second.header.Get("Content-Type"), second.body)
		}
		var p page
		second.data(t, &p)
		if p.Product.ID != "42" || p.Product.Name == "" {
			t.Fatalf("got %+v", p)
		}
		// Other variables, in another order of keys, are another entry.
		mustExecute(t, ts, func() exchange { return ts.post(t, detailPage, vars(43)) })
		if n, _ := ts.rc.Size(); n != 2 {
			t.Fatalf("%d entries, want 2", n)
		}
	})
}

// TestResponseCacheInvalidation changes a product, its seller and its
// category, and checks that each change shows in the next response of
// every cached operation that included it, and leaves the others cached.
func TestResponseCacheInvalidation(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ts, _ := cachedServer(t, d, serverOptions{}, graph.ResponseCacheOptions{})
		var p42 page
		ts.post(t, detailPage, vars(42)).data(t, &p42)
		other := unrelatedProduct(t, ts, p42)
		ops := map[string]func() exchange{
			"page 42": func() exchange { return ts.post(t, detailPage, vars(42)) },
			"list": func() exchange {
				return ts.post(t, `query($ids: [ID!]!) { products(ids: $ids) { id name } }`, map[string]any{"ids": []string{"42", other}})
			},
			"seller": func() exchange {
				return ts.post(t, `query($id: ID!) { seller(id: $id) { id name } }`, vars(p42.Product.Seller.ID))
			},
			"category": func() exchange {
				return ts.post(t, `query($id: ID!) { category(id: $id) { id name } }`, vars(p42.Product.Category.ID))
			},
			"other": func() exchange { return ts.post(t, detailPage, vars(other)) },
		}
		for _, op := range ops {
			op()
			mustHit(t, ts, op)
		}
		writes := []struct {
			mutation, id, name string
			changes            []string
		}{
			{"updateProduct", "42", "Renamed product", []string{"page 42", "list"}},
			{"updateSeller", p42.Product.Seller.ID, "Renamed seller", []string{"page 42", "seller"}},
			{"updateCategory", p42.Product.Category.ID, "Renamed category", []string{"page 42", "category"}},
		}
		for _, w := range writes {
			m := fmt.Sprintf(`mutation($id: ID!, $name: String!) { %s(id: $id, input: {name: $name}) { id } }`, w.mutation)
			if r := ts.admin(t, m, map[string]any{"id": w.id, "name": w.name}, nil); len(r.Errors) > 0 {
				t.Fatalf("%s: %+v", w.mutation, r.Errors)
			}
			for name, op := range ops {
				if !slices.Contains(w.changes, name) {
					mustHit(t, ts, op)
					continue
				}
				if e := mustExecute(t, ts, op); !bytes.Contains(e.body, []byte(w.name)) {
					t.Fatalf("after %s, %s does not show %q: %s", w.mutation, name, w.name, e.body)
				}
				mustHit(t, ts, op) // and it is cached again
			}
		}
	})
}

// unrelatedProduct returns a product other than p's, with another seller
// and a category that is neither p's nor its parent, nor has p's category
// as parent.
func unrelatedProduct(t *testing.T, ts *testServer, p page) string {
	t.Helper()
	cat := p.Product.Category
	for id := 100; id < 200; id++ {
		var o page
		ts.post(t, detailPage, vars(id)).data(t, &o)
		oc := o.Product.Category
		related := o.Product.Seller.ID == p.Product.Seller.ID || oc.ID == cat.ID ||
			(oc.Parent != nil && oc.Parent.ID == cat.ID) || (cat.Parent != nil && oc.ID == cat.Parent.ID) ||
			(oc.Parent != nil && cat.Parent != nil && oc.Parent.ID == cat.Parent.ID)
		if !related {
			return o.Product.ID
		}
	}
	t.Fatal("no unrelated product in the seeded catalogue")
	return ""
}

// TestResponseCacheResetAndOutage: a reset empties the cache, and while
// the feed is down nothing is served from it or stored in it.
func TestResponseCacheResetAndOutage(t *testing.T) {
	ts, feed := cachedServer(t, sqlstore.Postgres, serverOptions{}, graph.ResponseCacheOptions{})
	send := func() exchange { return ts.post(t, detailPage, vars(7)) }
	mustExecute(t, ts, send)
	mustHit(t, ts, send)
	feed.reset()
	if n, _ := ts.rc.Size(); n != 0 {
		t.Fatalf("%d entries after a reset, want 0", n)
	}
	mustExecute(t, ts, send)
	mustHit(t, ts, send)
	feed.down.Store(true)
	for range 2 {
		if e := mustExecute(t, ts, send); e.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q while the feed is down, want no-store", e.header.Get("Cache-Control"))
		}
	}
	mustExecute(t, ts, func() exchange { return ts.post(t, detailPage, vars(8)) })
	feed.down.Store(false)
	mustHit(t, ts, send)
	mustExecute(t, ts, func() exchange { return ts.post(t, detailPage, vars(8)) }) // not stored while down
}

// TestResponseCacheStoresOnlyQueriesWithoutErrors: a response with an
// error, a mutation's, and one with a live field are executed every time.
func TestResponseCacheStoresOnlyQueriesWithoutErrors(t *testing.T) {
	ts, _ := cachedServer(t, sqlstore.SQLite, serverOptions{}, graph.ResponseCacheOptions{HitsMaxStaleness: time.Minute})
	partial := func() exchange {
		return ts.post(t, `{ p: product(id: "1") { name } s: seller(id: "abc") { name } }`, nil)
	}
	var hits []int
	view := func() exchange { return ts.post(t, `mutation { recordView(productId: "3") { hits } }`, nil) }
	for range 2 {
		if e := mustExecute(t, ts, partial); !bytes.Contains(e.body, []byte("BAD_USER_INPUT")) || !bytes.Contains(e.body, []byte(`"p":{"name"`)) {
			t.Fatalf("want a partial response with an error: %s", e.body)
		}
		var v struct{ RecordView struct{ Hits int } }
		e := mustExecute(t, ts, view)
		e.data(t, &v)
		hits = append(hits, v.RecordView.Hits)
		if cc := e.header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("mutation's Cache-Control %q, want no-store", cc)
		}
	}
	if hits[1] != hits[0]+1 {
		t.Fatalf("hits %v: the second view was not counted", hits)
	}
	for _, q := range []string{`{ product(id: "4") { id stock } }`, `{ product(id: "4") { id options { name stock } } }`,
		`{ categoryProducts(categoryId: "1", first: 2) { edges { node { id } } } }`} {
		for range 2 {
			if e := mustExecute(t, ts, func() exchange { return ts.post(t, q, nil) }); e.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("%s: Cache-Control %q, want no-store", q, e.header.Get("Cache-Control"))
			}
		}
	}
	if n, _ := ts.rc.Size(); n != 0 {
		t.Fatalf("%d entries, want 0", n)
	}
}

// TestResponseCacheAbsentThenCreated: a cached "no such product" goes
// when the product is created.
func TestResponseCacheAbsentThenCreated(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ts, _ := cachedServer(t, d, serverOptions{}, graph.ResponseCacheOptions{})
		send := func() exchange { return ts.post(t, `query($id: ID!) { product(id: $id) { id name } }`, vars(201)) }
		if e := send(); !bytes.Contains(e.body, []byte(`{"product":null}`)) {
			t.Fatalf("product 201 exists before it is created: %s", e.body)
		}
		mustHit(t, ts, send)
		var created struct{ CreateProduct struct{ ID string } }
		m := `mutation { createProduct(input: {name: "Brand new", price: {amount: 100, currency: "EUR"}, sellerId: "1"}) { id } }`
		if r := ts.admin(t, m, nil, &created); len(r.Errors) > 0 || created.CreateProduct.ID != "201" {
			t.Fatalf("created %q, want 201 after 200 seeded products: %+v", created.CreateProduct.ID, r.Errors)
		}
		if e := mustExecute(t, ts, send); !bytes.Contains(e.body, []byte("Brand new")) {
			t.Fatalf("after createProduct: %s", e.body)
		}
	})
}
