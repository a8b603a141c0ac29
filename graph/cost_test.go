package graph_test

import (
	"fmt"
	"slices"
	"testing"

	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
)

// productFields are the fields of the cached product document. hits is not
// one of them: it comes from the view counter (graph/views_test.go counts it).
const productFields = `id name description price { amount currency } images { url alt } tags createdAt updatedAt`

// The read path's costs, counted by the SQL statement counter and the Redis
// hook: a warm product is one cache read and no SQL; a cold batch is one
// cache read, which takes the fill leases of the misses, at most one
// statement per table for the misses, and one write-back round trip (each
// one EVALSHA of a script for the whole batch). On a Redis Cluster every
// batch is still one round trip, a pipeline of one EVALSHA per document,
// costing one exchange per master involved (see traffic).
func TestReadPathCosts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d sqlstore.Dialect, redisURL string) {
		ts := newTestServer(t, d, serverOptions{products: 200, wait: countWait, redisURL: redisURL})

		// A product page read cold (the documents, not the view count): the
		// product's read takes its lease; the statement that reads it is
		// followed by one for its seller and one for its category with the
		// parent, since the product names them and the query asks for them;
		// all four documents are written back in one round trip, and the
		// later levels are answered by the request's loaders. With hits,
		// three round trips and three statements in all.
		t.Run("cold product page", func(t *testing.T) {
			page := `query($id: ID!) { product(id: $id) { ` + productFields +
				` seller { id name rating } category { id name parent { id name } } hits } }`
			vars := map[string]any{"id": "9"}
			ts.mustQuery(t, page, vars, nil) // the view count's display entry
			ts.cache.SetGeneration(ts.cache.Generation() + 1)
			var got struct {
				Product struct {
					Seller   struct{ ID string }
					Category struct {
						ID     string
						Parent *struct{ ID string }
					}
				}
			}
			before := ts.factory.Stats().Prefetched
			c := ts.measure(t, func() { ts.mustQuery(t, page, vars, &got) })
			if n := ts.factory.Stats().Prefetched - before; n != 3 {
				t.Errorf("cold product page: %d documents read with the product, want 3 (seller, category, parent)", n)
			}
			if c.sql != 3 {
				t.Errorf("cold product page: %d SQL statements, want 3 (product, seller, categories)", c.sql)
			}
			p := got.Product
			if p.Category.Parent == nil {
				t.Fatalf("product 9's category %s has no parent; the test needs one", p.Category.ID)
			}
			docs := map[store.Kind][]int64{"product": {9}, "seller": {mustID(t, p.Seller.ID)},
				"category": {mustID(t, p.Category.ID), mustID(t, p.Category.Parent.ID)}}
			ts.expect(t).read("product", 9).scripts(docs).command("evalsha").check("cold product page", c.redis)
			c = ts.measure(t, func() { ts.mustQuery(t, page, vars, nil) })
			if c.sql != 0 {
				t.Errorf("the same page warm: %d SQL statements, want 0", c.sql)
			}
			// The subtests below count the write-backs of their misses.
			ts.cache.SetGeneration(ts.cache.Generation() + 1)
		})

		t.Run("warm product", func(t *testing.T) {
			q := `query($id: ID!) { product(id: $id) { ` + productFields + ` } }`
			ts.mustQuery(t, q, map[string]any{"id": "5"}, nil)
			c := ts.measure(t, func() { ts.mustQuery(t, q, map[string]any{"id": "5"}, nil) })
			if c.sql != 0 {
				t.Errorf("warm product: %d SQL statements, want 0", c.sql)
			}
			ts.expect(t).read("product", 5).check("warm product", c.redis)
		})

		// 50 ids: 10 already cached, 35 cold, 5 that no product has.
		ids, cold := span(101, 110), append(span(111, 145), span(900000, 900004)...)
		ts.mustQuery(t, `query($ids: [ID!]!) { products(ids: $ids) { id } }`, map[string]any{"ids": idStrings(ids)}, nil)
		ids = append(ids, cold...)
		batch := `query($ids: [ID!]!) { products(ids: $ids) { ` + productFields + ` } }`
		vars := map[string]any{"ids": idStrings(ids)}

		t.Run("cold batch", func(t *testing.T) {
			c := ts.measure(t, func() { ts.mustQuery(t, batch, vars, nil) })
			if c.sql != 1 { // products, their images and tags aggregated
				t.Errorf("cold batch: %d SQL statements, want 1", c.sql)
			}
			// The read, which takes the fill leases of the 40 misses, and
			// their write-back.
			ts.expect(t).read("product", ids...).script("product", cold...).check("cold batch", c.redis)
		})
		t.Run("same batch warm", func(t *testing.T) {
			c := ts.measure(t, func() { ts.mustQuery(t, batch, vars, nil) })
			if c.sql != 0 {
				t.Errorf("warm batch: %d SQL statements, want 0", c.sql)
			}
			ts.expect(t).read("product", ids...).check("warm batch", c.redis)
		})

		// With sellers and two levels of categories under products that are
		// cached already, each level is one batch: one cache read each, which
		// takes the leases of its misses, one statement each for those, and
		// one write-back round trip each.
		full := `query($ids: [ID!]!) { products(ids: $ids) { id seller { id name rating } category { id name parent { id name } } } }`
		t.Run("cold batch with sellers and categories", func(t *testing.T) {
			var got fullBatch
			c := ts.measure(t, func() { ts.mustQuery(t, full, vars, &got) })
			sellers, categories, parents := got.levels(t)
			if c.sql != 3 { // sellers, categories, parent categories
				t.Errorf("cold full batch: %d SQL statements, want 3", c.sql)
			}
			w := ts.expect(t).read("product", ids...)
			for _, level := range []struct {
				kind store.Kind
				ids  []int64
			}{{"seller", sellers}, {"category", categories}, {"category", parents}} {
				w.read(level.kind, level.ids...).script(level.kind, level.ids...)
			}
			w.check("cold full batch", c.redis)
		})
		t.Run("same full batch warm", func(t *testing.T) {
			var got fullBatch
			c := ts.measure(t, func() { ts.mustQuery(t, full, vars, &got) })
			sellers, categories, parents := got.levels(t)
			if c.sql != 0 {
				t.Errorf("warm full batch: %d SQL statements, want 0", c.sql)
			}
			ts.expect(t).read("product", ids...).read("seller", sellers...).read("category", categories...).
				read("category", parents...).check("warm full batch", c.redis)
		})
		t.Run("live fields", func(t *testing.T) {
			q := `query($ids: [ID!]!) { products(ids: $ids) { id stock options { id stock } } }`
			c := ts.measure(t, func() { ts.mustQuery(t, q, vars, nil) })
			if c.sql != 2 { // one statement for stock and one for options, whatever the count
				t.Errorf("live fields: %d SQL statements, want 2", c.sql)
			}
			ts.expect(t).read("product", ids...).check("live fields", c.redis)
		})
	})
}

