package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"catalog-bff/loaders"
	"catalog-bff/store"
)

// opID names a request's operation: the SHA-256 of its document (the
// persisted query's hash when only that was sent) and its name.
type opID struct {
	doc  [sha256.Size]byte
	name string
}

// opOf returns the operation p asks for; ok is false for a request with
// no document to key on.
func opOf(p *graphql.RawParams) (op opID, ok bool) {
	if p == nil {
		return op, false
	}
	op.name = p.OperationName
	if p.Query != "" {
		op.doc = sha256.Sum256([]byte(p.Query))
		return op, true
	}
	h, ok := persistedHash(p)
	copy(op.doc[:], h)
	return op, ok
}

// cacheKey returns the response cache's key of a request for op with
// vars: the document's hash, the operation name, the Accept header, which
// decides the response's content type, and the variables in canonical
// JSON (keys sorted).
func cacheKey(op opID, vars map[string]any, accept string) (key string, ok bool) {
	js, err := json.Marshal(vars) // encoding/json sorts map keys
	if err != nil {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(op.doc) + len(op.name) + len(accept) + len(js) + 3)
	b.Write(op.doc[:])
	for _, s := range []string{op.name, accept} {
		b.WriteByte(0)
		b.WriteString(s)
	}
	b.WriteByte(0)
	b.Write(js)
	return b.String(), true
}

// persistedHash returns the 32 bytes of an automatic persisted query's
// sha256Hash extension.
func persistedHash(p *graphql.RawParams) ([]byte, bool) {
	m, _ := p.Extensions["persistedQuery"].(map[string]any)
	h, _ := m["sha256Hash"].(string)
	b, err := hex.DecodeString(h)
	return b, err == nil && len(b) == sha256.Size
}

// recording is what one executing request tells the response cache: the
// documents its resolvers returned, the view counts it shows, whether it
// read a field that is never cached, and, once executed, the response's
// bytes if it may be stored.
type recording struct {
	mu          sync.Mutex
	docs        []notedDoc
	hits        []hitsField
	uncacheable bool
	storable    bool
	// body is the response to store when it had extensions of its own;
	// otherwise the bytes the transport writes are stored, without the
	// extensions added after the recorder (extensions.cost).
	body      []byte
	operation string
	ttl       time.Duration
	// complexity is the operation's, as checked against its limit; plan
	// is set when its responses split into elements (planOf).
	complexity int
	plan       *listPlan
}

// isUncacheable reports whether the execution read a field that is never
// cached.
func (r *recording) isUncacheable() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.uncacheable
}

// listPlan returns the plan the execution found, or nil.
func (r *recording) listPlan() *listPlan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.plan
}

type recordingKey struct{}

func withRecording(ctx context.Context, r *recording) context.Context {
	return context.WithValue(ctx, recordingKey{}, r)
}

func recordingOf(ctx context.Context) *recording {
	r, _ := ctx.Value(recordingKey{}).(*recording)
	return r
}

// notedDoc is a document a response is built from, and the element of
// the root field's list it is under, or -1 (see respcache_list.go).
type notedDoc struct {
	docKey
	elem int
}

// add notes documents the response is built from, under element elem.
func (r *recording) add(elem int, kind store.Kind, ids ...int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		r.docs = append(r.docs, notedDoc{docKey{kind, id}, elem})
	}
}

// addList notes the documents of a root list, each under its element.
func (r *recording) addList(kind store.Kind, ids []int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, id := range ids {
		r.docs = append(r.docs, notedDoc{docKey{kind, id}, i})
	}
}

// elemOf returns the index of the root list's element that fc is under,
// or -1 when it is under none.
func elemOf(fc *graphql.FieldContext) int {
	for ; fc != nil && fc.Parent != nil; fc = fc.Parent {
		if fc.Index != nil && isRootField(fc.Parent) {
			return *fc.Index
		}
	}
	return -1
}

// isRootField reports whether fc is a root field's: no field or list
// element above it (only the root object's context).
func isRootField(fc *graphql.FieldContext) bool {
	if fc.Field.Field == nil {
		return false
	}
	for p := fc.Parent; p != nil; p = p.Parent {
		if p.Field.Field != nil || p.Index != nil {
			return false
		}
	}
	return true
}

