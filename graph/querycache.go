package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
)

// The parsed-query cache holds queryCacheSize documents of queries of at
// most maxCachedQuery bytes.
//
// gqlgen caches a document once it validates, before the limits run, and a
// query near the token limit parses into about 400 KB of AST: 1,000 such
// queries, each refused for its aliases, would hold 400 MB. Queries the
// product pages send are well under 8 KiB (the README's is 600 bytes); a
// longer one is parsed again on each request instead, a bounded cost.
const (
	queryCacheSize = 1000
	maxCachedQuery = 8 << 10
)

// queryCache is an LRU cache of parsed queries that ignores long ones.
type queryCache struct{ lru *lru.LRU[*ast.QueryDocument] }

var _ graphql.Cache[*ast.QueryDocument] = queryCache{}

func newQueryCache() queryCache {
	return queryCache{lru.New[*ast.QueryDocument](queryCacheSize)}
}

func (c queryCache) Get(ctx context.Context, query string) (*ast.QueryDocument, bool) {
	return c.lru.Get(ctx, query)
}

func (c queryCache) Add(ctx context.Context, query string, doc *ast.QueryDocument) {
	if len(query) <= maxCachedQuery {
		c.lru.Add(ctx, query, doc)
	}
}
