package graph_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"catalog-bff/graph"
	"catalog-bff/internal/app"
	"catalog-bff/internal/reqlog"
	"catalog-bff/internal/telemetry"
	"catalog-bff/loaders"
	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
	"catalog-bff/store/views"
)

// testServer is the service, started as main starts it, over a seeded
// database of its own and a Redis key prefix of its own, with the
// counters the tests assert on.
type testServer struct {
	db     *sqlstore.DB
	rdb    redis.UniversalClient
	redis  *redisstore.RedisCounter
	cache  *redisstore.Cache
	views  *views.Counter
	rv     *redisstore.RedisViews
	prefix string // of this server's cache keys
	// invalidator delivers the writes' invalidations; tests call its Drain
	// where a server would run it in the background.
	invalidator *loaders.CacheInvalidator
	audit       *loaders.Auditor
	near        *loaders.Near // with serverOptions.near
	factory     *loaders.Factory
	opt         serverOptions
	base        string       // the service's address, as http://host:port
	url         string       // its GraphQL endpoint, base + "/query"
	handler     http.Handler // every route, for in-process requests
	tel         *telemetry.Telemetry
	rc          *graph.ResponseCache // with serverOptions.responseCache
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
	products int // seeded products; default 200
	// redisURL is the Redis to use: default the test Redis; a proxy in
	// front of it; or a Redis Cluster (storetest.ClusterURL).
	redisURL string
	strategy redisstore.Strategy
	// wait is the loaders' batch window; default testWait. Tests that send
	// many requests and count no batches make it short.
	wait       time.Duration
	afterFetch func(ctx context.Context, kind store.Kind, ids []int64)
	// fallbackMax bounds SQL reads while the cache is down; 0 for none.
	fallbackMax int
	db          *sqlstore.DB // a database to share; default a fresh seeded one
	prefix      string       // a key prefix to share; default a fresh one
	// redisTimeout is the deadline of each Redis call; default 1s, long
	// enough that a loaded machine never times out a healthy call.
	redisTimeout time.Duration
	noCache      bool                              // no document cache, as with REDIS_URL=off
	wrapStore    func(loaders.Store) loaders.Store // wraps the loaders' SQL side
	// background runs the invalidation worker and the auditor, as a
	// server does; otherwise tests call Drain and Check.
	background    bool
	auditFraction float64
	leaseTTL      time.Duration // default 100ms
	// flushInterval runs the view counter's flusher; 0 runs none, and
	// tests flush with ts.views.Flush.
	flushInterval time.Duration
	limits        graph.Limits
	production    bool
	persisted     bool // automatic persisted queries, stored under the server's prefix
	trusted       *graph.TrustedDocuments
	cors          []string     // allowed origins
	log           io.Writer    // receives the server's JSON log; TEST_LOG=1 sends it to stderr
	lister        graph.Lister // default the database
	// viewLimit rate-limits recordView per client, keyed by clientHeader.
	viewLimit    *redisstore.RateLimitOptions
	clientHeader string
	// telemetry keeps the service's GraphQL extensions: extensions.cost
	// (outside production), and spans when tracer records them (nil: no
	// tracing). Without it responses carry no extensions. The metrics are
	// at /metrics either way.
	telemetry bool
	tracer    trace.TracerProvider
	// near puts a near cache in front of the Redis cache, following the
	// invalidation stream, as the service does; ts.near is it.
	near bool
	// responseCache turns the response cache on (off by default, so that
	// cost tests count execution); its Observer is the telemetry, if any.
	// invalidated, when set, is told each write's invalidations once
	// delivered, as an invalidation feed would be.
	responseCache *graph.ResponseCacheOptions
	// overload bounds the requests in flight, as in production.
	overload    graph.OverloadOptions
	invalidated func([]store.Invalidation)
	// undrained leaves the invalidation outbox as it is at start, as a
	// restarted process finds it before its first delivery round.
	undrained bool
	noAdmin   bool // no ADMIN_TOKENS: admin mutations are refused
	// settings are more settings, by environment variable, applied last.
	settings map[string]string
}

// adminToken is the token the test servers accept.
const adminToken = "test-admin-token"

