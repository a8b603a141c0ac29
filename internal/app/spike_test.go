package app

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// A spike of product pages at 1.5 times what the service serves at most is
// shed at the edge, wired as in production: every request is served
// (200) or refused at once (503 OVERLOADED with Retry-After), the pages
// served cost the SQL statements of a warm cache (no fallback of every page
// to SQL), the Redis circuit breaker never opens, and at half the maximum
// afterwards the service serves normally. Redis calls time out after 1 s,
// as in the other load tests: here Redis is healthy, and what is measured
// is how the service handles its own overload.
//
// The response cache is off: the bound protects pages that execute. A page
// the response cache answers costs about what a refusal costs, so a spike
// of those is bounded by net/http itself, before any handler runs, and
// shedding at the edge neither helps nor can be measured (with it on, 1.5
// times the closed loop under the race detector queued refusals and pages
// alike for most of a second before the handler).
func TestSpikeShedAtTheEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	if raceEnabled || os.Getenv("CATALOG_LOAD_TESTS") != "1" {
		// Beside the other packages' suites it measures the machine, not
		// the bound: under the race detector one CI run served pages at a
		// p50 of 2 s during the spike, and a plain `go test ./...` on 2
		// cores refused half of the calm phase. .ci/run runs it alone after
		// the suite, without -race, with CATALOG_LOAD_TESTS=1.
		t.Skip("load test: run alone with CATALOG_LOAD_TESTS=1 and without -race, as .ci/run does")
	}
	const products = 300
	redisURL := storetest.RedisURL(t)
	base, _ := start(t, map[string]string{"DATABASE_URL": storetest.DatabaseURL(t, sqlstore.Postgres),
		"REDIS_URL": redisURL, "REDIS_PREFIX": storetest.Prefix(t, redisURL), "REDIS_TIMEOUT": "1s",
		"SQL_TIMEOUT": "10s", "DEMO_PRODUCTS": strconv.Itoa(products), "RESPONSE_CACHE_SIZE": "0"})
	warmPages(t, base, products)
	bound := defaultMaxInflight()
	closed := phase(t, base, products, vegeta.ConstantPacer{}, bound, 2*time.Second)
	peak := closed.ok * 1000 / int(closed.took.Milliseconds())
	if peak < 20 {
		t.Fatalf("closed loop of %d: %d pages a second; too few to measure", bound, peak)
	}
	spike := phase(t, base, products, vegeta.ConstantPacer{Freq: peak * 3 / 2, Per: time.Second}, bound, 6*time.Second)
	calm := phase(t, base, products, vegeta.ConstantPacer{Freq: peak / 2, Per: time.Second}, bound, 5*time.Second)
	t.Logf("closed %s", closed)
	t.Logf("spike  %s", spike)
	t.Logf("calm   %s", calm)
	spike.check(t, "spike", closed.sqlPerPage)
	calm.check(t, "calm", closed.sqlPerPage)
	if spike.refused == 0 {
		t.Errorf("no request refused at 1.5 × the maximum (%d/s)", peak*3/2)
	}
	// A refusal waits in the queue for a place at most overloadWait, then
	// skips the work; a page's own time bounds what the machine adds.
	if limit := overloadWait + spike.servedP50; spike.refusedP50 > limit {
		t.Errorf("spike: refusals took %v (p50), pages served %v: a refusal should wait at most %v and skip the work",
			spike.refusedP50, spike.servedP50, overloadWait)
	}
	// A loaded machine stalls the process now and then even at half the
	// maximum (one run: 150 of 1,451 refused, refusals taking 97 ms at the
	// median), and the requests that arrive meanwhile find every place
	// taken. A service that has not recovered is told apart by its SQL
	// statements a page and its errors, checked above; here, that most
	// pages are served.
	if calm.ok < calm.sent*2/3 {
		t.Errorf("after the spike, at half the maximum: %d of %d pages served, want 2 in 3", calm.ok, calm.sent)
	}
	if n := metric(t, base, `catalog_redis_breaker_transitions_total{state="open"}`); n != 0 {
		t.Errorf("the Redis circuit breaker opened %d times", n)
	}
	if n, want := metric(t, base, "catalog_graphql_overloaded_total"), closed.refused+spike.refused+calm.refused; n != want {
		t.Errorf("catalog_graphql_overloaded_total = %d, the load saw %d refusals", n, want)
	}
}

