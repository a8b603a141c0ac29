package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// Two catalogues (SQLite and PostgreSQL), one Redis, one REDIS_PREFIX: each
// instance answers from its own database, writes and counts views into it,
// whatever the other cached;
// after seed -reset, nothing of the old catalogue is served.
func TestTwoCataloguesOneRedis(t *testing.T) {
	redisURL := storetest.RedisURL(t)
	prefix := storetest.Prefix(t, redisURL)
	envOf := func(name string, d sqlstore.Dialect) map[string]string {
		return map[string]string{"REDIS_URL": redisURL, "REDIS_PREFIX": prefix, "DEMO_PRODUCTS": "20",
			"ADMIN_TOKENS": "token-" + name, "VIEWS_FLUSH_INTERVAL": "50ms",
			"DATABASE_URL": storetest.DatabaseURL(t, d)}
	}
	envA, envB := envOf("a", sqlstore.SQLite), envOf("b", sqlstore.Postgres)
	a, _ := start(t, envA)
	name := func(base string) string {
		var r struct {
			Data struct{ Product struct{ Name string } }
		}
		if err := json.Unmarshal([]byte(post(t, base, `"{ product(id: \"1\") { name } }"`)), &r); err != nil {
			t.Fatal(err)
		}
		return r.Data.Product.Name
	}
	original := name(a)
	admin(t, a, envA["ADMIN_TOKENS"], `mutation { updateProduct(id: "1", input: {name: "Only in A"}) { id } }`)
	for range 3 {
		admin(t, a, "", `mutation { recordView(productId: "1") { hits } }`)
	}
	if got := name(a); got != "Only in A" {
		t.Fatalf("A after its write: %s", got)
	}
	// B starts on a database of its own, seeded alike: product 1 has its
	// original name there, and no view.
	b, _ := start(t, envB)
	if got := name(b); got != original {
		t.Errorf("B serves %s, want its own %s", got, original)
	}
	hits := post(t, b, `"{ product(id: \"1\") { hits } }"`)
	if !strings.Contains(hits, `"hits":0`) {
		t.Errorf("B's product 1 shows A's views: %s", hits)
	}
	// Writes and views through B stay in B's database, A's in A's.
	admin(t, b, envB["ADMIN_TOKENS"], `mutation { updateProduct(id: "1", input: {name: "Only in B"}) { id } }`)
	admin(t, b, "", `mutation { recordView(productId: "1") { hits } }`)
	if got := name(a); got != "Only in A" {
		t.Errorf("A after B's write: %q", got)
	}
	storetest.Eventually(t, 10*time.Second, "each database to hold its own views", func() bool {
		return sqlHits(t, envA["DATABASE_URL"], 1)[1] == 3 && sqlHits(t, envB["DATABASE_URL"], 1)[1] == 1
	})
	// A reset of A's database gives it a new identity: an instance on it
	// serves the new catalogue, not what was cached of the old one.
	if err := Run(context.Background(), []string{"seed", "-products", "20", "-reset"},
		func(k string) string { return envA[k] }, io.Discard); err != nil {
		t.Fatal(err)
	}
	envA2 := envA
	a2, _ := start(t, envA2)
	if got := name(a2); got != original {
		t.Errorf("after seed -reset: %s, want %s", got, original)
	}
}

// admin posts a mutation with a bearer token, when given one, and fails
// on any error.
func admin(t *testing.T, base, token, mutation string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": mutation})
	req, _ := http.NewRequest("POST", base+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ = io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || strings.Contains(string(body), `"errors"`) {
		t.Fatalf("%s: %d %s", mutation, res.StatusCode, body)
	}
}
