package graph_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/introspection"

	"catalog-bff/graph"
	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// readmeQuery is the query README gives to paste into the playground.
const readmeQuery = `{
  product(id: "42") {
    id name description
    price { amount currency }
    images { url alt }
    tags
    category { name parent { name } }
    seller { name rating }
    options { name priceDelta stock }
    stock
    hits
  }
  products(ids: ["1", "2", "999999", "1"]) { id name }
  categoryProducts(categoryId: "9", first: 5) {
    edges { cursor node { id name createdAt } }
    pageInfo { hasNextPage endCursor }
  }
}`

// fullPage selects every field of 100 products: the largest page the
// product pages ask for.
const fullPage = `query($ids: [ID!]!) { products(ids: $ids) {
	id name description price { amount currency } images { url alt } tags
	category { id name parent { id name } } seller { id name rating }
	options { id name priceDelta stock } stock hits createdAt updatedAt } }`

// What the product pages send passes every default limit, in production.
func TestLegitimateQueriesPass(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{production: true})
	ts.mustQuery(t, readmeQuery, nil, nil)
	ts.mustQuery(t, fullPage, map[string]any{"ids": idList(100)}, nil)
	ts.mustQuery(t, `{ categoryProducts(categoryId: "9", first: 100) { edges { cursor node {
		id name price { amount currency } images { url } seller { name } category { name parent { name } } stock } }
		pageInfo { hasNextPage endCursor } } }`, nil, nil)
	ts.mustQuery(t, aliases(30), nil, nil)
	ts.mustQuery(t, nested(8), nil, nil)
}

// In development, introspection works (the playground's full query passes
// the depth limit) and validation errors suggest the field meant.
func TestDevelopmentMode(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{})
	var data struct {
		Schema struct{ Types []struct{ Name string } } `json:"__schema"`
	}
	ts.mustQuery(t, introspection.Query, nil, &data)
	if !slices.ContainsFunc(data.Schema.Types, func(t struct{ Name string }) bool { return t.Name == "Product" }) {
		t.Errorf("introspection lists no Product type")
	}
	// The hostile cases check that production leaves these suggestions out.
	for q, want := range map[string]string{
		`{ product(id: "1") { nme } }`:         `Did you mean "name"?`,
		`{ product(idd: "1") { id } }`:         `Did you mean "id"?`,
		`{ ...f } fragment f on Prodct { id }`: `Did you mean "Product"?`,
	} {
		r := ts.query(t, q, nil, nil)
		if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, want) {
			t.Errorf("development, %s: %+v, want %s", q, r.Errors, want)
		}
	}
}

// Each limit is configurable; an operation exactly at a limit passes, one
// past it is refused.
func TestLimitsConfigurable(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{limits: graph.Limits{
		MaxDepth: 3, MaxAliases: 2, MaxComplexity: 40, MaxTokens: 40, MaxBodyBytes: 300}})
	cases := []struct{ ok, over, code string }{
		{`{ category(id: "9") { parent { id } } }`, `{ category(id: "9") { parent { parent { id } } } }`, graph.CodeQueryTooDeep},
		{`{ a: seller(id: "1") { id } b: seller(id: "2") { id } }`,
			`{ a: seller(id: "1") { id } b: seller(id: "2") { id } c: seller(id: "3") { id } }`, graph.CodeTooManyAliases},
		{`{ products(ids: ["1", "2", "3"]) { id name seller { id name rating } } }`, // 1 + 3 × 6
			`{ products(ids: ["1", "2", "3", "4", "5", "6", "7"]) { id name seller { id name rating } } }`, graph.CodeComplexity},
		{`{ product(id: "1") { ` + strings.Repeat("id ", 30) + `} }`, `{ product(id: "1") { ` + strings.Repeat("id ", 31) + `} }`,
			graph.CodeTooManyTokens}, // 10 tokens + one per id
	}
	for _, c := range cases {
		if r := ts.query(t, c.ok, nil, nil); len(r.Errors) > 0 {
			t.Errorf("%s: %+v, want no error", c.ok, r.Errors)
		}
		if r := ts.query(t, c.over, nil, nil); !slices.Equal(r.codes(), []string{c.code}) {
			t.Errorf("%s: codes %v, want %s", c.over, r.codes(), c.code)
		}
	}
	body := `{"query":"{ product(id: \"1\") { id } }","variables":{"pad":"` + strings.Repeat("x", 300) + `"}}`
	if r := ts.send(t, postBody("application/json", body)(ts.url)); r.status != 413 {
		t.Errorf("body of %d bytes over a limit of 300: status %d", len(body), r.status)
	}
}

