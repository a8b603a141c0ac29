// Command catalog-bff serves product detail pages over GraphQL.
//
//	go run .                         # serve on :8080, embedded SQLite by default
//	go run . seed -products 100000   # fill the configured database
//
// Configuration comes from the environment, and flags of the same meaning
// override it; `go run . -h` lists them.
package main

//go:generate go tool gqlgen generate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/graph"
	"catalog-bff/graph/playground"
	"catalog-bff/graph/reqlog"
	"catalog-bff/graph/telemetry"
	"catalog-bff/loaders"
	"catalog-bff/store"
	"catalog-bff/store/views"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	var usage usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "catalog-bff:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "catalog-bff:", err)
		os.Exit(1)
	}
}

// config is everything the service reads from its environment and flags.
type config struct {
	port          string
	databaseURL   string
	redisURL      string
	clusterAddrs  string // REDIS_CLUSTER_ADDRS, turned into redisURL by useClusterAddrs
	redisPrefix   string
	redisTimeout  time.Duration
	loaderWait    time.Duration
	demoProducts  int
	adminTokens   string
	flushInterval time.Duration
	flushMax      int64
	spillFile     string // VIEWS_SPILL_FILE
	sqlTimeout    time.Duration
	dbMaxConns    int
	maxInflight   int // GraphQL requests worked on at once; 0 for no bound (limits.go)
	leaseTTL      time.Duration
	fallbackMax   int
	auditFraction float64
	production    bool
	limits        graph.Limits
	corsOrigins   []string
	viewRate      float64 // views a client may count per second; 0 for no limit
	viewBurst     int
	clientHeader  string
	nearSize      int           // NEAR_CACHE_SIZE, 0 for no near cache
	nearBytes     int64         // NEAR_CACHE_MAX_BYTES
	nearStale     time.Duration // NEAR_CACHE_MAX_STALENESS
	accessSample  float64       // ACCESS_LOG_SAMPLE
	// debugEndpoints is "on", "off", or "" for on except in production
	// (debug.go).
	debugEndpoints string
	respCache      responseCacheConfig // responsecache.go
	trusted        trustedConfig       // trusteddocs.go
	otel           map[string]string   // the OTEL_ variables the tracing setup reads
}

