package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"catalog-bff/graph"
	"catalog-bff/store"
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
	storetest.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
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
	storetest.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
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
	ts, feed := cachedServer(t, store.Postgres, serverOptions{}, graph.ResponseCacheOptions{})
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
	ts, _ := cachedServer(t, store.SQLite, serverOptions{}, graph.ResponseCacheOptions{HitsMaxStaleness: time.Minute})
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

const hitsQuery = `query($id: ID!) { product(id: $id) { id hits } }`

func hitsOf(t *testing.T, e exchange) int {
	t.Helper()
	var v struct{ Product struct{ Hits int } }
	e.data(t, &v)
	return v.Product.Hits
}

// TestResponseCacheHits: a view counted here shows at once; one counted
// elsewhere shows within HitsMaxStaleness.
func TestResponseCacheHits(t *testing.T) {
	const staleness = time.Second
	ts, _ := cachedServer(t, store.Postgres, serverOptions{}, graph.ResponseCacheOptions{HitsMaxStaleness: staleness})
	send := func() exchange { return ts.get(t, hitsQuery, vars(42)) }
	h0 := hitsOf(t, send())
	e := send()
	if got := hitsOf(t, e); got != h0 {
		t.Fatalf("hits %d, want %d", got, h0)
	}
	if cc := e.header.Get("Cache-Control"); cc != "public, max-age=0" && cc != "public, max-age=1" {
		t.Fatalf("Cache-Control %q, want a max-age of at most 1 s", cc)
	}
	var v struct{ RecordView struct{ Hits int } }
	ts.post(t, `mutation { recordView(productId: "42") { hits } }`, nil).data(t, &v)
	if got := hitsOf(t, send()); got != h0+1 || v.RecordView.Hits != h0+1 {
		t.Fatalf("after a view here, hits %d (recordView said %d), want %d", got, v.RecordView.Hits, h0+1)
	}
	mustHit(t, ts, send)
	// A view counted by another instance: only the staleness bound
	// brings it.
	if _, err := ts.views.Record(context.Background(), 42); err != nil {
		t.Fatal(err)
	}
	time.Sleep(staleness + 50*time.Millisecond)
	// The entry stays: only its count is read again, in one round trip.
	c := ts.measure(t, func() { e = send() })
	if got := hitsOf(t, e); got != h0+2 || c.sql != 0 || c.redis.RoundTrips != 1 {
		t.Fatalf("%v after a view elsewhere, hits %d with %d SQL and %d Redis round trips, want %d with 0 and 1",
			staleness, got, c.sql, c.redis.RoundTrips, h0+2)
	}
	mustHit(t, ts, send)
}

// TestResponseCacheHitsSpliced: with HitsMaxStaleness 0 a response with
// view counts is still answered from the cache, its counts read again on
// every hit in one Redis round trip and no SQL, so that a view counted
// anywhere shows on the next request. A list that shows a product twice
// shows its count twice.
func TestResponseCacheHitsSpliced(t *testing.T) {
	tally := &rcTally{}
	ts, _ := cachedServer(t, store.Postgres, serverOptions{}, graph.ResponseCacheOptions{Observer: tally})
	const list = `query($ids: [ID!]!) { products(ids: $ids) { id name hits } again: product(id: "8") { hits } }`
	ids := map[string]any{"ids": []string{"8", "9", "8"}}
	type page struct {
		Products []struct {
			ID   string
			Hits int
		}
		Again struct{ Hits int }
	}
	read := func(e exchange) page {
		var p page
		e.data(t, &p)
		return p
	}
	first := read(mustExecute(t, ts, func() exchange { return ts.post(t, list, ids) }))
	for round := range 3 {
		// Views counted by another instance: nothing here hears of them.
		for range round + 1 {
			if _, err := ts.views.Record(context.Background(), 8); err != nil {
				t.Fatal(err)
			}
		}
		hits := tally.hits.Load()
		var e exchange
		c := ts.measure(t, func() { e = ts.post(t, list, ids) })
		if tally.hits.Load() != hits+1 || c.sql != 0 || c.redis.RoundTrips != 1 {
			t.Fatalf("round %d: cache hits %d → %d, %d SQL, %d Redis round trips; want a hit, no SQL and one round trip",
				round, hits, tally.hits.Load(), c.sql, c.redis.RoundTrips)
		}
		got, want8 := read(e), first.Products[0].Hits+(round+1)*(round+2)/2
		if got.Products[0].Hits != want8 || got.Products[2].Hits != want8 || got.Again.Hits != want8 ||
			got.Products[1].Hits != first.Products[1].Hits {
			t.Fatalf("round %d: %+v, want product 8 at %d everywhere and 9 at %d", round, got, want8, first.Products[1].Hits)
		}
	}
	// The other responses are served as stored.
	send := func() exchange { return ts.post(t, detailPage, vars(5)) }
	mustExecute(t, ts, send)
	mustHit(t, ts, send)
}

