package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"strings"
	"time"

	"catalog-bff/graph"
	"catalog-bff/internal/reqlog"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
)

// Config is everything the service reads from its environment and flags.
type Config struct {
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
	// maxHeaderBytes bounds a request's header (MAX_HEADER_BYTES).
	maxHeaderBytes int
	leaseTTL       time.Duration
	fallbackMax    int
	auditFraction  float64
	production     bool
	limits         graph.Limits
	corsOrigins    []string
	viewRate       float64 // views a client may count per second; 0 for no limit
	viewBurst      int
	clientHeader   string
	nearSize       int           // NEAR_CACHE_SIZE, 0 for no near cache
	nearBytes      int64         // NEAR_CACHE_MAX_BYTES
	nearStale      time.Duration // NEAR_CACHE_MAX_STALENESS
	accessSample   float64       // ACCESS_LOG_SAMPLE
	// debugEndpoints is "on", "off", or "" for on except in production
	// (debug.go).
	debugEndpoints string
	respCache      responseCacheConfig // responsecache.go
	trusted        trustedConfig       // trusteddocs.go
	otel           map[string]string   // the OTEL_ variables the tracing setup reads

	// shutdownTimeout bounds a stop (SHUTDOWN_TIMEOUT): the HTTP drain,
	// then the view counter's final flush (app.go).
	shutdownTimeout time.Duration
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

// purgeCache drops every cache entry and view count under c.redisPrefix,
// the old catalogue's after a reset: the new catalogue has its own
// identity, so its instances never read them, but an instance still
// running on the old identity would until it restarts, and they take
// memory until they expire.
func purgeCache(ctx context.Context, c Config, log *slog.Logger) {
	if c.redisURL == "off" {
		return
	}
	rdb, err := redisstore.NewRedis(c.redisURL, redisstore.RedisOptions{Timeout: time.Second})
	if err != nil {
		log.Warn("cache not purged after reset", "err", err)
		return
	}
	defer rdb.Close()
	n, err := redisstore.NewCache(rdb, redisstore.CacheOptions{Prefix: c.redisPrefix + "v1:"}).Purge(ctx)
	if err != nil {
		log.Warn("cache not purged after reset; entries of the old catalogue may be served until they expire", "err", err)
		return
	}
	m, err := redisstore.NewRedisViews(rdb, redisstore.RedisViewsOptions{Prefix: c.redisPrefix}).Reset(ctx)
	if err != nil {
		log.Warn("view counts not reset; the old catalogue's counts may be shown until they expire", "err", err)
		return
	}
	log.Info("cache and view counts purged after reset", "keys", n+m)
}
