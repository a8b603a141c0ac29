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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"

	"catalog-bff/graph"
	"catalog-bff/loaders"
	"catalog-bff/reqlog"
	"catalog-bff/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "catalog-bff:", err)
		os.Exit(1)
	}
}

// config is everything the service reads from its environment and flags.
type config struct {
	port         string
	databaseURL  string
	redisURL     string
	redisTimeout time.Duration
	loaderWait   time.Duration
	demoProducts int
	adminTokens  string
	production   bool
	limits       graph.Limits
	corsOrigins  []string
}

// parseConfig reads the environment, then lets flags override it.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config, *flag.FlagSet, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.port, "port", env("PORT", "8080"), "HTTP port (PORT)")
	fs.StringVar(&c.databaseURL, "database-url", env("DATABASE_URL", "sqlite:catalog.db"),
		"postgres://… or sqlite:PATH (DATABASE_URL)")
	fs.StringVar(&c.redisURL, "redis-url", env("REDIS_URL", "redis://127.0.0.1:6379/0"),
		"redis://host:port/db, or off for no cache (REDIS_URL)")
	var err error
	if c.redisTimeout, err = time.ParseDuration(env("REDIS_TIMEOUT", "50ms")); err != nil {
		return c, fs, fmt.Errorf("REDIS_TIMEOUT: %w", err)
	}
	fs.DurationVar(&c.redisTimeout, "redis-timeout", c.redisTimeout, "deadline of each Redis call (REDIS_TIMEOUT)")
	if c.loaderWait, err = time.ParseDuration(env("LOADER_WAIT", "1ms")); err != nil {
		return c, fs, fmt.Errorf("LOADER_WAIT: %w", err)
	}
	fs.DurationVar(&c.loaderWait, "loader-wait", c.loaderWait, "dataloader batch window (LOADER_WAIT)")
	if c.demoProducts, err = strconv.Atoi(env("DEMO_PRODUCTS", "1000")); err != nil {
		return c, fs, fmt.Errorf("DEMO_PRODUCTS: %w", err)
	}
	fs.IntVar(&c.demoProducts, "demo-products", c.demoProducts,
		"products seeded into an empty database at start, 0 for none (DEMO_PRODUCTS)")
	fs.StringVar(&c.adminTokens, "admin-tokens", env("ADMIN_TOKENS", ""),
		"comma-separated bearer tokens for admin mutations (ADMIN_TOKENS)")
	if err := parseLimits(fs, &c, env); err != nil {
		return c, fs, err
	}
	if err := fs.Parse(args); err != nil {
		return c, fs, err
	}
	return c, fs, c.check()
}

// run is the whole program: it serves until ctx is done, or runs the seed
// subcommand. Tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "seed" {
		return runSeed(ctx, args[1:], getenv, stderr, newLogger(getenv("CATALOG_ENV") == "production", stderr))
	}
	c, _, err := parseConfig("catalog-bff", args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(c.production, stderr)
	db, err := openDB(ctx, c.databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := seedDemo(ctx, db, c.demoProducts, log); err != nil {
		return err
	}
	cache, queries, closeCache := openCache(ctx, c, log)
	defer closeCache()
	admin, err := adminTokens(c, db.Dialect(), log)
	if err != nil {
		return err
	}
	return serve(ctx, c, newHandler(db, cache, queries, admin, c, log), log)
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

// openCache returns the Redis cache and the persisted query store, or nils
// when REDIS_URL is "off". A Redis that does not answer at start is not
// fatal: the service serves from SQL, and every persisted query is a miss,
// until Redis answers.
func openCache(ctx context.Context, c config, log *slog.Logger) (*store.Cache, *store.PersistedQueries, func()) {
	if c.redisURL == "off" {
		log.Info("cache off (REDIS_URL=off): every read goes to SQL")
		return nil, nil, func() {}
	}
	rdb, err := store.NewRedis(c.redisURL, store.RedisOptions{Timeout: c.redisTimeout})
	if err != nil {
		log.Warn("cache disabled: bad REDIS_URL", "err", err)
		return nil, nil, func() {}
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	cache := store.NewCache(rdb, store.CacheOptions{Timeout: c.redisTimeout})
	if err := rdb.Ping(pctx).Err(); err != nil {
		log.Warn("Redis unreachable at start; serving from SQL until it answers",
			"url", store.Redact(c.redisURL), "err", err)
	} else if err := cache.LoadScripts(pctx); err != nil {
		log.Warn("cache scripts not loaded; they are sent on first use", "err", err)
	}
	queries := store.NewPersistedQueries(rdb, store.PersistedQueryOptions{Timeout: c.redisTimeout})
	return cache, queries, func() { rdb.Close() }
}

// newHandler wires the HTTP routes: GraphQL at /query, the playground at /
// in development only. Every request gets an id and an access log line.
func newHandler(db *store.DB, cache *store.Cache, queries *store.PersistedQueries, admin *graph.Admin, c config, log *slog.Logger) http.Handler {
	opt := loaders.Options{Store: db, Wait: c.loaderWait, Logger: log}
	resolver := &graph.Resolver{Lister: db, Writer: db, Admin: admin, Logger: log}
	hopt := graph.HandlerOptions{Resolver: resolver, Logger: log, Limits: c.limits, Production: c.production,
		CORSOrigins: c.corsOrigins}
	if cache != nil {
		opt.Cache, resolver.Cache, hopt.PersistedQueries = cache, cache, queries
	}
	hopt.Loaders = loaders.NewFactory(opt)
	mux := http.NewServeMux()
	mux.Handle("/query", graph.NewHandler(hopt))
	if !c.production {
		mux.Handle("GET /{$}", playground.Handler("catalog-bff", "/query"))
	}
	return reqlog.Middleware(reqlog.AccessLog(log, mux))
}

// serve runs the HTTP server until ctx is done, then lets requests in flight
// finish.
func serve(ctx context.Context, c config, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", ":"+c.port)
	if err != nil {
		return err
	}
	srv := httpServer(h)
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
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// httpServer bounds how long a client may take: to send its headers (a
// slowloris client holding connections open), its whole request, to read
// the response, and to keep an idle connection.
func httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// runSeed is `catalog-bff seed`: it fills the configured database.
func runSeed(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, log *slog.Logger) error {
	c, fs, err := parseConfig("catalog-bff seed", nil, getenv, stderr)
	if err != nil {
		return err
	}
	products := fs.Int("products", 1000, "products to create")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same catalogue")
	reset := fs.Bool("reset", false, "replace a catalogue that is not empty")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := openDB(ctx, c.databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	if err := db.Seed(ctx, store.SeedOptions{Products: *products, Seed: *seed, Reset: *reset}); err != nil {
		return err
	}
	log.Info("seeded", "products", *products, "took", time.Since(start).Round(time.Millisecond))
	if *reset {
		purgeCache(ctx, c, log)
	}
	return nil
}

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
	n, err := store.NewCache(rdb, store.CacheOptions{}).Purge(ctx)
	if err != nil {
		log.Warn("cache not purged after reset; entries of the old catalogue may be served until they expire", "err", err)
		return
	}
	log.Info("cache purged after reset", "keys", n)
}
