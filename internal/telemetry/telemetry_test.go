package telemetry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// Operation names label metrics only while they are few and well formed;
// only valid operations admit new names.
func TestOperationNames(t *testing.T) {
	n := newOperationNames(2)
	for _, c := range []struct {
		name  string
		valid bool
		want  string
	}{
		{"", true, anonymous},
		{"ProductPage", false, other}, // not validated: not admitted
		{"ProductPage", true, "ProductPage"},
		{"ProductPage", false, "ProductPage"}, // known: kept even when it fails validation
		{"bad-name", true, other},
		{strings.Repeat("a", 65), true, other},
		{"other", true, other},
		{"Search", true, "Search"},
		{"Third", true, other}, // past the bound
		{"Search", true, "Search"},
	} {
		if got := n.label(c.name, c.valid); got != c.want {
			t.Errorf("label(%q, %v) = %q, want %q", c.name, c.valid, got, c.want)
		}
	}
}

// Each Redis round trip is timed under its command; a failure counts as
// an error and a miss does not; connection handshakes are left out; a
// request's round trips are its cost.
func TestRedisHook(t *testing.T) {
	tel := New(Options{})
	rdb, err := redisstore.NewRedis(storetest.RedisURL(t), redisstore.RedisOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	if err := tel.InstrumentRedis(rdb, &redisstore.RedisCounter{}); err != nil {
		t.Fatal(err)
	}
	ctx, m := withMeter(context.Background())
	key := storetest.Prefix(t, storetest.RedisURL(t)) + "missing"
	if err := rdb.Get(ctx, key).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET of a missing key: %v", err)
	}
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, key); p.Get(ctx, key); return nil }); !errors.Is(err, redis.Nil) {
		t.Fatalf("pipeline: %v", err)
	}
	dead, _ := redisstore.NewRedis("redis://127.0.0.1:1/0", redisstore.RedisOptions{Timeout: 100 * time.Millisecond})
	t.Cleanup(func() { dead.Close() })
	if err := tel.InstrumentRedis(dead, &redisstore.RedisCounter{}); err != nil {
		t.Fatal(err)
	}
	if dead.Get(context.Background(), key).Err() == nil {
		t.Fatal("GET on a closed port succeeded")
	}
	for _, c := range []struct {
		got  float64
		want float64
		what string
	}{
		{float64(testutil.CollectAndCount(tel.m.redisDuration, "catalog_redis_duration_seconds")), 2, "commands timed (get, pipeline)"},
		{testutil.ToFloat64(tel.m.redisErrors.WithLabelValues("get")), 1, "get errors (the closed port)"},
		{float64(testutil.CollectAndCount(tel.m.redisErrors)), 1, "error series"},
		{float64(m.redis.Load()), 2, "the request's round trips"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
}

// A statement is timed under its operation, counted as an error when it
// fails, and added to the request's cost.
func TestStatementObserver(t *testing.T) {
	tel := New(Options{})
	ctx, m := withMeter(context.Background())
	s := sqlstore.Statement{Dialect: sqlstore.Postgres, Op: "SELECT products", Query: "SELECT 1"}
	_, end := tel.StartStatement(ctx, s)
	end(nil)
	_, end = tel.StartStatement(ctx, s)
	end(fmt.Errorf("boom"))
	_, end = tel.StartStatement(context.Background(), s) // background: no request's
	end(nil)
	if n := testutil.ToFloat64(tel.m.sqlErrors.WithLabelValues("SELECT products")); n != 1 {
		t.Errorf("errors = %v, want 1", n)
	}
	if n := m.sql.Load(); n != 2 {
		t.Errorf("the request's statements = %d, want 2", n)
	}
	if n := testutil.CollectAndCount(tel.m.sqlDuration); n != 1 {
		t.Errorf("duration series = %d, want 1", n)
	}
}

// The breaker's state is a gauge, and its changes a counter, as a Redis
// that refuses connections opens it.
func TestBreakerMetrics(t *testing.T) {
	tel := New(Options{})
	rdb, _ := redisstore.NewRedis("redis://127.0.0.1:1/0", redisstore.RedisOptions{Timeout: 100 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	cache := redisstore.NewCache(rdb, redisstore.CacheOptions{Breaker: redisstore.BreakerOptions{OnChange: tel.BreakerChanged, Cooldown: time.Hour}})
	tel.Watch(Sources{Cache: cache})
	for range 3 {
		_ = cache.Ping(context.Background()) // fails: the breaker counts it
	}
	want := `
# HELP catalog_redis_breaker_state The Redis circuit breaker: 0 closed, 1 half-open, 2 open.
# TYPE catalog_redis_breaker_state gauge
catalog_redis_breaker_state 2
# HELP catalog_redis_breaker_transitions_total Changes of the Redis circuit breaker's state, by the state entered.
# TYPE catalog_redis_breaker_transitions_total counter
catalog_redis_breaker_transitions_total{state="open"} 1
# HELP catalog_cache_reads_fenced 1 while cache reads are fenced because an invalidation may be missing, else 0.
# TYPE catalog_cache_reads_fenced gauge
catalog_cache_reads_fenced 1
`
	if err := testutil.GatherAndCompare(tel.Gatherer(), strings.NewReader(want),
		"catalog_redis_breaker_state", "catalog_redis_breaker_transitions_total", "catalog_cache_reads_fenced"); err != nil {
		t.Error(err)
	}
}

// Tracing is on only when the environment names an OTLP endpoint.
func TestTracerProviderFromEnv(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		env      map[string]string
		on       bool
		endpoint string
	}{
		{map[string]string{}, false, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318/"}, true, "http://127.0.0.1:4318/v1/traces"},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/traces",
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:4318"}, true, "http://127.0.0.1:4318/traces"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, false, ""},
	} {
		getenv := func(k string) string { return c.env[k] }
		tp, shutdown, err := TracerProvider(ctx, getenv)
		if err != nil {
			t.Fatal(err)
		}
		if (tp != nil) != c.on || (c.on && tracesEndpoint(getenv) != c.endpoint) {
			t.Errorf("%v: provider %v, endpoint %q; want on=%v at %q", c.env, tp, tracesEndpoint(getenv), c.on, c.endpoint)
		}
		if err := shutdown(ctx); err != nil {
			t.Errorf("%v: shutdown: %v", c.env, err)
		}
	}
}