// newTestServer starts the service through app.App, the wiring main runs,
// on a port the system picks, over a seeded database of its own (or
// o.db) and a Redis key prefix of its own (or o.prefix). o's choices
// become the service's settings, or its seams where no setting says the
// same.
func newTestServer(t testing.TB, dialect sqlstore.Dialect, o serverOptions) *testServer {
	t.Helper()
	db := o.db
	if db == nil {
		db = seededDB(t, dialect, o.products)
	}
	direct := o.redisURL // where the keys are cleaned up, even behind a cut proxy
	if !storetest.IsCluster(direct) {
		direct = storetest.RedisURL(t)
	}
	if o.redisURL == "" {
		o.redisURL = direct
	}
	if o.prefix == "" {
		o.prefix = storetest.Prefix(t, direct)
	}
	a := app.New(testConfig(t, o), testLogger(o))
	a.Seams = testSeams(db, o)
	if err := a.Open(context.Background()); err != nil {
		a.Close()
		t.Fatalf("open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		_ = a.Serve(ctx) // the test's own failures say what went wrong
		a.Close()
		close(served)
	}()
	t.Cleanup(func() { cancel(); <-served })
	p := a.Parts()
	ts := &testServer{db: db, rdb: p.Redis, redis: p.RedisCalls, cache: p.Cache, views: p.Views, rv: p.RedisViews,
		prefix: p.Prefix, invalidator: p.Invalidator, audit: p.Auditor, near: p.Near, factory: p.Loaders,
		opt: o, tel: p.Telemetry, rc: p.ResponseCache, handler: p.Handler}
	_, port, _ := net.SplitHostPort(a.Addr())
	ts.base = "http://127.0.0.1:" + port
	ts.url = ts.base + "/query"
	if ts.redis == nil { // no Redis: no round trip to count
		ts.redis = &redisstore.RedisCounter{}
	}
	if ts.invalidator != nil && !o.undrained {
		if err := ts.invalidator.Drain(context.Background()); err != nil { // opens the cache's reads
			t.Fatal(err)
		}
	}
	if ts.near != nil {
		storetest.Eventually(t, 10*time.Second, "the near cache is live", ts.near.Live)
	}
	return ts
}

// seededDB returns a fresh database with a deterministic catalogue.
func seededDB(t testing.TB, dialect sqlstore.Dialect, products int) *sqlstore.DB {
	t.Helper()
	if products == 0 {
		products = 200
	}
	db := storetest.MustOpen(t, dialect)
	if err := db.Seed(context.Background(), sqlstore.SeedOptions{Products: products, Seed: 7}); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return db
}

// testConfig is the service's configuration for o, read from the
// environment variables a deployment would set.
func testConfig(t testing.TB, o serverOptions) app.Config {
	t.Helper()
	env := map[string]string{
		"PORT":                     "0",
		"REDIS_URL":                o.redisURL,
		"REDIS_PREFIX":             o.prefix,
		"REDIS_TIMEOUT":            time.Second.String(),
		"LOADER_WAIT":              testWait.String(),
		"CACHE_LEASE_TTL":          (100 * time.Millisecond).String(),
		"DB_FALLBACK_MAX_INFLIGHT": strconv.Itoa(o.fallbackMax),
		"AUDIT_FRACTION":           strconv.FormatFloat(o.auditFraction, 'g', -1, 64),
		"DEMO_PRODUCTS":            "0",
		"ADMIN_TOKENS":             adminToken,
		"VIEWS_FLUSH_INTERVAL":     time.Hour.String(), // flushed by the test
		"VIEWS_SPILL_FILE":         filepath.Join(t.TempDir(), "views.spill.json"),
		"VIEW_RATE_LIMIT":          "0",
		"CLIENT_IP_HEADER":         o.clientHeader,
		"CORS_ORIGINS":             strings.Join(o.cors, ","),
		// A CI machine saturated by parallel packages can hold a healthy
		// statement past the service's 2 s; tests of a slow database set
		// their own timeout.
		"SQL_TIMEOUT":         (10 * time.Second).String(),
		"MAX_INFLIGHT":        "0", // o.overload, through the handler's seam
		"NEAR_CACHE_SIZE":     "0",
		"RESPONSE_CACHE_SIZE": "0",
	}
	set := func(k string, d time.Duration) {
		if d != 0 {
			env[k] = d.String()
		}
	}
	set("REDIS_TIMEOUT", o.redisTimeout)
	set("LOADER_WAIT", o.wait)
	set("CACHE_LEASE_TTL", o.leaseTTL)
	set("VIEWS_FLUSH_INTERVAL", o.flushInterval)
	if o.noCache {
		env["REDIS_URL"] = "off"
	}
	if o.noAdmin {
		env["ADMIN_TOKENS"] = ""
	}
	if o.production {
		env["CATALOG_ENV"] = "production"
	}
	if l := o.viewLimit; l != nil {
		env["VIEW_RATE_LIMIT"] = strconv.FormatFloat(l.Rate, 'g', -1, 64)
		env["VIEW_BURST"] = strconv.Itoa(l.Burst)
	}
	if o.near {
		env["NEAR_CACHE_SIZE"] = "10000"
	}
	if rc := o.responseCache; rc != nil {
		env["RESPONSE_CACHE_SIZE"] = "10000"
		env["HITS_MAX_STALENESS"] = rc.HitsMaxStaleness.String()
		set("RESPONSE_CACHE_MAX_AGE", rc.MaxAge)
		set("RESPONSE_CACHE_MAX_STALENESS", rc.MaxStaleness)
	}
	maps.Copy(env, o.settings)
	c, _, err := app.ParseConfig("catalog-bff", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testLogger logs to o.log, or nowhere (TEST_LOG=1: to stderr).
func testLogger(o serverOptions) *slog.Logger {
	out := o.log
	if out == nil {
		out = io.Discard
		if os.Getenv("TEST_LOG") != "" {
			out = os.Stderr
		}
	}
	return slog.New(reqlog.NewHandler(slog.NewJSONHandler(out, nil)))
}

// testSeams are o's choices that no setting makes: the database, faults,
// what the test drives itself, and the options only a test changes.
func testSeams(db *sqlstore.DB, o serverOptions) app.Seams {
	s := app.Seams{DB: db, Tracer: o.tracer, Strategy: o.strategy, Invalidated: o.invalidated,
		Manual:          !o.background && o.flushInterval == 0,
		InvalidateEvery: 20 * time.Millisecond, AuditBound: 200 * time.Millisecond}
	if hold := o.afterFetch; hold != nil {
		s.Faults = store.FaultFunc(func(ctx context.Context, point string, kind store.Kind, ids []int64) {
			if point == "after-fetch" {
				hold(ctx, kind, ids)
			}
		})
	}
	if o.wrapStore != nil {
		s.Loaders = func(l *loaders.Options) { l.Store = o.wrapStore(l.Store) }
	}
	s.Handler = func(h *graph.HandlerOptions) {
		h.Overload = o.overload
		if !reflect.ValueOf(o.limits).IsZero() {
			h.Limits = o.limits
		}
		if o.trusted != nil {
			h.TrustedDocuments = o.trusted
		}
		if o.lister != nil {
			h.Resolver.Lister = o.lister
		}
		if !o.persisted {
			h.PersistedQueries = nil
		}
		if !o.telemetry { // no cost extension, no spans: responses as clients see them
			h.Extensions = nil
		}
	}
	if rco := o.responseCache; rco != nil {
		s.ResponseCache = func(r *graph.ResponseCacheOptions) {
			if rco.Feed != nil {
				r.Feed = rco.Feed
			}
			if rco.Observer != nil {
				r.Observer = rco.Observer
			}
			if rco.Hits != nil {
				r.Hits = rco.Hits
			}
		}
	}
	return s
}

// forEachBackend runs f as parallel subtests: against each SQL engine with
// the single Redis (named after the engine, as storetest.ForEachDialect's), and
// against PostgreSQL with the Redis Cluster ("postgres+cluster", skipped
// when none is configured). The SQL engine does not change what Redis
// sees, so the cluster runs with one.
func forEachBackend(t *testing.T, f func(t *testing.T, d sqlstore.Dialect, redisURL string)) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) { f(t, d, "") })
	t.Run(string(sqlstore.Postgres)+"+cluster", func(t *testing.T) {
		t.Parallel()
		f(t, sqlstore.Postgres, storetest.ClusterURL(t))
	})
}
