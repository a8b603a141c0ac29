package graph

import (
	"context"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The codes of requests refused before anything runs. Each is a protocol
// error: HTTP 422, or 400 when the client accepts
// application/graphql-response+json. README lists them with their limits.
const (
	CodeQueryTooDeep          = "QUERY_TOO_DEEP"
	CodeTooManyAliases        = "TOO_MANY_ALIASES"
	CodeComplexity            = "COMPLEXITY_LIMIT_EXCEEDED" // gqlgen's own code
	CodeTooManyTokens         = "TOO_MANY_TOKENS"
	CodeFieldRepeated         = "FIELD_REPEATED"
	CodeIntrospectionDisabled = "INTROSPECTION_DISABLED"
	CodeMethodNotAllowed      = "METHOD_NOT_ALLOWED"
	CodePersistedQueryInvalid = "PERSISTED_QUERY_INVALID"
)

func init() {
	// gqlgen answers 200 to errors whose code it does not know, its own
	// complexity code included. A request refused before execution is the
	// client's fault: make them 4xx like parse and validation errors.
	for _, code := range []string{CodeQueryTooDeep, CodeTooManyAliases, CodeComplexity, CodeTooManyTokens,
		CodeFieldRepeated, CodeIntrospectionDisabled, CodeMethodNotAllowed, CodePersistedQueryInvalid} {
		errcode.RegisterErrorType(code, errcode.KindProtocol)
	}
}

// Limits bound what one request may ask of the service. Every limit is
// checked before any resolver runs, so a refused request costs no SQL and
// no Redis. Zero fields take the defaults.
type Limits struct {
	// MaxDepth bounds how deeply fields nest: `{ product { seller { name } } }`
	// has depth 3. Introspection fields are left out; gqlparser bounds
	// those itself. Default 10.
	MaxDepth int
	// MaxComplexity bounds gqlgen's complexity: each field costs 1 plus its
	// selection, and products(ids:) and categoryProducts(first:) cost their
	// selection once per id or item. Default 5000.
	MaxComplexity int
	// MaxAliases bounds the aliased fields of an operation, fragments
	// counted each time they are spread. Default 30.
	MaxAliases int
	// MaxTokens bounds the tokens gqlgen's parser reads. Default 5000.
	MaxTokens int
	// MaxBodyBytes bounds a POST body and a GET query string. Default 64 KiB.
	MaxBodyBytes int64
	// OncePerOperation lists fields, as "Type.field", that one operation may
	// select at most once, under any alias or through any fragment.
	// Default ["Mutation.recordView"], so that aliases cannot count one
	// page view many times.
	OncePerOperation []string
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = 10
	}
	if l.MaxComplexity <= 0 {
		l.MaxComplexity = 5000
	}
	if l.MaxAliases <= 0 {
		l.MaxAliases = 30
	}
	if l.MaxTokens <= 0 {
		l.MaxTokens = 5000
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 64 << 10
	}
	if l.OncePerOperation == nil {
		l.OncePerOperation = []string{"Mutation.recordView"}
	}
	return l
}

// limiter is a gqlgen extension that measures the operation about to run
// and refuses it when it breaks a limit, or selects introspection fields
// when introspection is off. It runs after validation, so the document is
// well formed, and before complexity: gqlgen's complexity walk expands
// every fragment spread anew, which takes exponential time on fragments
// that spread each other twice, while measure is linear; an operation
// whose field count alone exceeds MaxComplexity never reaches it.
type limiter struct {
	limits        Limits
	once          map[string]bool
	introspection bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = (*limiter)(nil)

func newLimiter(l Limits, introspection bool) *limiter {
	once := map[string]bool{}
	for _, f := range l.OncePerOperation {
		once[f] = true
	}
	return &limiter{limits: l, once: once, introspection: introspection}
}

// ExtensionName implements graphql.HandlerExtension.
func (*limiter) ExtensionName() string { return "Limits" }

// Validate implements graphql.HandlerExtension.
func (*limiter) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (l *limiter) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	op := opCtx.Operation
	if method, _ := ctx.Value(methodKey{}).(string); method == http.MethodGet && op.Operation != ast.Query {
		return codedf(op.Position, CodeMethodNotAllowed, "a %s needs POST; GET runs only queries", op.Operation)
	}
	s := measure(opCtx.Doc, op, l.once)
	lim := l.limits
	switch {
	case s.introspection && !l.introspection:
		return codedf(op.Position, CodeIntrospectionDisabled, "introspection is disabled on this server")
	case s.depth > lim.MaxDepth:
		return codedf(op.Position, CodeQueryTooDeep, "the operation nests fields %d deep; the limit is %d", s.depth, lim.MaxDepth)
	case s.aliases > lim.MaxAliases:
		return codedf(op.Position, CodeTooManyAliases, "the operation has %d aliases; the limit is %d", s.aliases, lim.MaxAliases)
	case s.fields > lim.MaxComplexity:
		return codedf(op.Position, CodeComplexity, "operation has complexity at least %d, which exceeds the limit of %d", s.fields, lim.MaxComplexity)
	}
	for field, n := range s.once {
		if n > 1 {
			return codedf(op.Position, CodeFieldRepeated, "%s may be selected once per operation; this one selects it %d times", field, n)
		}
	}
	return nil
}