func (r *recording) set(f func(r *recording)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

// responseRecorder is the gqlgen extension that fills each request's
// recording: it must be added after every extension that changes the
// response (telemetry's cost), so that it sees the response as the cache
// will serve it.
type responseRecorder struct{ c *ResponseCache }

var _ interface {
	graphql.HandlerExtension
	graphql.FieldInterceptor
	graphql.ResponseInterceptor
} = responseRecorder{}

func (responseRecorder) ExtensionName() string                   { return "ResponseCacheRecorder" }
func (responseRecorder) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptField notes the documents a field is built from and whether it
// is live. A root field's ids are noted before it runs, so that a response
// saying "no such product" is dropped once the product is created.
//
// A field that runs no resolver (a plain struct field, most of a page)
// reads nothing and returns nothing the response is built from: it passes
// at the cost of one context lookup.
func (responseRecorder) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	rec := recordingOf(ctx)
	if rec == nil {
		return next(ctx)
	}
	noteField(rec, fc)
	res, err := next(ctx)
	noteResult(rec, fc, res)
	return res, err
}

// noteField notes what a field says about the response before it runs.
// It runs for every field of every response: it allocates nothing.
func noteField(rec *recording, fc *graphql.FieldContext) {
	switch fc.Object {
	case "Product":
		if name := fc.Field.Name; name == "stock" || name == "options" {
			rec.set(func(r *recording) { r.uncacheable = true }) // read live, by design
		}
	case "Query":
		switch name := fc.Field.Name; name {
		case "categoryProducts":
			// A new product joins a listing without any invalidation of
			// its category: listings are read live.
			rec.set(func(r *recording) { r.uncacheable = true })
		case "products":
			if ids, ok := fc.Args["ids"].([]int64); ok {
				rec.addList(store.ProductKind, ids)
			}
		default: // a root field named after its kind, by id
			if _, cached := store.Kind(name).Table(); cached {
				if id, ok := fc.Args["id"].(int64); ok {
					rec.add(-1, store.Kind(name), id)
				}
			}
		}
	}
}

// noteResult notes the documents the resolver of fc returned.
func noteResult(rec *recording, fc *graphql.FieldContext, res any) {
	elem := elemOf(fc)
	switch v := res.(type) {
	case *store.Product:
		if v != nil {
			rec.add(elem, store.ProductKind, v.ID)
		}
	case []*store.Product:
		root := isRootField(fc) // a root list: each under its element
		for i, p := range v {
			if p == nil {
				continue
			}
			if root {
				elem = i
			}
			rec.add(elem, store.ProductKind, p.ID)
		}
	case store.Document: // a seller, a category: any other cached kind
		if r := v.Ref(); r.Kind != "" {
			rec.add(elem, r.Kind, r.ID)
		}
	}
}

// InterceptResponse keeps the bytes of a response the cache may store: a
// query's, with no error and no field that is never cached. A response
// with view counts is kept cut around them, when there is a view counter
// to read them again.
func (x responseRecorder) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	rec := recordingOf(ctx)
	if rec == nil || resp == nil || len(resp.Errors) > 0 || !graphql.HasOperationContext(ctx) {
		return resp
	}
	op := graphql.GetOperationContext(ctx).Operation
	if op == nil || op.Operation != ast.Query {
		return resp
	}
	var body []byte
	if len(resp.Extensions) > 0 {
		var err error
		if body, err = json.Marshal(resp); err != nil { // as gqlgen's transports write it
			return resp
		}
	}
	complexity, limit := complexityOf(ctx)
	rec.set(func(r *recording) {
		if r.uncacheable || (len(r.hits) > 0 && x.c.opt.Hits == nil) {
			return
		}
		r.storable, r.body, r.operation, r.ttl = true, body, op.Name, loaders.SpreadLife(x.c.opt.MaxStaleness)
		r.complexity, r.plan = complexity, planOf(op, limit)
	})
	return resp
}
