package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"catalog-bff/graph"
	"catalog-bff/store/sqlstore"
)

// TestResponseCacheAuthorization: a request with a token is never
// answered from the cache, nor kept by any HTTP cache.
func TestResponseCacheAuthorization(t *testing.T) {
	ts, _ := cachedServer(t, sqlstore.SQLite, serverOptions{}, graph.ResponseCacheOptions{})
	send := func() exchange { return ts.get(t, detailPage, vars(9)) }
	mustExecute(t, ts, send)
	mustHit(t, ts, send)
	for _, auth := range []string{"Bearer " + adminToken, "Bearer wrong"} {
		e := mustExecute(t, ts, func() exchange { return ts.get(t, detailPage, vars(9), "Authorization", auth) })
		if cc, etag := e.header.Get("Cache-Control"), e.header.Get("ETag"); cc != "private, no-store" || etag != "" {
			t.Fatalf("with Authorization: Cache-Control %q, ETag %q; want private, no-store and none", cc, etag)
		}
	}
}

// TestResponseCacheHTTP: ETag, Cache-Control and 304 over GET, POST and
// automatic persisted queries.
func TestResponseCacheHTTP(t *testing.T) {
	ts, _ := cachedServer(t, sqlstore.Postgres, serverOptions{persisted: true}, graph.ResponseCacheOptions{MaxAge: 5 * time.Second, MaxStaleness: 5 * time.Second})
	send := func(h ...string) exchange { return ts.get(t, detailPage, vars(11), h...) }
	first := send()
	etag := first.header.Get("ETag")
	// An entry lives 80 to 100 % of MaxAge, so that entries stored together
	// do not expire together: 4 to 5 s.
	cc := first.header.Get("Cache-Control")
	if !strings.HasPrefix(etag, `"`) || (cc != "public, max-age=4" && cc != "public, max-age=5") || first.header.Get("Vary") == "" {
		t.Fatalf("first GET: ETag %q, Cache-Control %q, Vary %q", etag, first.header.Get("Cache-Control"), first.header.Get("Vary"))
	}
	second := mustHit(t, ts, func() exchange { return send() })
	if second.header.Get("ETag") != etag || !strings.HasPrefix(second.header.Get("Cache-Control"), "public, max-age=") {
		t.Fatalf("hit: ETag %q, Cache-Control %q", second.header.Get("ETag"), second.header.Get("Cache-Control"))
	}
	notModified := mustHit(t, ts, func() exchange { return send("If-None-Match", `"other", `+etag) })
	if notModified.status != http.StatusNotModified || len(notModified.body) != 0 {
		t.Fatalf("If-None-Match: %d %q, want 304 and no body", notModified.status, notModified.body)
	}
	if e := send("If-None-Match", `"other"`); e.status != http.StatusOK || !bytes.Equal(e.body, first.body) {
		t.Fatalf("another ETag: %d %s", e.status, e.body)
	}
	// The same operation over POST shares the entry.
	if e := mustHit(t, ts, func() exchange { return ts.post(t, detailPage, vars(11)) }); e.header.Get("ETag") != etag {
		t.Fatalf("POST: ETag %q, want %q", e.header.Get("ETag"), etag)
	}
	if e := ts.post(t, `{ product(id: "11") { stock } }`, nil); e.header.Get("Cache-Control") != "no-store" || e.header.Get("ETag") != "" {
		t.Fatalf("uncacheable POST: Cache-Control %q, ETag %q", e.header.Get("Cache-Control"), e.header.Get("ETag"))
	}
	testPersistedGET(t, ts)
}

// testPersistedGET: a persisted query sent by its hash alone is answered
// from the cache, without reading the query from Redis.
func testPersistedGET(t *testing.T, ts *testServer) {
	q := `query Other($id: ID!) { product(id: $id) { id name } }`
	ext, _ := json.Marshal(apq(sha(q)))
	v := url.Values{"variables": {`{"id":"12"}`}, "extensions": {string(ext)}}
	if e := ts.getValues(t, v); !bytes.Contains(e.body, []byte("PERSISTED_QUERY_NOT_FOUND")) {
		t.Fatalf("unknown hash: %s", e.body)
	}
	full := url.Values{"query": {q}, "variables": v["variables"], "extensions": v["extensions"]}
	stored := mustExecute(t, ts, func() exchange { return ts.getValues(t, full) })
	byHash := mustHit(t, ts, func() exchange { return ts.getValues(t, v) })
	if !bytes.Equal(byHash.body, stored.body) || byHash.header.Get("ETag") != stored.header.Get("ETag") || byHash.header.Get("ETag") == "" {
		t.Fatalf("by hash: %s %q; stored: %s %q", byHash.body, byHash.header.Get("ETag"), stored.body, stored.header.Get("ETag"))
	}
}

// TestResponseCacheTelemetry: the cache's results are counted, hits in
// the request metrics too, and a hit's response has no extensions.cost.
func TestResponseCacheTelemetry(t *testing.T) {
	ts, _ := cachedServer(t, sqlstore.SQLite, serverOptions{telemetry: true}, graph.ResponseCacheOptions{})
	send := func() exchange { return ts.post(t, detailPage, vars(13)) }
	miss, hit := send(), send()
	if !bytes.Contains(miss.body, []byte(`"cost":{`)) {
		t.Fatalf("executed response without extensions.cost: %s", miss.body)
	}
	if bytes.Contains(hit.body, []byte(`"extensions"`)) {
		t.Fatalf("cached response with extensions: %s", hit.body)
	}
	if miss.header.Get("ETag") == hit.header.Get("ETag") {
		t.Fatal("the executed and cached bodies differ by their cost, but not their ETags")
	}
	ts.get(t, detailPage, vars(13), "Authorization", "Bearer x")
	ts.post(t, `{ product(id: "13") { stock } }`, nil)
	s := ts.scrapeMetrics(t)
	for result, want := range map[string]float64{"hit": 1, "miss": 1, "bypass": 1, "uncacheable": 1} {
		if got := s.value("catalog_response_cache_requests_total", "result", result); got != want {
			t.Errorf("%s: %v, want %v", result, got, want)
		}
	}
	if got := s.value("catalog_graphql_requests_total", "operation", "Page", "code", "OK"); got != 3 {
		t.Errorf("Page requests counted: %v, want 3 (miss, hit, bypass)", got)
	}
	if got := s.value("catalog_graphql_request_duration_seconds", "operation", "Page"); got != 3 {
		t.Errorf("Page durations observed: %v, want 3", got)
	}
}
