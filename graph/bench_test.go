package graph_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
)

// detailQuery is a product page's query: the cached document, its category
// with the parent, its seller, and its view count.
const detailQuery = `query($id: ID!) { product(id: $id) { id name description price { amount currency } ` +
	`images { url alt } tags category { id name parent { id name } } seller { id name rating } hits } }`

// BenchmarkWarmDetail serves a product page through the real handler, with
// everything it asks for in Redis: no SQL, one Redis round trip per query
// level. Requests run in parallel, as the loaders' batch window (the
// service's default of 1ms, once per level) would otherwise dominate;
// -benchmem reports the allocations of one request.
func BenchmarkWarmDetail(b *testing.B) {
	benchWarm(b, serverOptions{}, detailQuery, map[string]any{"id": "42"})
}

// BenchmarkWarmDetailNear is BenchmarkWarmDetail with the near cache on, as
// the service runs by default: hits is the only Redis round trip.
func BenchmarkWarmDetailNear(b *testing.B) {
	benchWarm(b, serverOptions{near: true}, detailQuery, map[string]any{"id": "42"})
}

// batchQuery is a products(ids:) list of product pages.
const batchQuery = `query($ids: [ID!]!) { products(ids: $ids) { id name description price { amount currency } ` +
	`images { url alt } tags category { id name parent { id name } } seller { id name rating } hits } }`

// BenchmarkWarmBatch serves products(ids:) of 20 products through the real
// handler, all warm, with the near cache on.
func BenchmarkWarmBatch(b *testing.B) {
	benchWarm(b, serverOptions{near: true}, batchQuery, map[string]any{"ids": batchIDs(rand.New(rand.NewPCG(1, 1)))})
}

// batchIDs returns 20 distinct ids of the 200 products of a benchmark
// server, drawn with r.
func batchIDs(r *rand.Rand) []string {
	ids := make([]string, 20)
	for i, n := range r.Perm(200)[:20] {
		ids[i] = strconv.Itoa(n + 1)
	}
	return ids
}

func benchWarm(b *testing.B, o serverOptions, q string, vars map[string]any) {
	o.products, o.wait = 200, time.Millisecond
	benchWarmOn(b, newTestServer(b, sqlstore.SQLite, o), q, vars)
}

// benchWarmOn runs a warm benchmark on ts.
func benchWarmOn(b *testing.B, ts *testServer, q string, vars ...map[string]any) {
	h := ts.handler
	bodies := make([][]byte, len(vars))
	for i, v := range vars {
		bodies[i], _ = json.Marshal(map[string]any{"query": q, "variables": v})
	}
	serve := func(n int) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/query", bytes.NewReader(bodies[n%len(bodies)]))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := range bodies {
		if rec := serve(i); rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
			b.Fatalf("warm-up: %d %s", rec.Code, rec.Body)
		}
	}
	sql0, cpu0 := ts.db.Statements(), cpuTime()
	var next atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if rec := serve(int(next.Add(1))); rec.Code != http.StatusOK {
				b.Errorf("status %d", rec.Code)
			}
		}
	})
	b.StopTimer()
	// CPU time per request: on a machine shared with other work, steadier
	// than ns/op, which is wall time.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	if n := ts.db.Statements() - sql0; n != 0 {
		b.Errorf("warm requests sent %d SQL statements, want 0", n)
	}
}

// cpuTime returns the CPU time this process has used, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
