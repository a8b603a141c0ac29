package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// pageQuery is a product detail page, as the product pages ask for it.
const pageQuery = `query Page($id: ID!) { product(id: $id) { id name description price { amount currency } ` +
	`images { url alt } tags category { id name parent { id name } } seller { id name rating } hits } }`

func pageBody(id int) []byte {
	b, _ := json.Marshal(map[string]any{"query": pageQuery, "variables": map[string]any{"id": fmt.Sprint(id)}})
	return b
}

// With no DB_MAX_CONNS the SQL pool is bounded (sqlstore.DefaultMaxOpenConns):
// 64 product pages at once with the cache off all succeed, their
// statements waiting their turn for a connection, and PostgreSQL never
// sees more of this server's connections than the bound. MAX_INFLIGHT is
// off, so that every page reaches SQL at once; SQL_TIMEOUT is 10 s, as in
// the other tests, so that a saturated CI machine does not fail a healthy
// statement.
func TestSQLPoolBoundedByDefault(t *testing.T) {
	app := storetest.Name("pool_")
	dbURL := withParam(t, storetest.DatabaseURL(t, sqlstore.Postgres), "application_name", app)
	base, _ := start(t, map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": "off",
		"DEMO_PRODUCTS": "200", "MAX_INFLIGHT": "0", "SQL_TIMEOUT": "10s"})
	bound := sqlstore.DefaultMaxOpenConns()
	peak, stop := watchConnections(t, app)
	var failed, unavailable atomic.Int64
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			body, err := postPage(base, i%200+1)
			switch {
			case err != nil || !strings.Contains(body, `"product":{"id"`):
				failed.Add(1)
				t.Logf("page %d: %v %.300s", i%200+1, err, body)
			case strings.Contains(body, "UNAVAILABLE"):
				unavailable.Add(1)
			}
		})
	}
	wg.Wait()
	most := stop()
	t.Logf("64 pages at once, cache off: at most %d PostgreSQL connections (bound %d)", most, bound)
	if failed.Load()+unavailable.Load() != 0 {
		t.Errorf("%d pages failed, %d UNAVAILABLE; want none", failed.Load(), unavailable.Load())
	}
	if most > int64(bound) || peak.Load() == 0 {
		t.Errorf("PostgreSQL saw at most %d connections of this server, want 1..%d", most, bound)
	}
}

// withParam returns rawURL with the query parameter k set to v.
func withParam(t *testing.T, rawURL, k, v string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

// watchConnections counts, every few milliseconds until stop is called,
// the PostgreSQL connections whose application_name is app; stop returns
// the most it saw.
func watchConnections(t *testing.T, app string) (peak *atomic.Int64, stop func() int64) {
	t.Helper()
	admin, err := sql.Open("pgx", storetest.DatabaseURL(t, sqlstore.Postgres))
	if err != nil {
		t.Fatal(err)
	}
	peak = &atomic.Int64{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var n int64
			if err := admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`,
				app).Scan(&n); err == nil && n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return peak, func() int64 { cancel(); <-done; admin.Close(); return peak.Load() }
}

func postPage(base string, id int) (string, error) {
	res, err := http.Post(base+"/query", "application/json", bytes.NewReader(pageBody(id)))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}
