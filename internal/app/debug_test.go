package app

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"catalog-bff/internal/telemetry"
	"catalog-bff/store/storetest"
)

// getCosts reads the server's /debug/costs.
func getCosts(t *testing.T, base string) telemetry.ProcessCosts {
	t.Helper()
	res, err := http.Get(base + "/debug/costs")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var c telemetry.ProcessCosts
	if err := json.NewDecoder(res.Body).Decode(&c); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /debug/costs: %d %v", res.StatusCode, err)
	}
	return c
}

// /debug/costs counts the requests served and what they cost: a cold
// product is SQL and Redis; the same product warm is one cache read (a
// script call, which would take the fill lease of a miss) without the
// near and response caches, and nothing at all with them (the defaults).
func TestDebugCosts(t *testing.T) {
	for _, tc := range []struct {
		name       string
		env        map[string]string
		warmReads  int64
		warmRounds int64
	}{
		{"without the in-process caches", map[string]string{"NEAR_CACHE_SIZE": "0", "RESPONSE_CACHE_SIZE": "0"}, 1, 1},
		{"defaults", nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{
				"DATABASE_URL":         "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
				"REDIS_URL":            storetest.RedisURL(t),
				"REDIS_PREFIX":         storetest.Prefix(t, storetest.RedisURL(t)),
				"DEMO_PRODUCTS":        "20",
				"VIEWS_FLUSH_INTERVAL": "1h", // no background statements during the test
				"REDIS_TIMEOUT":        "1s", // a loaded CI machine must not time out healthy calls
			}
			maps.Copy(env, tc.env)
			base, _ := start(t, env)
			waitCacheOpen(t, base)
			checkCosts(t, base, tc.warmRounds, tc.warmReads)
		})
	}
}

func checkCosts(t *testing.T, base string, warmRounds, warmReads int64) {
	t.Helper()
	q := `"{ product(id: \"3\") { id name } }"`
	c0 := getCosts(t, base)
	post(t, base, q)
	c1 := getCosts(t, base)
	post(t, base, q)
	c2 := getCosts(t, base)
	if c1.Requests-c0.Requests != 1 || c2.Requests-c1.Requests != 1 {
		t.Errorf("requests: %d, %d, %d; want one more per query", c0.Requests, c1.Requests, c2.Requests)
	}
	if cold := c1.SQLStatements - c0.SQLStatements; cold != 1 {
		t.Errorf("cold product: %d SQL statements, want 1 (products, with images and tags)", cold)
	}
	if sql, rt := c2.SQLStatements-c1.SQLStatements, c2.RedisRoundTrips-c1.RedisRoundTrips; sql != 0 || rt != warmRounds {
		t.Errorf("warm product: %d SQL, %d Redis round trips; want 0 and %d", sql, rt, warmRounds)
	}
	if c2.RedisCommands["evalsha"]-c1.RedisCommands["evalsha"] != warmReads {
		t.Errorf("warm product: commands %v then %v, want %d more cache read", c1.RedisCommands, c2.RedisCommands, warmReads)
	}
	res, err := http.Get(base + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), "goroutine") {
		t.Errorf("/debug/pprof/: %d %.200s", res.StatusCode, page)
	}
}

// In production the debug endpoints are not mounted unless asked for.
func TestDebugEndpointsConfig(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want bool
	}{
		{map[string]string{}, nil, true},
		{map[string]string{"CATALOG_ENV": "production"}, nil, false},
		{map[string]string{}, []string{"-env", "production"}, false},
		{map[string]string{"CATALOG_ENV": "production", "DEBUG_ENDPOINTS": "on"}, nil, true},
		{map[string]string{"DEBUG_ENDPOINTS": "off"}, nil, false},
		{map[string]string{"CATALOG_ENV": "production"}, []string{"-debug-endpoints", "on"}, true},
	} {
		c, _, err := ParseConfig("t", tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if err != nil || c.debugOn() != tc.want {
			t.Errorf("%v %v: debug endpoints %v, %v; want %v", tc.env, tc.args, c.debugOn(), err, tc.want)
		}
	}
	_, _, err := ParseConfig("t", nil, func(k string) string {
		return map[string]string{"DEBUG_ENDPOINTS": "maybe"}[k]
	}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "DEBUG_ENDPOINTS") {
		t.Errorf("bad DEBUG_ENDPOINTS: %v", err)
	}
	base, _ := start(t, map[string]string{
		"DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
		"REDIS_URL":     "off",
		"DEMO_PRODUCTS": "0",
		"CATALOG_ENV":   "production",
		"ADMIN_TOKENS":  "x",
	})
	res, err := http.Get(base + "/debug/costs")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("production: GET /debug/costs = %d, want 404", res.StatusCode)
	}
}

// waitCacheOpen waits until the server's cache reads are open: a new
// process fences them until its first delivery round of the outbox.
func waitCacheOpen(t *testing.T, base string) {
	t.Helper()
	storetest.Eventually(t, 10*time.Second, "the cache's reads to open", func() bool {
		res, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return strings.Contains(string(b), `"redis":"ok"`)
	})
}
