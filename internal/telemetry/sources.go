package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"catalog-bff/loaders"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/views"
)

// Sources are the parts of the service whose own counters and states the
// metrics read at each scrape. A nil field has no metrics.
type Sources struct {
	Cache   CacheState // redisstore.Cache
	Outbox  Outbox     // sqlstore.DB, with the outbox enabled
	Audit   Audit      // loaders.Auditor
	Loaders LoaderStats
	Views   ViewStats
	Near    NearStats // loaders.Near
}

// NearStats is the near cache's size and state.
type NearStats interface {
	Stats() loaders.NearStats
	Live() bool
}

// CacheState is the Redis cache's circuit breaker and read fence.
type CacheState interface {
	BreakerState() string
	Fenced() (bool, int64)
	Generation() int64
	OOMInvalidations() int64
}

// Outbox counts the invalidations waiting for delivery.
type Outbox interface {
	OutboxSize(ctx context.Context) (int64, error)
}

// Audit is the consistency auditor's counts.
type Audit interface{ Stats() loaders.AuditStats }

// LoaderStats are the loaders' fallback and lease counts.
type LoaderStats interface{ Stats() loaders.Stats }

// ViewStats are the view counter's counts.
type ViewStats interface{ Stats() views.Stats }

var (
	_ CacheState  = (*redisstore.Cache)(nil)
	_ Outbox      = (*sqlstore.DB)(nil)
	_ Audit       = (*loaders.Auditor)(nil)
	_ LoaderStats = (*loaders.Factory)(nil)
	_ ViewStats   = (*views.Counter)(nil)
	_ NearStats   = (*loaders.Near)(nil)
)

// Watch registers the metrics read from s at each scrape. Call it once.
func (t *Telemetry) Watch(s Sources) {
	if s.Cache != nil {
		t.watchCache(s.Cache)
	}
	if s.Outbox != nil {
		t.reg.MustRegister(outboxCollector{s.Outbox})
	}
	if s.Audit != nil {
		t.watchAudit(s.Audit)
	}
	if s.Loaders != nil {
		t.watchLoaders(s.Loaders)
	}
	if s.Views != nil {
		t.watchViews(s.Views)
	}
	if s.Near != nil {
		t.watchNear(s.Near)
	}
}

func (t *Telemetry) watchNear(n NearStats) {
	t.reg.MustRegister(
		gauge("catalog_near_cache_entries", "Documents and invalidation markers the near cache holds.",
			func() float64 { return float64(n.Stats().Entries) }),
		gauge("catalog_near_cache_bytes", "The near cache's weighted size: encoded bytes, at least NEAR_CACHE_MAX_BYTES/NEAR_CACHE_SIZE an entry.",
			func() float64 { return float64(n.Stats().Bytes) }),
		gauge("catalog_near_cache_live", "1 while the near cache serves: its invalidation stream is up and cache reads are open.",
			func() float64 { return boolValue(n.Live()) }))
}

// breakerStates are the values of catalog_redis_breaker_state.
var breakerStates = map[string]float64{"closed": 0, "half-open": 1, "open": 2}

// BreakerChanged counts a change of the Redis circuit breaker's state; it
// is redisstore.BreakerOptions.OnChange.
func (t *Telemetry) BreakerChanged(state string) {
	t.m.breakerChanges.WithLabelValues(state).Inc()
}

func (t *Telemetry) watchCache(c CacheState) {
	t.reg.MustRegister(
		gauge("catalog_redis_breaker_state", "The Redis circuit breaker: 0 closed, 1 half-open, 2 open.",
			func() float64 { return breakerStates[c.BreakerState()] }),
		gauge("catalog_cache_reads_fenced", "1 while cache reads are fenced because an invalidation may be missing, else 0.",
			func() float64 { return boolValue(fenced(c)) }),
		gauge("catalog_cache_generation", "The cache key generation in use; it grows when the cache is abandoned.",
			func() float64 { return float64(c.Generation()) }),
		counter("catalog_cache_oom_invalidations_total", "Invalidations delivered by deleting entries because Redis was full under noeviction and refused the markers.",
			func() float64 { return float64(c.OOMInvalidations()) }))
}

func (t *Telemetry) watchAudit(a Audit) {
	t.reg.MustRegister(
		counter("catalog_cache_audit_checked_total", "Cache hits sampled and compared with SQL by the consistency auditor.",
			func() float64 { return float64(a.Stats().Checked) }),
		counter("catalog_cache_audit_stale_total", "Of those, entries still behind SQL after two convergence bounds.",
			func() float64 { return float64(a.Stats().Stale) }))
}

func (t *Telemetry) watchLoaders(l LoaderStats) {
	t.reg.MustRegister(
		counter("catalog_sql_fallback_admitted_total", "SQL reads admitted while the cache was down.",
			func() float64 { return float64(l.Stats().FallbackAdmitted) }),
		counter("catalog_sql_fallback_refused_total", "Reads refused with UNAVAILABLE at DB_FALLBACK_MAX_INFLIGHT while the cache was down.",
			func() float64 { return float64(l.Stats().FallbackRefused) }),
		counter("catalog_cache_lease_waits_total", "Missed keys waited for because another reader held their fill lease.",
			func() float64 { return float64(l.Stats().LeaseWaits) }),
		counter("catalog_cache_prefetched_total", "Sellers and categories read from SQL with the products that named them, a cold page's next levels.",
			func() float64 { return float64(l.Stats().Prefetched) }))
}

func (t *Telemetry) watchViews(v ViewStats) {
	t.reg.MustRegister(
		gauge("catalog_views_pending", "Views counted and not yet written to SQL (Redis's queue as last seen, plus those held in process).",
			func() float64 { return float64(v.Stats().Pending) }),
		counter("catalog_views_flushed_total", "Views this process's flushes wrote to SQL.",
			func() float64 { return float64(v.Stats().Flushed) }),
		gauge("catalog_views_flush_lag_seconds", "Time since the last view flush that fully succeeded.",
			func() float64 { return time.Since(v.Stats().LastFlush).Seconds() }),
		counter("catalog_views_flushes_total", "View flushes run, successful or not.",
			func() float64 { return float64(v.Stats().Flushes) }),
		counter("catalog_view_log_rewinds_total", "Flushes that found Redis's view log behind SQL's position (a restore, a failover, a Redis that lost its data) and repaired it.",
			func() float64 { return float64(v.Stats().Rewinds) }),
		counter("catalog_views_recovered_total", "Acknowledged views that Redis lost and this process counted again from its memory.",
			func() float64 { return float64(v.Stats().Recovered) }))
}

func gauge(name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
}

func counter(name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
}

func fenced(c CacheState) bool {
	f, _ := c.Fenced()
	return f
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// outboxCollector reports the outbox's size, read from SQL at each scrape
// (one COUNT, within a second). A scrape during which SQL does not answer
// leaves the metric out rather than report a made-up size.
type outboxCollector struct{ o Outbox }

var outboxDesc = prometheus.NewDesc("catalog_cache_outbox_pending",
	"Invalidations committed and not yet delivered to Redis.", nil, nil)

func (c outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- outboxDesc }

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := c.o.OutboxSize(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(n))
}
