package graph_test

import (
	"testing"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
)

// Past its burst, a client's views are acknowledged but not counted; other
// clients still count theirs.
func TestViewRateLimit(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{clientHeader: "X-Real-IP",
		viewLimit: &redisstore.RateLimitOptions{Rate: 0.001, Burst: 3}})
	record := func(client string) int {
		t.Helper()
		var got struct{ RecordView struct{ Hits int } }
		r := ts.queryWithHeader(t, "X-Real-IP", client, `mutation { recordView(productId: "4") { hits } }`, &got)
		if len(r.Errors) > 0 {
			t.Fatalf("recordView from %s: %+v", client, r.Errors)
		}
		return got.RecordView.Hits
	}
	first := record("203.0.113.7")
	var last int
	for range 9 {
		last = record("203.0.113.7")
	}
	if last != first+2 {
		t.Errorf("10 views from one client with a burst of 3: hits went from %d to %d, want +2 (3 counted)", first, last)
	}
	if other := record("198.51.100.9"); other != last+1 {
		t.Errorf("another client's view: hits %d, want %d", other, last+1)
	}
	ts.views.Flush(t.Context())
	var sqlHits int
	if err := ts.db.SQL().QueryRow(`SELECT hits FROM products WHERE id = 4`).Scan(&sqlHits); err != nil {
		t.Fatal(err)
	}
	if sqlHits != last+1 {
		t.Errorf("SQL hits %d after the flush, want %d", sqlHits, last+1)
	}
}

// queryWithHeader posts a query with one extra header.
func (ts *testServer) queryWithHeader(t *testing.T, name, value, q string, data any) gqlResponse {
	t.Helper()
	return ts.queryAsWith(t, map[string]string{name: value}, q, nil, data)
}
