package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"catalog-bff/graph"
	"catalog-bff/internal/telemetry"
	"catalog-bff/loaders"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/views"
)

// runServe is `catalog-bff [serve]`: it serves until ctx is done.
func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, _, err := ParseConfig("catalog-bff", args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(c.production, stderr)
	tuneGC(getenv, log)
	app := New(c, log)
	defer app.Close()
	if err := app.Open(ctx); err != nil {
		return err
	}
	return app.Serve(ctx)
}

// App is the whole service, built from one config: Open connects to its
// stores, starts its background work and listens; Addr says where; Serve
// answers until its context is done, then drains and flushes; Close
// releases what Open took. main runs it through runServe; every test
// that starts the service starts an App too, on port 0: this package's
// (startApp, and child processes through Run) and the graph tests
// (graph/harness_test.go, with Seams for what no setting says).
type App struct {
	cfg Config
	log *slog.Logger
	svc services
	// Seams are what a test replaces; main leaves them zero.
	Seams Seams
	parts Parts

	// bg is the context of the background work (invalidations, audit,
	// the invalidation stream, the manifest's reloads): Close ends it,
	// after the last request and the final flush.
	bg     context.Context
	stopBG context.CancelFunc

	ln          net.Listener
	handler     http.Handler
	stopFlusher func(deadline time.Time)
	closers     []func() // run in reverse by Close
	closeOnce   sync.Once
}

// services are the parts that App wires together. cache, inv, audit and
// queries are nil without Redis.
type services struct {
	db        *sqlstore.DB
	cache     *redisstore.Cache
	near      *loaders.Near // nil: no near cache
	inv       *loaders.CacheInvalidator
	audit     *loaders.Auditor
	queries   *redisstore.PersistedQueries
	viewLimit *redisstore.RateLimiter // nil: views are not rate-limited
	trusted   *graph.TrustedDocuments // nil: trusted documents off
	counter   *views.Counter
	admin     *graph.Admin
	tel       *telemetry.Telemetry
	// feed tells in-process caches which documents changed; nil turns the
	// response cache off.
	feed graph.InvalidationFeed
}

// New returns the service configured by c, not yet open.
func New(c Config, log *slog.Logger) *App {
	bg, stop := context.WithCancel(context.Background())
	return &App{cfg: c, log: log, bg: bg, stopBG: stop, stopFlusher: func(time.Time) {}}
}

// onClose adds f to what Close runs, after what was added later.
func (a *App) onClose(f func()) { a.closers = append(a.closers, f) }

// Open connects to the database (migrating and, when empty, seeding it)
// and to Redis, starts the background work and the view counter's
// flusher, builds the routes and listens on the configured port (0 picks
// a free one: Addr says which). ctx bounds the opening only. After an
// error, Close releases what was opened.
func (a *App) Open(ctx context.Context) error {
	c, log := a.cfg, a.log
	if a.Seams.Faults == nil {
		a.Seams.Faults = crashFaults(crashAt, log)
	}
	db := a.Seams.DB
	if db == nil {
		var err error
		if db, err = openDB(ctx, c.databaseURL); err != nil {
			return err
		}
		a.onClose(func() { db.Close() })
	} else {
		// A database the test shares, perhaps with another App: this one
		// sets its timeout, observer and outbox on a handle of its own.
		db = db.Handle()
	}
	catalogue, err := db.Catalogue(ctx)
	if err != nil {
		return err
	}
	// Every Redis key is scoped by the catalogue: two databases sharing a
	// Redis and REDIS_PREFIX never read each other's entries or views.
	a.cfg.redisPrefix = sqlstore.CatalogueKeyPrefix(c.redisPrefix, catalogue)
	c = a.cfg
	log.Info("catalogue", "identity", catalogue, "redis_prefix", c.redisPrefix)
	db.SetStatementTimeout(c.sqlTimeout)
	db.SetMaxOpenConns(c.dbMaxConns)
	tel, stopTracing, err := newTelemetry(a.bg, c, a.Seams.Tracer, log)
	if err != nil {
		return err
	}
	a.onClose(stopTracing)
	db.SetObserver(tel)
	if err := seedDemo(ctx, db, c.demoProducts, log); err != nil {
		return err
	}
	rdb, redisCalls, closeRedis := openRedis(ctx, c, tel, log)
	a.onClose(closeRedis)
	costs := newCosts(c, db, rdb, redisCalls) // nil when the debug endpoints are off
	a.svc = services{db: db, tel: tel}
	s := &a.svc
	if s.admin, err = adminTokens(c, db.Dialect(), log); err != nil {
		return err
	}
	s.cache, s.near, s.inv, s.audit = a.openCache(db, rdb, tel)
	if s.near != nil { // the response cache follows the near cache's invalidations
		s.feed = s.near
	}
	if rdb != nil {
		s.queries = redisstore.NewPersistedQueries(rdb, redisstore.PersistedQueryOptions{
			Prefix: c.redisPrefix + "apq:v1:", Timeout: c.redisTimeout})
		if c.viewRate > 0 {
			s.viewLimit = redisstore.NewRateLimiter(rdb, redisstore.RateLimitOptions{Prefix: c.redisPrefix,
				Rate: c.viewRate, Burst: c.viewBurst, Timeout: c.redisTimeout})
		}
	}
	if s.trusted, err = openTrusted(a.bg, c.trusted, c.production, log); err != nil {
		return err
	}
	if err := checkSpillFile(c.spillFile); err != nil {
		return err
	}
	var rv *redisstore.RedisViews
	s.counter, rv = newCounter(db, rdb, c, a.Seams.Faults, log)
	if !a.Seams.Manual {
		a.stopFlusher = startFlusher(a.bg, s.counter)
	}
	h, factory, rc := a.newHandler()
	if rc != nil {
		a.onClose(rc.Close)
	}
	a.handler = costs.wrap(h)
	a.parts = Parts{DB: db, Redis: rdb, RedisCalls: redisCalls, Cache: s.cache, Near: s.near,
		Invalidator: s.inv, Auditor: s.audit, Views: s.counter, RedisViews: rv, Loaders: factory,
		Telemetry: tel, ResponseCache: rc, Prefix: c.redisPrefix, Handler: a.handler}
	if a.ln, err = net.Listen("tcp", ":"+c.port); err != nil {
		return err
	}
	return nil
}

