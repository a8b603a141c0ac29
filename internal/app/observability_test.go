package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"catalog-bff/store/storetest"
)

// startCatalog runs the service on a seeded SQLite file and a Redis prefix
// of its own, with CATALOG_ENV set to env.
func startCatalog(t *testing.T, env string) string {
	t.Helper()
	redisURL := storetest.RedisURL(t)
	base, _ := start(t, map[string]string{
		"DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
		"REDIS_URL":     redisURL,
		"REDIS_PREFIX":  storetest.Prefix(t, redisURL),
		"DEMO_PRODUCTS": "5",
		"CATALOG_ENV":   env,
	})
	return base
}

// Development responses carry extensions.cost, production ones do not;
// both serve /metrics, counting the query.
func TestCostOutsideProductionAndMetrics(t *testing.T) {
	for _, env := range []string{"", "development", "production"} {
		base := startCatalog(t, env)
		got := post(t, base, `"query Home { product(id: \"1\") { id } }"`)
		if has := strings.Contains(got, `"extensions":{"cost":{"sqlStatements":`); has != (env != "production") {
			t.Errorf("CATALOG_ENV=%q: %s; want extensions.cost only outside production", env, got)
		}
		res, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if want := `catalog_graphql_requests_total{code="OK",operation="Home"} 1`; res.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("CATALOG_ENV=%q: GET /metrics %d lacks %s", env, res.StatusCode, want)
		}
	}
}

func TestCatalogEnvMustBeKnown(t *testing.T) {
	_, _, err := ParseConfig("t", nil, func(k string) string { return map[string]string{"CATALOG_ENV": "prod"}[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "CATALOG_ENV") {
		t.Errorf("CATALOG_ENV=prod: %v, want an error naming it", err)
	}
}

// otlpReceiver is an OTLP/HTTP traces endpoint that keeps what it gets.
type otlpReceiver struct {
	mu      sync.Mutex
	spans   []string // span names
	service []string // service.name of each batch
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req collector.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				o.service = append(o.service, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				o.spans = append(o.spans, sp.GetName())
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&collector.ExportTraceServiceResponse{})
	w.Write(b)
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, the service sends its spans there
// over OTLP/HTTP, under OTEL_SERVICE_NAME, and flushes them when it stops.
func TestTracesExportedOverOTLP(t *testing.T) {
	recv := &otlpReceiver{}
	collectorSrv := httptest.NewServer(recv)
	defer collectorSrv.Close()
	redisURL := storetest.RedisURL(t)
	env := map[string]string{
		"DATABASE_URL":                "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
		"REDIS_URL":                   redisURL,
		"REDIS_PREFIX":                storetest.Prefix(t, redisURL),
		"DEMO_PRODUCTS":               "5",
		"OTEL_EXPORTER_OTLP_ENDPOINT": collectorSrv.URL,
		"OTEL_SERVICE_NAME":           "catalog-test",
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &storetest.LogBuffer{}
	base, done := startApp(t, ctx, env, logs)
	// A new cache's reads are fenced until the invalidation worker's first
	// round, and a fenced read goes to SQL without a Redis call: one CI
	// run under the race detector asked before that round and exported
	// no evalsha span.
	storetest.Eventually(t, 15*time.Second, "/readyz to report Redis ok", func() bool {
		return getJSON(t, base+"/readyz")["redis"] == "ok"
	})
	post(t, base, `"query Home { product(id: \"1\") { id seller { name } } }"`)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v; logs:\n%s", err, logs)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	for _, name := range []string{"POST /query", "query Home", "Query.product", "loader product", "evalsha", "SELECT products", "SELECT sellers"} {
		if !slices.Contains(recv.spans, name) {
			t.Errorf("no %q span exported; got %v", name, recv.spans)
		}
	}
	if len(recv.service) == 0 || slices.ContainsFunc(recv.service, func(s string) bool { return s != "catalog-test" }) {
		t.Errorf("service names %v, want catalog-test", recv.service)
	}
}
