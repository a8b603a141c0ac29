package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"catalog-bff/graph"
	"catalog-bff/store/sqlstore"
)

// setting is one configuration value: the environment variable and the
// flag that set it (the flag wins), its default, what it means, and how it
// is read. The table of settings is the one place that knows them: it
// makes the flags, reads the environment, names the variable or flag of a
// bad value, prints -h, and is README's configuration table
// (TestREADMEConfigTable).
type setting struct {
	env  string
	flag string // without the dash; "" for an environment variable only
	// def is the value when neither is given, "" for unset; shown says the
	// default in words when def alone does not ("8 per CPU").
	def, shown string
	doc        string // Markdown: `code` and [links](#anchors)
	set        func(c *Config, v string) error
}

// The parsers of plain values, each storing into the field p returns.
func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func integer(p func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) (err error) { *p(c), err = strconv.Atoi(v); return numErr(err) }
}

func int64s(p func(*Config) *int64) func(*Config, string) error {
	return func(c *Config, v string) (err error) { *p(c), err = strconv.ParseInt(v, 10, 64); return numErr(err) }
}

func float(p func(*Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) (err error) { *p(c), err = strconv.ParseFloat(v, 64); return numErr(err) }
}

func duration(p func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) (err error) { *p(c), err = time.ParseDuration(v); return err }
}

// numErr drops strconv's echo of the function that failed.
func numErr(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return fmt.Errorf("%q: %w", ne.Num, ne.Err)
	}
	return err
}

// otelVar stores an OpenTelemetry variable, which the tracing setup reads.
func otelVar(key string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if c.otel == nil {
			c.otel = map[string]string{}
		}
		c.otel[key] = v
		return nil
	}
}

// Config is everything the service reads from its environment and flags.
type Config struct {
	port          string
	databaseURL   string
	redisURL      string
	clusterAddrs  string // REDIS_CLUSTER_ADDRS, turned into redisURL by useClusterAddrs
	redisPrefix   string
	redisTimeout  time.Duration
	loaderWait    time.Duration
	demoProducts  int
	adminTokens   string
	flushInterval time.Duration
	flushMax      int64
	spillFile     string // VIEWS_SPILL_FILE
	sqlTimeout    time.Duration
	dbMaxConns    int
	maxInflight   int // GraphQL requests worked on at once; 0 for no bound (limits.go)
	// maxHeaderBytes bounds a request's header (MAX_HEADER_BYTES).
	maxHeaderBytes int
	leaseTTL       time.Duration
	fallbackMax    int
	auditFraction  float64
	production     bool
	limits         graph.Limits
	corsOrigins    []string
	viewRate       float64 // views a client may count per second; 0 for no limit
	viewBurst      int
	clientHeader   string
	nearSize       int           // NEAR_CACHE_SIZE, 0 for no near cache
	nearBytes      int64         // NEAR_CACHE_MAX_BYTES
	nearStale      time.Duration // NEAR_CACHE_MAX_STALENESS
	accessSample   float64       // ACCESS_LOG_SAMPLE
	// debugEndpoints is "on", "off", or "" for on except in production
	// (debug.go).
	debugEndpoints string
	respCache      responseCacheConfig // responsecache.go
	trusted        trustedConfig       // trusteddocs.go
	otel           map[string]string   // the OTEL_ variables the tracing setup reads

	// shutdownTimeout bounds a stop (SHUTDOWN_TIMEOUT): the HTTP drain,
	// then the view counter's final flush (app.go).
	shutdownTimeout time.Duration
}

// ParseConfig reads every setting from the environment, then lets flags
// override it, and checks the whole. The flag set it returns has every
// setting's flag.
func ParseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, *flag.FlagSet, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, s := range settings {
		v := getenv(s.env)
		if v == "" {
			v = s.def
		}
		if v != "" {
			if err := s.set(&c, v); err != nil {
				return c, fs, fmt.Errorf("%s: %w", s.env, err)
			}
		}
		if s.flag != "" {
			fs.Func(s.flag, plain(s.doc)+" ("+s.env+")", func(v string) error { return s.set(&c, v) })
		}
	}
	fs.Usage = serveUsage(stderr)
	if err := fs.Parse(args); err != nil {
		return c, fs, flagError(err)
	}
	if fs.NArg() > 0 {
		return c, fs, usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	return c, fs, c.settle()
}

