package graph_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	gqlgraphql "github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"catalog-bff/graph"
	"catalog-bff/graph/reqlog"
	"catalog-bff/graph/telemetry"
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
	audit       *store.Auditor
	near        *loaders.Near // with serverOptions.near
	factory     *loaders.Factory
	opt         serverOptions
	srv         *httptest.Server
	tel         *telemetry.Telemetry // with serverOptions.telemetry
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
	strategy store.Strategy
	// wait is the loaders' batch window; default testWait. Tests that send
	// many requests and count no batches make it short.
	wait       time.Duration
	afterFetch func(ctx context.Context, kind store.Kind, ids []int64)
	// fallbackMax bounds SQL reads while the cache is down; 0 for none.
	fallbackMax int
	db          *store.DB // a database to share; default a fresh seeded one
	prefix      string    // a key prefix to share; default a fresh one
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
	viewLimit    *store.RateLimitOptions
	clientHeader string
	// telemetry wires metrics, traces and costs as server.go does, and
	// serves the metrics at /metrics; tracer records the spans (nil: no
	// tracing), cost adds extensions.cost to responses.
	telemetry bool
	tracer    trace.TracerProvider
	cost      bool
	// near puts a near cache in front of the Redis cache, following the
	// invalidation stream, as server.go does; ts.near is it.
	near bool
	// responseCache turns the response cache on (off by default, so that
	// cost tests count execution); its Observer is the telemetry, if any.
	// invalidated, when set, is told each write's invalidations once
	// delivered, as an invalidation feed would be.
	responseCache *graph.ResponseCacheOptions
	// overload bounds the requests in flight, as in production.
	overload    graph.OverloadOptions
	invalidated func([]store.Invalidation)
}

// adminToken is the token the test servers accept.
const adminToken = "test-admin-token"

