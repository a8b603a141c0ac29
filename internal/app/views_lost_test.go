package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// Redis restarts without its data (no persistence) after views were
// flushed and while more wait in its log. The service finds its view log
// behind SQL's position, counts again from memory the views it had
// acknowledged and Redis lost, rebuilds the display counts, and says so in
// /readyz and its metrics. SQL ends with exactly the views acknowledged,
// and the hits the client saw never went down.
func TestViewsWhenRedisLosesItsData(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis server of its own")
	}
	srv := storetest.NewRedisServer(t)
	const products = 5
	dbURL := storetest.DatabaseURL(t, sqlstore.Postgres)
	env := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": srv.URL(), "DEMO_PRODUCTS": "20",
		"VIEWS_FLUSH_INTERVAL": "200ms", "VIEW_RATE_LIMIT": "0", "REDIS_TIMEOUT": "1s"}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &storetest.LogBuffer{}
	base, done := startApp(t, ctx, env, logs)
	start := sqlHits(t, dbURL, products)
	acked := map[int64]int64{}
	seen := map[int64]int64{}
	view := func(i int) {
		t.Helper()
		id := int64(1 + i%products)
		hits, ok := recordViewHits(base, id)
		if !ok {
			return // refused while Redis restarts: not acknowledged
		}
		acked[id]++
		if hits < seen[id] {
			t.Errorf("product %d: hits went down from %d to %d", id, seen[id], hits)
		}
		seen[id] = hits
	}
	i := 0
	for ; i < 50; i++ {
		view(i)
	}
	storetest.Eventually(t, 10*time.Second, "the first views to reach SQL", func() bool {
		return sum(sqlHits(t, dbURL, products)) > sum(start)
	})
	// Views the flusher has not taken yet are in Redis only when it dies:
	// a flush every 200 ms leaves some of these there.
	for end := i + 30; i < end; i++ {
		view(i)
	}
	srv.Kill()
	srv.Start()
	for end := i + 30; i < end; i++ {
		view(i)
	}
	var ready map[string]string
	storetest.Eventually(t, 15*time.Second, "/readyz to report the view log's repair", func() bool {
		ready = getJSON(t, base+"/readyz")
		return ready["views"] == "degraded"
	})
	// Some of the 30 views before the restart were still in Redis only.
	if d := ready["viewsDetail"]; !strings.Contains(d, "behind SQL") || strings.Contains(d, "; 0 views") {
		t.Errorf("/readyz viewsDetail = %q, want the repair and the views recovered", d)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v; logs:\n%s", err, logs)
	}
	got := sqlHits(t, dbURL, products)
	var total int64
	for id := int64(1); id <= products; id++ {
		total += acked[id]
		if d := got[id] - start[id]; d != acked[id] {
			t.Errorf("product %d: SQL has %d new views, %d were acknowledged", id, d, acked[id])
		}
	}
	if !strings.Contains(logs.String(), "view log is behind SQL") {
		t.Errorf("no log line about the view log; logs:\n%s", logs)
	}
	t.Logf("Redis lost its data: %d views acknowledged, %d in SQL; %s", total, sum(got)-sum(start), ready["viewsDetail"])
}

// recordViewHits records a view and returns the hits it answered.
func recordViewHits(base string, id int64) (int64, bool) {
	body := fmt.Sprintf(`{"query":"mutation { recordView(productId: \"%d\") { id hits } }"}`, id)
	res, err := http.Post(base+"/query", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, false
	}
	defer res.Body.Close()
	var out struct {
		Data struct {
			RecordView struct{ Hits int64 } `json:"recordView"`
		}
		Errors []any
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || len(out.Errors) > 0 || res.StatusCode != 200 {
		return 0, false
	}
	return out.Data.RecordView.Hits, true
}

func getJSON(t *testing.T, url string) map[string]string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]string
	_ = json.Unmarshal(b, &m)
	return m
}
