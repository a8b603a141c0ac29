package app

import (
	"io"
	"strings"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
)

// The view counter's settings come from the environment, flags override
// them, and a bad duration is an error that names the variable.
func TestViewsConfig(t *testing.T) {
	env := map[string]string{"VIEWS_FLUSH_INTERVAL": "250ms", "VIEWS_FLUSH_MAX": "500"}
	c, _, err := ParseConfig("t", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.flushInterval != 250*time.Millisecond || c.flushMax != 500 {
		t.Errorf("from env: %v, %d, %v", c.flushInterval, c.flushMax, err)
	}
	c, _, err = ParseConfig("t", []string{"-views-flush-interval", "2s", "-views-flush-max", "7"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.flushInterval != 2*time.Second || c.flushMax != 7 {
		t.Errorf("flags over env: %v, %d, %v", c.flushInterval, c.flushMax, err)
	}
	c, _, err = ParseConfig("t", nil, func(string) string { return "" }, io.Discard)
	if err != nil || c.flushInterval != time.Second || c.flushMax != 10000 || c.redisPrefix != "catalog:" {
		t.Errorf("defaults: %v, %d, %q, %v", c.flushInterval, c.flushMax, c.redisPrefix, err)
	}
	env["VIEWS_FLUSH_INTERVAL"] = "soon"
	if _, _, err := ParseConfig("t", nil, func(k string) string { return env[k] }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "VIEWS_FLUSH_INTERVAL") {
		t.Errorf("bad interval: %v", err)
	}
}

// DB_MAX_CONNS bounds the SQL pool; it must be a number.
func TestDBMaxConnsConfig(t *testing.T) {
	c, _, err := ParseConfig("t", nil, func(string) string { return "" }, io.Discard)
	if err != nil || c.dbMaxConns != sqlstore.DefaultMaxOpenConns() || c.dbMaxConns < 8 {
		t.Errorf("default: %d, %v; want %d", c.dbMaxConns, err, sqlstore.DefaultMaxOpenConns())
	}
	c, _, err = ParseConfig("t", []string{"-db-max-conns", "8"},
		func(k string) string { return map[string]string{"DB_MAX_CONNS": "24"}[k] }, io.Discard)
	if err != nil || c.dbMaxConns != 8 {
		t.Errorf("flag over env: %d, %v; want 8", c.dbMaxConns, err)
	}
	if _, _, err := ParseConfig("t", nil, func(k string) string {
		return map[string]string{"DB_MAX_CONNS": "many"}[k]
	}, io.Discard); err == nil || !strings.Contains(err.Error(), "DB_MAX_CONNS") {
		t.Errorf("bad DB_MAX_CONNS: %v", err)
	}
}

func TestParseConfigLimits(t *testing.T) {
	env := map[string]string{"CATALOG_ENV": "production", "QUERY_MAX_DEPTH": "7", "CORS_ORIGINS": "https://shop.example.com, https://*.example.com"}
	c, _, err := ParseConfig("t", []string{"-query-max-aliases", "5", "-max-body-bytes", "1000"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	l := c.limits
	if !c.production || l.MaxDepth != 7 || l.MaxAliases != 5 || l.MaxBodyBytes != 1000 || l.MaxComplexity != 5000 || l.MaxTokens != 5000 ||
		len(c.corsOrigins) != 2 {
		t.Errorf("config %+v", c)
	}
	for key, bad := range map[string]string{
		"CATALOG_ENV":          "staging",
		"CORS_ORIGINS":         "shop.example.com",
		"QUERY_MAX_DEPTH":      "0",
		"QUERY_MAX_COMPLEXITY": "lots",
		"MAX_BODY_BYTES":       "-1",
	} {
		_, _, err := ParseConfig("t", nil, func(k string) string { return map[string]string{key: bad}[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%s: error %v, want one naming %s", key, bad, err, key)
		}
	}
}

// REDIS_CLUSTER_ADDRS is a shorthand for a redis+cluster URL, and cannot be
// combined with REDIS_URL.
func TestConfigRedisCluster(t *testing.T) {
	parse := func(env map[string]string) (Config, error) {
		c, _, err := ParseConfig("t", nil, func(k string) string { return env[k] }, io.Discard)
		return c, err
	}
	c, err := parse(map[string]string{"REDIS_CLUSTER_ADDRS": "10.0.0.1:7001,10.0.0.2:7002"})
	if err != nil || c.redisURL != "redis+cluster://10.0.0.1:7001,10.0.0.2:7002/" {
		t.Errorf("REDIS_CLUSTER_ADDRS: url %q, %v", c.redisURL, err)
	}
	if _, err := parse(map[string]string{"REDIS_CLUSTER_ADDRS": "10.0.0.1:7001", "REDIS_URL": "redis://r:6379/0"}); err == nil {
		t.Error("REDIS_URL and REDIS_CLUSTER_ADDRS together accepted")
	}
	if _, err := parse(map[string]string{"REDIS_CLUSTER_ADDRS": "10.0.0.1"}); err == nil {
		t.Error("an address without a port accepted")
	}
}
