package telemetry

import (
	"context"
	"time"
)

// ResponseCacheRequest counts one GraphQL request by what the response
// cache did with it (graph.ResponseCacheObserver).
func (t *Telemetry) ResponseCacheRequest(result string) {
	t.m.respCache.WithLabelValues(result).Inc()
}

// CachedResponse counts a response the response cache answered, which
// gqlgen never saw, in the GraphQL request metrics: code OK, the time
// since start. Its span is the HTTP server span; it has no cost.
func (t *Telemetry) CachedResponse(_ context.Context, operation string, start time.Time) {
	label := t.ops.label(operation, true)
	t.m.graphqlRequests.WithLabelValues(label, codeOK).Inc()
	t.m.graphqlDuration.WithLabelValues(label).Observe(time.Since(start).Seconds())
}
