package app

import (
	"context"
	"io"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"catalog-bff/internal/reqlog"
	"catalog-bff/internal/telemetry"
	"catalog-bff/loaders"
)

// newTelemetry returns the service's metrics and tracing, and a function
// that flushes the spans not yet sent. Tracing is on when the environment
// names an OTLP endpoint (telemetry.TracerProvider, given the OTEL_
// settings, or the given tracer); the cost extension
// outside production.
func newTelemetry(ctx context.Context, c Config, tracer trace.TracerProvider, log *slog.Logger) (*telemetry.Telemetry, func(), error) {
	if tracer != nil { // a test's
		return telemetry.New(telemetry.Options{Tracer: tracer, Cost: !c.production}), func() {}, nil
	}
	tp, shutdown, err := telemetry.TracerProvider(ctx, c.otelGetenv)
	if err != nil {
		return nil, nil, err
	}
	if tp != nil {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing", "err", err) }))
		log.Info("tracing on: spans go to the OTLP endpoint")
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := shutdown(sctx); err != nil {
			log.Warn("tracing: spans not flushed at exit", "err", err)
		}
	}
	return telemetry.New(telemetry.Options{Tracer: tp, Cost: !c.production}), stop, nil
}

// watch registers the metrics read from the services at each scrape.
func watch(s services, factory *loaders.Factory) {
	src := telemetry.Sources{Loaders: factory, Views: s.counter}
	if s.cache != nil {
		src.Cache, src.Outbox, src.Audit = s.cache, s.db, s.audit
	}
	if s.near != nil {
		src.Near = s.near
	}
	s.tel.Watch(src)
}

// newLogger logs JSON in production, for log collectors, and text in
// development, for people. Each line logged with a request's context
// carries the request's id.
func newLogger(production bool, w io.Writer) *slog.Logger {
	var h slog.Handler = slog.NewTextHandler(w, nil)
	if production {
		h = slog.NewJSONHandler(w, nil)
	}
	return slog.New(reqlog.NewHandler(h))
}
