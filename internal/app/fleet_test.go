package app

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
	"catalog-bff/store/storetest/history"
)

// drain stops the instances and makes sure SQL holds what they counted: a
// view still in Redis (a final flush that failed) is flushed by one more
// instance, which applies at start every batch left behind.
func (f *fleet) drain(t *testing.T) {
	t.Helper()
	f.stop(t)
	rdb, err := redisstore.NewRedis(f.env["REDIS_URL"], redisstore.RedisOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	views := redisKeyPrefix(t, f.env) + "{views}:"
	pending, _ := rdb.HLen(ctx, views+"pending").Result()
	claimed, _ := rdb.ZCard(ctx, views+"claimed").Result()
	if pending+claimed > 0 {
		t.Logf("left in Redis: views of %d products pending, %d batches claimed; one more instance flushes them", pending, claimed)
		f.inst = []*child{startChild(t, f.env)}
		f.stop(t)
	}
}

// fleet is two instances of the service over one database and one Redis.
type fleet struct {
	env      map[string]string
	inst     []*child
	client   *http.Client
	viewsOf  []int64 // the products that get views
	baseHits map[int64]int64
}

const fleetToken = "fleet-token"

// startFleet starts two instances, one after the other so that the first
// migrates and seeds alone.
func startFleet(t *testing.T, redisURL, redisTimeout string) *fleet {
	f := &fleet{env: map[string]string{
		"DATABASE_URL": storetest.DatabaseURL(t, sqlstore.Postgres),
		"REDIS_URL":    redisURL, "REDIS_PREFIX": storetest.Prefix(t, redisURL),
		"DEMO_PRODUCTS": "40", "ADMIN_TOKENS": fleetToken,
		"VIEWS_FLUSH_INTERVAL": "200ms", "REDIS_TIMEOUT": redisTimeout,
		"DB_MAX_CONNS": "8", // the test's PostgreSQL is shared
		// Every view of this one client must count: no per-client limit.
		"VIEW_RATE_LIMIT": "0",
	}}
	f.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(f.client.CloseIdleConnections)
	for range 2 {
		f.inst = append(f.inst, startChild(t, f.env))
	}
	for id := int64(21); id <= 30; id++ {
		f.viewsOf = append(f.viewsOf, id)
	}
	f.baseHits = sqlHits(t, f.env["DATABASE_URL"], 40)
	return f
}

// fleetResult is what a load did.
type fleetResult struct {
	history.Result
	views viewTally
}

type viewTally struct {
	acked, ambiguous, failed int64
}

// load runs, for d, 4 writers and 8 readers of prices (products 1..20)
// and 4 clients recording views (products 21..30). A writer alternates
// between the instances, a reader stays with one (half on each), a view
// goes to a random one. During the load, event runs if not nil. It fails t on a failed
// write or read, a view failing other than UNAVAILABLE, or a stale read.
func (f *fleet) load(t *testing.T, d time.Duration, event func()) fleetResult {
	t.Helper()
	var r fleetResult
	var wg sync.WaitGroup
	if event != nil {
		wg.Go(event)
	}
	wg.Go(func() { r.views = f.recordViews(d) })
	var products []int64
	for id := int64(1); id <= 20; id++ {
		products = append(products, id)
	}
	r.Result = history.Load{Products: products, Writers: 4, Readers: 8, For: d,
		Write: func(w int, p, v int64) error { return f.setPrice(f.inst[(w+int(v))%2].base, p, v) },
		Read:  func(r int, p int64) (int64, error) { return f.price(f.inst[r%2].base, p) },
	}.Run()
	wg.Wait()
	stale := r.StaleReads()
	t.Logf("%d writes, %d reads, %d stale reads, %d failed; views: %d acknowledged, %d UNAVAILABLE, %d failed",
		len(r.Writes), len(r.Reads), stale, r.Failures, r.views.acked, r.views.ambiguous, r.views.failed)
	if r.Failures != 0 || r.views.failed != 0 {
		t.Errorf("%d writes and reads failed (%q), %d views failed other than UNAVAILABLE; want none",
			r.Failures, r.Errors, r.views.failed)
	}
	if len(r.Writes) < 20 || len(r.Reads) < 100 || r.views.acked < 40 {
		t.Errorf("too little traffic to judge: %d writes, %d reads, %d views", len(r.Writes), len(r.Reads), r.views.acked)
	}
	return r
}

// any returns the base URL of a random instance.
func (f *fleet) any() string { return f.inst[rand.IntN(len(f.inst))].base }

func (f *fleet) recordViews(d time.Duration) viewTally {
	var acked, ambiguous, failed atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for range 4 {
		wg.Go(func() {
			for time.Now().Before(stop) {
				id := f.viewsOf[rand.IntN(len(f.viewsOf))]
				q := fmt.Sprintf(`mutation { recordView(productId: "%d") { id hits } }`, id)
				switch code, err := f.do(f.any(), "", q, nil); {
				case err == nil:
					acked.Add(1)
				case code == "UNAVAILABLE":
					ambiguous.Add(1)
				default:
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return viewTally{acked.Load(), ambiguous.Load(), failed.Load()}
}

func (f *fleet) setPrice(base string, id, amount int64) error {
	q := fmt.Sprintf(`mutation { updateProduct(id: "%d", input: {price: {amount: %d, currency: "EUR"}}) { id } }`, id, amount)
	_, err := f.do(base, fleetToken, q, nil)
	return err
}

func (f *fleet) price(base string, id int64) (int64, error) {
	var data struct {
		Product struct{ Price struct{ Amount int64 } }
	}
	_, err := f.do(base, "", fmt.Sprintf(`{ product(id: "%d") { price { amount } } }`, id), &data)
	return data.Product.Price.Amount, err
}

// do posts a GraphQL query and decodes its data into out. A response with
// errors returns the first error's code and an error.
func (f *fleet) do(base, token, query string, out any) (string, error) {
	body, _ := json.Marshal(map[string]string{"query": query})
	req, _ := http.NewRequest("POST", base+"/query", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := f.client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var r struct {
		Data   json.RawMessage
		Errors []struct {
			Message    string
			Extensions struct{ Code string }
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return "", fmt.Errorf("status %d: %w", res.StatusCode, err)
	}
	if len(r.Errors) > 0 {
		return r.Errors[0].Extensions.Code, fmt.Errorf("%s: %s", r.Errors[0].Extensions.Code, r.Errors[0].Message)
	}
	if out != nil {
		return "", json.Unmarshal(r.Data, out)
	}
	return "", nil
}

// stop sends SIGTERM to every instance and waits for each to flush and
// exit cleanly.
func (f *fleet) stop(t *testing.T) {
	t.Helper()
	for _, c := range f.inst {
		if err := syscall.Kill(c.cmd.Process.Pid, syscall.SIGTERM); err != nil {
			t.Errorf("stop instance: %v", err)
		}
	}
	for _, c := range f.inst {
		if how := c.wait(t, 15*time.Second); how != "exit 0" {
			t.Fatalf("instance ended with %s; logs:\n%s", how, c.logs)
		}
	}
}

// logWarnings logs what the instances warned about, for the test's -v
// output.
func (f *fleet) logWarnings(t *testing.T) {
	for i, c := range f.inst {
		for line := range strings.Lines(c.logs.String()) {
			if (strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR")) && !strings.Contains(line, "playground") {
				t.Logf("instance %d: %.300s", i, strings.TrimSpace(line))
			}
		}
	}
}

// viewsInSQL returns the views SQL holds for the viewed products beyond
// what they had at start.
func (f *fleet) viewsInSQL(t *testing.T) int64 {
	t.Helper()
	now := sqlHits(t, f.env["DATABASE_URL"], 40)
	var n int64
	for _, id := range f.viewsOf {
		n += now[id] - f.baseHits[id]
	}
	return n
}