// runServe is `catalog-bff [serve]`: it serves until ctx is done.
func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, _, err := parseConfig("catalog-bff", args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(c.production, stderr)
	tuneGC(getenv, log)
	db, err := openDB(ctx, c.databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetStatementTimeout(c.sqlTimeout)
	db.SetMaxOpenConns(c.dbMaxConns)
	tel, stopTracing, err := newTelemetry(ctx, c, log)
	if err != nil {
		return err
	}
	defer stopTracing()
	db.SetObserver(tel)
	if err := seedDemo(ctx, db, c.demoProducts, log); err != nil {
		return err
	}
	rdb, counter, closeRedis := openRedis(ctx, c, tel, log)
	defer closeRedis()
	costs := newCosts(c, db, rdb, counter) // nil when the debug endpoints are off
	svc := services{db: db, tel: tel}
	if svc.admin, err = adminTokens(c, db.Dialect(), log); err != nil {
		return err
	}
	svc.cache, svc.near, svc.inv, svc.audit = openCache(ctx, db, rdb, c, tel, log)
	if svc.near != nil { // the response cache follows the near cache's invalidations
		svc.feed = svc.near
	}
	if rdb != nil {
		svc.queries = store.NewPersistedQueries(rdb, store.PersistedQueryOptions{
			Prefix: c.redisPrefix + "apq:v1:", Timeout: c.redisTimeout})
		if c.viewRate > 0 {
			svc.viewLimit = store.NewRateLimiter(rdb, store.RateLimitOptions{Prefix: c.redisPrefix,
				Rate: c.viewRate, Burst: c.viewBurst, Timeout: c.redisTimeout})
		}
	}
	if svc.trusted, err = openTrusted(ctx, c.trusted, c.production, log); err != nil {
		return err
	}
	svc.counter = newCounter(db, rdb, c, log)
	stopFlusher := startFlusher(ctx, svc.counter)
	defer stopFlusher()
	var stopping atomic.Int64 // when ctx was done, for the last log line
	context.AfterFunc(ctx, func() { stopping.Store(time.Now().UnixNano()) })
	err = serve(ctx, c, costs.wrap(newHandler(svc, c, log)), log)
	stopFlusher() // after the last request: flushes what this process holds
	if t := stopping.Load(); t != 0 {
		log.Info("stopped", "took", time.Since(time.Unix(0, t)).Round(time.Millisecond))
	}
	if n := svc.counter.Lost(); n > 0 && err == nil {
		err = fmt.Errorf("%d acknowledged views were written neither to SQL nor to %s", n, c.spillFile)
	}
	return err
}

// services are the parts that run wires together. cache, inv, audit and
// queries are nil without Redis.
type services struct {
	db        *store.DB
	cache     *store.Cache
	near      *loaders.Near // nil: no near cache
	inv       *store.Invalidator
	audit     *store.Auditor
	queries   *store.PersistedQueries
	viewLimit *store.RateLimiter      // nil: views are not rate-limited
	trusted   *graph.TrustedDocuments // nil: trusted documents off
	counter   *views.Counter
	admin     *graph.Admin
	tel       *telemetry.Telemetry
	// feed tells in-process caches which documents changed; nil turns the
	// response cache off.
	feed graph.InvalidationFeed
}

// newLogger logs JSON in production, for log collectors, and text in
// development, for people. Each line logged with a request's context
// carries the request's id.
func newLogger(production bool, w io.Writer) *slog.Logger {
	var h slog.Handler = slog.NewTextHandler(w, nil)
	if production {
		h = slog.NewJSONHandler(w, nil)
	}
	return slog.New(reqlog.NewHandler(h))
}

// adminTokens returns the accepted admin tokens. With none configured, the
// embedded default makes one for this run and logs it, so that `go run .`
// can try the mutations; PostgreSQL refuses admin mutations instead.
func adminTokens(c config, dialect store.Dialect, log *slog.Logger) (*graph.Admin, error) {
	tokens := strings.Split(c.adminTokens, ",")
	if strings.TrimSpace(c.adminTokens) != "" || dialect != store.SQLite {
		if dialect != store.SQLite && strings.TrimSpace(c.adminTokens) == "" {
			log.Warn("no ADMIN_TOKENS: admin mutations are refused")
		}
		return graph.NewAdmin(tokens), nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	token := hex.EncodeToString(b)
	log.Info("no ADMIN_TOKENS: made an admin token for this run", "token", token)
	return graph.NewAdmin([]string{token}), nil
}

// openDB connects and migrates. Its errors name the URL, password hidden.
func openDB(ctx context.Context, url string) (*store.DB, error) {
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := store.Open(octx, url)
	if err != nil {
		return nil, fmt.Errorf("database unreachable: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", store.Redact(url), err)
	}
	return db, nil
}

// seedDemo fills an empty database with a demo catalogue, so that the
// playground has something to show on a fresh machine.
func seedDemo(ctx context.Context, db *store.DB, products int, log *slog.Logger) error {
	if products <= 0 {
		return nil
	}
	empty, err := db.Empty(ctx)
	if err != nil || !empty {
		return err
	}
	log.Info("empty database: seeding a demo catalogue", "products", products)
	return db.Seed(ctx, store.SeedOptions{Products: products, Seed: 1})
}

// openRedis returns the Redis client, or nil when REDIS_URL is "off", and
// the one hook that counts its round trips for the metrics, the requests'
// costs and /debug/costs. A Redis that does not answer at start is not
// fatal: the service serves from SQL, counts views in process, and uses
// Redis once it answers.
func openRedis(ctx context.Context, c config, tel *telemetry.Telemetry, log *slog.Logger) (redis.UniversalClient, *store.RedisCounter, func()) {
	if c.redisURL == "off" {
		log.Info("Redis off (REDIS_URL=off): every read goes to SQL, views count in process")
		return nil, nil, func() {}
	}
	rdb, err := store.NewRedis(c.redisURL, store.RedisOptions{Timeout: c.redisTimeout})
	if err != nil {
		log.Warn("Redis disabled: bad REDIS_URL", "err", err)
		return nil, nil, func() {}
	}
	counter := &store.RedisCounter{}
	if err := tel.InstrumentRedis(rdb, counter); err != nil {
		log.Warn("Redis not traced", "err", err)
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		log.Warn("Redis unreachable at start; serving from SQL until it answers",
			"url", store.Redact(c.redisURL), "err", err)
	} else if store.IsClusterURL(c.redisURL) {
		log.Info("Redis Cluster", "url", store.Redact(c.redisURL))
	}
	return rdb, counter, func() { rdb.Close() }
}

// openCache returns the document cache over rdb, the near cache in front of
// it with the invalidation stream that keeps it honest, the invalidation
// worker, and the auditor that measures how honest, all running until ctx
// is done; all nil without Redis. Writes then queue their invalidations in
// the outbox.
func openCache(ctx context.Context, db *store.DB, rdb redis.UniversalClient, c config, tel *telemetry.Telemetry, log *slog.Logger) (*store.Cache, *loaders.Near, *store.Invalidator, *store.Auditor) {
	if rdb == nil {
		return nil, nil, nil, nil
	}
	var cache *store.Cache
	near := loaders.NewNear(loaders.NearOptions{MaxEntries: c.nearSize, MaxBytes: c.nearBytes,
		MaxStaleness: c.nearStale, Readable: func() bool { return cache.Readable() }})
	copt := store.CacheOptions{Prefix: c.redisPrefix + "v1:", Timeout: c.redisTimeout,
		Breaker: store.BreakerOptions{OnChange: tel.BreakerChanged}}
	if near != nil {
		copt.Listener = near
	}
	cache = store.NewCache(rdb, copt)
	if err := cache.LoadScripts(ctx); err != nil {
		log.Debug("cache scripts not loaded; they are sent on first use", "err", err)
	}
	if near != nil {
		go cache.Watch(ctx, store.WatchOptions{})
	}
	db.EnableOutbox()
	inv := store.NewInvalidator(db, cache, store.InvalidatorOptions{Logger: log})
	go inv.Run(ctx)
	audit := store.NewAuditor(db, cache, store.AuditorOptions{Fraction: c.auditFraction})
	go audit.Run(ctx)
	return cache, near, inv, audit
}

// newCounter returns the view counter, over Redis when there is one.
func newCounter(db *store.DB, rdb redis.UniversalClient, c config, log *slog.Logger) *views.Counter {
	opt := views.Options{SQL: db, FlushInterval: c.flushInterval, FlushMax: c.flushMax,
		Timeout: c.redisTimeout, Logger: log, Faults: crashFaults(crashAt, log), SpillFile: c.spillFile}
	if rdb != nil && !viewsMayEvict(rdb, log) {
		rv := store.NewRedisViews(rdb, store.RedisViewsOptions{Prefix: c.redisPrefix, Timeout: c.redisTimeout})
		lctx, cancel := context.WithTimeout(context.Background(), 4*c.redisTimeout)
		if err := rv.LoadScripts(lctx); err != nil {
			log.Debug("view counter scripts not loaded; they are sent on first use", "err", err)
		}
		cancel()
		opt.Redis = rv
	}
	return views.New(opt)
}

// viewsMayEvict reports whether Redis may evict keys that have no TTL (an
// allkeys- maxmemory-policy, as cache-only Redis deployments often use):
// the view counter's queue would then lose acknowledged views without a
// trace, so views are counted in process and flushed straight to SQL
// instead, and the log says once which setting to change. A Redis that
// does not answer yet is given the benefit of the doubt.
func viewsMayEvict(rdb redis.UniversalClient, log *slog.Logger) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	policy, err := store.EvictionPolicy(ctx, rdb)
	if err != nil {
		log.Debug("Redis maxmemory-policy not known", "err", err)
		return false
	}
	if !store.EvictsAnyKey(policy) {
		return false
	}
	log.Error("Redis may evict the view counter's keys (maxmemory-policy "+policy+
		"): views are counted in process and flushed straight to SQL; set maxmemory-policy to noeviction "+
		"or a volatile- policy to count them in Redis", "maxmemory-policy", policy)
	return true
}

// crashAt, when set, names the point of a view flush or a write at which
// the process kills itself (crashFaults). Only the crash tests set it, in the
// child process they start (crash_test.go's TestMain, from
// CATALOG_CRASH_AT): no setting of a production build reaches it.
var crashAt string

// crashFaults returns no Faults, or for crash tests Faults that kill the
// process with SIGKILL (no deferred call, no flush) when a view flush or a
// write reaches point.
func crashFaults(point string, log *slog.Logger) store.Faults {
	if point == "" {
		return nil
	}
	log.Warn("crash test: this process will kill itself", "at", point)
	return store.FaultFunc(func(_ context.Context, p string, _ store.Kind, _ []int64) {
		if p == point {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL) // to itself: cannot fail
			select {}                                      // the signal is on its way
		}
	})
}

