package graph_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"catalog-bff/graph"
	"catalog-bff/loaders"
	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
)

// listPage is products(ids:) of product pages, without live fields.
const listPage = `query List($ids: [ID!]!) { products(ids: $ids) { id name price { amount currency } ` +
	`category { id name parent { id name } } seller { id name } } }`

// askedStore records the product ids each SQL read asks for.
type askedStore struct {
	loaders.Store
	mu    sync.Mutex
	asked [][]int64
}

func (s *askedStore) Documents(ctx context.Context, kind store.Kind, ids []int64) (map[int64]store.Document, error) {
	if kind == store.ProductKind {
		s.mu.Lock()
		s.asked = append(s.asked, slices.Sorted(slices.Values(ids)))
		s.mu.Unlock()
	}
	return s.Store.Documents(ctx, kind, ids)
}

// take returns the reads since the last call.
func (s *askedStore) take() [][]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.asked
	s.asked = nil
	return a
}

// listServer is a server with the response cache and no document cache,
// so that every product a request executes for is read from SQL, and
// recorded.
func listServer(t *testing.T, o serverOptions, rco graph.ResponseCacheOptions) (*testServer, *askedStore) {
	t.Helper()
	asked := &askedStore{}
	o.noCache = true
	o.wrapStore = func(s loaders.Store) loaders.Store { asked.Store = s; return asked }
	ts, _ := cachedServer(t, sqlstore.Postgres, o, rco)
	return ts, asked
}

func idVars(ids ...int) map[string]any {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return map[string]any{"ids": s}
}

// uncached sends q with an Authorization header, which the response cache
// never answers: the oracle of what executing it returns.
func (ts *testServer) uncached(t *testing.T, q string, vars map[string]any) exchange {
	t.Helper()
	return ts.post(t, q, vars, "Authorization", "Bearer reader")
}

// TestResponseCacheListElements: a products(ids:) list is assembled from
// the elements earlier lists left, in the order asked, repeats and absent
// products included, byte for byte what executing it returns; a list with
// misses executes for the missing ids only.
func TestResponseCacheListElements(t *testing.T) {
	ts, asked := listServer(t, serverOptions{}, graph.ResponseCacheOptions{})
	send := func(ids ...int) exchange { return ts.post(t, listPage, idVars(ids...)) }
	mustExecute(t, ts, func() exchange { return send(1, 2, 3) })
	asked.take()
	cases := []struct {
		ids     []int
		execute []int64 // the products read: nil for none
	}{
		{[]int{3, 1, 2}, nil},
		{[]int{2}, nil},
		{[]int{2, 4, 1, 5}, []int64{4, 5}},
		{[]int{5, 5, 3, 5}, nil},
		{[]int{999999, 1}, []int64{999999}},
		{[]int{999999, 4, 999999}, nil},
	}
	for _, c := range cases {
		var e exchange
		if c.execute == nil {
			e = mustHit(t, ts, func() exchange { return send(c.ids...) })
		} else {
			e = send(c.ids...)
		}
		if got := asked.take(); !slices.EqualFunc(got, [][]int64{c.execute}, slices.Equal) && (c.execute != nil || len(got) > 0) {
			t.Fatalf("%v: products read %v, want %v", c.ids, got, c.execute)
		}
		if want := ts.uncached(t, listPage, idVars(c.ids...)); !bytes.Equal(e.body, want.body) || e.status != http.StatusOK {
			t.Fatalf("%v: assembled %d %s\nexecuted %s", c.ids, e.status, e.body, want.body)
		}
		asked.take()
		if e.header.Get("ETag") == "" || !strings.HasPrefix(e.header.Get("Cache-Control"), "public, max-age=") {
			t.Fatalf("%v: ETag %q, Cache-Control %q", c.ids, e.header.Get("ETag"), e.header.Get("Cache-Control"))
		}
	}
	// Over GET, a miss executes the missing ids through the GET transport.
	e := ts.get(t, listPage, idVars(6, 1))
	if got := asked.take(); len(got) != 1 || !slices.Equal(got[0], []int64{6}) {
		t.Fatalf("GET with a miss: products read %v, want [[6]]", got)
	}
	if e.status != http.StatusOK || !bytes.Equal(e.body, ts.uncached(t, listPage, idVars(6, 1)).body) {
		t.Fatalf("GET with a miss: %d %s", e.status, e.body)
	}
	// Over GET, with the ETag a 304.
	first := mustHit(t, ts, func() exchange { return ts.get(t, listPage, idVars(4, 2)) })
	e = mustHit(t, ts, func() exchange { return ts.get(t, listPage, idVars(4, 2), "If-None-Match", first.header.Get("ETag")) })
	if e.status != http.StatusNotModified {
		t.Fatalf("If-None-Match on an assembled list: %d", e.status)
	}
	// Another operation over the same products keeps elements of its own.
	mustExecute(t, ts, func() exchange {
		return ts.post(t, `query($ids: [ID!]!) { products(ids: $ids) { id } }`, idVars(1, 2))
	})
}