// codedf returns an error with a code, at pos when pos is not nil.
func codedf(pos *ast.Position, code, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	if pos != nil {
		err = gqlerror.ErrorPosf(pos, format, args...)
	}
	errcode.Set(err, code)
	return err
}

// shape is what the limits measure of a selection set, counted the way a
// naive walk expands it: each fragment in full at each of its spreads.
type shape struct {
	depth         int // deepest nesting of fields, introspection left out
	fields        int // fields; never more than gqlgen's complexity
	aliases       int
	once          map[string]int // selections of each OncePerOperation field
	introspection bool           // selects __schema or __type
}

// ceiling is where counts saturate, far above any limit.
const ceiling = 1 << 30

func satAdd(a, b int) int { return min(a+b, ceiling) }

func (s shape) plus(t shape) shape {
	s.depth = max(s.depth, t.depth)
	s.fields = satAdd(s.fields, t.fields)
	s.aliases = satAdd(s.aliases, t.aliases)
	s.introspection = s.introspection || t.introspection
	if len(t.once) > 0 {
		sum := make(map[string]int, len(s.once)+len(t.once))
		for _, m := range []map[string]int{s.once, t.once} {
			for k, n := range m {
				sum[k] = satAdd(sum[k], n)
			}
		}
		s.once = sum
	}
	return s
}

// measure returns the shape of op. It takes time linear in the document:
// each fragment is measured once and its shape reused at every spread. A
// fragment that spreads itself, directly or not, counts as empty where it
// recurs (validation refuses such documents before this runs), and an
// unknown fragment as empty. once holds "Type.field" coordinates; a field
// counts when the validator resolved its parent type.
func measure(doc *ast.QueryDocument, op *ast.OperationDefinition, once map[string]bool) shape {
	m := measurer{doc: doc, once: once, memo: map[string]shape{}, active: map[string]bool{}}
	return m.selectionSet(op.SelectionSet)
}

type measurer struct {
	doc    *ast.QueryDocument
	once   map[string]bool
	memo   map[string]shape // fragment name → its shape
	active map[string]bool  // fragments being measured: the cycle guard
}

func (m *measurer) selectionSet(set ast.SelectionSet) shape {
	var s shape
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			s = s.plus(m.field(sel))
		case *ast.InlineFragment:
			s = s.plus(m.selectionSet(sel.SelectionSet))
		case *ast.FragmentSpread:
			s = s.plus(m.fragment(sel.Name))
		}
	}
	return s
}

func (m *measurer) field(f *ast.Field) shape {
	if f.Name == "__schema" || f.Name == "__type" {
		return shape{introspection: true}
	}
	s := m.selectionSet(f.SelectionSet)
	s.depth++
	s.fields = satAdd(s.fields, 1)
	if f.Alias != "" && f.Alias != f.Name {
		s.aliases = satAdd(s.aliases, 1)
	}
	if f.ObjectDefinition != nil {
		if coord := f.ObjectDefinition.Name + "." + f.Name; m.once[coord] {
			s = s.plus(shape{once: map[string]int{coord: 1}})
		}
	}
	return s
}

func (m *measurer) fragment(name string) shape {
	if s, ok := m.memo[name]; ok {
		return s
	}
	def := m.doc.Fragments.ForName(name)
	if def == nil || m.active[name] {
		return shape{}
	}
	m.active[name] = true
	s := m.selectionSet(def.SelectionSet)
	delete(m.active, name)
	m.memo[name] = s
	return s
}

// methodKey carries the request's HTTP method to the limiter, which
// refuses mutations over GET whatever the transport decided.
type methodKey struct{}

// tokenLimitError reports whether err is gqlparser's token limit error,
// which gqlgen codes as a parse failure.
func tokenLimitError(e *gqlerror.Error) bool {
	return strings.HasPrefix(e.Message, "exceeded token limit")
}
