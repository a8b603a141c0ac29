package graph_test

import (
	"context"
	"slices"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"catalog-bff/internal/telemetry"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// One cold query is one trace: the HTTP request's span, the GraphQL
// operation's, the resolver fields', a span per dataloader batch, and under
// the batches the Redis commands and the SQL statements they sent. The
// background work of the cache (its invalidation worker and auditor run
// here) makes no trace of its own.
func TestTracingOneTrace(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(telemetry.RequestSampler()))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		ts := newTestServer(t, d, serverOptions{telemetry: true, tracer: tp, background: true, auditFraction: 1})
		ts.mustQuery(t, `query ProductPage { product(id: "7") { id name seller { name } } }`, nil, nil)

		spans := waitForSpan(t, rec, "POST /query") // the server span ends after the response is sent
		byName := map[string]sdktrace.ReadOnlySpan{}
		for _, s := range spans {
			byName[s.Name()] = s
		}
		op := byName["query ProductPage"]
		if op == nil {
			t.Fatalf("no operation span among %v", names(spans))
		}
		for _, name := range []string{"POST /query", "Query.product", "Product.seller", "loader product",
			"evalsha", "SELECT products", "SELECT sellers"} {
			s := byName[name]
			switch {
			case s == nil:
				t.Errorf("no %q span among %v", name, names(spans))
			case s.SpanContext().TraceID() != op.SpanContext().TraceID():
				t.Errorf("span %q is in trace %s, the operation in %s", name, s.SpanContext().TraceID(), op.SpanContext().TraceID())
			}
		}
		// The product read cold brings its seller: no seller batch.
		if byName["loader seller"] != nil {
			t.Error("a seller batch ran; the product batch should have read the seller with the product")
		}
		for _, name := range []string{"SELECT products", "SELECT sellers", "evalsha"} {
			under := func(s sdktrace.ReadOnlySpan) bool {
				return s.Name() == name && descends(s, byName["loader product"], spans)
			}
			if !slices.ContainsFunc(spans, under) {
				t.Errorf("no %q span descends from the product batch's", name)
			}
		}
		if !descends(byName["loader product"], op, spans) {
			t.Error("the product batch's span does not descend from the operation's")
		}
		for _, s := range spans {
			if s.SpanContext().TraceID() != op.SpanContext().TraceID() {
				t.Errorf("span %q is in another trace: background work was traced", s.Name())
			}
		}
	})
}

// waitForSpan waits for a span named name to end, and returns every span
// ended by then.
func waitForSpan(t *testing.T, rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	t.Helper()
	var spans []sdktrace.ReadOnlySpan
	storetest.Eventually(t, 10*time.Second, "a "+name+" span to end", func() bool {
		spans = rec.Ended()
		return slices.ContainsFunc(spans, func(s sdktrace.ReadOnlySpan) bool { return s.Name() == name })
	})
	return spans
}

// descends reports whether s is a descendant of ancestor, through spans.
func descends(s, ancestor sdktrace.ReadOnlySpan, spans []sdktrace.ReadOnlySpan) bool {
	if s == nil || ancestor == nil {
		return false
	}
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, sp := range spans {
		byID[sp.SpanContext().SpanID()] = sp
	}
	for p := s.Parent().SpanID(); p.IsValid(); {
		if p == ancestor.SpanContext().SpanID() {
			return true
		}
		parent := byID[p]
		if parent == nil {
			return false
		}
		p = parent.Parent().SpanID()
	}
	return false
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}
