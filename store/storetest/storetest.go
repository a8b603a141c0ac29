// Package storetest gives tests their own, isolated PostgreSQL schema, SQLite
// file and Redis key prefix, so that packages can run their tests in
// parallel against the same services without seeing each other's data.
//
// The services are found through TEST_DATABASE_URL and TEST_REDIS_URL, which
// default to the local ones. When a service is missing, a test that needs it
// is skipped with a message naming the service, or fails when CI=true.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/store"
)

// Defaults for the services this machine runs.
const (
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// Dialects lists the SQL engines that store tests run against.
var Dialects = []store.Dialect{store.SQLite, store.Postgres}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// unavailable skips tb, or fails it under CI, because a service is missing.
func unavailable(tb testing.TB, service string, err error) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s is required under CI=true but unavailable: %v", service, err)
	}
	tb.Skipf("%s unavailable, skipping: %v", service, err)
}

// Name returns a short random name, unique enough to isolate one test.
func Name(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// DatabaseURL returns a URL for a fresh database of the given dialect: a new
// schema in the test PostgreSQL database, or a new SQLite file. The schema is
// dropped when tb ends. Nothing is migrated.
func DatabaseURL(tb testing.TB, dialect store.Dialect) string {
	tb.Helper()
	if dialect == store.SQLite {
		return "sqlite:" + filepath.Join(tb.TempDir(), "catalog.db")
	}
	base := env("TEST_DATABASE_URL", DefaultDatabaseURL)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		unavailable(tb, "PostgreSQL ("+store.Redact(base)+")", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	schema := Name("t_")
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		unavailable(tb, "PostgreSQL ("+store.Redact(base)+")", err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Logf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema) // pgx sends unknown parameters as run-time settings
	u.RawQuery = q.Encode()
	return u.String()
}

// MustOpen returns a migrated, empty database of the given dialect, closed
// when tb ends.
func MustOpen(tb testing.TB, dialect store.Dialect) *store.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, DatabaseURL(tb, dialect))
	if err != nil {
		tb.Fatalf("open %s: %v", dialect, err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatalf("migrate %s: %v", dialect, err)
	}
	return db
}

// RedisURL returns the Redis URL tests use, after checking that it answers.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	raw := env("TEST_REDIS_URL", DefaultRedisURL)
	opt, err := redis.ParseURL(raw)
	if err != nil {
		tb.Fatalf("TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		unavailable(tb, "Redis ("+store.Redact(raw)+")", err)
	}
	return raw
}

// Prefix returns a key prefix of tb's own. Every key under it is deleted
// when tb ends; no other key is touched.
func Prefix(tb testing.TB, redisURL string) string {
	tb.Helper()
	prefix := Name("test:") + ":"
	tb.Cleanup(func() {
		opt, err := redis.ParseURL(redisURL)
		if err != nil {
			return
		}
		c := redis.NewClient(opt)
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return prefix
}