// TestResponseCacheListInvalidation: a change to a product, its seller or
// its category drops the elements built from it and no other.
func TestResponseCacheListInvalidation(t *testing.T) {
	ts, _ := cachedServer(t, sqlstore.Postgres, serverOptions{}, graph.ResponseCacheOptions{})
	var p42 page
	ts.uncached(t, detailPage, vars(42)).data(t, &p42)
	other := unrelatedProduct(t, ts, p42)
	o, err := strconv.Atoi(other)
	if err != nil {
		t.Fatal(err)
	}
	send := func(ids ...int) exchange { return ts.post(t, listPage, idVars(ids...)) }
	mustExecute(t, ts, func() exchange { return send(42, o) })
	writes := []struct{ mutation, id, name string }{
		{"updateProduct", "42", "Renamed product"},
		{"updateSeller", p42.Product.Seller.ID, "Renamed seller"},
		{"updateCategory", p42.Product.Category.ID, "Renamed category"},
	}
	for _, w := range writes {
		m := fmt.Sprintf(`mutation($id: ID!, $name: String!) { %s(id: $id, input: {name: $name}) { id } }`, w.mutation)
		if r := ts.admin(t, m, map[string]any{"id": w.id, "name": w.name}, nil); len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", w.mutation, r.Errors)
		}
		mustHit(t, ts, func() exchange { return send(o) })
		if e := mustExecute(t, ts, func() exchange { return send(o, 42) }); !bytes.Contains(e.body, []byte(w.name)) {
			t.Fatalf("after %s, the list does not show %q: %s", w.mutation, w.name, e.body)
		}
		mustHit(t, ts, func() exchange { return send(42, o) })
	}
}

// TestResponseCacheListHits: the view counts of an assembled list are
// read again as a whole response's are, for all its elements in one
// round trip, and a view counted here shows in the next list.
func TestResponseCacheListHits(t *testing.T) {
	ts, _ := cachedServer(t, sqlstore.Postgres, serverOptions{}, graph.ResponseCacheOptions{})
	const q = `query($ids: [ID!]!) { products(ids: $ids) { id hits } }`
	type list struct {
		Products []struct {
			ID   string
			Hits int
		}
	}
	read := func(ids ...int) (list, cost) {
		var l list
		var e exchange
		c := ts.measure(t, func() { e = ts.post(t, q, idVars(ids...)) })
		e.data(t, &l)
		return l, c
	}
	read(7, 8)
	read(9)
	before, _ := read(7, 8, 9)
	for _, id := range []int64{7, 9, 9} {
		if _, err := ts.views.Record(context.Background(), id); err != nil { // another instance
			t.Fatal(err)
		}
	}
	// HitsMaxStaleness 0: every hit reads the counts, of all elements in
	// one call.
	got, c := read(9, 8, 7, 9)
	if c.sql != 0 || c.redis.RoundTrips != 1 {
		t.Fatalf("a hit read %d SQL statements and %d Redis round trips, want 0 and 1", c.sql, c.redis.RoundTrips)
	}
	want := []int{before.Products[2].Hits + 2, before.Products[1].Hits, before.Products[0].Hits + 1, before.Products[2].Hits + 2}
	for i, p := range got.Products {
		if p.Hits != want[i] {
			t.Fatalf("hits %+v, want %v", got.Products, want)
		}
	}
}

