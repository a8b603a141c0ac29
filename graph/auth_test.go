package graph_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"catalog-bff/graph"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// adminMutations are one call of each admin mutation, valid but for auth.
var adminMutations = map[string]string{
	"createProduct":  `mutation { createProduct(input: {name: "X", price: {amount: 1, currency: "EUR"}, sellerId: "1"}) { id } }`,
	"updateProduct":  `mutation { updateProduct(id: "3", input: {name: "X"}) { id } }`,
	"deleteProduct":  `mutation { deleteProduct(id: "3") }`,
	"setStock":       `mutation { setStock(productId: "3", stock: 1) { id } }`,
	"updateSeller":   `mutation { updateSeller(id: "1", input: {name: "X"}) { id } }`,
	"updateCategory": `mutation { updateCategory(id: "9", input: {name: "X"}) { id } }`,
	"aliased in a fragment": `mutation { ...m } fragment m on Mutation { a: updateSeller(id: "1", input: {name: "X"}) { id }
		b: deleteProduct(id: "4") }`,
}

// adminCalls are the admin mutations' fields, valid but for auth.
var adminCalls = map[string]string{
	"createProduct":  `createProduct(input: {name: "X", price: {amount: 1, currency: "EUR"}, sellerId: "1"}) { id }`,
	"updateProduct":  `updateProduct(id: "3", input: {name: "X"}) { id }`,
	"deleteProduct":  `deleteProduct(id: "3")`,
	"setStock":       `setStock(productId: "3", stock: 1) { id }`,
	"updateSeller":   `updateSeller(id: "1", input: {name: "X"}) { id }`,
	"updateCategory": `updateCategory(id: "9", input: {name: "X"}) { id }`,
}

// hiddenAdminMutations hides each admin mutation behind an alias in a named
// fragment, and behind an alias in an inline fragment next to a harmless
// field.
func hiddenAdminMutations() map[string]string {
	out := map[string]string{}
	for name, call := range adminCalls {
		out[name+" aliased in a fragment"] = "mutation { ...m } fragment m on Mutation { innocent: " + call + " }"
		out[name+" aliased in an inline fragment"] = "mutation { __typename ... on Mutation { x: " + call + " } }"
	}
	return out
}

// Without a valid token, no admin mutation runs a single SQL statement or
// touches Redis, however it is hidden.
func TestAdminAuth(t *testing.T) {
	ts := newTestServer(t, sqlstore.Postgres, serverOptions{})
	ts.mustQuery(t, `{ products(ids: ["3", "4"]) { id seller { id } category { id } } }`, nil, nil)
	cases := []struct{ auth, code string }{
		{"", "UNAUTHENTICATED"},
		{"Bearer ", "UNAUTHENTICATED"},
		{"Bearer wrong-token", "FORBIDDEN"},
		{"Bearer " + adminToken + "x", "FORBIDDEN"},
		{"Bearer " + strings.ToUpper(adminToken), "FORBIDDEN"},
		{"Basic " + adminToken, "FORBIDDEN"},
		{adminToken, "FORBIDDEN"},
		{"Bearer public", "FORBIDDEN"},
		{"Bearer pk_live_51HxY2eKq0aPublishableKey", "FORBIDDEN"},
		{"Bearer null", "FORBIDDEN"},
	}
	mutations := hiddenAdminMutations()
	maps.Copy(mutations, adminMutations)
	for name, m := range mutations {
		for _, c := range cases {
			sql0, redis0, snap := ts.db.Statements(), ts.redis.Stats(), sqlSnapshot(t, ts.db)
			r := ts.queryAs(t, c.auth, m, nil, nil)
			for _, code := range r.codes() {
				if code != c.code {
					t.Errorf("%s with %q: codes %v, want %s", name, c.auth, r.codes(), c.code)
					break
				}
			}
			if len(r.Errors) == 0 {
				t.Errorf("%s with %q succeeded", name, c.auth)
			}
			if n, rt := ts.db.Statements()-sql0, ts.redis.Stats().Sub(redis0).RoundTrips; n != 0 || rt != 0 {
				t.Errorf("%s with %q: %d SQL statements and %d Redis round trips, want none", name, c.auth, n, rt)
			}
			if sqlSnapshot(t, ts.db) != snap {
				t.Errorf("%s with %q changed the database", name, c.auth)
			}
		}
	}
}

