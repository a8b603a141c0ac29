package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/internal/telemetry"
	"catalog-bff/loaders"
	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/views"
)

// The parts App.Open opens, each from the config.

// openDB connects and migrates. Its errors name the URL, password hidden.
func openDB(ctx context.Context, url string) (*sqlstore.DB, error) {
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := sqlstore.Open(octx, url)
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
func seedDemo(ctx context.Context, db *sqlstore.DB, products int, log *slog.Logger) error {
	if products <= 0 {
		return nil
	}
	empty, err := db.Empty(ctx)
	if err != nil || !empty {
		return err
	}
	log.Info("empty database: seeding a demo catalogue", "products", products)
	return db.Seed(ctx, sqlstore.SeedOptions{Products: products, Seed: 1})
}

// openRedis returns the Redis client, or nil when REDIS_URL is "off", and
// the one hook that counts its round trips for the metrics, the requests'
// costs and /debug/costs. A Redis that does not answer at start is not
// fatal: the service serves from SQL, counts views in process, and uses
// Redis once it answers.
func openRedis(ctx context.Context, c Config, tel *telemetry.Telemetry, log *slog.Logger) (redis.UniversalClient, *redisstore.RedisCounter, func()) {
	if c.redisURL == "off" {
		log.Info("Redis off (REDIS_URL=off): every read goes to SQL, views count in process")
		return nil, nil, func() {}
	}
	rdb, err := redisstore.NewRedis(c.redisURL, redisstore.RedisOptions{Timeout: c.redisTimeout})
	if err != nil {
		log.Warn("Redis disabled: bad REDIS_URL", "err", err)
		return nil, nil, func() {}
	}
	counter := &redisstore.RedisCounter{}
	if err := tel.InstrumentRedis(rdb, counter); err != nil {
		log.Warn("Redis not traced", "err", err)
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		log.Warn("Redis unreachable at start; serving from SQL until it answers",
			"url", store.Redact(c.redisURL), "err", err)
	} else if redisstore.IsClusterURL(c.redisURL) {
		log.Info("Redis Cluster", "url", store.Redact(c.redisURL))
	}
	return rdb, counter, func() { rdb.Close() }
}

// openCache returns the document cache over rdb, the near cache in front of
// it with the invalidation stream that keeps it honest, the invalidation
// worker, and the auditor that measures how honest, all running until ctx
// is done; all nil without Redis. Writes then queue their invalidations in
// the outbox.
func (a *App) openCache(db *sqlstore.DB, rdb redis.UniversalClient, tel *telemetry.Telemetry) (*redisstore.Cache, *loaders.Near, *loaders.CacheInvalidator, *loaders.Auditor) {
	ctx, c, log, seams := a.bg, a.cfg, a.log, a.Seams
	if rdb == nil {
		return nil, nil, nil, nil
	}
	var cache *redisstore.Cache
	near := loaders.NewNear(loaders.NearOptions{MaxEntries: c.nearSize, MaxBytes: c.nearBytes,
		MaxStaleness: c.nearStale, Readable: func() bool { return cache.Readable() }})
	copt := redisstore.CacheOptions{Prefix: c.redisPrefix + "v1:", Timeout: c.redisTimeout,
		Breaker: redisstore.BreakerOptions{OnChange: tel.BreakerChanged}, Strategy: seams.Strategy}
	if near != nil {
		copt.Listener = near
	}
	cache = redisstore.NewCache(rdb, copt)
	if err := cache.LoadScripts(ctx); err != nil {
		log.Debug("cache scripts not loaded; they are sent on first use", "err", err)
	}
	if near != nil {
		go cache.Watch(ctx, redisstore.WatchOptions{})
	}
	db.EnableOutbox()
	inv := loaders.NewCacheInvalidator(db, cache, loaders.CacheInvalidatorOptions{Logger: log, Interval: seams.InvalidateEvery})
	audit := loaders.NewAuditor(db, cache, loaders.AuditorOptions{Fraction: c.auditFraction, Bound: seams.AuditBound})
	if !seams.Manual {
		go inv.Run(ctx)
		go audit.Run(ctx)
	}
	return cache, near, inv, audit
}

// checkSpillFile refuses a VIEWS_SPILL_FILE whose directory cannot take a
// file: a stop with the database down would find out only then, losing the
// views it holds.
func checkSpillFile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".spill-check-*")
	if err != nil {
		return fmt.Errorf("VIEWS_SPILL_FILE %s: its directory cannot take the file views go to when SQL is down at a stop: %w", path, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// newCounter returns the view counter, over Redis when there is one.
func newCounter(db *sqlstore.DB, rdb redis.UniversalClient, c Config, faults store.Faults, log *slog.Logger) (*views.Counter, *redisstore.RedisViews) {
	// A stop gives the final flush what is left of SHUTDOWN_TIMEOUT
	// (startFlusher); DrainTimeout only bounds a stop that does not say.
	opt := views.Options{SQL: db, FlushInterval: c.flushInterval, FlushMax: c.flushMax,
		Timeout: c.redisTimeout, Logger: log, Faults: faults, SpillFile: c.spillFile,
		DrainTimeout: c.shutdownTimeout}
	if rdb != nil {
		rv := redisstore.NewRedisViews(rdb, redisstore.RedisViewsOptions{Prefix: c.redisPrefix, Timeout: c.redisTimeout})
		lctx, cancel := context.WithTimeout(context.Background(), 4*c.redisTimeout)
		if err := rv.LoadScripts(lctx); err != nil {
			log.Debug("view counter scripts not loaded; they are sent on first use", "err", err)
		}
		cancel()
		opt.Redis = rv
		opt.MayEvict = func(ctx context.Context) (string, bool, error) {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			policy, err := redisstore.EvictionPolicy(ctx, rdb)
			return policy, redisstore.EvictsAnyKey(policy), err
		}
	}
	counter := views.New(opt)
	counter.CheckEviction(context.Background()) // before the first request
	rv, _ := opt.Redis.(*redisstore.RedisViews)
	return counter, rv
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
// is called; that function waits for the final flush, which ends by
// deadline (views.DrainBy), and is idempotent: the first call's deadline
// holds.
func startFlusher(ctx context.Context, counter *views.Counter) func(deadline time.Time) {
	fctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { counter.Run(fctx); close(done) }()
	return func(deadline time.Time) { cancel(views.DrainBy(deadline)); <-done }
}
