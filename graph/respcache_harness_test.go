package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"catalog-bff/graph"
	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
)

// fakeFeed is an invalidation feed driven by the test: the writes the test
// server announces, and resets and outages the test calls for.
type fakeFeed struct {
	mu     sync.Mutex
	inv    []func(kind store.Kind, id int64)
	resets []func()
	seq    atomic.Uint64
	down   atomic.Bool
}

var _ graph.InvalidationFeed = (*fakeFeed)(nil)

func (f *fakeFeed) Subscribe(onInvalidate func(store.Kind, int64), onReset func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inv, f.resets = append(f.inv, onInvalidate), append(f.resets, onReset)
}

func (f *fakeFeed) Seq() uint64 { return f.seq.Load() }
func (f *fakeFeed) Live() bool  { return !f.down.Load() }

// invalidate announces a changed document, as a write anywhere would.
func (f *fakeFeed) invalidate(kind store.Kind, id int64) {
	f.seq.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, cb := range f.inv {
		cb(kind, id)
	}
}

// reset announces that invalidations may have been missed.
func (f *fakeFeed) reset() {
	f.seq.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, cb := range f.resets {
		cb()
	}
}

// announce is serverOptions.invalidated for f.
func (f *fakeFeed) announce(invs []store.Invalidation) {
	for _, inv := range invs {
		f.invalidate(inv.Kind, inv.ID)
	}
}

// cachedServer is a test server with a response cache over a fake feed
// that writes through the server announce to.
func cachedServer(t testing.TB, d sqlstore.Dialect, o serverOptions, rco graph.ResponseCacheOptions) (*testServer, *fakeFeed) {
	t.Helper()
	feed := &fakeFeed{}
	rco.Feed = feed
	o.responseCache, o.invalidated = &rco, feed.announce
	return newTestServer(t, d, o), feed
}

// exchange is one HTTP request and its response, body read.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

// post sends q as a JSON POST with the given headers.
func (ts *testServer) post(t *testing.T, q string, vars map[string]any, headers ...string) exchange {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	req, _ := http.NewRequest("POST", ts.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return ts.do(t, req, headers)
}

// get sends q as a GET with the given headers.
func (ts *testServer) get(t *testing.T, q string, vars map[string]any, headers ...string) exchange {
	t.Helper()
	v := url.Values{"query": {q}}
	if vars != nil {
		b, _ := json.Marshal(vars)
		v.Set("variables", string(b))
	}
	return ts.getValues(t, v, headers...)
}

// getValues sends a GET of the given parameters.
func (ts *testServer) getValues(t *testing.T, v url.Values, headers ...string) exchange {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.url+"?"+v.Encode(), nil)
	return ts.do(t, req, headers)
}

func (ts *testServer) do(t *testing.T, req *http.Request, headers []string) exchange {
	t.Helper()
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return exchange{status: res.StatusCode, header: res.Header, body: body}
}

// data decodes the exchange's data into v, failing on any error.
func (e exchange) data(t *testing.T, v any) {
	t.Helper()
	var r gqlResponse
	if err := json.Unmarshal(e.body, &r); err != nil || len(r.Errors) > 0 || e.status != http.StatusOK {
		t.Fatalf("response %d: %s", e.status, e.body)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to 10 s: for a bound the code promises to
// meet long before, on a machine of any load.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("still not %s after 10s", what)
		}
	}
}
