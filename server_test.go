package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"catalog-bff/graph"
	"catalog-bff/loaders"
	"catalog-bff/store"
	"catalog-bff/store/storetest"
)

// startApp starts the service in process through App, as runServe does,
// on a port the system picks, and returns its base URL. The service stops
// (drained, flushed, closed) when ctx is done or t ends; Serve's error is
// sent on served.
func startApp(t *testing.T, ctx context.Context, env map[string]string, logs io.Writer) (base string, served <-chan error) {
	t.Helper()
	env["PORT"] = "0"
	if env["VIEWS_SPILL_FILE"] == "" { // never in the working directory
		env["VIEWS_SPILL_FILE"] = filepath.Join(t.TempDir(), "views.spill.json")
	}
	c, _, err := parseConfig("catalog-bff", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	app := NewApp(c, newLogger(c.production, logs))
	if err := app.Open(context.Background()); err != nil {
		app.Close()
		t.Fatalf("open: %v; logs:\n%s", err, logs)
	}
	ctx, cancel := context.WithCancel(ctx)
	done, finished := make(chan error, 1), make(chan struct{})
	go func() {
		err := app.Serve(ctx)
		app.Close()
		done <- err
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	_, port, _ := net.SplitHostPort(app.Addr())
	return "http://127.0.0.1:" + port, done
}

// redisKeyPrefix returns the prefix of the service's Redis keys under env:
// REDIS_PREFIX scoped by the identity of DATABASE_URL's catalogue.
func redisKeyPrefix(t *testing.T, env map[string]string) string {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id, err := db.Catalogue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return store.CatalogueKeyPrefix(env["REDIS_PREFIX"], id)
}

// start runs the server as `go run .` would, and stops it when t ends,
// failing t if it stops with an error.
func start(t *testing.T, env map[string]string) (base string, logs *storetest.LogBuffer) {
	t.Helper()
	logs = &storetest.LogBuffer{}
	var served <-chan error
	t.Cleanup(func() { // registered first, so it runs after startApp's, which stops the service
		if err := <-served; err != nil {
			t.Errorf("the service returned %v when stopped; logs:\n%s", err, logs)
		}
	})
	base, served = startApp(t, context.Background(), env, logs)
	return base, logs
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
	redisURL := storetest.RedisURL(t)
	base, _ := start(t, map[string]string{
		"DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
		"REDIS_URL":     redisURL,
		"REDIS_PREFIX":  storetest.Prefix(t, redisURL),
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
	err := run(context.Background(), []string{"-port", "0"}, func(k string) string {
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
	if err := run(ctx, []string{"seed", "-products", "30"}, env, io.Discard); !errors.Is(err, store.ErrNotEmpty) ||
		!strings.Contains(err.Error(), "-reset") {
		t.Errorf("second seed: %v, want %v saying to add -reset", err, store.ErrNotEmpty)
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
	if err != nil || c.dbMaxConns != store.DefaultMaxOpenConns() || c.dbMaxConns < 8 {
		t.Errorf("default: %d, %v; want %d", c.dbMaxConns, err, store.DefaultMaxOpenConns())
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

// /healthz answers while the process lives; /readyz is ready while SQL
// answers and reports Redis and the near cache without failing on them.
func TestHealthEndpoints(t *testing.T) {
	for _, tc := range []struct{ redis, want string }{
		{storetest.RedisURL(t), `"nearCache":"ok","redis":"ok"`},
		{"redis://127.0.0.1:1/0", `"nearCache":"degraded","redis":"degraded"`},
		{"off", `"nearCache":"off","redis":"off"`},
	} {
		base, _ := start(t, map[string]string{
			"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
			"REDIS_URL":    tc.redis, "REDIS_PREFIX": storetest.Prefix(t, storetest.RedisURL(t)), "DEMO_PRODUCTS": "5",
		})
		for path, want := range map[string]string{"/healthz": "ok", "/readyz": tc.want} {
			var body string
			var code int
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				res, err := http.Get(base + path)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				body, code = string(b), res.StatusCode
				if strings.Contains(body, want) || time.Now().After(deadline) {
					break // the first delivery round opens the cache's reads
				}
			}
			if code != 200 || !strings.Contains(body, want) {
				t.Errorf("Redis %s: %s = %d %s, want 200 with %s", tc.redis, path, code, body, want)
			}
		}
	}
}

// In production the playground is gone, introspection is refused, and logs
// are JSON lines that carry the request's id.
func TestRunInProduction(t *testing.T) {
	base, logs := start(t, map[string]string{
		"DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
		"REDIS_URL":     "off",
		"DEMO_PRODUCTS": "5",
		"CATALOG_ENV":   "production",
	})
	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET / in production: %d, want 404", res.StatusCode)
	}
	req, _ := http.NewRequest("POST", base+"/query", strings.NewReader(`{"query":"{ __schema { types { name } } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-ID", "trace-42")
	// A request error is 400 as application/graphql-response+json (200 as
	// application/json): a failed request always gets an access log line.
	req.Header.Set("Accept", "application/graphql-response+json")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "INTROSPECTION_DISABLED") {
		t.Errorf("introspection in production: %s", body)
	}
	if got := res.Header.Get("X-Request-ID"); got != "trace-42" {
		t.Errorf("X-Request-ID %q, want trace-42", got)
	}
	var access map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if m["msg"] == "request" && m["path"] == "/query" {
			access = m
		}
	}
	if access["request_id"] != "trace-42" || access["status"] != float64(400) {
		t.Errorf("access log line %v, want request_id trace-42 and status 400", access)
	}
}

func TestParseConfigLimits(t *testing.T) {
	env := map[string]string{"CATALOG_ENV": "production", "QUERY_MAX_DEPTH": "7", "CORS_ORIGINS": "https://shop.example.com, https://*.example.com"}
	c, _, err := parseConfig("t", []string{"-query-max-aliases", "5", "-max-body-bytes", "1000"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	l := c.limits
	if !c.production || l.MaxDepth != 7 || l.MaxAliases != 5 || l.MaxBodyBytes != 1000 || l.MaxComplexity != 5000 || l.MaxTokens != 5000 ||
		len(c.corsOrigins) != 2 {
		t.Errorf("config %+v", c)
	}
	for key, bad := range map[string]string{
		"CATALOG_ENV":          "staging",
		"CORS_ORIGINS":         "shop.example.com",
		"QUERY_MAX_DEPTH":      "0",
		"QUERY_MAX_COMPLEXITY": "lots",
		"MAX_BODY_BYTES":       "-1",
	} {
		_, _, err := parseConfig("t", nil, func(k string) string { return map[string]string{key: bad}[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%s: error %v, want one naming %s", key, bad, err, key)
		}
	}
}

// A client that sends its headers or its body too slowly is cut off. The
// server's timeouts are scaled down here; the mechanism is the same.
func TestSlowClientsCutOff(t *testing.T) {
	srv := httpServer(nil, 16<<10)
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout < srv.ReadHeaderTimeout || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("timeouts %v %v %v %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	srv.Handler = graph.NewHandler(graph.HandlerOptions{Resolver: &graph.Resolver{}, Loaders: loaders.NewFactory(loaders.Options{}),
		Logger: slog.New(slog.DiscardHandler)})
	srv.ReadHeaderTimeout, srv.ReadTimeout = 200*time.Millisecond, 300*time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }() // ErrServerClosed when the test ends
	defer srv.Close()
	for name, c := range map[string]struct{ send, want string }{
		"headers never finished": {"POST /query HTTP/1.1\r\nHost: x\r\n", ""},
		"body never finished": {"POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":",
			`"code":"BAD_REQUEST"`},
	} {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte(c.send)); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil {
			t.Errorf("%s: still open after 10 s: %v", name, err)
		}
		if !strings.Contains(string(got), c.want) {
			t.Errorf("%s: got %q, want %q", name, got, c.want)
		}
	}
}

// A shutdown lets the request in flight finish and logs what it drained
// and how long it took. The request is known to be in its handler when
// the server answers its Expect: 100-continue, which net/http does when
// the handler first reads the body.
func TestShutdownDrainsAndLogs(t *testing.T) {
	env := map[string]string{"REDIS_URL": "off", "DEMO_PRODUCTS": "5",
		"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "catalog.db")}
	logs := &storetest.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, done := startApp(t, ctx, env, logs)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"query":"{ product(id: \"1\") { id } }"}`
	fmt.Fprintf(conn, "POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body))
	r := bufio.NewReader(conn)
	if line, err := r.ReadString('\n'); err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("before the body: %q, %v", line, err)
	}
	_, _ = r.ReadString('\n') // the blank line after 100 Continue
	cancel()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the service logged:\n%s", logs)
		}
	})
	storetest.Eventually(t, 10*time.Second, "the shutdown's first log line",
		func() bool { return strings.Contains(logs.String(), "shutting down") })
	io.WriteString(conn, body)
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("the request in flight: %v", err)
	}
	page, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(page), `"id":"1"`) {
		t.Errorf("the request in flight got %d %s", res.StatusCode, page)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	out := logs.String()
	for _, want := range []string{`msg="shutting down: no new requests; finishing those in flight" requests=1`,
		`msg="HTTP server stopped" requests_drained=1 took=`, `msg="view counter drained"`, `msg=stopped took=`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
}

// With no ADMIN_TOKENS, the embedded database outside production makes a
// token for the run and logs it; production never does, whatever the
// database, and refuses admin mutations.
func TestAdminTokenOfTheRun(t *testing.T) {
	for _, production := range []bool{false, true} {
		env := map[string]string{"REDIS_URL": "off", "DEMO_PRODUCTS": "3",
			"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "catalog.db")}
		if production {
			env["CATALOG_ENV"] = "production"
		}
		base, logs := start(t, env)
		m := regexp.MustCompile(`made an admin token for this run"? "?token"?[=:]"?([0-9a-f]{32})`).FindStringSubmatch(logs.String())
		if production != (m == nil) {
			t.Fatalf("production %v: token logged %v; logs:\n%s", production, m != nil, logs)
		}
		token := "anything"
		if m != nil {
			token = m[1]
		}
		req, _ := http.NewRequest("POST", base+"/query", strings.NewReader(`{"query":"mutation { setStock(productId: \"1\", stock: 5) { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if refused := strings.Contains(string(body), `"FORBIDDEN"`); refused != production {
			t.Errorf("production %v: the mutation answered %s", production, body)
		}
	}
}