func newTestServer(t testing.TB, dialect store.Dialect, o serverOptions) *testServer {
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
	if o.wait == 0 {
		o.wait = testWait
	}
	if o.redisTimeout == 0 {
		o.redisTimeout = time.Second
	}
	if o.leaseTTL == 0 {
		o.leaseTTL = 100 * time.Millisecond
	}
	rdb, err := store.NewRedis(o.redisURL, store.RedisOptions{Timeout: o.redisTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	ts := &testServer{db: db, rdb: rdb, redis: &store.RedisCounter{}, opt: o, prefix: o.prefix}
	if o.telemetry {
		ts.instrument(t) // attaches ts.redis, as the service's one hook
	} else {
		ts.redis.Attach(rdb)
	}
	if ts.prefix == "" {
		ts.prefix = storetest.Prefix(t, direct)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ts.rv = store.NewRedisViews(rdb, store.RedisViewsOptions{Prefix: ts.prefix})
	if err := ts.rv.LoadScripts(context.Background()); err != nil && o.redisURL == direct {
		t.Fatal(err) // a test with a cut proxy may not reach Redis at start
	}
	ts.views = views.New(views.Options{SQL: db, Redis: ts.rv, FlushInterval: o.flushInterval,
		Timeout: o.redisTimeout, Logger: log})
	if o.flushInterval > 0 {
		runFlusher(t, ts.views)
	}
	if !o.noCache {
		ts.openCache(t, log)
	}
	ts.srv = httptest.NewServer(ts.handlerWithAdmin(graph.NewAdmin([]string{adminToken})))
	t.Cleanup(ts.srv.Close)
	if ts.tel != nil {
		src := telemetry.Sources{Loaders: ts.factory, Views: ts.views}
		if ts.cache != nil {
			src.Cache, src.Outbox, src.Audit = ts.cache, ts.db, ts.audit
		}
		ts.tel.Watch(src)
	}
	return ts
}

// instrument makes ts's telemetry and hooks it into SQL and Redis, before
// anything uses them.
func (ts *testServer) instrument(t testing.TB) {
	t.Helper()
	ts.tel = telemetry.New(telemetry.Options{Tracer: ts.opt.tracer, Cost: ts.opt.cost})
	if err := ts.tel.InstrumentRedis(ts.rdb, ts.redis); err != nil {
		t.Fatal(err)
	}
	ts.db.SetObserver(ts.tel)
}

// seededDB returns a fresh database with a deterministic catalogue.
func seededDB(t testing.TB, dialect store.Dialect, products int) *store.DB {
	t.Helper()
	if products == 0 {
		products = 200
	}
	db := storetest.MustOpen(t, dialect)
	// A CI machine saturated by parallel packages can hold a healthy
	// statement past the service's 2 s; tests of a slow database set
	// their own timeout.
	db.SetStatementTimeout(10 * time.Second)
	if err := db.Seed(context.Background(), store.SeedOptions{Products: products, Seed: 7}); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return db
}

// openCache sets up the document cache, its invalidation worker and its
// auditor, and opens the cache's reads.
func (ts *testServer) openCache(t testing.TB, log *slog.Logger) {
	t.Helper()
	o := ts.opt
	copt := store.CacheOptions{Prefix: ts.prefix, Timeout: o.redisTimeout, Strategy: o.strategy}
	if ts.tel != nil {
		copt.Breaker.OnChange = ts.tel.BreakerChanged
	}
	if o.near {
		ts.near = loaders.NewNear(loaders.NearOptions{MaxEntries: 10_000, MaxBytes: 64 << 20,
			Readable: func() bool { return ts.cache.Readable() }})
		copt.Listener = ts.near
	}
	ts.cache = store.NewCache(ts.rdb, copt)
	if err := ts.cache.LoadScripts(context.Background()); err != nil {
		t.Fatal(err)
	}
	if o.near {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { ts.cache.Watch(ctx, store.WatchOptions{}); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	ts.db.EnableOutbox()
	ts.invalidator = store.NewInvalidator(ts.db, ts.cache, store.InvalidatorOptions{Logger: log, Interval: 20 * time.Millisecond})
	if err := ts.invalidator.Drain(context.Background()); err != nil { // opens the cache's reads
		t.Fatal(err)
	}
	if o.near {
		storetest.Eventually(t, 10*time.Second, "the near cache is live", ts.near.Live)
	}
	ts.audit = store.NewAuditor(ts.db, ts.cache, store.AuditorOptions{Fraction: o.auditFraction, Bound: 200 * time.Millisecond})
	if o.background {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { ts.invalidator.Run(ctx) })
		wg.Go(func() { ts.audit.Run(ctx) })
		t.Cleanup(func() { cancel(); wg.Wait() })
	}
}

// handlerWithAdmin builds the real handler over ts's database and cache.
func (ts *testServer) handlerWithAdmin(admin *graph.Admin) http.Handler {
	out := ts.opt.log
	if out == nil {
		out = io.Discard
		if os.Getenv("TEST_LOG") != "" {
			out = os.Stderr
		}
	}
	log := slog.New(reqlog.NewHandler(slog.NewJSONHandler(out, nil)))
	var sql loaders.Store = ts.db
	if ts.opt.wrapStore != nil {
		sql = ts.opt.wrapStore(sql)
	}
	var lister graph.Lister = ts.db
	if ts.opt.lister != nil {
		lister = ts.opt.lister
	}
	lopt := loaders.Options{Store: sql, Hits: ts.views, Wait: ts.opt.wait, Logger: log,
		LeaseTTL: ts.opt.leaseTTL, FallbackMaxInflight: ts.opt.fallbackMax}
	if hold := ts.opt.afterFetch; hold != nil {
		lopt.Faults = store.FaultFunc(func(ctx context.Context, point string, kind store.Kind, ids []int64) {
			if point == "after-fetch" {
				hold(ctx, kind, ids)
			}
		})
	}
	writes := &loaders.Writes{SQL: ts.db, Logger: log}
	resolver := &graph.Resolver{Lister: lister, Writer: writes, Views: ts.views, Admin: admin}
	if o := ts.opt.viewLimit; o != nil {
		o.Prefix = ts.prefix
		resolver.ViewLimit = store.NewRateLimiter(ts.rdb, *o)
	}
	if ts.cache != nil {
		lopt.Cache, writes.Cache = ts.cache, ts.invalidator
		if ts.opt.invalidated != nil {
			writes.Cache = announcing{ts.invalidator, ts.opt.invalidated}
		}
	}
	if ts.audit != nil {
		lopt.Audit = ts.audit
	}
	lopt.Near = ts.near
	var ext []gqlgraphql.HandlerExtension
	if ts.tel != nil {
		lopt.Observer, ext = ts.tel, ts.tel.Extensions()
	}
	ts.factory = loaders.NewFactory(lopt)
	opt := graph.HandlerOptions{
		Resolver:         resolver,
		Loaders:          ts.factory,
		Logger:           log,
		Limits:           ts.opt.limits,
		Production:       ts.opt.production,
		CORSOrigins:      ts.opt.cors,
		ClientIPHeader:   ts.opt.clientHeader,
		Extensions:       ext,
		TrustedDocuments: ts.opt.trusted,
		Overload:         ts.opt.overload,
	}
	if o := ts.opt.responseCache; o != nil {
		ts.rc = ts.newResponseCache(*o)
		opt.ResponseCache = ts.rc
	}
	if ts.opt.persisted {
		opt.PersistedQueries = store.NewPersistedQueries(ts.rdb, store.PersistedQueryOptions{Prefix: ts.prefix + "apq:", Timeout: time.Second})
	}
	if ts.tel == nil {
		return graph.NewHandler(opt)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", ts.tel.Handler())
	mux.Handle("/", ts.tel.Middleware(graph.NewHandler(opt)))
	return mux
}

// runFlusher runs c's flusher until t ends.
func runFlusher(t testing.TB, c *views.Counter) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// forEachBackend runs f as parallel subtests: against each SQL engine with
// the single Redis (named after the engine, as storetest.ForEachDialect's), and
// against PostgreSQL with the Redis Cluster ("postgres+cluster", skipped
// when none is configured). The SQL engine does not change what Redis
// sees, so the cluster runs with one.
func forEachBackend(t *testing.T, f func(t *testing.T, d store.Dialect, redisURL string)) {
	storetest.ForEachDialect(t, func(t *testing.T, d store.Dialect) { f(t, d, "") })
	t.Run(string(store.Postgres)+"+cluster", func(t *testing.T) {
		t.Parallel()
		f(t, store.Postgres, storetest.ClusterURL(t))
	})
}