// TestResponseCacheAbsentThenCreated: a cached "no such product" goes
// when the product is created.
func TestResponseCacheAbsentThenCreated(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
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

// TestResponseCacheNoStaleReadUnderLoad: readers query a product while it
// is renamed again and again, on its page and in products(ids:) lists
// assembled from elements; a read that starts after a rename returned
// never shows an older name, whether it hits the cache or races a store.
func TestResponseCacheNoStaleReadUnderLoad(t *testing.T) {
	reads := map[string]func(ts *testServer, n int) (exchange, func(data []byte) (string, error)){
		"page": func(ts *testServer, _ int) (exchange, func([]byte) (string, error)) {
			return ts.post(t, detailPage, vars(42)), func(data []byte) (string, error) {
				var p page
				err := json.Unmarshal(data, &p)
				return p.Product.Name, err
			}
		},
		"list": func(ts *testServer, n int) (exchange, func([]byte) (string, error)) {
			return ts.post(t, listPage, idVars(n%5+1, 42)), func(data []byte) (string, error) {
				var l struct{ Products []struct{ Name string } }
				if err := json.Unmarshal(data, &l); err != nil || len(l.Products) != 2 {
					return "", fmt.Errorf("not a list of 2: %v", err)
				}
				return l.Products[1].Name, nil
			}
		},
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts, _ := cachedServer(t, store.Postgres, serverOptions{wait: time.Millisecond}, graph.ResponseCacheOptions{})
			testNoStaleRead(t, ts, read)
			if n, _ := ts.rc.Size(); name == "page" && n != 1 {
				t.Errorf("%d entries, want 1", n)
			}
		})
	}
}

func testNoStaleRead(t *testing.T, ts *testServer, read func(ts *testServer, n int) (exchange, func([]byte) (string, error))) {
	const renames = 8
	var done atomic.Int64 // renames returned
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				floor := done.Load()
				e, nameOf := read(ts, n)
				var r struct{ Data json.RawMessage }
				if err := json.Unmarshal(e.body, &r); err != nil {
					t.Errorf("response %d: %s", e.status, e.body)
					return
				}
				name, err := nameOf(r.Data)
				if err != nil {
					t.Errorf("response %d: %s: %v", e.status, e.body, err)
					return
				}
				var v int64
				_, _ = fmt.Sscanf(name, "name %d", &v) // a name written by no writer reads as 0
				if v < floor {
					t.Errorf("read started after rename %d shows %q", floor, name)
				}
			}
		})
	}
	for i := int64(1); i <= renames; i++ {
		m := `mutation($name: String!) { updateProduct(id: "42", input: {name: $name}) { id } }`
		if r := ts.admin(t, m, map[string]any{"name": fmt.Sprintf("name %d", i)}, nil); len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
		done.Store(i)
		time.Sleep(20 * time.Millisecond) // let readers fill the cache again
	}
	close(stop)
	wg.Wait()
}

// TestResponseCacheRefusesResponseBuiltAcrossAWrite holds a reader
// between its SQL read of a product and its response while the product is
// renamed: its response, with the old name, is sent but not stored, and
// the next read shows the new name.
func TestResponseCacheRefusesResponseBuiltAcrossAWrite(t *testing.T) {
	var armed atomic.Bool
	held, release := make(chan struct{}), make(chan struct{})
	hook := func(_ context.Context, kind store.Kind, ids []int64) {
		if kind == "product" && slices.Contains(ids, 60) && armed.CompareAndSwap(true, false) {
			close(held)
			<-release
		}
	}
	ts, _ := cachedServer(t, store.Postgres, serverOptions{afterFetch: hook}, graph.ResponseCacheOptions{})
	send := func() exchange { return ts.post(t, detailPage, vars(60)) }
	armed.Store(true)
	old := make(chan exchange, 1)
	go func() { old <- send() }()
	<-held
	m := `mutation { updateProduct(id: "60", input: {name: "Renamed while read"}) { id } }`
	if r := ts.admin(t, m, nil, nil); len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	close(release)
	if e := <-old; bytes.Contains(e.body, []byte("Renamed while read")) || e.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the held read: %s, Cache-Control %q; want the old name, not stored", e.body, e.header.Get("Cache-Control"))
	}
	if e := send(); !bytes.Contains(e.body, []byte("Renamed while read")) {
		t.Fatalf("read after the write: %s", e.body)
	}
}

// A response the cache answers passes before the bound on requests in
// flight: with the one place taken by a page that executes, a cached page
// is answered and a page that must execute is refused.
func TestResponseCacheHitsPassTheInflightBound(t *testing.T) {
	release, held := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := func(_ context.Context, kind store.Kind, ids []int64) {
		if kind == "product" && slices.Contains(ids, 43) {
			once.Do(func() { close(held); <-release })
		}
	}
	ts, _ := cachedServer(t, store.SQLite, serverOptions{afterFetch: hold,
		overload: graph.OverloadOptions{MaxInflight: 1}}, graph.ResponseCacheOptions{})
	first := mustExecute(t, ts, func() exchange { return ts.post(t, detailPage, vars(42)) })
	done := make(chan exchange)
	go func() { done <- ts.post(t, detailPage, vars(43)) }()
	<-held // 43 executes and holds the only place
	hit := ts.post(t, detailPage, vars(42))
	refused := ts.post(t, detailPage, vars(44))
	close(release)
	if e := <-done; e.status != http.StatusOK {
		t.Errorf("the page holding the place: %d %s", e.status, e.body)
	}
	if hit.status != http.StatusOK || !bytes.Equal(hit.body, first.body) {
		t.Errorf("cached page while the place was taken: %d %s, want 200 and the cached body", hit.status, hit.body)
	}
	if refused.status != http.StatusServiceUnavailable || !strings.Contains(string(refused.body), graph.CodeOverloaded) {
		t.Errorf("page to execute while the place was taken: %d %s, want 503 %s", refused.status, refused.body, graph.CodeOverloaded)
	}
}
