package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"catalog-bff/internal/reqlog"
	"catalog-bff/loaders"
	"catalog-bff/store"
)

// HandlerOptions configures NewHandler.
type HandlerOptions struct {
	Resolver *Resolver
	Loaders  *loaders.Factory
	Logger   *slog.Logger
	Limits   Limits
	// Production turns off introspection and the "Did you mean …?"
	// suggestions of validation errors, which would map the schema for
	// anyone who asks.
	Production bool
	// PersistedQueries stores the queries of automatic persisted queries.
	// Nil turns them off: every request must then carry its query.
	PersistedQueries graphql.Cache[string]
	// CORSOrigins lists the origins whose pages may call the endpoint
	// ("https://shop.example.com", "https://*.example.com", or "*" for
	// any). Empty allows none.
	CORSOrigins []string
	// ClientIPHeader names a header, set by the service's own proxy, that
	// carries the client's address (e.g. X-Real-IP); empty uses the
	// connection's address. It keys the view rate limit.
	ClientIPHeader string
	// Extensions are added to the GraphQL server after its own, in order:
	// metrics, traces and the cost extension (internal/telemetry).
	Extensions []graphql.HandlerExtension
	// ResponseCache, when set, answers repeated queries from the bytes
	// they produced (see ResponseCache.Middleware); the handler also tells
	// it of the views this instance counts. Nil executes every request.
	ResponseCache *ResponseCache
	// Overload bounds the requests worked on at once (LimitInflight), past
	// CORS, so that a page of an allowed origin can read a refusal.
	Overload OverloadOptions
	// TrustedDocuments, when set, runs operations named by their id in its
	// manifest, and in require mode refuses every other one before it is
	// parsed.
	TrustedDocuments *TrustedDocuments
}

