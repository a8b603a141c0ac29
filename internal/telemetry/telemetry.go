// Package telemetry is what the service tells its operators and its
// frontend developers about itself: Prometheus metrics, OpenTelemetry
// traces, and the cost of each request in the response's extensions.cost.
//
// One Telemetry is made per process and handed to each layer as the
// interface that layer declares: sqlstore.Observer for SQL statements,
// loaders.Observer for batches and cache reads, a go-redis hook for Redis
// round trips, and gqlgen extensions for operations and resolver fields.
// The layers below never import this package, so dependencies keep pointing
// graph → loaders → store; it lives under graph/ because it sits above all
// three (it implements their interfaces and extends gqlgen).
package telemetry

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"catalog-bff/loaders"
	"catalog-bff/store/sqlstore"
)

// Options configures a Telemetry.
type Options struct {
	// Tracer makes the spans. Nil turns tracing off: spans come from a
	// no-op provider, and neither the HTTP nor the Redis tracing layer is
	// installed.
	Tracer trace.TracerProvider
	// Cost puts each request's cost in its response's extensions.cost (see
	// Cost). It is for development.
	Cost bool
	// MaxOperations bounds the distinct operation names that label the
	// GraphQL metrics; further names count as "other". Default 100.
	MaxOperations int
}

// Telemetry holds the service's metrics and tracer. It is safe for
// concurrent use.
type Telemetry struct {
	opt    Options
	reg    *prometheus.Registry
	m      *metrics
	tracer trace.Tracer
	ops    *operationNames
}

var (
	_ sqlstore.Observer = (*Telemetry)(nil)
	_ loaders.Observer  = (*Telemetry)(nil)
)

// instrumentation names the spans' instrumentation scope.
const instrumentation = "catalog-bff/internal/telemetry"

// New returns a Telemetry with its metrics registered in a registry of its
// own, along with the Go runtime's and the process's.
func New(opt Options) *Telemetry {
	if opt.MaxOperations <= 0 {
		opt.MaxOperations = 100
	}
	tp := opt.Tracer
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Telemetry{opt: opt, reg: reg, m: newMetrics(reg), tracer: tp.Tracer(instrumentation),
		ops: newOperationNames(opt.MaxOperations)}
}

// Tracing reports whether spans are recorded anywhere.
func (t *Telemetry) Tracing() bool { return t.opt.Tracer != nil }

// Handler serves the metrics in the Prometheus text format, for GET /metrics.
func (t *Telemetry) Handler() http.Handler {
	return promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{Registry: t.reg})
}

// Gatherer returns the registry, for tests and tools.
func (t *Telemetry) Gatherer() prometheus.Gatherer { return t.reg }
