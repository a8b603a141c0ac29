package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"catalog-bff/store/storetest"
)

// startCatalog runs the service on a seeded SQLite file and a Redis prefix
// of its own, with CATALOG_ENV set to env.
func startCatalog(t *testing.T, env string) string {
	t.Helper()
	redisURL := storetest.RedisURL(t)
	base, _ := start(t, map[string]string{
		"DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
		"REDIS_URL":     redisURL,
		"REDIS_PREFIX":  storetest.Prefix(t, redisURL),
		"DEMO_PRODUCTS": "5",
		"CATALOG_ENV":   env,
	})
	return base
}

// Development responses carry extensions.cost, production ones do not;
// both serve /metrics, counting the query.
func TestCostOutsideProductionAndMetrics(t *testing.T) {
	for _, env := range []string{"", "development", "production"} {
		base := startCatalog(t, env)
		got := post(t, base, `"query Home { product(id: \"1\") { id } }"`)
		if has := strings.Contains(got, `"extensions":{"cost":{"sqlStatements":`); has != (env != "production") {
			t.Errorf("CATALOG_ENV=%q: %s; want extensions.cost only outside production", env, got)
		}
		res, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if want := `catalog_graphql_requests_total{code="OK",operation="Home"} 1`; res.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("CATALOG_ENV=%q: GET /metrics %d lacks %s", env, res.StatusCode, want)
		}
	}
}

func TestCatalogEnvMustBeKnown(t *testing.T) {
	_, _, err := parseConfig("t", nil, func(k string) string { return map[string]string{"CATALOG_ENV": "prod"}[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "CATALOG_ENV") {
		t.Errorf("CATALOG_ENV=prod: %v, want an error naming it", err)
	}
}
