package app

import (
	"context"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"catalog-bff/graph"
	"catalog-bff/internal/telemetry"
	"catalog-bff/loaders"
	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/views"
)

// Seams are where a test reaches into the service it starts: what it
// replaces, and the faults it injects. main leaves them zero, which is the
// service as configured; App.Seams is read by Open.
type Seams struct {
	// DB is an open database used instead of DATABASE_URL's. Open neither
	// migrates nor closes it, and seeds it only if it is empty. It sets its
	// statement timeout, observer and outbox on a handle of its own
	// (sqlstore.DB.Handle), so that two Apps can share one database.
	DB *sqlstore.DB
	// Faults is told when loads, writes and view flushes reach their
	// points (store.Faults). Zero: none, except in a crash test's child
	// process (crashAt).
	Faults store.Faults
	// Tracer records the spans instead of the OTLP exporter.
	Tracer trace.TracerProvider
	// Manual runs none of the background work: the invalidation worker,
	// the auditor and the view flusher. The test drives them
	// (Parts.Invalidator.Drain, Parts.Auditor.Check, Parts.Views.Flush),
	// so that what it counts is what its requests cost.
	Manual bool
	// InvalidateEvery and AuditBound, when set, replace the invalidation
	// worker's interval and the auditor's convergence bound.
	InvalidateEvery, AuditBound time.Duration
	// Strategy is how the document cache fills and invalidates; zero is
	// the service's (redisstore.Versioned).
	Strategy redisstore.Strategy
	// Invalidated, when set, is told each write's invalidations once they
	// are delivered, as another instance's feed would be.
	Invalidated func([]store.Invalidation)
	// Loaders, Handler and ResponseCache adjust the options Open built
	// from the config, before they are used.
	Loaders       func(*loaders.Options)
	Handler       func(*graph.HandlerOptions)
	ResponseCache func(*graph.ResponseCacheOptions)
}

// Parts are the pieces an open App is made of, for the tests that start
// it to observe and drive. Without Redis, Redis, RedisCalls, Cache, Near,
// Invalidator, Auditor and RedisViews are nil; ResponseCache is nil when
// off.
type Parts struct {
	DB            *sqlstore.DB
	Redis         redis.UniversalClient
	RedisCalls    *redisstore.RedisCounter // Redis round trips, by command
	Cache         *redisstore.Cache
	Near          *loaders.Near
	Invalidator   *loaders.CacheInvalidator
	Auditor       *loaders.Auditor
	Views         *views.Counter
	RedisViews    *redisstore.RedisViews
	Loaders       *loaders.Factory
	Telemetry     *telemetry.Telemetry
	ResponseCache *graph.ResponseCache
	// Prefix is the Redis key prefix: REDIS_PREFIX scoped by the
	// catalogue's identity.
	Prefix string
	// Handler is every route, as served; GraphQL is at /query.
	Handler http.Handler
}

// Parts returns the pieces of an open App.
func (a *App) Parts() Parts { return a.parts }

// announcing tells then of a write's invalidations once delivered.
type announcing struct {
	loaders.Invalidator
	then func([]store.Invalidation)
}

func (a announcing) Invalidate(ctx context.Context, invs []store.Invalidation) error {
	err := a.Invalidator.Invalidate(ctx, invs)
	a.then(invs)
	return err
}
