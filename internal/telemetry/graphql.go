package telemetry

import (
	"context"
	"net/http"
	"regexp"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Middleware wraps the GraphQL endpoint: with Cost, each request gets the
// meter its response reports; with tracing, each request gets a server span
// (otelhttp), a child of the caller's span when its traceparent header
// names one.
func (t *Telemetry) Middleware(next http.Handler) http.Handler {
	h := next
	if t.opt.Cost {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, _ := withMeter(r.Context())
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	if !t.Tracing() {
		return h
	}
	return otelhttp.NewHandler(h, "graphql",
		otelhttp.WithTracerProvider(t.opt.Tracer),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), // the metrics are Prometheus's
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
}

// Extensions returns the gqlgen extensions to add to the GraphQL server:
// the operation's metrics, span and cost, and with tracing a span per
// resolver field.
func (t *Telemetry) Extensions() []graphql.HandlerExtension {
	ext := []graphql.HandlerExtension{operations{t}}
	if t.Tracing() {
		ext = append(ext, fields{t.tracer})
	}
	return ext
}

// operations counts and times every GraphQL response by operation name and
// code, wraps its execution in a span, and attaches its Cost.
type operations struct{ t *Telemetry }

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = operations{}

func (operations) ExtensionName() string                   { return "Telemetry" }
func (operations) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse wraps each response, errors before execution (parse,
// validation) included. The span starts when the request was read, so it
// covers parsing and validation too.
func (o operations) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	name, kind, start := describe(ctx)
	label := o.t.ops.label(name, kind != "")
	ctx, span := o.t.tracer.Start(ctx, spanName(kind, label), trace.WithTimestamp(start))
	resp := next(ctx)
	if resp == nil { // the end of a stream
		span.End()
		return nil
	}
	code := responseCode(resp)
	o.t.m.graphqlRequests.WithLabelValues(label, code).Inc()
	o.t.m.graphqlDuration.WithLabelValues(label).Observe(time.Since(start).Seconds())
	if span.IsRecording() {
		span.SetAttributes(attribute.String("graphql.operation.type", kind),
			attribute.String("graphql.operation.name", label), attribute.String("graphql.response.code", code))
		if code != codeOK {
			span.SetStatus(codes.Error, code)
		}
	}
	span.End()
	if m := meterOf(ctx); m != nil {
		o.attachCost(resp, m)
	}
	return resp
}

// attachCost puts the request's cost in resp's extensions. It runs after
// the whole response was computed, so the cost is final; gqlgen has already
// copied the registered extensions into resp by then, so it sets the entry
// itself rather than through graphql.RegisterExtension.
func (operations) attachCost(resp *graphql.Response, m *meter) {
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions["cost"] = m.cost()
}

// describe returns the operation's name and type ("query", "mutation"; ""
// when it did not parse and validate) and when its request was read.
func describe(ctx context.Context) (name, kind string, start time.Time) {
	start = time.Now()
	if !graphql.HasOperationContext(ctx) {
		return "", "", start
	}
	oc := graphql.GetOperationContext(ctx)
	if !oc.Stats.OperationStart.IsZero() {
		start = oc.Stats.OperationStart
	}
	if oc.Operation == nil {
		return oc.OperationName, "", start
	}
	return oc.Operation.Name, string(oc.Operation.Operation), start
}

func spanName(kind, label string) string {
	if kind == "" {
		return "graphql " + label
	}
	return kind + " " + label
}

// codeOK is the code label of a response without errors.
const codeOK = "OK"

// codePattern is what an extensions.code must look like to be a label.
var codePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,39}$`)

// responseCode returns the extensions.code of resp's first error, OK when
// it has none, and UNKNOWN for an error without a well-formed code.
func responseCode(resp *graphql.Response) string {
	if len(resp.Errors) == 0 {
		return codeOK
	}
	if c, _ := resp.Errors[0].Extensions["code"].(string); codePattern.MatchString(c) {
		return c
	}
	return "UNKNOWN"
}

// fields makes a span for each field that runs a resolver (root fields,
// and the fields that load through a dataloader); plain struct fields get
// none, which would only add noise.
type fields struct{ tracer trace.Tracer }

var _ interface {
	graphql.HandlerExtension
	graphql.FieldInterceptor
} = fields{}

func (fields) ExtensionName() string                   { return "TelemetryFields" }
func (fields) Validate(graphql.ExecutableSchema) error { return nil }

func (f fields) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	ctx, span := f.tracer.Start(ctx, fc.Object+"."+fc.Field.Name)
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(attribute.String("graphql.field.path", fc.Path().String()))
	}
	res, err := next(ctx)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "resolver failed")
	}
	return res, err
}