// NewHandler returns the GraphQL endpoint: queries over GET and POST (JSON
// only), mutations over POST only; parsed queries cached; every limit of
// opt.Limits checked before anything runs; errors presented with an
// extensions.code; a request id on each request; a fresh set of loaders per
// request; and the request's bearer token for the admin check.
func NewHandler(opt HandlerOptions) http.Handler {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Resolver.Logger == nil {
		opt.Resolver.Logger = opt.Logger
	}
	lim := opt.Limits.withDefaults()
	srv := handler.New(NewExecutableSchema(Config{Schema: servedSchema(), Resolvers: opt.Resolver,
		Complexity: complexityRoot(), Directives: DirectiveRoot{Admin: opt.Resolver.Admin.directive}}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(newQueryCache())
	srv.SetParserTokenLimit(lim.MaxTokens)
	srv.SetDisableSuggestion(opt.Production)
	if !opt.Production {
		srv.Use(extension.Introspection{})
	}
	// Order matters: the limiter measures in linear time what gqlgen's
	// complexity walk could take exponential time on; queries are persisted
	// only once both passed.
	srv.Use(newLimiter(lim, !opt.Production))
	srv.Use(extension.FixedComplexityLimit(lim.MaxComplexity))
	if opt.PersistedQueries != nil {
		srv.Use(newPersistedQueries(opt.PersistedQueries))
	}
	for _, e := range opt.Extensions {
		srv.Use(e)
	}
	if opt.ResponseCache != nil { // last: it stores the response as the cache will serve it
		srv.Use(responseRecorder{opt.ResponseCache})
		opt.Resolver.onViewCounted(opt.ResponseCache.ViewCounted)
	}
	srv.AroundResponses(capErrors)
	srv.SetErrorPresenter(presentError(opt.Logger, opt.Production))
	srv.SetRecoverFunc(recoverPanic(opt.Logger))
	h := opt.Loaders.Middleware(withBearer(withClient(opt.ClientIPHeader, requestErrors(srv))))
	// The bound on work in flight covers the requests that execute. A
	// response the cache answers costs about what a refusal costs (64 µs of
	// CPU against 550 µs executed), so hits pass before it: with them inside
	// it, a stall of the machine at 7,000 cached pages a second filled the
	// queue and refused 1.4 % of them.
	h = LimitInflight(opt.Overload, h)
	if opt.ResponseCache != nil {
		h = opt.ResponseCache.Middleware(h)
	}
	if opt.TrustedDocuments != nil {
		h = opt.TrustedDocuments.Middleware(h)
	}
	h = guard(lim.MaxBodyBytes, lim.MaxTokens, h)
	return reqlog.Middleware(corsFor(opt.CORSOrigins).Handler(h))
}

// servedSchema is the schema the endpoint validates against and
// introspection shows: schema.graphqls with gqlparser's prelude, less
// @defer. The prelude declares it, but answering it needs an incremental
// delivery transport (multipart/mixed), which this service does not have:
// with the directive declared, a deferred fragment came back as null in
// non-null fields with "hasNext": true and nothing after. Left out, a query
// that uses it fails validation ("Unknown directive") and introspection
// does not offer it.
var servedSchema = sync.OnceValue(func() *ast.Schema {
	s := *NewExecutableSchema(Config{}).Schema()
	s.Directives = maps.Clone(s.Directives)
	delete(s.Directives, "defer")
	return &s
})

// corsFor answers the CORS preflight of the allowed origins and lets their
// pages read responses. Credentials (cookies) are never allowed: the admin
// token travels in the Authorization header, which a page can send only
// when its origin is allowed.
func corsFor(origins []string) *cors.Cors {
	opt := cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Content-Type", "Authorization", reqlog.Header},
		ExposedHeaders: []string{reqlog.Header, "Retry-After"},
		MaxAge:         600,
	}
	if len(origins) == 0 {
		// rs/cors allows every origin when given none.
		opt.AllowOriginFunc = func(string) bool { return false }
	}
	return cors.New(opt)
}

// maxErrors bounds the errors of one response: a query of a few kilobytes
// can break a validation rule a thousand times, and its reply would be many
// times its size.
const maxErrors = 20

// capErrors keeps the first maxErrors-1 errors of a response and replaces
// the rest with one error that counts them, under the first error's code.
func capErrors(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || len(resp.Errors) <= maxErrors {
		return resp
	}
	more := &gqlerror.Error{
		Message:    fmt.Sprintf("and %d more errors", len(resp.Errors)-maxErrors+1),
		Extensions: map[string]any{"code": resp.Errors[0].Extensions["code"]},
	}
	resp.Errors = append(resp.Errors[:maxErrors-1:maxErrors-1], more)
	return resp
}

// presentError gives every error an extensions.code. A *store.Error keeps
// its code and message. gqlgen's own coded errors (parse, validation,
// limits) keep theirs; in production, validation messages lose their "Did
// you mean …?" suggestions. Any other error is internal: it is logged with
// the request id, and the client sees only "internal error" and that id,
// never SQL or Redis text.
func presentError(log *slog.Logger, production bool) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		var app *store.Error
		if errors.As(err, &app) {
			gerr.Message = app.Message
			setCode(gerr, string(app.Code))
			return gerr
		}
		var raw *gqlerror.Error
		if errors.As(err, &raw) && raw.Err == nil && gerr.Extensions["code"] != nil {
			return presentCoded(gerr, production)
		}
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			// The client went away: nothing failed on this side.
			log.DebugContext(ctx, "client went away", "path", gerr.Path.String(), "err", err)
		} else {
			log.ErrorContext(ctx, "internal error", "path", gerr.Path.String(), "err", err)
		}
		id := reqlog.ID(ctx)
		return &gqlerror.Error{
			Message:    "internal error (request id " + id + ")",
			Path:       gerr.Path,
			Extensions: map[string]any{"code": string(store.Internal), "requestId": id},
		}
	}
}

// presentCoded finishes an error that gqlgen or an extension coded.
func presentCoded(e *gqlerror.Error, production bool) *gqlerror.Error {
	switch e.Extensions["code"] {
	case errcode.ParseFailed:
		if tokenLimitError(e) {
			setCode(e, CodeTooManyTokens)
			e.Message = "the query has too many tokens: " + e.Message
		}
	case errcode.ValidationFailed:
		if production {
			e.Message, _, _ = strings.Cut(e.Message, " Did you mean ")
		}
	}
	return e
}

func setCode(e *gqlerror.Error, code string) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = code
}

// recoverPanic turns a resolver's panic into an internal error, with the
// stack in the log.
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", p, "stack", string(debug.Stack()))
		return fmt.Errorf("panic: %v", p)
	}
}
