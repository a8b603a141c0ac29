package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/graph"
	"catalog-bff/loaders"
	"catalog-bff/store"
	"catalog-bff/store/storetest"
	"catalog-bff/store/views"
)

// testServer is the real GraphQL handler over a seeded database of its own
// and a Redis key prefix of its own, with the counters the tests assert on.
type testServer struct {
	db     *store.DB
	rdb    redis.UniversalClient
	redis  *store.RedisCounter
	cache  *store.Cache
	views  *views.Counter
	rv     *store.RedisViews
	prefix string // of this server's cache keys
	// invalidator delivers the writes' invalidations; tests call its Drain
	// where a server would run it in the background.
	invalidator *store.Invalidator
	opt         serverOptions
	srv         *httptest.Server
}

// testWait is the loaders' batch window in tests. It is longer than the
// service's default so that, on a CI machine running the race detector,
// the loads of one query level land in one batch.
const testWait = 20 * time.Millisecond

// countWait is the batch window of tests that assert round-trip counts:
// long enough that even on a machine saturated by parallel test packages,
// every load of a query level lands in one batch, so the counts do not
// depend on scheduling.
const countWait = 250 * time.Millisecond

type serverOptions struct {
	products int    // seeded products; default 200
	redisURL string // default the test Redis
	strategy store.Strategy
	// wait is the loaders' batch window; default testWait. Tests that send
	// many requests and count no batches make it short.
	wait       time.Duration
	afterFetch func(ctx context.Context, kind string, ids []int64)
	// flushInterval runs the view counter's flusher; 0 runs none, and
	// tests flush with ts.views.Flush.
	flushInterval time.Duration
}

// adminToken is the token the test servers accept.
const adminToken = "test-admin-token"

func newTestServer(t testing.TB, dialect store.Dialect, o serverOptions) *testServer {
	t.Helper()
	if o.products == 0 {
		o.products = 200
	}
	db := storetest.MustOpen(t, dialect)
	if err := db.Seed(context.Background(), store.SeedOptions{Products: o.products, Seed: 7}); err != nil {
		t.Fatalf("seed: %v", err)
	}
	if o.redisURL == "" {
		o.redisURL = storetest.RedisURL(t)
	}
	if o.wait == 0 {
		o.wait = testWait
	}
	rdb, err := store.NewRedis(o.redisURL, store.RedisOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	ts := &testServer{db: db, rdb: rdb, redis: &store.RedisCounter{}}
	rdb.AddHook(ts.redis)
	ts.prefix = storetest.Prefix(t, o.redisURL)
	ts.cache = store.NewCache(rdb, store.CacheOptions{Prefix: ts.prefix, Timeout: time.Second, Strategy: o.strategy})
	if err := ts.cache.LoadScripts(context.Background()); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db.EnableOutbox()
	ts.invalidator = store.NewInvalidator(db, ts.cache, store.InvalidatorOptions{Logger: log})
	if err := ts.invalidator.Drain(context.Background()); err != nil { // opens the cache's reads
		t.Fatal(err)
	}
	ts.rv = store.NewRedisViews(rdb, store.RedisViewsOptions{Prefix: ts.prefix})
	ts.views = views.New(views.Options{SQL: db, Redis: ts.rv, FlushInterval: o.flushInterval,
		Timeout: time.Second, Logger: log})
	if o.flushInterval > 0 {
		runFlusher(t, ts.views)
	}
	if o.wait == 0 {
		o.wait = testWait
	}
	ts.opt = o
	ts.srv = httptest.NewServer(ts.handlerWithAdmin(graph.NewAdmin([]string{adminToken})))
	t.Cleanup(ts.srv.Close)
	return ts
}

// handlerWithAdmin builds the real handler over ts's database and cache.
func (ts *testServer) handlerWithAdmin(admin *graph.Admin) http.Handler {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return graph.NewHandler(graph.HandlerOptions{
		Resolver: &graph.Resolver{Lister: ts.db, Writer: ts.db, Cache: ts.invalidator, Views: ts.views, Admin: admin},
		Loaders: loaders.NewFactory(loaders.Options{Store: ts.db, Cache: ts.cache, Hits: ts.views,
			Wait: ts.opt.wait, Logger: log, AfterFetch: ts.opt.afterFetch}),
		Logger: log,
	})
}

// runFlusher runs c's flusher until t ends.
func runFlusher(t testing.TB, c *views.Counter) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// gqlResponse is a GraphQL response with its errors decoded.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// codes returns the extensions.code of each error.
func (r gqlResponse) codes() []string {
	var out []string
	for _, e := range r.Errors {
		c, _ := e.Extensions["code"].(string)
		out = append(out, c)
	}
	return out
}

// query posts a query and decodes the response; data, when non-nil, receives
// the "data" member.
func (ts *testServer) query(t *testing.T, q string, vars map[string]any, data any) gqlResponse {
	t.Helper()
	return ts.queryAs(t, "", q, vars, data)
}

// admin posts a query with the admin token.
func (ts *testServer) admin(t *testing.T, q string, vars map[string]any, data any) gqlResponse {
	t.Helper()
	return ts.queryAs(t, "Bearer "+adminToken, q, vars, data)
}

// queryAs posts a query with the given Authorization header, if any.
func (ts *testServer) queryAs(t *testing.T, auth, q string, vars map[string]any, data any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	req, _ := http.NewRequest("POST", ts.srv.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var r gqlResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("response %d is not JSON: %s", res.StatusCode, raw)
	}
	if data != nil && len(r.Data) > 0 && string(r.Data) != "null" {
		if err := json.Unmarshal(r.Data, data); err != nil {
			t.Fatalf("decode data: %v: %s", err, r.Data)
		}
	}
	return r
}

// mustQuery is query for a request that must not fail.
func (ts *testServer) mustQuery(t *testing.T, q string, vars map[string]any, data any) {
	t.Helper()
	if r := ts.query(t, q, vars, data); len(r.Errors) > 0 {
		t.Fatalf("query failed: %+v", r.Errors)
	}
}

// cost is what one request cost in SQL statements and Redis traffic.
type cost struct {
	sql   int64
	redis store.RedisStats
}

func (ts *testServer) measure(t *testing.T, f func()) cost {
	t.Helper()
	sql0, r0 := ts.db.Statements(), ts.redis.Stats()
	f()
	return cost{sql: ts.db.Statements() - sql0, redis: ts.redis.Stats().Sub(r0)}
}

// forEachDialect runs f as a parallel subtest against each SQL engine.
func forEachDialect(t *testing.T, f func(t *testing.T, d store.Dialect)) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f(t, d)
		})
	}
}
