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
	"catalog-bff/store/sqlstore"
)

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
			ts, _ := cachedServer(t, sqlstore.Postgres, serverOptions{wait: time.Millisecond}, graph.ResponseCacheOptions{})
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
	ts, _ := cachedServer(t, sqlstore.Postgres, serverOptions{afterFetch: hook}, graph.ResponseCacheOptions{})
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
	ts, _ := cachedServer(t, sqlstore.SQLite, serverOptions{afterFetch: hold,
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
