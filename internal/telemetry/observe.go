package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"catalog-bff/loaders"
	"catalog-bff/store"
	"catalog-bff/store/sqlstore"
)

// maxQueryText bounds the statement text recorded on a span: a view flush
// of thousands of products is one statement of as many VALUES rows.
const maxQueryText = 2048

// StartStatement implements sqlstore.Observer: a client span named after the
// statement's operation, its duration and errors in the SQL metrics, and
// one statement on the request's cost.
func (t *Telemetry) StartStatement(ctx context.Context, s sqlstore.Statement) (context.Context, func(error)) {
	start := time.Now()
	ctx, span := t.tracer.Start(ctx, s.Op, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("db.system.name", dbSystem(s.Dialect)),
			attribute.String("db.operation.name", s.Op),
			attribute.String("db.query.text", truncate(s.Query, maxQueryText)))
	}
	if m := meterOf(ctx); m != nil {
		m.sql.Add(1)
	}
	return ctx, func(err error) {
		t.m.sqlDuration.WithLabelValues(s.Op).Observe(time.Since(start).Seconds())
		if err != nil {
			t.m.sqlErrors.WithLabelValues(s.Op).Inc()
			span.RecordError(err)
			span.SetStatus(codes.Error, "statement failed")
		}
		span.End()
	}
}

// StartBatch implements loaders.Observer: a span per batch and the batch
// size histogram.
func (t *Telemetry) StartBatch(ctx context.Context, loader string, keys int) (context.Context, func()) {
	t.m.batchSize.WithLabelValues(loader).Observe(float64(keys))
	ctx, span := t.tracer.Start(ctx, "loader "+loader)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("loader.name", loader), attribute.Int("loader.keys", keys))
	}
	return ctx, func() { span.End() }
}

// CacheRead implements loaders.Observer: the cache request counter, and
// the request's hits or misses.
func (t *Telemetry) CacheRead(ctx context.Context, kind store.Kind, r loaders.CacheResult, keys int) {
	t.m.cacheRequests.WithLabelValues(string(kind), string(r)).Add(float64(keys))
	m := meterOf(ctx)
	switch {
	case m == nil:
	case r == loaders.CacheHit || r == loaders.CacheNegative || r == loaders.CacheNear:
		m.hits.Add(int64(keys))
	default:
		m.misses.Add(int64(keys))
	}
}

// dbSystem is the OpenTelemetry name of a dialect.
func dbSystem(d sqlstore.Dialect) string {
	if d == sqlstore.Postgres {
		return "postgresql"
	}
	return string(d)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