// result is what one phase of load saw.
type result struct {
	sent, ok, refused, other int
	took                     time.Duration
	sqlPerPage               float64 // SQL statements per page served
	servedP50, refusedP50    time.Duration
	refusedP99               time.Duration
	firstOther               string
}

func (r result) String() string {
	return fmt.Sprintf("%d sent in %v: %d served (p50 %v), %d refused (p50 %v, p99 %v), %d other; %.3f SQL statements a page",
		r.sent, r.took.Round(time.Millisecond), r.ok, r.servedP50, r.refused, r.refusedP50, r.refusedP99, r.other, r.sqlPerPage)
}

// check asserts that every request was served or refused at once, and that
// pages cost no more SQL than one statement over the warm level: a page
// that falls back to SQL costs 7.
func (r result) check(t *testing.T, name string, warm float64) {
	t.Helper()
	if r.other != 0 {
		t.Errorf("%s: %d requests neither served nor refused, e.g. %s", name, r.other, r.firstOther)
	}
	if r.refused > 0 && r.refusedP99 > 2*time.Second {
		t.Errorf("%s: refusals took up to %v (p99), want well under 2 s", name, r.refusedP99)
	}
	if r.sqlPerPage > warm+1 {
		t.Errorf("%s: %.3f SQL statements a page, warm %.3f: pages fell back to SQL", name, r.sqlPerPage, warm)
	}
}

// phase sends product pages at pacer's rate (as fast as workers answers
// come for a zero pacer: a closed loop) for d, and sorts the answers.
func phase(t *testing.T, base string, products int, pacer vegeta.ConstantPacer, workers int, d time.Duration) result {
	t.Helper()
	a := vegeta.NewAttacker(vegeta.Timeout(10*time.Second), vegeta.KeepAlive(true),
		vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(max(workers, 2000))))
	if pacer.Freq == 0 {
		a = vegeta.NewAttacker(vegeta.Timeout(10*time.Second), vegeta.KeepAlive(true),
			vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(workers)), vegeta.MaxConnections(workers))
	}
	before := getCosts(t, base)
	start := time.Now()
	var r result
	var served, refused []time.Duration
	for res := range a.Attack(pageTargeter(base, products), pacer, d, "") {
		r.sent++
		switch {
		case res.Code == http.StatusOK && !bytes.Contains(res.Body, []byte(`"errors"`)):
			r.ok++
			served = append(served, res.Latency)
		case res.Code == http.StatusServiceUnavailable && bytes.Contains(res.Body, []byte(`"OVERLOADED"`)) &&
			res.Headers.Get("Retry-After") != "":
			r.refused++
			refused = append(refused, res.Latency)
		default:
			if r.other++; r.firstOther == "" {
				r.firstOther = fmt.Sprintf("%d %s %.200s", res.Code, res.Error, res.Body)
			}
		}
	}
	r.took = time.Since(start)
	after := getCosts(t, base)
	r.sqlPerPage = float64(after.SQLStatements-before.SQLStatements) / float64(max(r.ok, 1))
	r.servedP50, r.refusedP50, r.refusedP99 = quantile(served, 0.5), quantile(refused, 0.5), quantile(refused, 0.99)
	return r
}

// pageTargeter asks for the page of a random product among the first n.
func pageTargeter(base string, n int) vegeta.Targeter {
	h := http.Header{"Content-Type": []string{"application/json"}}
	return func(tgt *vegeta.Target) error {
		*tgt = vegeta.Target{Method: http.MethodPost, URL: base + "/query", Body: pageBody(rand.IntN(n) + 1), Header: h}
		return nil
	}
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[int(q*float64(len(d)-1))]
}

// warmPages reads every product's page once, eight at a time, so that the
// cache holds all the documents the load asks for.
func warmPages(t *testing.T, base string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	ids := make(chan int)
	for range 8 {
		wg.Go(func() {
			for id := range ids {
				if body, err := postPage(base, id); err != nil || !strings.Contains(body, `"product":{"id"`) {
					t.Errorf("warming page %d: %v %.200s", id, err, body)
				}
			}
		})
	}
	for id := 1; id <= n; id++ {
		ids <- id
	}
	close(ids)
	wg.Wait()
}

// metric reads the value of one series from /metrics, 0 when it is absent
// (a labelled counter's series appears on its first increment).
func metric(t *testing.T, base, series string) int {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	return 0
}
