package telemetry

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TracerProvider returns the tracer provider that the environment asks for,
// and a function that flushes and stops it. getenv reads the environment.
//
// Tracing is on when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL of the
// traces endpoint) or OTEL_EXPORTER_OTLP_ENDPOINT (a base URL, to which
// /v1/traces is appended) is set, and OTEL_SDK_DISABLED is not "true".
// Spans are then batched and sent with OTLP over HTTP (protobuf); the
// exporter reads its other OTEL_EXPORTER_OTLP_* settings (headers, timeout,
// compression, certificates) itself. The service is named by
// OTEL_SERVICE_NAME, default "catalog-bff", with OTEL_RESOURCE_ATTRIBUTES
// added. Otherwise it returns a nil provider: tracing is off.
func TracerProvider(ctx context.Context, getenv func(string) string) (trace.TracerProvider, func(context.Context) error, error) {
	endpoint := tracesEndpoint(getenv)
	if endpoint == "" || strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return nil, func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: OTLP exporter for %s: %w", endpoint, err)
	}
	name := getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = "catalog-bff"
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", name)))
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res),
		sdktrace.WithSampler(RequestSampler()))
	return tp, tp.Shutdown, nil
}

// tracesEndpoint returns the URL spans go to, or "" for none.
func tracesEndpoint(getenv func(string) string) string {
	if u := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); u != "" {
		return u
	}
	if u := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); u != "" {
		return strings.TrimSuffix(u, "/") + "/v1/traces"
	}
	return ""
}

// RequestSampler records every request's trace, unless the caller's
// traceparent says its trace is not sampled, and drops the spans that have
// no parent and are not a request's: the background SQL and Redis calls of
// the view flusher, the invalidation worker and the auditor, which would
// otherwise make a trace of a span or two several times a second.
func RequestSampler() sdktrace.Sampler {
	return sdktrace.ParentBased(requestsOnly{})
}

// requestsOnly samples server spans: the roots of requests.
type requestsOnly struct{}

func (requestsOnly) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	decision := sdktrace.Drop
	if p.Kind == trace.SpanKindServer {
		decision = sdktrace.RecordAndSample
	}
	return sdktrace.SamplingResult{Decision: decision, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
}

func (requestsOnly) Description() string { return "RequestsOnly" }
