package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// repoRoot is the repository's top directory, from this package's.
const repoRoot = "../.."

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
	c, _, err := ParseConfig("catalog-bff", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	app := New(c, newLogger(c.production, logs))
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
	db, err := sqlstore.Open(ctx, env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id, err := db.Catalogue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sqlstore.CatalogueKeyPrefix(env["REDIS_PREFIX"], id)
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
	err := Run(context.Background(), []string{"-port", "0"}, func(k string) string {
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
	if err := Run(ctx, []string{"seed", "-products", "30"}, env, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := Run(ctx, []string{"seed", "-products", "30"}, env, io.Discard); !errors.Is(err, sqlstore.ErrNotEmpty) ||
		!strings.Contains(err.Error(), "-reset") {
		t.Errorf("second seed: %v, want %v saying to add -reset", err, sqlstore.ErrNotEmpty)
	}
	if err := Run(ctx, []string{"seed", "-products", "40", "-reset"}, env, io.Discard); err != nil {
		t.Errorf("seed -reset: %v", err)
	}
}

// /healthz answers while the process lives; /readyz is ready while SQL
// answers and reports Redis and the near cache without failing on them.
func TestHealthEndpoints(t *testing.T) {
	for _, tc := range []struct{ redis, want string }{
		{storetest.RedisURL(t), `"nearCache":"ok","redis":"ok","sql":"ok","status":"ready","views":"ok"`},
		{"redis://127.0.0.1:1/0", `"nearCache":"degraded","redis":"degraded","sql":"ok","status":"ready","views":"in process"`},
		{"off", `"nearCache":"off","redis":"off","sql":"ok","status":"ready","views":"in process"`},
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
