package graph_test

import (
	"fmt"
	"testing"

	"catalog-bff/store"
)

// productFields are the fields of the cached product document. hits is not
// one of them: it comes from the view counter (graph/views_test.go counts it).
const productFields = `id name description price { amount currency } images { url alt } tags createdAt updatedAt`

// The read path's costs, counted by the SQL statement counter and the Redis
// hook: a warm product is one MGET and no SQL; a cold batch is one MGET, at
// most one statement per table for the misses, one round trip for their
// fill leases and one write-back round trip (each one EVALSHA of a script
// for the whole batch).
func TestReadPathCosts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d store.Dialect) {
		ts := newTestServer(t, d, serverOptions{products: 200, wait: countWait})

		t.Run("warm product", func(t *testing.T) {
			q := `query($id: ID!) { product(id: $id) { ` + productFields + ` } }`
			ts.mustQuery(t, q, map[string]any{"id": "5"}, nil)
			c := ts.measure(t, func() { ts.mustQuery(t, q, map[string]any{"id": "5"}, nil) })
			if c.sql != 0 || c.redis.RoundTrips != 1 || c.redis.Commands["mget"] != 1 {
				t.Errorf("warm product: %d SQL statements, %d Redis round trips %v; want 0 and 1 MGET",
					c.sql, c.redis.RoundTrips, c.redis.Commands)
			}
		})

		// 50 ids: 10 already cached, 35 cold, 5 that no product has.
		var ids []string
		for i := 101; i <= 110; i++ {
			ids = append(ids, fmt.Sprint(i))
		}
		ts.mustQuery(t, `query($ids: [ID!]!) { products(ids: $ids) { id } }`, map[string]any{"ids": ids}, nil)
		for i := 111; i <= 145; i++ {
			ids = append(ids, fmt.Sprint(i))
		}
		for i := 0; i < 5; i++ {
			ids = append(ids, fmt.Sprint(900000+i))
		}
		batch := `query($ids: [ID!]!) { products(ids: $ids) { ` + productFields + ` } }`
		vars := map[string]any{"ids": ids}

		t.Run("cold batch", func(t *testing.T) {
			c := ts.measure(t, func() { ts.mustQuery(t, batch, vars, nil) })
			// products, product_images, product_tags
			// Round trips: the MGET, the fill leases of the 40 misses, and the
			// write-back of all 40, each one EVALSHA.
			if c.sql != 3 || c.redis.Commands["mget"] != 1 || c.redis.RoundTrips != 3 || c.redis.Commands["evalsha"] != 2 {
				t.Errorf("cold batch: %d SQL, %d round trips %v; want 3 SQL, 1 MGET, 1 lease and 1 write-back script",
					c.sql, c.redis.RoundTrips, c.redis.Commands)
			}
		})
		t.Run("same batch warm", func(t *testing.T) {
			c := ts.measure(t, func() { ts.mustQuery(t, batch, vars, nil) })
			if c.sql != 0 || c.redis.RoundTrips != 1 || c.redis.Commands["mget"] != 1 {
				t.Errorf("warm batch: %d SQL, %d round trips %v; want 0 SQL and 1 MGET", c.sql, c.redis.RoundTrips, c.redis.Commands)
			}
		})

		// With sellers and two levels of categories, each level is one
		// batch: one MGET each, one statement each for its misses, and one
		// write-back each.
		full := `query($ids: [ID!]!) { products(ids: $ids) { id seller { name rating } category { name parent { name } } } }`
		t.Run("cold batch with sellers and categories", func(t *testing.T) {
			c := ts.measure(t, func() { ts.mustQuery(t, full, vars, nil) })
			// MGETs: product, seller, category, parent category. SQL: seller,
			// category, parent category. Leases and write-backs: seller,
			// category, parent.
			if c.sql != 3 || c.redis.Commands["mget"] != 4 || c.redis.Commands["evalsha"] != 6 || c.redis.RoundTrips != 10 {
				t.Errorf("cold full batch: %d SQL, %d round trips %v; want 3 SQL, 4 MGETs, 3 leases, 3 write-backs",
					c.sql, c.redis.RoundTrips, c.redis.Commands)
			}
		})
		t.Run("same full batch warm", func(t *testing.T) {
			c := ts.measure(t, func() { ts.mustQuery(t, full, vars, nil) })
			if c.sql != 0 || c.redis.Commands["mget"] != 4 || c.redis.RoundTrips != 4 {
				t.Errorf("warm full batch: %d SQL, %d round trips %v; want 0 SQL and 4 MGETs", c.sql, c.redis.RoundTrips, c.redis.Commands)
			}
		})
		t.Run("live fields", func(t *testing.T) {
			q := `query($ids: [ID!]!) { products(ids: $ids) { id stock options { id stock } } }`
			c := ts.measure(t, func() { ts.mustQuery(t, q, vars, nil) })
			// one statement for stock and one for options, whatever the count
			if c.sql != 2 || c.redis.RoundTrips != 1 {
				t.Errorf("live fields: %d SQL, %d round trips; want 2 SQL and 1 MGET", c.sql, c.redis.RoundTrips)
			}
		})
	})
}
