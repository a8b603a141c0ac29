package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/graph"
	"catalog-bff/loaders"
	"catalog-bff/reqlog"
	"catalog-bff/store"
	"catalog-bff/store/storetest"
)

// testServer is the real GraphQL handler over a seeded database of its own
// and a Redis key prefix of its own, with the counters the tests assert on.
type testServer struct {
	db     *store.DB
	rdb    redis.UniversalClient
	redis  *store.RedisCounter
	cache  *store.Cache
	prefix string // of this server's cache keys
	opt    serverOptions
	srv    *httptest.Server
}

// testWait is the loaders' batch window in tests. It is longer than the
// service's default so that, on a loaded CI machine running the race
// detector, the loads of one query level always land in one batch and the
// counted round trips do not depend on scheduling.
const testWait = 20 * time.Millisecond

type serverOptions struct {
	products   int    // seeded products; default 200
	redisURL   string // default the test Redis
	strategy   store.Strategy
	wait       time.Duration // the loaders' batch window; default testWait
	afterFetch func(ctx context.Context, kind string, ids []int64)
	limits     graph.Limits
	production bool
	persisted  bool         // automatic persisted queries, stored under the server's prefix
	cors       []string     // allowed origins
	log        io.Writer    // receives the server's JSON log
	lister     graph.Lister // default the database
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
	out := ts.opt.log
	if out == nil {
		out = io.Discard
	}
	log := slog.New(reqlog.NewHandler(slog.NewJSONHandler(out, nil)))
	var lister graph.Lister = ts.db
	if ts.opt.lister != nil {
		lister = ts.opt.lister
	}
	opt := graph.HandlerOptions{
		Resolver: &graph.Resolver{Lister: lister, Writer: ts.db, Cache: ts.cache, Admin: admin},
		Loaders: loaders.NewFactory(loaders.Options{Store: ts.db, Cache: ts.cache, Wait: ts.opt.wait, Logger: log,
			AfterFetch: ts.opt.afterFetch}),
		Logger:      log,
		Limits:      ts.opt.limits,
		Production:  ts.opt.production,
		CORSOrigins: ts.opt.cors,
	}
	if ts.opt.persisted {
		opt.PersistedQueries = store.NewPersistedQueries(ts.rdb, store.PersistedQueryOptions{Prefix: ts.prefix + "apq:", Timeout: time.Second})
	}
	return graph.NewHandler(opt)
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

// syncBuffer is a log sink that the server and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
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