// fullBatch is the answer of products with their sellers and categories.
type fullBatch struct {
	Products []*struct {
		Seller   *struct{ ID string }
		Category *struct {
			ID     string
			Parent *struct{ ID string }
		}
	}
}

// levels returns the distinct ids each level of the query loaded: sellers,
// categories, and parent categories that were not categories already (the
// request's loader had those).
func (b fullBatch) levels(t *testing.T) (sellers, categories, parents []int64) {
	t.Helper()
	add := func(list []int64, id string) []int64 {
		if n := mustID(t, id); !slices.Contains(list, n) {
			return append(list, n)
		}
		return list
	}
	for _, p := range b.Products {
		if p != nil && p.Seller != nil {
			sellers = add(sellers, p.Seller.ID)
		}
		if p != nil && p.Category != nil {
			categories = add(categories, p.Category.ID)
		}
	}
	for _, p := range b.Products {
		if p != nil && p.Category != nil && p.Category.Parent != nil && !slices.Contains(categories, mustID(t, p.Category.Parent.ID)) {
			parents = add(parents, p.Category.Parent.ID)
		}
	}
	if len(sellers) == 0 || len(categories) == 0 || len(parents) == 0 {
		t.Fatalf("the batch loads %d sellers, %d categories, %d parents; want some of each", len(sellers), len(categories), len(parents))
	}
	return sellers, categories, parents
}

func mustID(t *testing.T, id string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(id, &n); err != nil {
		t.Fatalf("id %q: %v", id, err)
	}
	return n
}