// startFlusher runs the view counter's flusher until the returned function
// is called; that function waits for the final flush, and is idempotent.
func startFlusher(ctx context.Context, counter *views.Counter) func() {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { counter.Run(fctx); close(done) }()
	return func() { cancel(); <-done }
}

// newHandler wires the HTTP routes: GraphQL at /query, the playground at /
// with its bundle under /playground/, the health checks, and the metrics.
func newHandler(s services, c config, log *slog.Logger) http.Handler {
	opt := loaders.Options{Store: s.db, Hits: s.counter, Wait: c.loaderWait, Logger: log,
		LeaseTTL: c.leaseTTL, FallbackMaxInflight: c.fallbackMax, Observer: s.tel}
	writes := &loaders.Writes{SQL: s.db, Logger: log, Faults: crashFaults(crashAt, log)}
	resolver := &graph.Resolver{Lister: s.db, Writer: writes, Views: s.counter, Admin: s.admin, Logger: log}
	hopt := graph.HandlerOptions{Resolver: resolver, Logger: log, Limits: c.limits, Production: c.production,
		CORSOrigins: c.corsOrigins, ClientIPHeader: c.clientHeader, Extensions: s.tel.Extensions(),
		Overload: graph.OverloadOptions{MaxInflight: c.maxInflight, MaxQueue: overloadQueue * c.maxInflight,
			MaxWait: overloadWait, OnRefuse: s.tel.Overloaded}}
	if s.viewLimit != nil {
		resolver.ViewLimit = s.viewLimit
	}
	if s.cache != nil {
		opt.Cache, writes.Cache, opt.Audit, hopt.PersistedQueries = s.cache, s.inv, s.audit, s.queries
		opt.Near = s.near
	}
	hopt.Loaders = loaders.NewFactory(opt)
	hopt.TrustedDocuments = s.trusted
	hopt.ResponseCache = newResponseCache(c.respCache, s.feed, s.counter, s.tel)
	watch(s, hopt.Loaders)
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", healthz())
	mux.Handle("GET /readyz", readyz(s))
	mux.Handle("GET /metrics", s.tel.Handler())
	mux.Handle("/query", s.tel.Middleware(graph.NewHandler(hopt)))
	if !c.production {
		pg := playground.Handler("/query", log)
		mux.Handle("GET /{$}", pg)
		mux.Handle("GET "+playground.AssetPrefix, pg)
	}
	return reqlog.Middleware(reqlog.AccessLog(log, reqlog.AccessOptions{Sample: c.accessSample}, mux))
}

