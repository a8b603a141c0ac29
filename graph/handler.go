package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"catalog-bff/loaders"
	"catalog-bff/store"
)

// HandlerOptions configures NewHandler.
type HandlerOptions struct {
	Resolver *Resolver
	Loaders  *loaders.Factory
	Logger   *slog.Logger
	// MaxBodyBytes bounds a request body. Default 64 KiB.
	MaxBodyBytes int64
	// Extensions are added to the GraphQL server after its own, in order:
	// metrics, traces and the cost extension (graph/telemetry).
	Extensions []graphql.HandlerExtension
}

// NewHandler returns the GraphQL endpoint: queries over GET and POST (JSON),
// parsed queries cached, introspection on for the playground, errors
// presented with an extensions.code, a fresh set of loaders per request, and
// the request's bearer token for the admin check.
func NewHandler(opt HandlerOptions) http.Handler {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 64 << 10
	}
	if opt.Resolver.Logger == nil {
		opt.Resolver.Logger = opt.Logger
	}
	srv := handler.New(NewExecutableSchema(Config{Resolvers: opt.Resolver}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	for _, e := range opt.Extensions {
		srv.Use(e)
	}
	srv.SetErrorPresenter(presentError(opt.Logger))
	srv.SetRecoverFunc(recoverPanic(opt.Logger))
	return opt.Loaders.Middleware(withBearer(limitBody(opt.MaxBodyBytes, srv)))
}

// limitBody caps how much of a request body the handler will read.
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// presentError gives every error an extensions.code. A *store.Error keeps its
// code and message. gqlgen's own errors (parse, validation) keep theirs. Any
// other error is internal: it is logged, and the client sees only "internal
// error", never SQL or Redis text.
func presentError(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		var app *store.Error
		if errors.As(err, &app) {
			gerr.Message = app.Message
			setCode(gerr, string(app.Code))
			return gerr
		}
		var raw *gqlerror.Error
		if errors.As(err, &raw) && raw.Err == nil {
			return gerr // gqlgen's own: parse and validation errors
		}
		log.ErrorContext(ctx, "internal error", "path", gerr.Path.String(), "err", err)
		return &gqlerror.Error{
			Message:    "internal error",
			Path:       gerr.Path,
			Extensions: map[string]any{"code": string(store.Internal)},
		}
	}
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