// TestResponseCacheListLimits: a list assembled from kept elements is
// refused as executing it would be: over the complexity limit, over 100
// ids, with an invalid id.
func TestResponseCacheListLimits(t *testing.T) {
	t.Run("ids", func(t *testing.T) {
		ts, _ := listServer(t, serverOptions{}, graph.ResponseCacheOptions{})
		mustExecute(t, ts, func() exchange { return ts.post(t, listPage, idVars(1)) })
		mustHit(t, ts, func() exchange { return ts.post(t, listPage, idVars(1, 1)) })
		for _, v := range []map[string]any{idVars(slices.Repeat([]int{1}, 101)...), {"ids": []string{"1", "x"}}} {
			if e := ts.post(t, listPage, v); !bytes.Contains(e.body, []byte(`"code":"BAD_USER_INPUT"`)) {
				t.Fatalf("want BAD_USER_INPUT: %d %s", e.status, e.body)
			}
		}
	})
	// listPage costs 14 an element: a list of 19 is 267, of 20 281.
	ts, _ := listServer(t, serverOptions{limits: graph.Limits{MaxComplexity: 270}}, graph.ResponseCacheOptions{})
	ids := make([]int, 20)
	for i := range ids {
		ids[i] = i + 1
		mustExecute(t, ts, func() exchange { return ts.post(t, listPage, idVars(ids[i])) })
	}
	e := ts.post(t, listPage, idVars(ids[:19]...))
	if e.status != http.StatusOK || bytes.Contains(e.body, []byte(`"errors"`)) {
		t.Fatalf("19 elements: %d %s", e.status, e.body)
	}
	if e := ts.post(t, listPage, idVars(ids...)); !bytes.Contains(e.body, []byte(`"code":"COMPLEXITY_LIMIT_EXCEEDED"`)) {
		t.Fatalf("20 elements: want COMPLEXITY_LIMIT_EXCEEDED: %d %s", e.status, e.body)
	}
}

// TestResponseCacheListLiveFields: a list that asks for a field read live
// is executed whole every time, and answers right.
func TestResponseCacheListLiveFields(t *testing.T) {
	ts, asked := listServer(t, serverOptions{}, graph.ResponseCacheOptions{})
	const q = `query($ids: [ID!]!) { products(ids: $ids) { id stock } }`
	for _, ids := range [][]int{{1, 2}, {2, 3}, {2, 3}} {
		asked.take()
		e := mustExecute(t, ts, func() exchange { return ts.post(t, q, idVars(ids...)) })
		if got := asked.take(); len(got) != 1 || len(got[0]) != len(ids) {
			t.Fatalf("%v: products read %v, want all of them once", ids, got)
		}
		if want := ts.uncached(t, q, idVars(ids...)); !bytes.Equal(e.body, want.body) {
			t.Fatalf("%v: %s, want %s", ids, e.body, want.body)
		}
	}
}

// TestResponseCacheListRefusesElementBuiltAcrossAWrite holds the execution
// of a list's missing element between its SQL read and its response while
// that product is renamed: the list is answered with the old name, the
// element is not kept, and the next list shows the new name.
func TestResponseCacheListRefusesElementBuiltAcrossAWrite(t *testing.T) {
	var armed atomic.Bool
	held, release := make(chan struct{}), make(chan struct{})
	hook := func(_ context.Context, kind store.Kind, ids []int64) {
		if kind == store.ProductKind && slices.Contains(ids, 60) && armed.CompareAndSwap(true, false) {
			close(held)
			<-release
		}
	}
	ts, _ := cachedServer(t, sqlstore.Postgres, serverOptions{afterFetch: hook}, graph.ResponseCacheOptions{})
	send := func(ids ...int) exchange { return ts.post(t, listPage, idVars(ids...)) }
	mustExecute(t, ts, func() exchange { return send(1) })
	armed.Store(true)
	old := make(chan exchange, 1)
	go func() { old <- send(1, 60) }()
	<-held
	m := `mutation { updateProduct(id: "60", input: {name: "Renamed while read"}) { id } }`
	if r := ts.admin(t, m, nil, nil); len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	close(release)
	if e := <-old; bytes.Contains(e.body, []byte("Renamed while read")) || !bytes.Contains(e.body, []byte(`"id":"60"`)) {
		t.Fatalf("the held read: %s; want product 60 with its old name", e.body)
	}
	if e := send(60, 1); !bytes.Contains(e.body, []byte("Renamed while read")) {
		t.Fatalf("read after the write: %s", e.body)
	}
}