// settle works out the defaults that depend on other settings, and
// refuses values that cannot work together.
func (c *Config) settle() error {
	if err := c.useClusterAddrs(); err != nil {
		return err
	}
	c.accessLogDefault()
	if err := c.respCache.check(); err != nil {
		return err
	}
	if _, err := c.trusted.resolve(c.production); err != nil {
		return err
	}
	if c.shutdownTimeout <= 0 {
		return errors.New("SHUTDOWN_TIMEOUT must be positive: a stop with no time cannot flush the views it holds")
	}
	return c.check()
}

// markdown removes Markdown from a setting's doc, for -h.
var markdown = strings.NewReplacer("`", "", "**", "")

var mdLink = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)

func plain(doc string) string { return markdown.Replace(mdLink.ReplaceAllString(doc, "$1")) }

// shownDefault is a setting's default as README and -h state it.
func (s setting) shownDefault() string {
	switch {
	case s.shown != "":
		return s.shown
	case s.def != "":
		return "`" + s.def + "`"
	}
	return "none"
}

// configTable is README's table of settings.
func configTable() string {
	var b strings.Builder
	b.WriteString("| variable | flag | default | meaning |\n|---|---|---|---|\n")
	for _, s := range settings {
		flagName := "none"
		if s.flag != "" {
			flagName = "`-" + s.flag + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", s.env, flagName, s.shownDefault(), s.doc)
	}
	return b.String()
}

// printSettings writes every setting for -h: variable, flag, default, and
// what it means.
func printSettings(w io.Writer) {
	for _, s := range settings {
		flagName := ""
		if s.flag != "" {
			flagName = "  -" + s.flag
		}
		fmt.Fprintf(w, "  %s%s  (default %s)\n      %s\n", s.env, flagName, plain(s.shownDefault()), plain(s.doc))
	}
}

// settings are the service's settings, in README's order.
var settings = []setting{
	{env: "PORT", flag: "port", def: "8080", doc: "HTTP port",
		set: str(func(c *Config) *string { return &c.port })},
	{env: "DATABASE_URL", flag: "database-url", def: "sqlite:catalog.db",
		doc: "`postgres://user:pass@host:5432/db` or `sqlite:PATH`",
		set: str(func(c *Config) *string { return &c.databaseURL })},
	{env: "REDIS_URL", flag: "redis-url", def: defaultRedisURL,
		doc: "the cache and the view counter: `redis://host:port/db` (`rediss://` for TLS), a Redis Cluster as " +
			"`redis+cluster://host1:port,host2:port/` (`rediss+cluster://` for TLS), or `off`, which reads SQL every time and counts views in process",
		set: str(func(c *Config) *string { return &c.redisURL })},
	{env: "REDIS_CLUSTER_ADDRS", flag: "redis-cluster-addrs",
		doc: "a Redis Cluster's nodes, `host1:port,host2:port`: the same as `REDIS_URL=redis+cluster://host1:port,host2:port/`; set one of the two",
		set: str(func(c *Config) *string { return &c.clusterAddrs })},
	{env: "REDIS_PREFIX", flag: "redis-prefix", def: "catalog:",
		doc: "prefix of every Redis key (without `{`), before the catalogue's identity: keys are `<prefix><identity>:…`, so that databases sharing a Redis and a prefix never read each other's data (see [Several catalogues, one Redis](#several-catalogues-one-redis))",
		set: str(func(c *Config) *string { return &c.redisPrefix })},
	{env: "REDIS_TIMEOUT", flag: "redis-timeout", def: "50ms",
		doc: "deadline of each Redis call; past it the read goes to SQL",
		set: duration(func(c *Config) *time.Duration { return &c.redisTimeout })},
	{env: "LOADER_WAIT", flag: "loader-wait", def: "1ms",
		doc: "how long a dataloader collects keys before a batch; paid once per query level",
		set: duration(func(c *Config) *time.Duration { return &c.loaderWait })},
	{env: "DEMO_PRODUCTS", flag: "demo-products", def: "1000",
		doc: "products seeded into an empty database at start; `0` for none",
		set: integer(func(c *Config) *int { return &c.demoProducts })},
	{env: "ADMIN_TOKENS", flag: "admin-tokens",
		doc: "comma-separated bearer tokens accepted by admin mutations; see above",
		set: str(func(c *Config) *string { return &c.adminTokens })},
	{env: "VIEWS_FLUSH_INTERVAL", flag: "views-flush-interval", def: "1s",
		doc: "how often counted views are written to SQL (a Go duration); also the most views Redis can lose if it loses its memory",
		set: duration(func(c *Config) *time.Duration { return &c.flushInterval })},
	{env: "VIEWS_FLUSH_MAX", flag: "views-flush-max", def: "10000",
		doc: "flush sooner once more views than this wait",
		set: int64s(func(c *Config) *int64 { return &c.flushMax })},
	{env: "VIEWS_SPILL_FILE", flag: "views-spill-file", def: "catalog-views.spill.json",
		doc: "where views counted in process go when SQL does not take them before the process stops; " +
			"the next start applies them. Keep it on a volume that outlives the container; a start refuses a directory it cannot write",
		set: str(func(c *Config) *string { return &c.spillFile })},
	{env: "SHUTDOWN_TIMEOUT", flag: "shutdown-timeout", def: "25s",
		doc: "how long a stop (`SIGTERM`) may take: requests in flight get at most the smaller of 10 s and half of it, " +
			"the view counter's final flush what is left, and what SQL has not taken by then goes to `VIEWS_SPILL_FILE` " +
			"(with tracing on, sending the last spans may add up to 5 s). Keep it below the orchestrator's grace period (Kubernetes: 30 s)",
		set: duration(func(c *Config) *time.Duration { return &c.shutdownTimeout })},
	{env: "SQL_TIMEOUT", flag: "sql-timeout", def: "2s",
		doc: "deadline of each SQL statement; past it the field fails `UNAVAILABLE`",
		set: duration(func(c *Config) *time.Duration { return &c.sqlTimeout })},
	{env: "CACHE_LEASE_TTL", flag: "cache-lease-ttl", def: "100ms",
		doc: "fill lease of a missed key: the most a reader waits for another instance to fill it before reading SQL itself; `0` for no leases",
		set: duration(func(c *Config) *time.Duration { return &c.leaseTTL })},
	{env: "DB_FALLBACK_MAX_INFLIGHT", flag: "db-fallback-max-inflight", def: "16",
		doc: "SQL reads at once that stand in for a Redis that is down; past it, after a 100 ms wait, `UNAVAILABLE`",
		set: integer(func(c *Config) *int { return &c.fallbackMax })},
	{env: "AUDIT_FRACTION", flag: "audit-fraction", def: "0.001",
		doc: "fraction of cache hits the consistency auditor re-checks against SQL",
		set: float(func(c *Config) *float64 { return &c.auditFraction })},
	{env: "VIEW_RATE_LIMIT", flag: "view-rate-limit", def: "2",
		doc: "views one client may count per second once its burst is spent (a token bucket in Redis, shared by every instance); " +
			"past it `recordView` is acknowledged but not counted; `0` for no limit",
		set: float(func(c *Config) *float64 { return &c.viewRate })},
	{env: "VIEW_BURST", flag: "view-burst", def: "20", doc: "views one client may count at once",
		set: integer(func(c *Config) *int { return &c.viewBurst })},
	{env: "CLIENT_IP_HEADER", flag: "client-ip-header",
		doc: "a header your own proxy sets to the client's address (e.g. `X-Real-IP`), for the view rate limit; without it, the connection's address",
		set: str(func(c *Config) *string { return &c.clientHeader })},
	{env: "CATALOG_ENV", flag: "env", def: "development",
		doc: "`production` turns off the playground, introspection and \"Did you mean\" suggestions, logs JSON, and leaves out " +
			"each response's `extensions.cost`; see [Limits and security](#limits-and-security) and [Observability](#observability)",
		set: (*Config).setEnv},
	{env: "CORS_ORIGINS", flag: "cors-origins",
		doc: "comma-separated origins whose pages may call `/query`: `https://shop.example.com`, `https://*.example.com`, or `*`",
		set: (*Config).setCORS},
	{env: "QUERY_MAX_DEPTH", flag: "query-max-depth", def: "10", doc: "deepest nesting of fields in an operation",
		set: integer(func(c *Config) *int { return &c.limits.MaxDepth })},
	{env: "QUERY_MAX_COMPLEXITY", flag: "query-max-complexity", def: "5000", doc: "highest complexity of an operation",
		set: integer(func(c *Config) *int { return &c.limits.MaxComplexity })},
	{env: "QUERY_MAX_ALIASES", flag: "query-max-aliases", def: "30", doc: "most aliased fields in an operation",
		set: integer(func(c *Config) *int { return &c.limits.MaxAliases })},
	{env: "QUERY_MAX_TOKENS", flag: "query-max-tokens", def: "5000", doc: "most tokens the parser reads in a query",
		set: integer(func(c *Config) *int { return &c.limits.MaxTokens })},
	{env: "MAX_BODY_BYTES", flag: "max-body-bytes", def: "65536", doc: "largest POST body, and largest GET query string",
		set: int64s(func(c *Config) *int64 { return &c.limits.MaxBodyBytes })},
	{env: "MAX_HEADER_BYTES", flag: "max-header-bytes", def: "16384",
		doc: "largest request header (all lines together; net/http reads up to 4 KiB more before it refuses); past it `431` before anything runs: net/http's default of 1 MB let 500 clients with 1 MB headers take the process from 100 to 572 MB",
		set: integer(func(c *Config) *int { return &c.maxHeaderBytes })},
	{env: "OTEL_EXPORTER_OTLP_ENDPOINT",
		doc: "base URL of an OTLP/HTTP collector (`http://collector:4318`); set, it turns tracing on, spans going to `…/v1/traces`",
		set: otelVar("OTEL_EXPORTER_OTLP_ENDPOINT")},
	{env: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", doc: "the full traces URL instead, if the collector wants another path",
		set: otelVar("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")},
	{env: "OTEL_SERVICE_NAME", shown: "`catalog-bff`", doc: "the `service.name` of the spans",
		set: otelVar("OTEL_SERVICE_NAME")},
	{env: "OTEL_SDK_DISABLED", shown: "`false`", doc: "`true` turns tracing off whatever the endpoint",
		set: otelVar("OTEL_SDK_DISABLED")},
	{env: "DB_MAX_CONNS", flag: "db-max-conns", def: strconv.Itoa(sqlstore.DefaultMaxOpenConns()), shown: "4 per CPU, at least 8",
		doc: "SQL connections open at once, `0` for no bound; more callers wait for one, within `SQL_TIMEOUT`. " +
			"Keep it below PostgreSQL's `max_connections` divided by the instances",
		set: integer(func(c *Config) *int { return &c.dbMaxConns })},
	{env: "MAX_INFLIGHT", flag: "max-inflight", def: strconv.Itoa(defaultMaxInflight()), shown: "8 per CPU",
		doc: "GraphQL requests worked on at once; past it a request waits in a queue of 4 per place for at most 100 ms, " +
			"and past the queue or the wait gets `503` with `Retry-After: 1` and the error code `OVERLOADED`; `0` for no bound. See [Overload](#overload)",
		set: integer(func(c *Config) *int { return &c.maxInflight })},
	{env: "DEBUG_ENDPOINTS", flag: "debug-endpoints", shown: "`on`, `off` in production",
		doc: "serve `/debug/costs` and `/debug/pprof/` (see [Endpoints](#debug-endpoints))",
		set: (*Config).setDebugEndpoints},
	{env: "NEAR_CACHE_SIZE", flag: "near-cache-size", def: "100000",
		doc: "documents each instance keeps decoded in process ([the near cache](#the-near-cache)); `0` turns it off",
		set: integer(func(c *Config) *int { return &c.nearSize })},
	{env: "NEAR_CACHE_MAX_BYTES", flag: "near-cache-max-bytes", def: "67108864", shown: "`67108864` (64 MiB)",
		doc: "encoded bytes the near cache may hold; whichever bound is reached first evicts",
		set: int64s(func(c *Config) *int64 { return &c.nearBytes })},
	{env: "NEAR_CACHE_MAX_STALENESS", flag: "near-cache-max-staleness", def: "1m",
		doc: "the most a near-cache entry lives, invalidated or not: the bound on what a lost invalidation could cost; each entry lives between 80 % and 100 % of it, so that documents read together do not expire together",
		set: duration(func(c *Config) *time.Duration { return &c.nearStale })},
	{env: "ACCESS_LOG_SAMPLE", flag: "access-log-sample", def: "-1", shown: "`1`, `0.01` in production",
		doc: "fraction of successful requests given an access log line; failed (status 400 and up) and slow (500 ms and up) requests always get one",
		set: (*Config).setAccessSample},
	{env: "RESPONSE_CACHE_SIZE", flag: "response-cache-size", def: "10000",
		doc: "responses of repeated queries kept in memory; `0` for none. The cache also needs an invalidation feed, " +
			"and is off without one (see [The response cache](#the-response-cache-and-http-caching))",
		set: integer(func(c *Config) *int { return &c.respCache.size })},
	{env: "RESPONSE_CACHE_MAX_BYTES", flag: "response-cache-max-bytes", def: "67108864", shown: "`67108864` (64 MiB)",
		doc: "memory those responses may take, bodies, keys and document tags included",
		set: int64s(func(c *Config) *int64 { return &c.respCache.maxBytes })},
	{env: "RESPONSE_CACHE_MAX_STALENESS", flag: "response-cache-max-staleness", def: "1m",
		doc: "the most a response is kept in process, invalidated or not: the bound on what a lost invalidation could cost " +
			"(freshness comes from the invalidation feed); each entry lives between 80 % and 100 % of it",
		set: duration(func(c *Config) *time.Duration { return &c.respCache.maxStaleness })},
	{env: "RESPONSE_CACHE_MAX_AGE", flag: "response-cache-max-age", def: "5s",
		doc: "the most `max-age` HTTP caches (a CDN, a browser) are given: they hear of no write, so this is how long they may serve a page after one",
		set: duration(func(c *Config) *time.Duration { return &c.respCache.maxAge })},
	{env: "HITS_MAX_STALENESS", flag: "hits-max-staleness", def: "1s",
		doc: "oldest view count a kept response may show; older ones are read again (one Redis round trip) on a hit; `0` reads them on every hit",
		set: duration(func(c *Config) *time.Duration { return &c.respCache.hitsStaleness })},
	{env: "TRUSTED_DOCUMENTS", flag: "trusted-documents",
		shown: "`off` without a manifest; with one, `allow` in development and `require` in production",
		doc: "`off`, `allow` (the manifest's documents by id, and any text) or `require` (only the manifest's documents): " +
			"see [Trusted documents](#trusted-documents)",
		set: str(func(c *Config) *string { return &c.trusted.mode })},
	{env: "TRUSTED_DOCUMENTS_FILE", flag: "trusted-documents-file",
		doc: "the persisted documents manifest, GraphQL Code Generator's or Apollo's; `SIGHUP` reloads it",
		set: str(func(c *Config) *string { return &c.trusted.file })},
}

// setAccessSample reads ACCESS_LOG_SAMPLE: a fraction, or -1 for the
// mode's default (accessLogDefault).
func (c *Config) setAccessSample(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f > 1 || (f < 0 && f != -1) {
		return fmt.Errorf("want a fraction from 0 to 1, got %q", v)
	}
	c.accessSample = f
	return nil
}

// setDebugEndpoints reads DEBUG_ENDPOINTS: on or off.
func (c *Config) setDebugEndpoints(v string) error {
	on, err := parseOnOff(v)
	if err != nil {
		return err
	}
	c.debugEndpoints = map[bool]string{true: "on", false: "off"}[on]
	return nil
}

// otelGetenv reads the OpenTelemetry settings, for the tracing setup.
func (c Config) otelGetenv(key string) string { return c.otel[key] }

// UsageError is a command line that names no known command, or has a
// stray argument: main exits 2 for it, as the flag package does for a
// bad flag.
type UsageError struct{ error }

func usageErrorf(format string, args ...any) error { return UsageError{fmt.Errorf(format, args...)} }

// flagError is a flag set's parse error as a UsageError; -h stays
// flag.ErrHelp.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return UsageError{err}
}
