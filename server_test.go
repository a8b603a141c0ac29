package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"catalog-bff/store/storetest"
)

// syncBuffer is a log sink that the server and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// start runs the server as `go run .` would, and stops it when t ends.
func start(t *testing.T, env map[string]string) (base string, logs *syncBuffer) {
	t.Helper()
	port := freePort(t)
	env["PORT"] = port
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, logs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v after cancel; logs:\n%s", err, logs)
		}
	})
	base = "http://127.0.0.1:" + port
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if res, err := http.Get(base + "/"); err == nil {
			res.Body.Close()
			return base, logs
		}
	}
	t.Fatalf("server did not start; logs:\n%s", logs)
	return "", nil
}

func post(t *testing.T, base, query string) string {
	t.Helper()
	res, err := http.Post(base+"/query", "application/json", strings.NewReader(`{"query":`+query+`}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// A fresh machine: the embedded database is created, migrated and seeded,
// the playground and the endpoint answer.
func TestRunOnEmbeddedDefault(t *testing.T) {
	base, _ := start(t, map[string]string{
		"DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
		"REDIS_URL":     storetest.RedisURL(t),
		"DEMO_PRODUCTS": "50",
	})
	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), "/query") {
		t.Errorf("playground: %d %.200s", res.StatusCode, page)
	}
	if got := post(t, base, `"{ product(id: \"1\") { id name seller { name } } }"`); !strings.Contains(got, `"id":"1"`) {
		t.Errorf("product 1: %s", got)
	}
}

// A Redis that cannot be reached at start is a warning, not a failure.
func TestRunWithoutRedis(t *testing.T) {
	base, logs := start(t, map[string]string{
		"DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
		"REDIS_URL":     "redis://127.0.0.1:1/0",
		"DEMO_PRODUCTS": "20",
	})
	if got := post(t, base, `"{ products(ids: [\"1\", \"2\"]) { id } }"`); !strings.Contains(got, `"products":[{"id":"1"},{"id":"2"}]`) {
		t.Errorf("products without Redis: %s", got)
	}
	if n := strings.Count(logs.String(), "Redis unreachable at start"); n != 1 {
		t.Errorf("logged the Redis warning %d times, want once:\n%s", n, logs)
	}
}

// A database that cannot be reached is fatal, and the error names the URL
// without its password.
func TestRunDatabaseUnreachable(t *testing.T) {
	url := "postgres://catalog:s3cret@127.0.0.1:1/catalog?sslmode=disable&connect_timeout=2"
	err := run(context.Background(), []string{"-port", freePort(t)}, func(k string) string {
		return map[string]string{"DATABASE_URL": url, "REDIS_URL": "off"}[k]
	}, io.Discard)
	if err == nil {
		t.Fatal("run succeeded with no database")
	}
	if msg := err.Error(); strings.Contains(msg, "s3cret") || !strings.Contains(msg, "catalog:xxxxx@127.0.0.1:1") {
		t.Errorf("error = %q, want the URL with its password hidden", msg)
	}
}

func TestSeedCommand(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "catalog.db")
	env := func(k string) string { return map[string]string{"DATABASE_URL": url}[k] }
	ctx := context.Background()
	if err := run(ctx, []string{"seed", "-products", "30"}, env, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"seed", "-products", "30"}, env, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "not empty") {
		t.Errorf("second seed: %v, want a not-empty error", err)
	}
	if err := run(ctx, []string{"seed", "-products", "40", "-reset"}, env, io.Discard); err != nil {
		t.Errorf("seed -reset: %v", err)
	}
}

// The view counter's settings come from the environment, flags override
// them, and a bad duration is an error that names the variable.
func TestViewsConfig(t *testing.T) {
	env := map[string]string{"VIEWS_FLUSH_INTERVAL": "250ms", "VIEWS_FLUSH_MAX": "500"}
	c, _, err := parseConfig("t", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.flushInterval != 250*time.Millisecond || c.flushMax != 500 {
		t.Errorf("from env: %v, %d, %v", c.flushInterval, c.flushMax, err)
	}
	c, _, err = parseConfig("t", []string{"-views-flush-interval", "2s", "-views-flush-max", "7"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.flushInterval != 2*time.Second || c.flushMax != 7 {
		t.Errorf("flags over env: %v, %d, %v", c.flushInterval, c.flushMax, err)
	}
	c, _, err = parseConfig("t", nil, func(string) string { return "" }, io.Discard)
	if err != nil || c.flushInterval != time.Second || c.flushMax != 10000 || c.redisPrefix != "catalog:" {
		t.Errorf("defaults: %v, %d, %q, %v", c.flushInterval, c.flushMax, c.redisPrefix, err)
	}
	env["VIEWS_FLUSH_INTERVAL"] = "soon"
	if _, _, err := parseConfig("t", nil, func(k string) string { return env[k] }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "VIEWS_FLUSH_INTERVAL") {
		t.Errorf("bad interval: %v", err)
	}
}

// DB_MAX_CONNS bounds the SQL pool; it must be a number.
func TestDBMaxConnsConfig(t *testing.T) {
	c, _, err := parseConfig("t", nil, func(string) string { return "" }, io.Discard)
	if err != nil || c.dbMaxConns != 0 {
		t.Errorf("default: %d, %v; want 0 (no bound)", c.dbMaxConns, err)
	}
	c, _, err = parseConfig("t", []string{"-db-max-conns", "8"},
		func(k string) string { return map[string]string{"DB_MAX_CONNS": "24"}[k] }, io.Discard)
	if err != nil || c.dbMaxConns != 8 {
		t.Errorf("flag over env: %d, %v; want 8", c.dbMaxConns, err)
	}
	if _, _, err := parseConfig("t", nil, func(k string) string {
		return map[string]string{"DB_MAX_CONNS": "many"}[k]
	}, io.Discard); err == nil || !strings.Contains(err.Error(), "DB_MAX_CONNS") {
		t.Errorf("bad DB_MAX_CONNS: %v", err)
	}
}
