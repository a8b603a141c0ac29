package graph

import (
	"context"
	"encoding/hex"

	"catalog-bff/store/redisstore"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

var _ graphql.Cache[string] = (*redisstore.PersistedQueries)(nil)

// persistedQueries is gqlgen's AutomaticPersistedQuery extension with
// three changes:
//   - a hash that is not 64 hex digits is refused before any Redis call;
//   - its errors carry codes: PERSISTED_QUERY_NOT_FOUND (gqlgen's, HTTP
//     200, so that clients resend the full query) and
//     PERSISTED_QUERY_INVALID for a bad extension or a hash that is not the
//     query's;
//   - a new query is stored only once it has passed validation and every
//     limit, so the store never holds a query this server refuses to run,
//     and a client cannot fill Redis with junk.
//
// It must be added after every other operation context mutator (the
// limiter, complexity), so that storing is the last step before execution.
type persistedQueries struct {
	apq   extension.AutomaticPersistedQuery
	store graphql.Cache[string]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = (*persistedQueries)(nil)

func newPersistedQueries(store graphql.Cache[string]) *persistedQueries {
	return &persistedQueries{apq: extension.AutomaticPersistedQuery{Cache: deferredAdd{store}}, store: store}
}

// ExtensionName implements graphql.HandlerExtension.
func (*persistedQueries) ExtensionName() string { return "PersistedQueries" }

// Validate implements graphql.HandlerExtension.
func (p *persistedQueries) Validate(s graphql.ExecutableSchema) error { return p.apq.Validate(s) }

// MutateOperationParameters resolves a request that sends only a hash, and
// notes the query of one that sends both, for MutateOperationContext.
func (p *persistedQueries) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	ext, present := raw.Extensions["persistedQuery"]
	if !present || ext == nil {
		return nil
	}
	m, _ := ext.(map[string]any)
	hash, _ := m["sha256Hash"].(string)
	if b, err := hex.DecodeString(hash); err != nil || len(b) != 32 {
		return codedf(nil, CodePersistedQueryInvalid, "extensions.persistedQuery.sha256Hash must be 64 hex digits")
	}
	err := p.apq.MutateOperationParameters(ctx, raw)
	if err != nil && err.Extensions["code"] == nil {
		err = codedf(nil, CodePersistedQueryInvalid, "persisted query: %s", err.Message)
	}
	return err
}

// MutateOperationContext stores the query noted by
// MutateOperationParameters: the operation has passed every check.
func (p *persistedQueries) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if q, ok := opCtx.Stats.GetExtension(pendingAPQ).(pendingQuery); ok {
		p.store.Add(ctx, q.hash, q.query)
	}
	return nil
}

const pendingAPQ = "PersistedQueryToStore"

type pendingQuery struct{ hash, query string }

// deferredAdd reads from a store but only notes what gqlgen's extension
// adds, in the operation's stats, for persistedQueries to store later.
type deferredAdd struct{ store graphql.Cache[string] }

func (d deferredAdd) Get(ctx context.Context, hash string) (string, bool) {
	return d.store.Get(ctx, hash)
}

func (d deferredAdd) Add(ctx context.Context, hash, query string) {
	if graphql.HasOperationContext(ctx) {
		graphql.GetOperationContext(ctx).Stats.SetExtension(pendingAPQ, pendingQuery{hash, query})
	}
}
