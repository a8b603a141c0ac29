package graph_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"catalog-bff/store"
)

// The race that cache-aside with a plain DEL loses: a reader misses and
// reads the old row from SQL; a writer commits and invalidates; then the
// reader writes the old row back. The test holds the reader in exactly that
// window, and runs it under both strategies: the versioned markers must keep
// the old row out, and the plain DEL must let it in, which shows that the
// test can tell the two apart.
func TestStaleSetRace(t *testing.T) {
	for _, tc := range []struct {
		name      string
		strategy  store.Strategy
		wantStale bool
	}{
		{"versioned markers", store.Versioned, false},
		{"plain DEL", store.PlainDelete, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cached, next := raceOnce(t, tc.strategy)
			stale := cached == "Old name" || next == "Old name"
			t.Logf("%s: cache holds %q after the race, the next read returns %q", tc.name, cached, next)
			if stale != tc.wantStale {
				t.Errorf("%s: stale = %v, want %v", tc.name, stale, tc.wantStale)
			}
		})
	}
}

// raceOnce plays the race on product 42 and returns the name the cache
// holds afterwards ("" for none) and the name the next read returns.
func raceOnce(t *testing.T, strategy store.Strategy) (cached, next string) {
	held, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool // only the reader is held; sync.Once would hold the writer too
	hold := func(_ context.Context, kind string, ids []int64) {
		if kind == "product" && slices.Contains(ids, 42) && first.CompareAndSwap(false, true) {
			close(held)
			<-release
		}
	}
	ts := newTestServer(t, store.Postgres, serverOptions{strategy: strategy, afterFetch: hold})
	exec(t, ts.db, `UPDATE products SET name = 'Old name' WHERE id = 42`)
	q := `{ product(id: "42") { name } }`

	read := make(chan string)
	go func() {
		var got struct{ Product struct{ Name string } }
		ts.query(t, q, nil, &got)
		read <- got.Product.Name
	}()
	<-held // the reader has the old row and has not written it back
	ts.mustAdmin(t, `mutation { updateProduct(id: "42", input: {name: "New name"}) { name } }`, nil, nil)
	close(release)
	if got := <-read; got != "Old name" {
		t.Fatalf("the held reader returned %q, want the row it read before the write", got)
	}

	e, err := ts.cache.Get(context.Background(), "product", []int64{42})
	if err != nil {
		t.Fatal(err)
	}
	if e[0].State == store.Hit {
		cached = nameIn(string(e[0].Data))
	}
	var got struct{ Product struct{ Name string } }
	ts.mustQuery(t, q, nil, &got)
	return cached, got.Product.Name
}

func nameIn(doc string) string {
	for _, n := range []string{"Old name", "New name"} {
		if strings.Contains(doc, `"name":"`+n+`"`) {
			return n
		}
	}
	return doc
}

// event is one operation of the recorded history.
type event struct {
	product    int64
	value      int64 // the price written, or read
	start, end time.Time
}