// A client sends a hash; on PERSISTED_QUERY_NOT_FOUND it sends the query
// with the hash, which stores it; later the hash alone runs it. A query that
// fails a limit is never stored, and a stored mutation does not run over GET.
func TestPersistedQueries(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{persisted: true, production: true})
	q := `{ product(id: "7") { id } }`
	ts.mustQuery(t, q, nil, nil) // cached, so that each step reads it with one cache read
	hashOnly := postJSON(map[string]any{"extensions": apq(sha(q))})
	steps := []struct {
		name  string
		req   hostileRequest
		code  string
		redis map[string]int64
	}{
		{"hash, not yet stored", hashOnly, "PERSISTED_QUERY_NOT_FOUND", map[string]int64{"get": 1}},
		{"query with its hash", postJSON(map[string]any{"query": q, "extensions": apq(sha(q))}), "", map[string]int64{"set": 1, "evalsha": 1}},
		{"hash alone", hashOnly, "", map[string]int64{"get": 1, "evalsha": 1}},
		{"hash alone over GET", getQuery(url.Values{"extensions": {`{"persistedQuery":{"version":1,"sha256Hash":"` + sha(q) + `"}}`}}),
			"", map[string]int64{"get": 1, "evalsha": 1}},
		{"too deep a query with its hash", postJSON(map[string]any{"query": nested(12), "extensions": apq(sha(nested(12)))}),
			graph.CodeQueryTooDeep, map[string]int64{}},
		{"its hash alone: never stored", postJSON(map[string]any{"extensions": apq(sha(nested(12)))}),
			"PERSISTED_QUERY_NOT_FOUND", map[string]int64{"get": 1}},
	}
	for _, s := range steps {
		var r reply
		cost := ts.measure(t, func() { r = ts.send(t, s.req(ts.url)) })
		if code := strings.Join(r.codes(), ","); code != s.code {
			t.Errorf("%s: codes %q, want %q: %s", s.name, code, s.code, r.raw)
		}
		if s.code == "" && !bytes.Contains(r.raw, []byte(`"id":"7"`)) {
			t.Errorf("%s: %s", s.name, r.raw)
		}
		if !equalCounts(cost.redis.Commands, s.redis) {
			t.Errorf("%s: Redis commands %v, want %v", s.name, cost.redis.Commands, s.redis)
		}
	}
	m := `mutation { deleteProduct(id: "7") }`
	ts.send(t, postJSON(map[string]any{"query": m, "extensions": apq(sha(m))})(ts.url)) // stored, refused: no token
	r := ts.send(t, getQuery(url.Values{"extensions": {`{"persistedQuery":{"version":1,"sha256Hash":"` + sha(m) + `"}}`}})(ts.url))
	if !slices.Equal(r.codes(), []string{graph.CodeMethodNotAllowed}) {
		t.Errorf("stored mutation over GET: %s", r.raw)
	}
}

func equalCounts(got, want map[string]int64) bool {
	for k, n := range got {
		if want[k] != n {
			return false
		}
	}
	return len(got) == len(want)
}

// Pages of the allowed origins may call the endpoint; other pages get no
// CORS headers, so their browser neither sends a JSON post nor shows them a
// reply. Credentials are never allowed.
func TestCORS(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{cors: []string{"https://shop.example.com"}})
	closed := newTestServer(t, sqlstore.SQLite, serverOptions{})
	preflight := func(base, origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", base, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	cases := []struct {
		base, origin, allow string
	}{
		{ts.url, "https://shop.example.com", "https://shop.example.com"},
		{ts.url, "https://evil.example.net", ""},
		{ts.url, "null", ""},
		{closed.url, "https://shop.example.com", ""},
	}
	for _, c := range cases {
		res := preflight(c.base, c.origin)
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != c.allow || res.StatusCode >= 300 {
			t.Errorf("preflight from %s: %d, allow-origin %q, want %q", c.origin, res.StatusCode, got, c.allow)
		}
		if res.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight from %s allows credentials", c.origin)
		}
	}
	req := postQuery(`{ product(id: "1") { id } }`)(ts.url)
	req.Header.Set("Origin", "https://shop.example.com")
	r := ts.send(t, req)
	if r.header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" ||
		!strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
		t.Errorf("actual request from an allowed origin: headers %v", r.header)
	}
}

// failingLister fails as a database would, with text that must not reach
// clients.
type failingLister struct{}

func (failingLister) CategoryProductIDs(context.Context, int64, int, *store.ListingKey) ([]store.ListingKey, bool, error) {
	return nil, false, errors.New(`pq: relation "products" does not exist at 10.0.0.7`)
}

// An internal error reaches the client as INTERNAL with the request id, and
// the log line with the detail carries the same id.
func TestInternalErrorCarriesRequestID(t *testing.T) {
	var logs storetest.LogBuffer
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{production: true, log: &logs, lister: failingLister{}})
	req := postQuery(`{ categoryProducts(categoryId: "9") { edges { cursor } } }`)(ts.url)
	req.Header.Set("X-Request-ID", "req-abc-123")
	r := ts.send(t, req)
	if !slices.Equal(r.codes(), []string{"INTERNAL"}) || r.Errors[0].Extensions["requestId"] != "req-abc-123" ||
		!strings.Contains(r.Errors[0].Message, "req-abc-123") || bytes.Contains(r.raw, []byte("relation")) {
		t.Errorf("reply %s", r.raw)
	}
	if got := r.header.Get("X-Request-ID"); got != "req-abc-123" {
		t.Errorf("X-Request-ID %q", got)
	}
	if l := logs.String(); !strings.Contains(l, `"request_id":"req-abc-123"`) || !strings.Contains(l, "relation") {
		t.Errorf("log: %s", l)
	}
}