// serve runs the HTTP server until ctx is done, then lets requests in flight
// finish.
func serve(ctx context.Context, c config, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", ":"+c.port)
	if err != nil {
		return err
	}
	var active atomic.Int64 // requests being served, for the shutdown's log
	srv := httpServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		active.Add(1)
		defer active.Add(-1)
		h.ServeHTTP(w, r)
	}))
	if c.production {
		log.Info("serving in production mode", "addr", ln.Addr().String())
	} else {
		log.Info("serving", "addr", ln.Addr().String(), "playground", "http://localhost:"+c.port+"/")
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	start, inflight := time.Now(), active.Load()
	log.Info("shutting down: no new requests; finishing those in flight", "requests", inflight,
		"deadline", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown deadline passed; requests still running were cut", "requests", active.Load(),
			"took", time.Since(start).Round(time.Millisecond))
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("HTTP server stopped", "requests_drained", inflight, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// shutdownTimeout bounds how long a shutdown waits for requests in flight:
// ReadTimeout and the slowest page fit in it, and orchestrators commonly
// wait 30 s before they kill.
const shutdownTimeout = 10 * time.Second

// httpServer bounds how long a client may take: to send its headers (a
// slowloris client holding connections open), its whole request, to read
// the response, and to keep an idle connection.
func httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler: h,
		// Headers past 16 KiB are refused with 431 before a handler runs:
		// net/http's default of 1 MB let 500 clients hold half a gigabyte.
		MaxHeaderBytes:    maxHeaderBytes,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// maxHeaderBytes bounds a request's header: a few cookies and a bearer
// token need a few KiB.
const maxHeaderBytes = 16 << 10

// purgeCache drops every cache entry after a reset: the new catalogue reuses
// ids and versions, so old entries would otherwise pass for current ones.
func purgeCache(ctx context.Context, c config, log *slog.Logger) {
	if c.redisURL == "off" {
		return
	}
	rdb, err := store.NewRedis(c.redisURL, store.RedisOptions{Timeout: time.Second})
	if err != nil {
		log.Warn("cache not purged after reset", "err", err)
		return
	}
	defer rdb.Close()
	n, err := store.NewCache(rdb, store.CacheOptions{Prefix: c.redisPrefix + "v1:"}).Purge(ctx)
	if err != nil {
		log.Warn("cache not purged after reset; entries of the old catalogue may be served until they expire", "err", err)
		return
	}
	m, err := store.NewRedisViews(rdb, store.RedisViewsOptions{Prefix: c.redisPrefix}).Reset(ctx)
	if err != nil {
		log.Warn("view counts not reset; the old catalogue's counts may be shown until they expire", "err", err)
		return
	}
	log.Info("cache and view counts purged after reset", "keys", n+m)
}
