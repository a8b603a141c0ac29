// Package storetest gives tests their own, isolated PostgreSQL schema, SQLite
// file and Redis key prefix, so that packages can run their tests in
// parallel against the same services without seeing each other's data.
//
// The services are found through TEST_DATABASE_URL and TEST_REDIS_URL, which
// default to the local ones, and TEST_REDIS_CLUSTER_URL, a Redis Cluster
// (redis+cluster://host:port,host:port/, which .ci/redis-cluster.sh
// starts), which has no default. When a service is missing, a test that
// needs it is skipped with a message naming the service, or fails when
// CI=true; a test that needs the cluster is skipped when
// TEST_REDIS_CLUSTER_URL is unset.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"

	"github.com/redis/go-redis/v9"
)

// Defaults for the services this machine runs.
const (
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// Dialects lists the SQL engines that store tests run against.
var Dialects = []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// missing remembers the services found unavailable, by name, so that the
// tests after the first skip at once instead of each waiting out its own
// connection attempts: without PostgreSQL and Redis, go test -short ./...
// then takes seconds, not minutes.
var missing sync.Map // service name → error

// probed reports a service already found unavailable: it skips tb (or
// fails it under CI) at once. It returns when the service was not found
// unavailable so far.
func probed(tb testing.TB, service string) {
	tb.Helper()
	if err, ok := missing.Load(service); ok {
		unavailable(tb, service, err.(error))
	}
}

// unavailable skips tb, or fails it under CI, because a service is missing.
func unavailable(tb testing.TB, service string, err error) {
	tb.Helper()
	missing.LoadOrStore(service, err)
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
func DatabaseURL(tb testing.TB, dialect sqlstore.Dialect) string {
	tb.Helper()
	if dialect == sqlstore.SQLite {
		return "sqlite:" + filepath.Join(tb.TempDir(), "catalog.db")
	}
	base := env("TEST_DATABASE_URL", DefaultDatabaseURL)
	probed(tb, "PostgreSQL ("+store.Redact(base)+")")
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
func MustOpen(tb testing.TB, dialect sqlstore.Dialect) *sqlstore.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, DatabaseURL(tb, dialect))
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
	probed(tb, "Redis ("+store.Redact(raw)+")")
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

// ClusterURL returns the Redis Cluster URL tests use
// (TEST_REDIS_CLUSTER_URL), after checking that every master answers and
// the cluster is healthy. tb is skipped when the variable is unset.
func ClusterURL(tb testing.TB) string {
	tb.Helper()
	return clusterURL(tb, "TEST_REDIS_CLUSTER_URL")
}

// FailoverClusterURL returns the URL of a second Redis Cluster
// (TEST_REDIS_FAILOVER_CLUSTER_URL) that tests may fail over. No other test
// uses it, so that a failover cannot disturb their counts. tb is skipped
// when the variable is unset.
func FailoverClusterURL(tb testing.TB) string {
	tb.Helper()
	return clusterURL(tb, "TEST_REDIS_FAILOVER_CLUSTER_URL")
}

func clusterURL(tb testing.TB, name string) string {
	tb.Helper()
	raw := os.Getenv(name)
	if raw == "" {
		tb.Skipf("Redis Cluster not configured (%s; .ci/redis-cluster.sh starts one), skipping", name)
	}
	rdb, err := redisstore.NewRedis(raw, redisstore.RedisOptions{Timeout: 2 * time.Second})
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := rdb.(*redis.ClusterClient)
	err = c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		info, err := node.ClusterInfo(ctx).Result()
		if err == nil && !strings.Contains(info, "cluster_state:ok") {
			err = fmt.Errorf("%s: cluster state is not ok", node.Options().Addr)
		}
		return err
	})
	if err != nil {
		unavailable(tb, "Redis Cluster ("+store.Redact(raw)+")", err)
	}
	return raw
}

// ForEachRedis runs f as a parallel subtest against each kind of Redis the
// service supports: "redis", a single node (RedisURL), and "cluster", a
// Redis Cluster (ClusterURL), skipped when none is configured.
func ForEachRedis(t *testing.T, f func(t *testing.T, redisURL string)) {
	t.Helper()
	for _, r := range []struct {
		name string
		url  func(testing.TB) string
	}{{"redis", RedisURL}, {"cluster", ClusterURL}} {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			f(t, r.url(t))
		})
	}
}

// IsCluster reports whether redisURL names a Redis Cluster.
func IsCluster(redisURL string) bool { return redisstore.IsClusterURL(redisURL) }

// Prefix returns a key prefix of tb's own. Every key under it is deleted
// when tb ends, on every master of a cluster; no other key is touched.
func Prefix(tb testing.TB, redisURL string) string {
	tb.Helper()
	prefix := Name("test:") + ":"
	tb.Cleanup(func() {
		rdb, err := redisstore.NewRedis(redisURL, redisstore.RedisOptions{Timeout: 2 * time.Second})
		if err != nil {
			return
		}
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := redisstore.DeleteKeys(ctx, rdb, prefix+"*"); err != nil {
			tb.Logf("delete keys %s*: %v", prefix, err)
		}
	})
	return prefix
}

// Masters returns how many Redis masters hold keys, which is how many node
// round trips a pipeline of one command per key costs: 1 on a single
// Redis, and on a cluster the number of masters among those of the keys'
// slots.
func Masters(tb testing.TB, rdb redis.UniversalClient, keys ...string) int64 {
	tb.Helper()
	c, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return 1
	}
	masters := map[string]bool{}
	for _, k := range keys {
		node, err := c.MasterForKey(context.Background(), k)
		if err != nil {
			tb.Fatalf("master of %s: %v", k, err)
		}
		masters[node.Options().Addr] = true
	}
	return int64(len(masters))
}

// ForEachDialect runs f as a parallel subtest against each SQL engine.
func ForEachDialect(t *testing.T, f func(t *testing.T, d sqlstore.Dialect)) {
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f(t, d)
		})
	}
}

// LogBuffer is a log sink that a server and its test share: safe for
// concurrent use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Eventually polls cond until it holds, and fails tb if it does not within
// timeout, naming what it waited for. Give timeout a margin that a loaded
// machine cannot use up: it bounds a failure, not a figure.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: still waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