// Addr is the address the service listens on, once open.
func (a *App) Addr() string { return a.ln.Addr().String() }

// Serve answers requests until ctx is done, then stops within
// SHUTDOWN_TIMEOUT: it stops taking new requests, lets those in flight
// finish (within httpDrainTimeout), and flushes the views this process
// holds, in what is left of the time; what SQL has not taken by then goes
// to the spill file. It returns an error if the server failed, or if
// acknowledged views could be written neither to SQL nor to the spill
// file.
func (a *App) Serve(ctx context.Context) error {
	stopping, err := a.serveHTTP(ctx)
	// After the last request: flushes what this process holds.
	a.stopFlusher(stopping.Add(a.cfg.shutdownTimeout))
	if ctx.Err() != nil {
		a.log.Info("stopped", "took", time.Since(stopping).Round(time.Millisecond))
	}
	if n := a.svc.counter.Lost(); n > 0 && err == nil {
		err = fmt.Errorf("%d acknowledged views were written neither to SQL nor to %s", n, a.cfg.spillFile)
	}
	return err
}

// serveHTTP runs the HTTP server until ctx is done, then lets requests in
// flight finish. It returns when the stop began: when it saw ctx done, or
// when the server failed.
func (a *App) serveHTTP(ctx context.Context) (time.Time, error) {
	var active atomic.Int64 // requests being served, for the shutdown's log
	srv := httpServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		active.Add(1)
		defer active.Add(-1)
		a.handler.ServeHTTP(w, r)
	}), a.cfg.maxHeaderBytes)
	addr := a.Addr()
	if a.cfg.production {
		a.log.Info("serving in production mode", "addr", addr)
	} else {
		_, port, _ := net.SplitHostPort(addr)
		a.log.Info("serving", "addr", addr, "playground", "http://localhost:"+port+"/")
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(a.ln) }()
	select {
	case err := <-errc:
		return time.Now(), err
	case <-ctx.Done():
	}
	start, inflight, drain := time.Now(), active.Load(), httpDrainTimeout(a.cfg.shutdownTimeout)
	a.log.Info("shutting down: no new requests; finishing those in flight", "requests", inflight,
		"deadline", drain, "shutdown_timeout", a.cfg.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		a.log.Error("shutdown deadline passed; requests still running were cut", "requests", active.Load(),
			"took", time.Since(start).Round(time.Millisecond))
		return start, err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return start, err
	}
	a.log.Info("HTTP server stopped", "requests_drained", inflight, "took", time.Since(start).Round(time.Millisecond))
	return start, nil
}

// Close stops the flusher (flushing what it holds, if Serve did not), the
// background work, and closes the listener, Redis, tracing and the
// database, in the reverse order of opening. It is idempotent.
func (a *App) Close() {
	a.closeOnce.Do(func() {
		a.stopFlusher(time.Now().Add(a.cfg.shutdownTimeout))
		a.stopBG()
		if a.ln != nil {
			a.ln.Close() // already closed once served
		}
		for i := len(a.closers) - 1; i >= 0; i-- {
			a.closers[i]()
		}
	})
}

// adminTokens returns the accepted admin tokens. With none configured, the
// embedded default outside production makes one for this run and logs it,
// so that `go run .` can try the mutations; PostgreSQL, and production
// whatever the database, refuse admin mutations instead.
func adminTokens(c Config, dialect sqlstore.Dialect, log *slog.Logger) (*graph.Admin, error) {
	tokens := strings.Split(c.adminTokens, ",")
	if strings.TrimSpace(c.adminTokens) != "" {
		return graph.NewAdmin(tokens), nil
	}
	if dialect != sqlstore.SQLite || c.production {
		log.Warn("no ADMIN_TOKENS: admin mutations are refused")
		return graph.NewAdmin(nil), nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	token := hex.EncodeToString(b)
	log.Info("no ADMIN_TOKENS: made an admin token for this run", "token", token)
	return graph.NewAdmin([]string{token}), nil
}
