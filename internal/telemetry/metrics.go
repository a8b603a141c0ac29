package telemetry

import "github.com/prometheus/client_golang/prometheus"

// metrics are the collectors that the request path updates. Gauges read at
// scrape time from the services' own counters are in sources.go.
type metrics struct {
	cacheRequests   *prometheus.CounterVec   // type, result
	batchSize       *prometheus.HistogramVec // loader
	redisDuration   *prometheus.HistogramVec // command
	redisErrors     *prometheus.CounterVec   // command
	sqlDuration     *prometheus.HistogramVec // op
	sqlErrors       *prometheus.CounterVec   // op
	graphqlRequests *prometheus.CounterVec   // operation, code
	graphqlDuration *prometheus.HistogramVec // operation
	breakerChanges  *prometheus.CounterVec   // state
	respCache       *prometheus.CounterVec   // result
	overloaded      prometheus.Counter
}

// Buckets, in the unit of each histogram.
var (
	// Redis answers in well under a millisecond when healthy; a call is
	// cut at REDIS_TIMEOUT, 50 ms by default.
	redisBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25}
	// SQL statements are cut at SQL_TIMEOUT, 2 s by default.
	sqlBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	// A batch holds at most MaxBatch (500) keys.
	batchBuckets = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500}
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		cacheRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catalog_cache_requests_total",
			Help: "Keys looked up in the Redis document cache, by document type and result (hit, miss, negative, corrupt, unavailable).",
		}, []string{"type", "result"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "catalog_loader_batch_size",
			Help:    "Keys in each dataloader batch, by loader.",
			Buckets: batchBuckets,
		}, []string{"loader"}),
		redisDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "catalog_redis_duration_seconds",
			Help:    "Redis round trips, by command (\"pipeline\" for a pipeline).",
			Buckets: redisBuckets,
		}, []string{"command"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catalog_redis_errors_total",
			Help: "Redis round trips that failed (a miss is no failure), by command.",
		}, []string{"command"}),
		sqlDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "catalog_sql_duration_seconds",
			Help:    "SQL statements, by operation (verb and table, e.g. \"SELECT products\").",
			Buckets: sqlBuckets,
		}, []string{"op"}),
		sqlErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catalog_sql_errors_total",
			Help: "SQL statements that failed (no row is no failure), by operation.",
		}, []string{"op"}),
		graphqlRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catalog_graphql_requests_total",
			Help: "GraphQL responses, by operation name and the first error's extensions.code (OK for none).",
		}, []string{"operation", "code"}),
		graphqlDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "catalog_graphql_request_duration_seconds",
			Help:    "Time from reading a GraphQL request to its response, by operation name.",
			Buckets: prometheus.DefBuckets,
		}, []string{"operation"}),
		breakerChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catalog_redis_breaker_transitions_total",
			Help: "Changes of the Redis circuit breaker's state, by the state entered.",
		}, []string{"state"}),
		respCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catalog_response_cache_requests_total",
			Help: "GraphQL requests by what the response cache did: hit, miss (executed and stored), bypass (not looked up), uncacheable (executed, not stored).",
		}, []string{"result"}),
		overloaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "catalog_graphql_overloaded_total",
			Help: "GraphQL requests refused with 503 OVERLOADED because MAX_INFLIGHT requests were already in flight.",
		}),
	}
	reg.MustRegister(m.respCache)
	reg.MustRegister(m.cacheRequests, m.batchSize, m.redisDuration, m.redisErrors, m.sqlDuration,
		m.sqlErrors, m.graphqlRequests, m.graphqlDuration, m.breakerChanges, m.overloaded)
	return m
}

// Overloaded counts a request refused at the edge because the service was
// at capacity; it is graph.OverloadOptions.OnRefuse.
func (t *Telemetry) Overloaded() { t.m.overloaded.Inc() }
