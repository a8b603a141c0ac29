package graph_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// scrape is one read of /metrics.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics reads ts's /metrics, and fails t if the text breaks the
// Prometheus naming conventions (promlint).
func (ts *testServer) scrapeMetrics(t *testing.T) scrape {
	t.Helper()
	res, err := http.Get(ts.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, body)
	}
	problems, err := promlint.New(strings.NewReader(string(body))).Lint()
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %+v", err, problems)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// value returns the value of the series of name with the given label
// pairs: a counter's or gauge's value, a histogram's sample count. It is
// NaN when there is no such series.
func (s scrape) value(name string, labels ...string) float64 {
	f := s[name]
	if f == nil {
		return math.NaN()
	}
	for _, m := range f.GetMetric() {
		if hasLabels(m, labels) {
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return math.NaN()
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if have[pairs[i]] != pairs[i+1] {
			return false
		}
	}
	return len(have) == len(pairs)/2
}

// expect checks series values: name, label pairs…, want.
func (s scrape) expect(t *testing.T, checks ...[]any) {
	t.Helper()
	for _, c := range checks {
		name, want := c[0].(string), c[len(c)-1].(float64)
		var labels []string
		for _, l := range c[1 : len(c)-1] {
			labels = append(labels, l.(string))
		}
		if got := s.value(name, labels...); got != want {
			t.Errorf("%s%v = %v, want %v", name, labels, got, want)
		}
	}
}

func series(name string, rest ...any) []any { return append([]any{name}, rest...) }

// After known traffic, /metrics holds the counts it caused: cache results
// per type, batches, SQL and Redis calls, GraphQL responses by operation
// name and code, the breaker, fence and outbox, and the view counter.
func TestMetricsAfterKnownTraffic(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ts := newTestServer(t, d, serverOptions{telemetry: true})
		page := `query ProductPage($id: ID!) { product(id: $id) { id name } }`
		ts.mustQuery(t, page, map[string]any{"id": "5"}, nil) // cold
		ts.mustQuery(t, page, map[string]any{"id": "5"}, nil) // warm

		m := ts.scrapeMetrics(t)
		m.expect(t,
			series("catalog_cache_requests_total", "type", "product", "result", "miss", 1.0),
			series("catalog_cache_requests_total", "type", "product", "result", "hit", 1.0),
			series("catalog_loader_batch_size", "loader", "product", 2.0),
			series("catalog_sql_duration_seconds", "op", "SELECT products", 1.0),
			series("catalog_redis_duration_seconds", "command", "evalsha", 3.0), // 2 reads, 1 write-back
			series("catalog_graphql_requests_total", "operation", "ProductPage", "code", "OK", 2.0),
			series("catalog_graphql_request_duration_seconds", "operation", "ProductPage", 2.0),
			series("catalog_redis_breaker_state", 0.0),
			series("catalog_cache_reads_fenced", 0.0),
			series("catalog_cache_outbox_pending", 0.0),
			series("catalog_views_pending", 0.0),
		)
		if v := m.value("catalog_cache_requests_total", "type", "product", "result", "negative"); !math.IsNaN(v) {
			t.Errorf("negative hits before any: %v", v)
		}

		// An error code, an anonymous operation, a negative hit, a parse
		// failure, and a counted view.
		if r := ts.query(t, `query Broken { product(id: "abc") { id } }`, nil, nil); len(r.Errors) == 0 {
			t.Fatal("product(id: \"abc\") did not fail")
		}
		ts.mustQuery(t, `{ products(ids: ["5", "999999"]) { id } }`, nil, nil)
		ts.mustQuery(t, `{ products(ids: ["999999"]) { id } }`, nil, nil)
		ts.query(t, `query Oops { product(`, nil, nil)
		ts.mustQuery(t, `mutation { recordView(productId: "5") { hits } }`, nil, nil)
		m = ts.scrapeMetrics(t)
		m.expect(t,
			series("catalog_graphql_requests_total", "operation", "Broken", "code", "BAD_USER_INPUT", 1.0),
			series("catalog_graphql_requests_total", "operation", "anonymous", "code", "OK", 3.0),
			series("catalog_graphql_requests_total", "operation", "anonymous", "code", "GRAPHQL_PARSE_FAILED", 1.0),
			// 5 twice more (products, recordView's existence check), 999999 missed then negative
			series("catalog_cache_requests_total", "type", "product", "result", "hit", 3.0),
			series("catalog_cache_requests_total", "type", "product", "result", "miss", 2.0),
			series("catalog_cache_requests_total", "type", "product", "result", "negative", 1.0),
			series("catalog_views_pending", 1.0),
		)
		if err := ts.views.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		m = ts.scrapeMetrics(t)
		m.expect(t, series("catalog_views_pending", 0.0), series("catalog_views_flushed_total", 1.0))
		if lag := m.value("catalog_views_flush_lag_seconds"); !(lag >= 0 && lag < 60) {
			t.Errorf("flush lag right after a flush = %v s", lag)
		}
	})
}

// costOf posts q and returns its response's extensions.cost, nil when it
// has none.
func (ts *testServer) costOf(t *testing.T, q string) map[string]int64 {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q})
	res, err := http.Post(ts.url, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r struct {
		Errors     []any `json:"errors"`
		Extensions struct {
			Cost map[string]int64 `json:"cost"`
		} `json:"extensions"`
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || len(r.Errors) > 0 {
		t.Fatalf("%s: %v %v", q, err, r.Errors)
	}
	return r.Extensions.Cost
}

// extensions.cost gives each request's own cost, exactly, while the
// flusher, the invalidation worker and the auditor work in the background
// on the same SQL and Redis: their work is never a request's.
func TestCostExtension(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ts := newTestServer(t, d, serverOptions{telemetry: true, background: true,
			auditFraction: 1, flushInterval: 5 * time.Millisecond})
		product := `{ product(id: "9") { ` + productFields + ` } }`
		// Product 11 and its view count in the cache. (The first view's cost
		// depends on the flusher: a flush between reading and making the
		// count makes the read try again.)
		ts.mustQuery(t, `mutation { recordView(productId: "11") { id } }`, nil, nil)
		for _, c := range []struct {
			name, query string
			want        map[string]int64
		}{
			// the read that takes the fill lease, the write-back; products
			// with images and tags
			{"cold product", product, costs(1, 2, 0, 1)},
			{"warm product", product, costs(0, 1, 1, 0)},
			// the product's read, the count's script
			{"warm recordView", `mutation { recordView(productId: "11") { id } }`, costs(0, 2, 1, 0)},
			// a read of 3 keys: one hit, one cold, one that no product has;
			// the write-back of the two misses
			{"mixed batch", `{ products(ids: ["9", "10", "999999"]) { id } }`, costs(1, 2, 1, 2)},
			{"same batch warm", `{ products(ids: ["9", "10", "999999"]) { id } }`, costs(0, 1, 3, 0)},
		} {
			if got := ts.costOf(t, c.query); !maps.Equal(got, c.want) {
				t.Errorf("%s: cost %v, want %v", c.name, got, c.want)
			}
		}
	})
}

func costs(sql, redis, hits, misses int64) map[string]int64 {
	return map[string]int64{"sqlStatements": sql, "redisRoundTrips": redis, "cacheHits": hits, "cacheMisses": misses}
}

// Without the cost option (CATALOG_ENV=production) responses carry no
// extensions.cost.
func TestNoCostExtensionWithoutTheOption(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{telemetry: true, production: true})
	if got := ts.costOf(t, `{ product(id: "3") { id } }`); got != nil {
		t.Errorf("cost = %v, want none", got)
	}
}