// A server with no tokens refuses every admin mutation.
func TestAdminDisabled(t *testing.T) {
	// Without ADMIN_TOKENS, only the embedded database outside production
	// makes a token for the run; PostgreSQL refuses.
	ts := newTestServer(t, sqlstore.Postgres, serverOptions{noAdmin: true})
	r := ts.queryAs(t, "Bearer anything", adminMutations["updateSeller"], nil, nil)
	if !slices.Equal(r.codes(), []string{"FORBIDDEN"}) || !strings.Contains(r.Errors[0].Message, "ADMIN_TOKENS") {
		t.Errorf("no tokens configured: %+v", r.Errors)
	}
}

// Every invalid input is BAD_USER_INPUT naming the field, or NOT_FOUND, and
// changes nothing in SQL or Redis.
func TestMutationValidation(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ts := newTestServer(t, d, serverOptions{})
		ts.mustQuery(t, `{ products(ids: ["3", "4"]) { id seller { id } category { id parent { id } } } }`, nil, nil)
		long := strings.Repeat("x", 201)
		img := `{url: "https://img.example.com/a.jpg"}`
		cases := []struct{ name, mutation, code, field string }{
			{"empty name", `createProduct(input: {name: "", price: {amount: 1, currency: "EUR"}, sellerId: "1"}) { id }`, "BAD_USER_INPUT", "name"},
			{"blank name", `updateProduct(id: "3", input: {name: "   "}) { id }`, "BAD_USER_INPUT", "name"},
			{"long name", `updateProduct(id: "3", input: {name: "` + long + `"}) { id }`, "BAD_USER_INPUT", "name"},
			{"null name", `updateProduct(id: "3", input: {name: null}) { id }`, "BAD_USER_INPUT", "name"},
			{"negative price", `updateProduct(id: "3", input: {price: {amount: -1, currency: "EUR"}}) { id }`, "BAD_USER_INPUT", "price.amount"},
			{"bad currency", `updateProduct(id: "3", input: {price: {amount: 1, currency: "EURO"}}) { id }`, "BAD_USER_INPUT", "price.currency"},
			{"unknown currency", `updateProduct(id: "3", input: {price: {amount: 1, currency: "ABC"}}) { id }`, "BAD_USER_INPUT", "price.currency"},
			{"lower-case currency", `updateProduct(id: "3", input: {price: {amount: 1, currency: "eur"}}) { id }`, "BAD_USER_INPUT", "price.currency"},
			{"ftp image", `updateProduct(id: "3", input: {images: [{url: "ftp://x/a.jpg"}]}) { id }`, "BAD_USER_INPUT", "images[0].url"},
			{"script image", `updateProduct(id: "3", input: {images: [` + img + `, {url: "javascript:alert(1)"}]}) { id }`, "BAD_USER_INPUT", "images[1].url"},
			{"21 images", `updateProduct(id: "3", input: {images: [` + strings.Repeat(img+",", 21) + `]}) { id }`, "BAD_USER_INPUT", "images"},
			{"21 tags", `updateProduct(id: "3", input: {tags: [` + strings.Repeat(`"t",`, 21) + `]}) { id }`, "BAD_USER_INPUT", "tags"},
			{"empty tag", `updateProduct(id: "3", input: {tags: ["a", ""]}) { id }`, "BAD_USER_INPUT", "tags[1]"},
			{"null images", `updateProduct(id: "3", input: {images: null}) { id }`, "BAD_USER_INPUT", "images"},
			{"negative stock", `setStock(productId: "3", stock: -1) { id }`, "BAD_USER_INPUT", "stock"},
			{"negative create stock", `createProduct(input: {name: "X", price: {amount: 1, currency: "EUR"}, sellerId: "1", stock: -5}) { id }`, "BAD_USER_INPUT", "stock"},
			{"rating above 5", `updateSeller(id: "1", input: {rating: 5.5}) { id }`, "BAD_USER_INPUT", "rating"},
			{"rating below 0", `updateSeller(id: "1", input: {rating: -0.1}) { id }`, "BAD_USER_INPUT", "rating"},
			{"own parent", `updateCategory(id: "1", input: {parentId: "1"}) { id }`, "BAD_USER_INPUT", "parentId"},
			{"child as parent", `updateCategory(id: "1", input: {parentId: "9"}) { id }`, "BAD_USER_INPUT", "parentId"},
			{"missing parent", `updateCategory(id: "9", input: {parentId: "5000"}) { id }`, "BAD_USER_INPUT", "parentId"},
			{"missing seller", `createProduct(input: {name: "X", price: {amount: 1, currency: "EUR"}, sellerId: "5000"}) { id }`, "BAD_USER_INPUT", "sellerId"},
			{"missing category", `updateProduct(id: "3", input: {categoryId: "5000"}) { id }`, "BAD_USER_INPUT", "categoryId"},
			{"missing seller on update", `updateProduct(id: "3", input: {sellerId: "5000", name: "Y"}) { id }`, "BAD_USER_INPUT", "sellerId"},
			{"update missing product", `updateProduct(id: "5000", input: {name: "X"}) { id }`, "NOT_FOUND", "5000"},
			{"delete missing product", `deleteProduct(id: "5000")`, "NOT_FOUND", "5000"},
			{"stock of missing product", `setStock(productId: "5000", stock: 1) { id }`, "NOT_FOUND", "5000"},
			{"stock of missing option", `setStock(productId: "3", optionId: "999999", stock: 1) { id }`, "NOT_FOUND", "999999"},
			{"update missing seller", `updateSeller(id: "5000", input: {name: "X"}) { id }`, "NOT_FOUND", "5000"},
			{"update missing category", `updateCategory(id: "5000", input: {name: "X"}) { id }`, "NOT_FOUND", "5000"},
			{"bad id", `updateProduct(id: "abc", input: {name: "X"}) { id }`, "BAD_USER_INPUT", "abc"},
			// Text: control characters, invisible names, bidi overrides.
			{"NUL in name", `updateProduct(id: "3", input: {name: "a\u0000b"}) { id }`, "BAD_USER_INPUT", "name"},
			{"NUL in description", `updateProduct(id: "3", input: {description: "a\u0000"}) { id }`, "BAD_USER_INPUT", "description"},
			{"NUL in tag", `updateProduct(id: "3", input: {tags: ["ok", "t\u0000"]}) { id }`, "BAD_USER_INPUT", "tags[1]"},
			{"NUL in alt", `updateProduct(id: "3", input: {images: [{url: "https://img.example.com/a.jpg", alt: "\u0000"}]}) { id }`, "BAD_USER_INPUT", "images[0].alt"},
			{"C1 control in seller name", `updateSeller(id: "1", input: {name: "Acme\u0085"}) { id }`, "BAD_USER_INPUT", "name"},
			{"ANSI escape in category name", `updateCategory(id: "1", input: {name: "\u001b[31mRed"}) { id }`, "BAD_USER_INPUT", "name"},
			{"zero-width name", `updateProduct(id: "3", input: {name: "\u200b\u200b"}) { id }`, "BAD_USER_INPUT", "name"},
			{"format-only name", `updateProduct(id: "3", input: {name: "\u2060\ufeff \u00a0"}) { id }`, "BAD_USER_INPUT", "name"},
			{"right-to-left override", `updateProduct(id: "3", input: {name: "gpj.\u202eexe"}) { id }`, "BAD_USER_INPUT", "name"},
			{"bidi isolate in tag", `updateProduct(id: "3", input: {tags: ["\u2067x"]}) { id }`, "BAD_USER_INPUT", "tags[0]"},
			// Currencies: ISO 4217's no-currency, testing and metal codes.
			{"no-currency code", `updateProduct(id: "3", input: {price: {amount: 1, currency: "XXX"}}) { id }`, "BAD_USER_INPUT", "price.currency"},
			{"testing code", `updateProduct(id: "3", input: {price: {amount: 1, currency: "XTS"}}) { id }`, "BAD_USER_INPUT", "price.currency"},
			{"gold", `updateProduct(id: "3", input: {price: {amount: 1, currency: "XAU"}}) { id }`, "BAD_USER_INPUT", "price.currency"},
			{"withdrawn code", `updateProduct(id: "3", input: {price: {amount: 1, currency: "HRK"}}) { id }`, "BAD_USER_INPUT", "price.currency"},
			// Int is 32-bit.
			{"amount over Int", `updateProduct(id: "3", input: {price: {amount: 2147483648, currency: "EUR"}}) { id }`, "BAD_USER_INPUT", "price.amount"},
			{"stock over Int", `setStock(productId: "3", stock: 2147483648) { id }`, "BAD_USER_INPUT", "stock"},
			{"create stock over Int", `createProduct(input: {name: "X", price: {amount: 1, currency: "EUR"}, sellerId: "1", stock: 9007199254740993}) { id }`, "BAD_USER_INPUT", "stock"},
			// Image URLs, parsed strictly.
			{"space in URL", `updateProduct(id: "3", input: {images: [{url: "https://img.example.com/a b.jpg"}]}) { id }`, "BAD_USER_INPUT", "images[0].url"},
			{"markup in URL", `updateProduct(id: "3", input: {images: [{url: "https://x.example/\"><script>alert(1)</script>"}]}) { id }`, "BAD_USER_INPUT", "images[0].url"},
			{"empty host", `updateProduct(id: "3", input: {images: [{url: "http://:80/a.jpg"}]}) { id }`, "BAD_USER_INPUT", "images[0].url"},
			{"credentials in URL", `updateProduct(id: "3", input: {images: [{url: "https://user:pass@img.example.com/a.jpg"}]}) { id }`, "BAD_USER_INPUT", "images[0].url"},
			{"relative URL", `updateProduct(id: "3", input: {images: [{url: "//img.example.com/a.jpg"}]}) { id }`, "BAD_USER_INPUT", "images[0].url"},
			{"long URL", `updateProduct(id: "3", input: {images: [{url: "https://img.example.com/` + strings.Repeat("a", 2049) + `"}]}) { id }`, "BAD_USER_INPUT", "images[0].url"},
		}
		for _, c := range cases {
			sqlBefore, redisBefore := sqlSnapshot(t, ts.db), ts.redisSnapshot(t)
			r := ts.admin(t, "mutation { "+c.mutation+" }", nil, nil)
			if !slices.Equal(r.codes(), []string{c.code}) {
				t.Errorf("%s: codes %v (%+v), want [%s]", c.name, r.codes(), r.Errors, c.code)
				continue
			}
			if !strings.Contains(r.Errors[0].Message, c.field) {
				t.Errorf("%s: message %q does not name %s", c.name, r.Errors[0].Message, c.field)
			}
			if sqlSnapshot(t, ts.db) != sqlBefore {
				t.Errorf("%s: the database changed", c.name)
			}
			if ts.redisSnapshot(t) != redisBefore {
				t.Errorf("%s: Redis changed", c.name)
			}
		}
	})
}

// Every mutation but recordView is marked @admin in the schema, and is in
// adminCalls, so that TestAdminAuth covers it: a new mutation cannot be
// added without its check, or without its test.
func TestEveryAdminMutationMarked(t *testing.T) {
	for _, f := range graph.NewExecutableSchema(graph.Config{}).Schema().Mutation.Fields {
		if strings.HasPrefix(f.Name, "__") || f.Name == "recordView" {
			continue
		}
		if f.Directives.ForName("admin") == nil {
			t.Errorf("mutation %s is not marked @admin", f.Name)
		}
		if _, ok := adminCalls[f.Name]; !ok {
			t.Errorf("mutation %s is not in adminCalls, so no test checks its auth", f.Name)
		}
	}
}