// runReadYourWrites runs writers and readers against ts for d and returns
// the writes and reads. Each product belongs to one writer, which writes
// increasing prices to it, so a product's writes are totally ordered.
func runReadYourWrites(t *testing.T, ts *testServer, products []int64, writers, readers int, d time.Duration) (writes, reads []event) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	var failures atomic.Int64
	for w := range writers {
		wg.Go(func() {
			var own []int64
			for i, p := range products {
				if i%writers == w {
					own = append(own, p)
				}
			}
			for seq := int64(1_000_000); time.Now().Before(stop); seq++ {
				p := own[rand.IntN(len(own))]
				start := time.Now()
				r := ts.admin(t, `mutation($id: ID!, $a: Int!) { updateProduct(id: $id, input: {price: {amount: $a, currency: "EUR"}}) { id } }`,
					map[string]any{"id": fmt.Sprint(p), "a": seq}, nil)
				if len(r.Errors) > 0 {
					failures.Add(1)
					continue
				}
				mu.Lock()
				writes = append(writes, event{p, seq, start, time.Now()})
				mu.Unlock()
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				p := products[rand.IntN(len(products))]
				var got struct {
					Product struct{ Price struct{ Amount int64 } }
				}
				start := time.Now()
				r := ts.query(t, `query($id: ID!) { product(id: $id) { price { amount } } }`, map[string]any{"id": fmt.Sprint(p)}, &got)
				if len(r.Errors) > 0 {
					failures.Add(1)
					continue
				}
				mu.Lock()
				reads = append(reads, event{p, got.Product.Price.Amount, start, time.Now()})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d requests failed", n)
	}
	return writes, reads
}

// staleReads checks a history: a read that started after a write was
// acknowledged must return that write's value or a newer one.
func staleReads(writes, reads []event) int {
	latest := map[int64][]event{} // per product, in order of acknowledgement
	for _, w := range writes {
		latest[w.product] = append(latest[w.product], w)
	}
	for _, ws := range latest {
		slices.SortFunc(ws, func(a, b event) int { return a.end.Compare(b.end) })
	}
	stale := 0
	for _, r := range reads {
		want := int64(0)
		for _, w := range latest[r.product] {
			if !w.end.Before(r.start) {
				break
			}
			want = max(want, w.value)
		}
		if r.value < want {
			stale++
		}
	}
	return stale
}

// jitter widens the window between a reader's SQL read and its write-back,
// where a racing write does its damage, to a random pause of up to max.
func jitter(max time.Duration) func(context.Context, string, []int64) {
	return func(context.Context, string, []int64) {
		time.Sleep(rand.N(max))
	}
}

// 8 writers and 32 readers on 20 products for 10 s against PostgreSQL and
// Redis: no read that starts after a write was acknowledged returns an
// older price.
func TestReadYourWritesUnderConcurrency(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s of load")
	}
	products := make([]int64, 20)
	for i := range products {
		products[i] = int64(i + 1)
	}
	t.Run("versioned markers", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, store.Postgres, serverOptions{wait: time.Millisecond, afterFetch: jitter(2 * time.Millisecond),
			auditFraction: 0.05})
		writes, reads := runReadYourWrites(t, ts, products, 8, 32, 10*time.Second)
		stale := staleReads(writes, reads)
		t.Logf("versioned markers: %d writes, %d reads, %d stale reads", len(writes), len(reads), stale)
		later := time.Now().Add(time.Hour)
		for range 2 { // the auditor's samples, and its suspects a bound later
			if err := ts.audit.Check(context.Background(), later); err != nil {
				t.Fatal(err)
			}
			later = later.Add(time.Hour)
		}
		audit := ts.audit.Stats()
		t.Logf("auditor over the same history: %d hits checked, %d stale", audit.Checked, audit.Stale)
		if audit.Stale != 0 || audit.Checked == 0 {
			t.Errorf("auditor: %d stale of %d checked, want 0 of some", audit.Stale, audit.Checked)
		}
		if len(writes) < 50 || len(reads) < 500 {
			t.Errorf("too little traffic to judge: %d writes, %d reads", len(writes), len(reads))
		}
		if stale != 0 {
			t.Errorf("%d stale reads, want 0", stale)
		}
	})
	// The checker bites: the textbook strategy, same load, shows stale reads.
	t.Run("plain DEL", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, store.Postgres, serverOptions{wait: time.Millisecond, afterFetch: jitter(5 * time.Millisecond),
			strategy: store.PlainDelete})
		writes, reads := runReadYourWrites(t, ts, products, 8, 32, 10*time.Second)
		stale := staleReads(writes, reads)
		t.Logf("plain DEL: %d writes, %d reads, %d stale reads", len(writes), len(reads), stale)
		if stale == 0 {
			t.Errorf("the history checker found no stale read under plain DEL: it cannot tell")
		}
	})
}
